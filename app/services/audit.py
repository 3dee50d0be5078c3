"""Audit trail: who changed what, when and through which channel."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy.orm import Session

from app.db import utc_now
from app.models import AuditEntry

SECRET_FIELDS = {"password"}


@dataclass(frozen=True)
class Actor:
    """The person or process behind a change, and the channel it came through."""

    name: str
    channel: str = "cli"  # form, action, csv, cli, seed


SYSTEM = Actor("system", "cli")


def image(obj, fields) -> dict:
    """A JSON-safe picture of some fields of an object, secrets masked."""
    out = {}
    for name in fields:
        value = getattr(obj, name, None)
        if name in SECRET_FIELDS and value:
            value = "********"
        elif isinstance(value, (datetime, date)):
            value = value.isoformat()
        out[name] = value
    return out


def entry_values(actor: Actor, action: str, entity: str, key: str | None,
                 before: dict | None = None, after: dict | None = None, summary: str | None = None) -> dict:
    """The column values of one audit entry (only changed fields kept); bulk writers insert these directly."""
    if before is not None and after is not None:
        changed = {k for k in after if before.get(k) != after.get(k)}
        before = {k: before.get(k) for k in changed}
        after = {k: after[k] for k in changed}
    return dict(at=utc_now(), actor=actor.name, channel=actor.channel, action=action, entity=entity, entity_key=key,
                before=json.dumps(before, sort_keys=True) if before is not None else None,
                after=json.dumps(after, sort_keys=True) if after is not None else None, summary=summary)


def record(session: Session, actor: Actor, action: str, entity: str, key: str | None,
           before: dict | None = None, after: dict | None = None, summary: str | None = None) -> AuditEntry:
    """Append one audit entry to the current transaction."""
    entry = AuditEntry(**entry_values(actor, action, entity, key, before, after, summary))
    session.add(entry)
    return entry
