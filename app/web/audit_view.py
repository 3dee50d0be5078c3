"""The audit log as people read it: a summary line per entry, names instead of internal ids, and only what changed."""

from __future__ import annotations

import json

from flask import g
from markupsafe import Markup
from sqlalchemy import select

from app.db import Session
from app.models import Carrier, Client, Node, PhoneNumber, Trunk
from app.numbering import display
from app.web import labels

# Audit images keep foreign keys as ids; each is shown as the name people use for that object.
REFERENCES = {"node_id": ("node", Node), "client_id": ("client", Client), "carrier_id": ("carrier", Carrier),
              "port_target_carrier_id": ("porting to carrier", Carrier), "from_carrier_id": ("from carrier", Carrier),
              "to_carrier_id": ("to carrier", Carrier), "trunk_id": ("trunk", Trunk), "e911_number_id": ("E911 number", PhoneNumber),
              "main_number_id": ("main number", PhoneNumber)}


def _name(obj) -> str:
    if isinstance(obj, Node | Carrier):
        return obj.name
    if isinstance(obj, Client):
        return obj.account_code
    if isinstance(obj, PhoneNumber):
        return display(obj.e164)
    return str(obj)


def reference_name(field: str, value) -> str:
    """The name behind an id in an audit image (cached per request); `#12 (no longer exists)` when it is gone."""
    if value is None or value == "":
        return "—"
    _label, model = REFERENCES[field]
    cache = g.setdefault("tl_audit_names", {})
    key = (model.__name__, value)
    if key not in cache:
        obj = Session().get(model, int(value)) if str(value).isdigit() else None
        cache[key] = _name(obj) if obj is not None else f"#{value} (no longer exists)"
    return cache[key]


def field_label(field: str) -> str:
    if field in REFERENCES:
        return REFERENCES[field][0]
    return labels.field(field)


def shown(field: str, value, entity: str | None) -> str:
    if field in REFERENCES:
        return reference_name(field, value)
    if field == "e164" and value:
        return display(value)
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or "—"
    return labels.value(field, value, entity)


def changes(entry) -> list[tuple[str, str, str]]:
    """(field, before, after) in plain words, changed fields only; a creation lists what was set, a deletion what was there."""
    try:
        before = json.loads(entry.before) if entry.before else None
        after = json.loads(entry.after) if entry.after else None
    except ValueError:
        return []
    if not isinstance(before, dict):
        before = None
    if not isinstance(after, dict):
        after = None
    names = sorted(set(before or {}) | set(after or {}), key=lambda f: (f != "name", field_label(f)))
    rows = []
    for name in names:
        old = (before or {}).get(name)
        new = (after or {}).get(name)
        if before is not None and after is not None and old == new:
            continue
        if before is None and new in (None, "", [], False) or after is None and old in (None, "", [], False):
            continue  # an empty field of a created (or deleted) object says nothing
        rows.append((field_label(name), "" if before is None else shown(name, old, entry.entity),
                     "" if after is None else shown(name, new, entry.entity)))
    return rows


def summary_line(entry) -> str:
    """`admin@example.com changed trunk ACME/main (maximum channels)` or the entry's own summary."""
    what = f"{labels.ENTITIES.get(entry.entity, entry.entity)} {entry.entity_key or ''}".strip()
    action = labels.ACTIONS.get(entry.action, entry.action.replace("_", " "))
    line = f"{entry.actor} {action} {what}" if action in ("created", "changed", "deleted", "imported") else f"{entry.actor}: {action}, {what}"
    if entry.summary:
        line += f": {entry.summary}"
    elif entry.action == "update":
        fields = [f for f, _b, _a in changes(entry)]
        if fields:
            line += f" ({', '.join(fields)})"
    return line


def entry_html(entry) -> Markup:
    """The summary line and the before/after table of one entry, for the list and the details page."""
    rows = changes(entry)
    out = Markup('<div class="tl-audit-summary">{}</div>').format(summary_line(entry))
    if rows and entry.before is not None and entry.after is not None:
        body = Markup("").join(Markup("<tr><td>{}</td><td>{}</td><td>{}</td></tr>").format(f, b, a) for f, b, a in rows)
        out += Markup('<table class="table table-sm tl-audit-diff mb-0"><tr><th>Field</th><th>Before</th><th>After</th></tr>'
                      "{}</table>").format(body)
    elif rows:  # created or deleted: what it holds, on one compact line
        out += Markup('<div class="tl-audit-values">{}</div>').format(
            Markup("; ").join(Markup("<span>{}: <strong>{}</strong></span>").format(f, a or b) for f, b, a in rows))
    return out


def when(entry) -> str:
    return entry.at.strftime("%Y-%m-%d %H:%M:%S") if entry.at else ""


def channel(entry) -> str:
    return labels.CHANNELS.get(entry.channel, entry.channel)


def preload(entries) -> None:
    """Resolve every id the page's entries refer to with one query per kind (instead of one per cell)."""
    wanted: dict[type, set[int]] = {}
    for entry in entries:
        for text in (entry.before, entry.after):
            try:
                image = json.loads(text) if text else {}
            except ValueError:
                continue
            if not isinstance(image, dict):
                continue
            for field, value in image.items():
                if field in REFERENCES and isinstance(value, int):
                    wanted.setdefault(REFERENCES[field][1], set()).add(value)
    cache = g.setdefault("tl_audit_names", {})
    for model, ids in wanted.items():
        found = {o.id: _name(o) for o in Session().scalars(select(model).where(model.id.in_(ids)))}
        for i in ids:
            cache[(model.__name__, i)] = found.get(i, f"#{i} (no longer exists)")


