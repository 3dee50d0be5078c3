"""What each node has still to be told after a commit: the cache expiries it did not acknowledge (app.node_push)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base


class NodePushPending(Base):
    """One row per (live node, commit that changed cached objects) until the node acknowledged the expiry.

    Written in the same transaction as the change (app.node_push._record_pending), so a change is never committed
    without the list of nodes to tell, whatever happens to the process afterwards; deleted once the node answered
    every expiry over AMI (by the push right after the commit, or by a retrier in any process: the admin web's
    background thread, `flask alerts watch`, `flask node push-retry`).

    objects: JSON {"endpoint": [ids], "aor": [ids], "auth": [ids], "identify": ["*"]} (the identify cache is
    expired whole), or "all" (every cache of the node). batch: a random token naming the commit, so the push
    that follows it deletes exactly its own rows."""

    __tablename__ = "node_push_pending"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    node_id: Mapped[int] = mapped_column(Integer, ForeignKey("nodes.id", ondelete="CASCADE"), index=True)
    batch: Mapped[str] = mapped_column(String(32))
    objects: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime)  # UTC, the commit's time
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # failed attempts to tell the node
    last_attempt_at: Mapped[datetime | None] = mapped_column(DateTime)  # UTC
    last_error: Mapped[str | None] = mapped_column(String(255))
