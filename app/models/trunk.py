"""Trunk: a client PBX connection, and the source addresses it claims on its node."""

from __future__ import annotations

from sqlalchemy import CheckConstraint, ForeignKey, ForeignKeyConstraint, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import Base


class Trunk(Base):
    """A client's PBX connection, by source IP or by registration credentials."""

    __tablename__ = "trunks"
    __table_args__ = (
        UniqueConstraint("client_id", "name"),
        UniqueConstraint("id", "client_id"),  # target of the numbers' (trunk, client) key
        CheckConstraint("auth_mode IN ('ip', 'credentials')", name="auth_mode"),
        CheckConstraint("auth_mode = 'ip' OR (username IS NOT NULL AND password IS NOT NULL)", name="credentials"),
        CheckConstraint("did_format IN ('e164', 'nanp11', 'nanp10')", name="did_format"),
        CheckConstraint("max_channels >= 0", name="max_channels"),
        CheckConstraint("pbx_port BETWEEN 1 AND 65535", name="pbx_port"),
        ForeignKeyConstraint(
            ["e911_number_id", "client_id"], ["phone_numbers.id", "phone_numbers.client_id"],
            name="fk_trunks_e911_number_own", use_alter=True,
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id"))
    name: Mapped[str] = mapped_column(String(32))
    auth_mode: Mapped[str] = mapped_column(String(12), default="ip")
    source_addresses: Mapped[str] = mapped_column(Text, default="")
    pbx_port: Mapped[int] = mapped_column(Integer, default=5060)
    username: Mapped[str | None] = mapped_column(String(40), unique=True)
    password: Mapped[str | None] = mapped_column(String(80))
    e911_number_id: Mapped[int | None] = mapped_column(Integer)
    codecs: Mapped[str] = mapped_column(String(200), default="ulaw,alaw")
    max_channels: Mapped[int] = mapped_column(Integer, default=0)
    did_format: Mapped[str] = mapped_column(String(8), default="e164")

    client = relationship("Client", back_populates="trunks")
    addresses = relationship("TrunkAddress", back_populates="trunk", cascade="all, delete-orphan")
    e911_number = relationship("PhoneNumber", foreign_keys=[e911_number_id], primaryjoin="Trunk.e911_number_id == PhoneNumber.id", viewonly=True)
    numbers = relationship("PhoneNumber", back_populates="trunk", foreign_keys="PhoneNumber.trunk_id", viewonly=True)

    @property
    def endpoint_id(self) -> str:
        """The PJSIP endpoint id of this trunk."""
        return f"trunk-{self.client.account_code}-{self.name}"

    @property
    def address_list(self) -> list[str]:
        """Source addresses as a list."""
        return (self.source_addresses or "").split()

    def __str__(self) -> str:
        return f"{self.client.account_code}/{self.name}" if self.client else self.name


class TrunkAddress(Base):
    """One whitelisted source network of a trunk, keyed by node so a node never sees one twice."""

    __tablename__ = "trunk_addresses"
    __table_args__ = (UniqueConstraint("node_id", "network"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    trunk_id: Mapped[int] = mapped_column(ForeignKey("trunks.id", ondelete="CASCADE"))
    # Denormalised from the trunk's client so the database itself refuses a duplicate per node.
    node_id: Mapped[int | None] = mapped_column(ForeignKey("nodes.id"))
    network: Mapped[str] = mapped_column(String(49))

    trunk = relationship("Trunk", back_populates="addresses")
