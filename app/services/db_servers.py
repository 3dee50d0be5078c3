"""Database server service: the MariaDB primary and its replicas, as data the admin manages.

The admin writes to the one primary; nodes read, in order, a replica at their own hosting provider,
the other replicas, then the primary (app.dbtopology). Roles change only through a promotion
(`flask --app wsgi db promote`, app.dbpromote), which also repoints the replicas: a role typed into a
form would not change what the servers replicate.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.errors import Conflict, NotFound, ValidationError
from app.models import DbServer
from app.services import fields as F
from app.services.audit import Actor
from app.services.base import assign, find, remove

ROLES = ("primary", "replica")


def host(value: Any) -> str:
    """An IP address or a DNS name."""
    text = str(value).strip()
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        pass
    try:
        return F.hostname(text)
    except F.FieldError:
        raise F.FieldError(f"'{text}' is neither an IP address nor a DNS name") from None


FIELDS = {
    "name": F.Field(F.ident, required=True),
    "host": F.Field(host, required=True),
    "port": F.Field(F.integer(1, 65535), default=3306),
    "role": F.Field(F.choice(ROLES), required=True),
    "hosting_provider": F.Field(lambda v: F.text(v, 64), required=True),
    "max_connections": F.Field(F.integer(1, 100000), default=151),
}
ENTITY = "db_server"


def get(session: Session, name: str) -> DbServer:
    """The server with exactly this name (NotFound otherwise; MariaDB's collation compares names without case, so
    `DB-OVH-R1` would find db-ovh-r1: the name is compared again here)."""
    server = find(session, DbServer, "database server", name=name)
    if server.name != name:
        raise NotFound(f"no database server {name} (names are exact: did you mean {server.name}?)")
    return server


def all_servers(session: Session) -> list[DbServer]:
    """Every server, the primary first, then replicas by name."""
    return sorted(session.scalars(select(DbServer)), key=lambda s: (s.role != "primary", s.name))


def primary(session: Session) -> DbServer | None:
    """The primary, if one is recorded."""
    return session.scalar(select(DbServer).where(DbServer.role == "primary"))


def _check(session: Session, values: dict, server: DbServer | None) -> None:
    errors: dict[str, list[str]] = {}
    other = session.scalar(select(DbServer).where(DbServer.name == values["name"]))
    if other is not None and other is not server:
        errors.setdefault("name", []).append(f"database server {other.name} already exists")
    other = session.scalar(select(DbServer).where(DbServer.host == values["host"], DbServer.port == values["port"]))
    if other is not None and other is not server:
        errors.setdefault("host", []).append(f"database server {other.name} already is {values['host']}:{values['port']}")
    if server is not None and values["role"] != server.role:
        errors.setdefault("role", []).append(
            f"{server.name} is the {server.role}: roles change only by promoting a replica (flask --app wsgi db promote NAME)")
    elif server is None and values["role"] == "primary":
        current = primary(session)
        if current is not None:
            errors.setdefault("role", []).append(
                f"{current.name} is already the primary: add this server as a replica, then promote it (db promote)")
    if errors:
        raise ValidationError(errors)


def save(session: Session, data: Mapping, actor: Actor, server: DbServer | None = None) -> tuple[DbServer, str]:
    """Create or update a server from raw field values (ValidationError lists every bad field)."""
    values = F.clean(FIELDS, data, partial=server is not None)
    if server is not None:
        values = {**{k: getattr(server, k) for k in FIELDS}, **values}
    _check(session, values, server)
    server = server or DbServer()
    values["primary_flag"] = True if values["role"] == "primary" else None
    return server, assign(session, server, values, actor, ENTITY, lambda s: s.name, FIELDS)


def delete(session: Session, server: DbServer, actor: Actor) -> None:
    """Remove a server from the topology (the primary only when it is the last one)."""
    if server.role == "primary" and session.scalar(select(DbServer.id).where(DbServer.id != server.id).limit(1)):
        raise Conflict(f"{server.name} is the primary: promote a replica first (flask --app wsgi db promote NAME)")
    remove(session, server, actor, ENTITY, server.name, FIELDS)


def set_primary(session: Session, new_primary: DbServer, actor: Actor) -> None:
    """Record a promotion: new_primary becomes the primary, the old primary a replica (both audited)."""
    old = primary(session)
    if old is not None and old is not new_primary:
        assign(session, old, {"role": "replica", "primary_flag": None}, actor, ENTITY, lambda s: s.name, FIELDS)
    assign(session, new_primary, {"role": "primary", "primary_flag": True}, actor, ENTITY, lambda s: s.name, FIELDS)
