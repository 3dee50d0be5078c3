"""Node: an Asterisk point of presence."""

from __future__ import annotations

from sqlalchemy import CheckConstraint, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import Base


class Node(Base):
    """An Asterisk VM facing either the carriers or one client."""

    __tablename__ = "nodes"
    __table_args__ = (
        CheckConstraint("role IN ('carrier', 'client')", name="role"),
        CheckConstraint("state IN ('active', 'draining', 'retired')", name="state"),
        CheckConstraint("sip_port BETWEEN 1 AND 65535", name="sip_port"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(32), unique=True)
    role: Mapped[str] = mapped_column(String(8))
    public_ip: Mapped[str] = mapped_column(String(45), unique=True)
    sip_port: Mapped[int] = mapped_column(Integer, default=5060)
    hosting_provider: Mapped[str] = mapped_column(String(64))
    region: Mapped[str] = mapped_column(String(64), default="")
    dns_name: Mapped[str | None] = mapped_column(String(253), unique=True)
    state: Mapped[str] = mapped_column(String(10), default="active")

    client = relationship("Client", back_populates="node", uselist=False)
    account = relationship("NodeAccount", back_populates="node", uselist=False, passive_deletes=True)

    @property
    def endpoint_id(self) -> str:
        """The PJSIP endpoint id other nodes use to reach this node."""
        return f"node-{self.name}"

    def __str__(self) -> str:
        return self.name
