"""User accounts of the admin web: creation, role changes, password checks and sign-in rate limits."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from app.db import utc_now
from app.errors import ValidationError
from app.models import SignInAttempt, User
from app.models.user import ROLES, new_session_token
from app.services.audit import Actor, record

MIN_PASSWORD = 12
WINDOW = timedelta(minutes=15)
MAX_FAILURES_PER_ACCOUNT = 5
MAX_FAILURES_PER_ADDRESS = 20
KEEP_ATTEMPTS = timedelta(days=1)
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
AUDITED = ["email", "role", "active"]
ENTITY = "user"
# A real hash to compare against when the account does not exist, so both cases take as long.
_DUMMY_HASH = generate_password_hash(secrets.token_hex(8), method="scrypt")


def hash_password(password: str) -> str:
    """scrypt (werkzeug's default parameters: N=32768, r=8, p=1) with a random salt."""
    return generate_password_hash(password, method="scrypt")


def generate_password() -> str:
    """A strong random password for a new account (about 143 bits)."""
    return secrets.token_urlsafe(18)


def _image(user: User) -> dict:
    return {"email": user.email, "role": user.role, "active": bool(user.active)}


def _check_password(password: str | None, errors: dict) -> None:
    if not password or len(password) < MIN_PASSWORD:
        errors.setdefault("password", []).append(f"is too short: use at least {MIN_PASSWORD} characters")


def create(session: Session, email: str, role: str, password: str, actor: Actor) -> User:
    """Create an account; raises ValidationError in plain words."""
    email = (email or "").strip().lower()
    errors: dict[str, list[str]] = {}
    if not _EMAIL_RE.match(email):
        errors["email"] = [f"'{email}' is not an e-mail address"]
    elif session.scalar(select(User).where(User.email == email)) is not None:
        errors["email"] = [f"an account for {email} already exists"]
    if role not in ROLES:
        errors["role"] = [f"'{role}' is not one of: {', '.join(ROLES)}"]
    _check_password(password, errors)
    if errors:
        raise ValidationError(errors)
    user = User(email=email, role=role, password_hash=hash_password(password), active=True, session_token=new_session_token())
    session.add(user)
    session.flush()
    record(session, actor, "create", ENTITY, email, None, _image(user))
    return user


def update(session: Session, user: User, actor: Actor, *, role: str | None = None, active: bool | None = None,
           password: str | None = None) -> User:
    """Change role, active flag or password; a role or password change, or deactivation, ends every session of the user.

    Ending sessions means a new `session_token`: every cookie issued before carries the old one and no longer signs in.
    """
    errors: dict[str, list[str]] = {}
    if role is not None and role not in ROLES:
        errors["role"] = [f"'{role}' is not one of: {', '.join(ROLES)}"]
    if password:
        _check_password(password, errors)
    if errors:
        raise ValidationError(errors)
    before = _image(user)
    if role is not None and role != user.role:
        user.role = role
        user.session_token = new_session_token()
    if active is not None:
        user.active = active
        if not active:
            user.session_token = new_session_token()
    if password:
        user.password_hash = hash_password(password)
        user.session_token = new_session_token()
    session.flush()
    after = _image(user)
    summary = "password changed" if password else None
    if before != after or password:
        record(session, actor, "update", ENTITY, user.email, before, after, summary=summary)
    return user


def end_sessions(session: Session, user: User) -> None:
    """Sign the user out everywhere: every session cookie issued so far (saved, copied or stolen) stops working.

    Called on sign-out; the caller commits.
    """
    user.session_token = new_session_token()
    session.flush()


@dataclass
class SignInResult:
    """The outcome of a sign-in attempt: the user, or a plain-words refusal and whether it was throttled."""

    user: User | None
    message: str | None = None
    throttled: bool = False


def _recent_failures(session: Session, **where) -> int:
    since = utc_now() - WINDOW
    query = select(func.count()).select_from(SignInAttempt).where(SignInAttempt.at >= since, SignInAttempt.success.is_(False))
    for column, value in where.items():
        query = query.where(getattr(SignInAttempt, column) == value)
    return session.scalar(query) or 0


def authenticate(session: Session, email: str, password: str, address: str) -> SignInResult:
    """Check a sign-in, rate-limited per account and per address; records the attempt (caller commits)."""
    email = (email or "").strip().lower()[:255]
    address = (address or "unknown")[:45]
    if (_recent_failures(session, email=email) >= MAX_FAILURES_PER_ACCOUNT
            or _recent_failures(session, address=address) >= MAX_FAILURES_PER_ADDRESS):
        session.add(SignInAttempt(email=email, address=address, success=False))
        return SignInResult(None, f"Too many failed sign-in attempts. Wait {int(WINDOW.total_seconds() // 60)} minutes and try again.",
                            throttled=True)
    user = session.scalar(select(User).where(User.email == email))
    ok = check_password_hash(user.password_hash if user else _DUMMY_HASH, password or "")
    if not ok or user is None or not user.active:
        session.add(SignInAttempt(email=email, address=address, success=False))
        return SignInResult(None, "Wrong e-mail address or password, or the account is disabled.")
    session.add(SignInAttempt(email=email, address=address, success=True))
    user.last_sign_in_at = utc_now()
    # Keep the table small: attempts older than a day no longer count for anything.
    session.execute(delete(SignInAttempt).where(SignInAttempt.at < utc_now() - KEEP_ATTEMPTS))
    return SignInResult(user)


def load(session: Session, token: str) -> User | None:
    """The active user behind a session id "<id>:<session token>", or None."""
    user_id, _, session_token = (token or "").partition(":")
    if not user_id.isdigit() or not session_token:
        return None
    user = session.get(User, int(user_id))
    if user is None or not user.active or not secrets.compare_digest(user.session_token, session_token):
        return None
    return user
