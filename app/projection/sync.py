"""Keep the realtime rows equal to what the domain projects, inside the caller's transaction."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from sqlalchemy import String, Text, and_, cast, delete, event, func, insert, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.types import LargeBinary

from app.models.realtime import PROJECTED_TABLES, REALTIME_TABLES
from app.projection import rows as R
from app.projection import visibility
from app.projection.names import RT_E911, RT_NUMBER, RT_ROUTE

_PENDING = "tl_projection_scope"
_DEFERRED = "tl_projection_deferred"
_CHANGED = "tl_changed_objects"
# Realtime tables whose rows nodes keep in a sorcery memory cache, by cache name (sorcery.conf).
CACHED_TABLES = {"ps_endpoints": "endpoint", "ps_aors": "aor", "ps_auths": "auth", "ps_endpoint_id_ips": "identify"}
_EXT_KEY = ("context", "exten", "priority")


@dataclass
class Scope:
    """What a change touched: endpoint ids, numbers, trunks whose 911 rows change, routes."""

    endpoints: set[str] = field(default_factory=set)
    numbers: set[str] = field(default_factory=set)
    e911_trunks: set[int] = field(default_factory=set)
    routes: bool = False
    everything: bool = False

    def merge(self, other: Scope) -> None:
        """Add another scope to this one."""
        self.endpoints |= other.endpoints
        self.numbers |= other.numbers
        self.e911_trunks |= other.e911_trunks
        self.routes |= other.routes
        self.everything |= other.everything

    def empty(self) -> bool:
        """True when nothing was touched."""
        return not (self.endpoints or self.numbers or self.e911_trunks or self.routes or self.everything)


def touch(session: Session, *, endpoints=(), numbers=(), e911_trunks=(), routes=False, everything=False) -> None:
    """Record what a domain change touched; the rows are brought in line before the commit."""
    scope = session.info.setdefault(_PENDING, Scope())
    scope.merge(Scope(set(endpoints), set(numbers), {t for t in e911_trunks if t is not None}, routes, everything))


def apply_pending(session: Session) -> dict[str, int]:
    """Bring the touched realtime rows in line with the domain now (same transaction)."""
    scope = session.info.pop(_PENDING, None)
    if scope is None or scope.empty():
        return {}
    session.flush()
    visibility.refresh_accounts(session)  # a node's role or client may have changed
    return _apply(session, _diff(session, scope))


@contextmanager
def deferred(session: Session) -> Iterator[None]:
    """Within this block savepoint commits leave the touched rows pending; the caller applies them once at the end."""
    session.info[_DEFERRED] = session.info.get(_DEFERRED, 0) + 1
    try:
        yield
    finally:
        session.info[_DEFERRED] -= 1


@event.listens_for(Session, "before_commit")
def _project_before_commit(session: Session) -> None:
    # Safety net: a service that forgot apply_pending still commits a consistent projection. A bulk
    # import (deferred) releases a savepoint per row and projects everything once when it is done.
    if session.info.get(_PENDING) is not None and not session.info.get(_DEFERRED):
        apply_pending(session)


def rebuild(session: Session) -> dict[str, int]:
    """Regenerate every projected realtime row; returns counts of inserted/updated/deleted rows."""
    session.info.pop(_PENDING, None)
    session.flush()
    visibility.refresh_accounts(session)
    return _apply(session, _diff(session, Scope(everything=True)))


def drift(session: Session) -> list[str]:
    """Every difference between the domain and the realtime rows, one plain line each."""
    session.flush()
    changes = _diff(session, Scope(everything=True))
    lines = []
    for table, (missing, changed, extra) in changes.items():
        lines += [f"{table} {_fmt_key(k)}: missing" for k in sorted(missing, key=str)]
        for key, (want, have) in sorted(changed.items(), key=lambda kv: str(kv[0])):
            cols = ", ".join(f"{c}={have.get(c)!r} (expected {want.get(c)!r})" for c in want if want.get(c) != have.get(c))
            lines.append(f"{table} {_fmt_key(key)}: differs: {cols}")
        lines += [f"{table} {_fmt_key(k)}: unexpected row" for k in sorted(extra, key=str)]
    return non_ascii(session) + lines + visibility.account_drift(session)


def _not_ascii(session: Session, column):
    """SQL condition: the text column holds a character beyond ASCII (its byte length exceeds its length)."""
    if session.get_bind().dialect.name == "sqlite":
        return func.length(cast(column, LargeBinary)) != func.length(column)
    return func.length(column) != func.char_length(column)  # MariaDB/MySQL: LENGTH counts bytes


def non_ascii(session: Session) -> list[str]:
    """Stored numbers and realtime rows holding non-ASCII text, one plain line each.

    A number or realtime key with full-width or Arabic-Indic digits never matches what a node dials
    (Asterisk compares bytes), and the projection would faithfully copy it, so the diff alone cannot
    see it. The CHECK constraint on phone_numbers.e164 (migration 0003c) keeps new ones out; this
    finds what a database holds from before it.
    """
    from app.models import PhoneNumber

    lines = [f"phone_numbers {e164}: the number holds non-ASCII characters ({_codepoints(e164)}); "
             "correct it (flask import numbers with the number in ASCII digits) and run realtime rebuild"
             for e164 in session.scalars(select(PhoneNumber.e164).where(_not_ascii(session, PhoneNumber.e164)))]
    for table in PROJECTED_TABLES:
        t = REALTIME_TABLES[table]
        texts = [c for c in t.columns if isinstance(c.type, (String, Text))]
        if not texts:
            continue
        for row in session.execute(select(t).where(or_(*(_not_ascii(session, c) for c in texts)))).mappings():
            bad = [f"{c.name}={row[c.name]!r} ({_codepoints(row[c.name])})" for c in texts
                   if isinstance(row[c.name], str) and not row[c.name].isascii()]
            key = "/".join(str(row[k]) for k in (_EXT_KEY if table == "extensions" else ("id",)))
            lines.append(f"{table} {key}: non-ASCII text, which Asterisk cannot match: {', '.join(bad)}")
    return lines


def _codepoints(text: str) -> str:
    return " ".join(f"U+{ord(ch):04X}" for ch in dict.fromkeys(text) if not ch.isascii())


def _fmt_key(key) -> str:
    return "/".join(str(k) for k in key) if isinstance(key, tuple) else str(key)


def _full(table: str, row: dict) -> dict:
    cols = [c.name for c in REALTIME_TABLES[table].columns if not (table == "extensions" and c.name == "id")]
    return {c: row.get(c) for c in cols}


def _desired(session: Session, scope: Scope) -> R.Rows:
    rows: R.Rows = {t: {} for t in PROJECTED_TABLES}
    parts = []
    if scope.everything:
        parts += [R.endpoint_rows(session, R.all_endpoint_ids(session)), R.number_rows(session, None),
                  R.route_rows(session), R.e911_rows(session, None)]
    else:
        parts.append(R.endpoint_rows(session, scope.endpoints))
        if scope.numbers:
            parts.append(R.number_rows(session, scope.numbers))
        if scope.routes:
            parts.append(R.route_rows(session))
        if scope.e911_trunks:
            parts.append(R.e911_rows(session, scope.e911_trunks))
    for part in parts:
        for table, table_rows in part.items():
            rows[table].update(table_rows)
    visibility.stamp(session, rows)  # who may read each row: its tl_kind / tl_client
    return rows


def _actual(session: Session, scope: Scope) -> R.Rows:
    rows: R.Rows = {t: {} for t in PROJECTED_TABLES}
    for table in PROJECTED_TABLES:
        t = REALTIME_TABLES[table]
        if scope.everything:
            wheres = [None]
        elif table == "extensions":
            conds = []
            if scope.routes:
                conds.append(t.c.context == RT_ROUTE)
            conds += [and_(t.c.context == RT_E911, t.c.exten.like(f"{tid}*%")) for tid in sorted(scope.e911_trunks)]
            wheres = [or_(*conds)] if conds else []
            # Numbers in chunks: a bulk import touches 100k of them, beyond SQLite's bound-parameter limit.
            numbers = sorted(scope.numbers)
            wheres += [and_(t.c.context == RT_NUMBER, t.c.exten.in_(numbers[i:i + 1000])) for i in range(0, len(numbers), 1000)]
        else:
            wheres = [_owned_by_endpoints(table, sorted(scope.endpoints))] if scope.endpoints else []
        for where in wheres:
            query = select(t) if where is None else select(t).where(where)
            for row in session.execute(query).mappings():
                data = _full(table, dict(row))
                key = tuple(data[k] for k in _EXT_KEY) if table == "extensions" else data["id"]
                rows[table][key] = data
    return rows


def _owned_by_endpoints(table: str, eps: list[str]):
    """The WHERE clause selecting the rows of `table` that belong to these endpoints."""
    t = REALTIME_TABLES[table]
    if table == "ps_auths":
        return t.c.id.in_([f"{e}-auth" for e in eps])
    if table in ("ps_endpoint_id_ips", "ps_registrations"):
        return t.c.endpoint.in_(eps)
    if table == "ps_aors":
        # A credentials trunk's AOR is named after its SIP username: find it through the endpoint row.
        ep = REALTIME_TABLES["ps_endpoints"]
        return or_(t.c.id.in_(eps), t.c.id.in_(select(ep.c.aors).where(ep.c.id.in_(eps))))
    return t.c.id.in_(eps)


def _diff(session: Session, scope: Scope) -> dict[str, tuple[dict, dict, set]]:
    """Per table: rows to insert {key: row}, rows to change {key: (want, have)}, keys to delete."""
    desired, actual = _desired(session, scope), _actual(session, scope)
    result = {}
    for table in PROJECTED_TABLES:
        want = {k: _full(table, v) for k, v in desired[table].items()}
        have = actual[table]
        missing = {k: want[k] for k in want.keys() - have.keys()}
        changed = {k: (want[k], have[k]) for k in want.keys() & have.keys() if want[k] != have[k]}
        extra = have.keys() - want.keys()
        if missing or changed or extra:
            result[table] = (missing, changed, extra)
    return result


def changed_objects(session: Session) -> dict[str, set[str]]:
    """The cached objects ({cache: ids}) the projection rewrote since the last call; forgets them."""
    return session.info.pop(_CHANGED, {})


def _apply(session: Session, changes) -> dict[str, int]:
    """Write a diff in a bounded number of statements: a changed row is deleted and inserted again,
    because batched deletes and multi-row inserts are far cheaper than one UPDATE per row."""
    counts = {"inserted": 0, "updated": 0, "deleted": 0}
    for table, (missing, changed, extra) in changes.items():
        if table in CACHED_TABLES:  # for app.node_push, after the commit
            touched = session.info.setdefault(_CHANGED, {}).setdefault(CACHED_TABLES[table], set())
            touched |= {str(k) for k in (*missing, *changed, *extra)}
        t = REALTIME_TABLES[table]
        gone = list(extra) + list(changed)
        if table == "extensions":
            by_slot: dict[tuple, list[str]] = {}
            for context, exten, priority in gone:
                by_slot.setdefault((context, priority), []).append(exten)
            for (context, priority), extens in by_slot.items():
                for i in range(0, len(extens), 1000):
                    session.execute(delete(t).where(t.c.context == context, t.c.priority == priority,
                                                    t.c.exten.in_(extens[i:i + 1000])))
        else:
            for i in range(0, len(gone), 1000):
                session.execute(delete(t).where(t.c.id.in_(gone[i:i + 1000])))
        rows = list(missing.values()) + [want for want, _have in changed.values()]
        if rows:
            session.execute(insert(t), rows)
        counts["inserted"] += len(missing)
        counts["updated"] += len(changed)
        counts["deleted"] += len(extra)
    return counts

