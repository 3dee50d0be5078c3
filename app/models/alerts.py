"""911 calls as the nodes announced them, and the alerts sent to each client's contacts."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import Base, utc_now

DELIVERY_STATES = ("pending", "sent", "retrying", "failed")


class E911Call(Base):
    """One 911 call placed through the platform, recorded as it started (or, if the watcher missed it, from its CDR).

    Holds what the node did, as the node said it: the cascade level, the number presented and the digits sent,
    the carrier; and the address registered for that number when the call was recorded.
    """

    __tablename__ = "e911_calls"
    __table_args__ = (CheckConstraint("source IN ('node', 'cdr')", name="source"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    call_id: Mapped[str] = mapped_column(String(150), unique=True)  # the client node's linkedid
    started_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    recorded_at: Mapped[datetime] = mapped_column(DateTime, default=utc_now)
    source: Mapped[str] = mapped_column(String(4), default="node")
    client_id: Mapped[int | None] = mapped_column(ForeignKey("clients.id", ondelete="SET NULL"), index=True)
    account_code: Mapped[str] = mapped_column(String(20), default="")
    trunk: Mapped[str] = mapped_column(String(80), default="")  # the trunk endpoint, e.g. trunk-ACME-main
    node: Mapped[str] = mapped_column(String(40), default="")
    presented: Mapped[str] = mapped_column(String(80), default="")  # the caller ID the PBX presented
    level: Mapped[str] = mapped_column(String(12), default="")  # number, trunk, client, unresolved, none
    number: Mapped[str] = mapped_column(String(16), default="")  # the E.164 number the call presents
    sent: Mapped[str] = mapped_column(String(20), default="")  # the digits as sent to the carrier
    carrier: Mapped[str] = mapped_column(String(32), default="")
    address: Mapped[str | None] = mapped_column(Text)  # registered E911 address of `number`, when it has one

    client = relationship("Client")
    deliveries = relationship("AlertDelivery", back_populates="call", order_by="AlertDelivery.id",
                              cascade="all, delete-orphan")

    def __str__(self) -> str:
        return f"911 call from {self.trunk or self.account_code} at {self.started_at:%Y-%m-%d %H:%M:%S}"


class AlertDelivery(Base):
    """One notification of one 911 call to one contact (an email address or a webhook URL), with its retries."""

    __tablename__ = "alert_deliveries"
    __table_args__ = (
        UniqueConstraint("e911_call_id", "channel", "target"),
        CheckConstraint("channel IN ('email', 'webhook')", name="channel"),
        CheckConstraint("status IN ('pending', 'sent', 'retrying', 'failed')", name="status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    e911_call_id: Mapped[int] = mapped_column(ForeignKey("e911_calls.id", ondelete="CASCADE"), index=True)
    channel: Mapped[str] = mapped_column(String(8))
    target: Mapped[str] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(8), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime, default=utc_now, index=True)
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime)

    call = relationship("E911Call", back_populates="deliveries")
