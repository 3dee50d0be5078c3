"""AuditEntry: an append-only record of every write."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, utc_now


class AuditEntry(Base):
    """Who changed what, when, through which channel, with before and after images (JSON)."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime, default=utc_now, index=True)
    actor: Mapped[str] = mapped_column(String(255))
    channel: Mapped[str] = mapped_column(String(16))  # form, action, csv, cli, seed
    action: Mapped[str] = mapped_column(String(32))  # create, update, delete, import, ...
    entity: Mapped[str] = mapped_column(String(32), index=True)
    entity_key: Mapped[str | None] = mapped_column(String(255))
    before: Mapped[str | None] = mapped_column(Text)
    after: Mapped[str | None] = mapped_column(Text)
    summary: Mapped[str | None] = mapped_column(Text)
