"""User and SignInAttempt: who may use the admin web, and the record that rate-limits sign-in."""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, DateTime, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, utc_now

ROLES = ("admin", "operator", "viewer")
WRITER_ROLES = ("admin", "operator")


def new_session_token() -> str:
    """A random token stored with the user; changing it signs the user out everywhere."""
    return secrets.token_hex(16)


class User(Base):
    """A person who signs in to the admin: admin (everything), operator (telecom data), viewer (read only)."""

    __tablename__ = "users"
    __table_args__ = (CheckConstraint("role IN ('admin', 'operator', 'viewer')", name="role"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(255), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(10), default="viewer")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    session_token: Mapped[str] = mapped_column(String(64), default=new_session_token)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utc_now)
    last_sign_in_at: Mapped[datetime | None] = mapped_column(DateTime)

    # Flask-Login protocol (kept here so the model needs no web import).
    @property
    def is_active(self) -> bool:
        return bool(self.active)

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        """The id kept in the session: user id and session token, so a token change ends old sessions."""
        return f"{self.id}:{self.session_token}"

    @property
    def can_write(self) -> bool:
        """Admins and operators change telecom data; viewers only read."""
        return self.role in WRITER_ROLES

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    def __str__(self) -> str:
        return self.email


class SignInAttempt(Base):
    """One sign-in attempt (failed or not), by account and by address, for rate limiting."""

    __tablename__ = "sign_in_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime, default=utc_now, index=True)
    email: Mapped[str] = mapped_column(String(255), index=True)
    address: Mapped[str] = mapped_column(String(45), index=True)
    success: Mapped[bool] = mapped_column(Boolean, default=False)
