"""Helpers shared by the CSV import/export tests."""

from __future__ import annotations

import io

from sqlalchemy import func, select

from app.csvio import export_csv, import_csv
from app.models import AuditEntry, Carrier, Client, Node, PhoneNumber, Trunk, TrunkAddress
from app.models.realtime import PROJECTED_TABLES, REALTIME_TABLES
from app.services.audit import Actor

ACTOR = Actor("tester", "form")  # import_csv must record it under channel "csv" anyway
DOMAIN = (Carrier, Node, Client, Trunk, TrunkAddress, PhoneNumber)


def csv_bytes(text: str) -> io.BytesIO:
    """A binary upload holding this text as UTF-8."""
    return io.BytesIO(text.encode("utf-8"))


def run_import(session, kind: str, text: str | bytes, dry_run: bool = False, **kwargs):
    """import_csv over a binary file with this content."""
    data = text if isinstance(text, bytes) else text.encode("utf-8")
    return import_csv(session, kind, io.BytesIO(data), ACTOR, dry_run, filename=f"{kind}.csv", **kwargs)


def export_text(session, kind: str, **kwargs) -> str:
    """The export of a kind as a string."""
    out = io.StringIO()
    export_csv(session, kind, out, **kwargs)
    return out.getvalue()


def realtime_rows(session) -> dict[str, list[tuple]]:
    """Every projected realtime row (without the extensions surrogate id), sorted: comparable across runs."""
    rows = {}
    for table in PROJECTED_TABLES:
        t = REALTIME_TABLES[table]
        cols = [c for c in t.columns if not (table == "extensions" and c.name == "id")]
        rows[table] = sorted(tuple(str(v) for v in r) for r in session.execute(select(*cols)))
    return rows


def snapshot(session) -> dict:
    """Every kind's export plus every realtime row: what an import may change."""
    session.flush()
    data = {kind: export_text(session, kind, with_secrets=True) for kind in ("carriers", "nodes", "clients", "trunks", "numbers")}
    data["realtime"] = realtime_rows(session)
    return data


def last_audit_id(session) -> int:
    """The newest audit entry id (0 when none): tests look at entries after it, never at absolute counts."""
    return session.scalar(select(func.max(AuditEntry.id))) or 0


def audit_count(session, **where) -> int:
    """How many audit entries match (since=ID: only entries after that id)."""
    query = select(func.count()).select_from(AuditEntry)
    since = where.pop("since", None)
    if since is not None:
        query = query.where(AuditEntry.id > since)
    for name, value in where.items():
        query = query.where(getattr(AuditEntry, name) == value)
    return session.scalar(query)
