"""NodeAccount: the MariaDB account one node connects with (the password is never stored here)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import Base, utc_now


class NodeAccount(Base):
    """One live node's own database account: `db_user`@`host`, read through the scoped views
    (app.projection.visibility), which find the node by the user name of the connection (USER())."""

    __tablename__ = "node_accounts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    node_id: Mapped[int] = mapped_column(ForeignKey("nodes.id", ondelete="CASCADE"), unique=True)
    db_user: Mapped[str] = mapped_column(String(80), unique=True)
    host: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utc_now)
    rotated_at: Mapped[datetime] = mapped_column(DateTime, default=utc_now)
    # Derived from the domain by the projection (app.projection.visibility.refresh_accounts): the node's
    # role while it is live (else NULL: it reads nothing) and its active client's account code.
    role: Mapped[str | None] = mapped_column(String(8), nullable=True)
    client: Mapped[str | None] = mapped_column(String(20), nullable=True)

    node = relationship("Node", back_populates="account")

    def __str__(self) -> str:
        return f"{self.db_user}@{self.host}"
