"""Reading references between objects (a carrier name, an account code, a number) from raw input."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Carrier, Client, Node, PhoneNumber, Trunk
from app.numbering import InvalidNumber, parse_nanp
from app.services.fields import FieldError, blank


def _key(value: Any, attr: str) -> str:
    return str(getattr(value, attr, value)).strip()


def carrier(session: Session, value: Any) -> Carrier | None:
    """A carrier by name (or the object itself)."""
    if blank(value):
        return None
    obj = session.scalar(select(Carrier).where(Carrier.name == _key(value, "name")))
    if obj is None:
        raise FieldError(f"there is no carrier named '{_key(value, 'name')}'")
    return obj


def node(session: Session, value: Any) -> Node | None:
    """A node by name (or the object itself)."""
    if blank(value):
        return None
    obj = session.scalar(select(Node).where(Node.name == _key(value, "name")))
    if obj is None:
        raise FieldError(f"there is no node named '{_key(value, 'name')}'")
    return obj


def client(session: Session, value: Any) -> Client | None:
    """A client by account code (or the object itself)."""
    if blank(value):
        return None
    obj = session.scalar(select(Client).where(Client.account_code == _key(value, "account_code")))
    if obj is None:
        raise FieldError(f"there is no client with account code '{_key(value, 'account_code')}'")
    return obj


def trunk(session: Session, owner: Client | None, value: Any) -> Trunk | None:
    """A trunk of the given client, by name (or the object itself)."""
    if blank(value):
        return None
    if isinstance(value, Trunk):
        value = value.name
    if owner is None:
        raise FieldError("a trunk needs a client: set the client too")
    obj = session.scalar(select(Trunk).where(Trunk.client_id == owner.id, Trunk.name == str(value).strip()))
    if obj is None:
        raise FieldError(f"client {owner.account_code} has no trunk named '{str(value).strip()}'")
    return obj


def number(session: Session, value: Any) -> PhoneNumber | None:
    """A stored number, written in any NANP spelling (or the object itself)."""
    if blank(value):
        return None
    try:
        e164 = value.e164 if isinstance(value, PhoneNumber) else parse_nanp(str(value))
    except InvalidNumber as exc:
        raise FieldError(str(exc)) from None
    obj = session.scalar(select(PhoneNumber).where(PhoneNumber.e164 == e164))
    if obj is None:
        raise FieldError(f"{e164} is not a number on this platform: add it first")
    return obj
