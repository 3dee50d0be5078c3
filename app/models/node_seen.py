"""When the admin last heard from each node over its manager interface (app.node_state keeps it)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base


class NodeLastSeen(Base):
    """One row per node that was ever asked: when it last answered, when it was last asked, and the last failure.

    Kept so that "unreachable, last seen 14:02 UTC" survives a restart of the admin web and is the same in every
    worker process; written at most every NodeLastSeen.WRITE_EVERY seconds per node, and whenever it flips."""

    __tablename__ = "node_last_seen"

    node_id: Mapped[int] = mapped_column(Integer, ForeignKey("nodes.id", ondelete="CASCADE"), primary_key=True)
    seen_at: Mapped[datetime | None] = mapped_column(DateTime)  # UTC; None: never answered
    checked_at: Mapped[datetime] = mapped_column(DateTime)  # UTC
    error: Mapped[str | None] = mapped_column(String(255))  # None: the last check answered
