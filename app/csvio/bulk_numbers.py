"""The bulk path of numbers.csv: the numbers service's own parsers and rules, set-based reads and writes.

Per row it runs exactly what numbers.upsert runs (F.clean over numbers.FIELDS, numbers.with_current,
numbers.resolve), but resolve() looks carriers, clients and trunks up in dicts loaded once and the
stored numbers in one query per batch, instead of several queries per row. Writes are Core
executemany statements; the realtime rows of every changed number are then computed by the
projection once (projection.touch + apply_pending). The result is the same as the per-row path
(tests/db/test_csv_numbers.py compares both). Only the audit differs: an update is audited per number
(its before and after images, written in bulk), but creations are recorded by the import's own entry
(who, when, which file, how many) rather than by 100,000 "create" entries, which would cost as much
as inserting the numbers themselves.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session

from app import projection
from app.csvio.importer import KeyTracker, Progress, row_data, validation_errors
from app.csvio.reader import CsvReader, Row
from app.csvio.result import ImportResult, RowError
from app.csvio.specs import KeyCellError
from app.errors import ValidationError
from app.models import AuditEntry, Carrier, Client, PhoneNumber, Trunk
from app.projection.rows import trunks_of_clients
from app.services import fields as F
from app.services import numbers
from app.services.audit import Actor, entry_values

BATCH = 2000  # rows validated per look-up of stored numbers
WRITE_CHUNK = 5000  # rows per executemany
COLUMNS = numbers.AUDITED  # e164, carrier_id, client_id, trunk_id, e911_registered, e911_address, port_status, port_target_carrier_id
OTHER_FIELDS = {name: spec for name, spec in numbers.FIELDS.items() if name != "number"}
TABLE = PhoneNumber.__table__


class Stored:
    """A stored number as resolve() needs it (id, client, e164), without loading an ORM object."""

    __slots__ = ("id", "values")

    def __init__(self, id_: int, values: tuple):
        self.id = id_
        self.values = values  # in COLUMNS order

    @property
    def e164(self) -> str:
        return self.values[0]

    @property
    def client_id(self) -> int | None:
        return self.values[2]


class PreloadedLookup(numbers.Lookup):
    """numbers.Lookup answering from dicts; a miss falls back to the service's own look-up (and its message)."""

    def __init__(self, session: Session):
        super().__init__(session)
        self.carriers = {c.name: c for c in session.scalars(select(Carrier))}
        self.clients = {c.account_code: c for c in session.scalars(select(Client))}
        trunk_list = list(session.scalars(select(Trunk)))
        self.trunks = {(t.client_id, t.name): t for t in trunk_list}
        self.carrier_names = {c.id: c.name for c in self.carriers.values()}
        self.client_codes = {c.id: c.account_code for c in self.clients.values()}
        self.trunk_names = {t.id: t.name for t in trunk_list}
        self.trunks_by_client: dict[int, list[Trunk]] = {}
        for t in trunk_list:
            self.trunks_by_client.setdefault(t.client_id, []).append(t)
        # Numbers some client or trunk uses as its E911 or main number: only these need uses_of().
        self.used_ids = {i for c in self.clients.values() for i in (c.e911_number_id, c.main_number_id) if i}
        self.used_ids |= {t.e911_number_id for t in trunk_list if t.e911_number_id}
        self.batch: dict[str, Stored] = {}

    def number(self, e164: str):
        return self.batch.get(e164)

    def carrier(self, value):
        if F.blank(value):
            return None
        return self.carriers.get(str(value).strip()) or super().carrier(value)

    def client(self, value):
        if F.blank(value):
            return None
        return self.clients.get(str(value).strip()) or super().client(value)

    def trunk(self, owner, value):
        if F.blank(value) or owner is None:
            return super().trunk(owner, value)
        return self.trunks.get((owner.id, str(value).strip())) or super().trunk(owner, value)

    def uses(self, number) -> list[str]:
        return super().uses(number) if number.id in self.used_ids else []

    def current(self, stored: Stored) -> dict[str, Any]:
        """The stored number's values as raw field values (what numbers.save merges a partial update over)."""
        e164, carrier_id, client_id, trunk_id, registered, address, port_status, target_id = stored.values
        return {"number": e164, "carrier": self.carrier_names.get(carrier_id), "client": self.client_codes.get(client_id),
                "trunk": self.trunk_names.get(trunk_id), "e911_registered": registered, "e911_address": address,
                "port_status": port_status, "port_target_carrier": self.carrier_names.get(target_id)}

    def load_batch(self, e164s: Iterable[str]) -> None:
        """Fetch the stored numbers among these (one query)."""
        wanted = list(e164s)
        self.batch = {}
        if not wanted:
            return
        cols = [TABLE.c.id] + [TABLE.c[c] for c in COLUMNS]
        for row in self.session.execute(select(*cols).where(TABLE.c.e164.in_(wanted))):
            stored = Stored(row[0], tuple(row[1:]))
            self.batch[stored.e164] = stored


def import_numbers(session: Session, reader: CsvReader, actor: Actor, result: ImportResult, progress: Progress | None) -> None:
    """Validate every row (collecting every error); when all are right, write the changes and touch the projection."""
    session.flush()
    lookup = PreloadedLookup(session)
    keys = KeyTracker(reader.spec)
    creates: list[tuple] = []
    updates: list[tuple[int, tuple, tuple]] = []  # (id, before, after)
    batch: list[tuple[Row, str]] = []
    for row in reader.rows():
        result.rows += 1
        e164 = _key(reader, row, result, keys)
        if e164 is not None:
            batch.append((row, e164))
        if len(batch) >= BATCH:
            _validate(session, reader, lookup, batch, result, creates, updates)
            if progress is not None:
                progress(len(batch))
            batch = []
    _validate(session, reader, lookup, batch, result, creates, updates)
    if progress is not None and batch:
        progress(len(batch))
    if result.errors or not (creates or updates):
        return
    _write(session, actor, lookup, creates, updates)


def _key(reader: CsvReader, row: Row, result: ImportResult, keys: KeyTracker) -> str | None:
    if row.problem:
        result.errors.append(RowError(row.line, "", row.problem))
        return None
    try:
        (e164,) = reader.spec.key(row.cells)
    except KeyCellError as exc:
        # Like numbers.upsert, which reads the number before anything else.
        result.errors.append(RowError(row.line, exc.column, exc.reason))
        return None
    duplicate = keys.duplicate(row, (e164,))
    if duplicate is not None:
        result.errors.append(duplicate)
        return None
    return e164


def _validate(session: Session, reader: CsvReader, lookup: PreloadedLookup, batch: list[tuple[Row, str]],
              result: ImportResult, creates: list, updates: list) -> None:
    lookup.load_batch(e164 for _row, e164 in batch)
    spec = reader.spec
    for row, e164 in batch:
        stored = lookup.batch.get(e164)
        data = row_data(spec, row.cells)
        data.pop("number", None)
        try:
            values = F.clean(OTHER_FIELDS, data, partial=stored is not None)
            values["number"] = e164
            if stored is not None:
                values = numbers.with_current(values, lookup.current(stored))
            resolved = numbers.resolve(session, values, stored, lookup)
        except ValidationError as exc:
            result.errors += validation_errors(spec, row.line, exc)
            continue
        after = tuple(resolved[c] for c in COLUMNS)
        if stored is None:
            creates.append(after)
            result.count("created")
        elif after != stored.values:
            updates.append((stored.id, stored.values, after))
            result.count("updated")
        else:
            result.count("unchanged")


def _audit_update(actor: Actor, before: tuple, after: tuple) -> dict:
    return entry_values(actor, "update", "number", after[0], dict(zip(COLUMNS, before, strict=True)),
                        dict(zip(COLUMNS, after, strict=True)))


def _write(session: Session, actor: Actor, lookup: PreloadedLookup, creates: list[tuple], updates: list[tuple]) -> None:
    audit = AuditEntry.__table__
    for i in range(0, len(creates), WRITE_CHUNK):
        chunk = creates[i:i + WRITE_CHUNK]
        session.execute(insert(TABLE), [dict(zip(COLUMNS, values, strict=True)) for values in chunk])
    for i in range(0, len(updates), WRITE_CHUNK):
        chunk = updates[i:i + WRITE_CHUNK]
        _update(session, [(id_, after) for id_, _b, after in chunk])
        session.execute(insert(audit), [_audit_update(actor, before, after) for _id, before, after in chunk])
    # What numbers.touch_number records for each changed number, for all of them at once.
    client_ids = {values[2] for values in creates} | {v[2] for _id, before, after in updates for v in (before, after)}
    updated_ids = {id_ for id_, _b, _a in updates}
    endpoints = {t.endpoint_id for client in lookup.clients.values() if client.main_number_id in updated_ids
                 for t in lookup.trunks_by_client.get(client.id, ())}
    projection.touch(session, numbers={v[0] for v in creates} | {after[0] for _id, _b, after in updates},
                     endpoints=endpoints, e911_trunks=trunks_of_clients(session, client_ids - {None}))
    # Core writes bypass the identity map: reload anything the projection reads from the ORM.
    session.expire_all()


def _update(session: Session, rows: list[tuple[int, tuple]]) -> None:
    """Rewrite changed numbers by id: one multi-row upsert on MariaDB/MySQL, an executemany UPDATE elsewhere."""
    if session.get_bind().dialect.name in ("mysql", "mariadb"):
        from sqlalchemy.dialects.mysql import insert as mysql_insert

        # Every id exists (read in this transaction), so each row takes the UPDATE branch; the driver
        # sends thousands of rows per statement instead of one UPDATE per number.
        stmt = mysql_insert(TABLE)
        stmt = stmt.on_duplicate_key_update({c: stmt.inserted[c] for c in COLUMNS[1:]})
        session.execute(stmt, [{"id": id_, **dict(zip(COLUMNS, after, strict=True))} for id_, after in rows])
        return
    stmt = update(TABLE).where(TABLE.c.id == bindparam("b_id")).values({c: bindparam(f"b_{c}") for c in COLUMNS})
    session.execute(stmt, [{"b_id": id_, **{f"b_{c}": v for c, v in zip(COLUMNS, after, strict=True)}} for id_, after in rows])
