"""PortOrder: a batch of numbers moving from one upstream carrier to another."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import Base, utc_now

PORT_STATUSES = ("pending", "completed", "cancelled")


class PortOrder(Base):
    """Numbers to move from one carrier to another by a due date; completing it moves them all at once."""

    __tablename__ = "port_orders"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'completed', 'cancelled')", name="status"),
        CheckConstraint("from_carrier_id <> to_carrier_id", name="two_carriers"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    from_carrier_id: Mapped[int] = mapped_column(ForeignKey("carriers.id"), index=True)
    to_carrier_id: Mapped[int] = mapped_column(ForeignKey("carriers.id"), index=True)
    due_date: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(10), default="pending", index=True)
    note: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utc_now)
    completed_at: Mapped[datetime | None] = mapped_column(DateTime)

    from_carrier = relationship("Carrier", foreign_keys=[from_carrier_id])
    to_carrier = relationship("Carrier", foreign_keys=[to_carrier_id])
    numbers = relationship("PortOrderNumber", back_populates="order", cascade="all, delete-orphan",
                           order_by="PortOrderNumber.e164")

    @property
    def label(self) -> str:
        return f"port order #{self.id}"

    def __str__(self) -> str:
        return self.label


class PortOrderNumber(Base):
    """One number of a port order, kept by its E.164 form so the order stays readable afterwards."""

    __tablename__ = "port_order_numbers"
    __table_args__ = (UniqueConstraint("port_order_id", "e164"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    port_order_id: Mapped[int] = mapped_column(ForeignKey("port_orders.id", ondelete="CASCADE"))
    e164: Mapped[str] = mapped_column(String(16), index=True)

    order = relationship("PortOrder", back_populates="numbers")
