"""Call counts per day, client, carrier and direction, derived from the cdr table (app.calls keeps them)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, CheckConstraint, Date, DateTime, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base


class CallRollup(Base):
    """Calls of one UTC day for one account code, carrier and direction.

    carrier is '' for calls that reached no carrier (refused by a node, or 911 with no route);
    accountcode is '' for calls no client node attributed to an account.
    """

    __tablename__ = "call_rollup"
    __table_args__ = (CheckConstraint("direction IN ('in', 'out')", name="direction"),)

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    accountcode: Mapped[str] = mapped_column(String(80), primary_key=True)
    carrier: Mapped[str] = mapped_column(String(32), primary_key=True)
    direction: Mapped[str] = mapped_column(String(3), primary_key=True)
    calls: Mapped[int] = mapped_column(Integer, default=0)
    answered: Mapped[int] = mapped_column(Integer, default=0)
    billsec: Mapped[int] = mapped_column(BigInteger, default=0)
    # Per call, billed seconds rounded up to whole minutes, then summed.
    billed_minutes: Mapped[int] = mapped_column(Integer, default=0)
    e911_calls: Mapped[int] = mapped_column(Integer, default=0)


class CallRollupState(Base):
    """How far the rollup has read the cdr table (one row, id 1)."""

    __tablename__ = "call_rollup_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_cdr_id: Mapped[int] = mapped_column(BigInteger, default=0)
    refreshed_at: Mapped[datetime | None] = mapped_column(DateTime)
