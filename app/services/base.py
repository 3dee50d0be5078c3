"""What every resource service shares: lookups by natural key, apply-and-audit, upsert outcome."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.errors import NotFound
from app.services.audit import SECRET_FIELDS, Actor, image, record

CREATED, UPDATED, UNCHANGED = "created", "updated", "unchanged"


def find(session: Session, model, what: str, **key) -> Any:
    """The object with this natural key, or NotFound in plain words."""
    obj = session.scalar(select(model).filter_by(**key))
    if obj is None:
        raise NotFound(f"no {what} {' '.join(str(v) for v in key.values())}")
    return obj


def assign(session: Session, obj, values: dict, actor: Actor, entity: str, key_of, fields) -> str:
    """Set values on obj (new or existing), audit the change, return created/updated/unchanged."""
    is_new = obj.id is None if hasattr(obj, "id") else True
    before = None if is_new else image(obj, fields)
    raw_before = None if is_new else {name: getattr(obj, name, None) for name in fields}
    for name, value in values.items():
        setattr(obj, name, value)
    after = image(obj, fields)
    if is_new:
        session.add(obj)
        session.flush()
        record(session, actor, "create", entity, key_of(obj), None, after)
        return CREATED
    # Compared unmasked: a new password is a change even though the audit images mask it.
    raw_after = {name: getattr(obj, name, None) for name in fields}
    if raw_before == raw_after:
        return UNCHANGED
    secrets = [name for name in SECRET_FIELDS & set(fields) if raw_before.get(name) != raw_after.get(name)]
    session.flush()
    record(session, actor, "update", entity, key_of(obj), before, after,
           summary=f"{', '.join(sorted(secrets))} changed" if secrets else None)
    return UPDATED


def remove(session: Session, obj, actor: Actor, entity: str, key: str, fields) -> None:
    """Delete obj and audit it."""
    record(session, actor, "delete", entity, key, image(obj, fields), None)
    session.delete(obj)
    session.flush()
