"""The bulk path of numbers.csv: the numbers service's own parsers and rules, set-based reads and writes.

Per row it runs exactly what numbers.upsert runs (F.clean over numbers.FIELDS, numbers.with_current,
numbers.resolve), but resolve() looks carriers, clients and trunks up in dicts loaded once and the
stored numbers in one query per batch, instead of several queries per row. Each batch's writes are
handed to a WriteBehind (WriteBehind.insert_rows), which on MariaDB runs them while the next batch is
checked. Each changed number's tl-num realtime row comes from projection.rows.number_row, the same
function the projection uses, fed from the validated values; the 911 rows and trunk variables it
affects are left to the projection (projection.touch + apply_pending). The result is the same as the
per-row path (tests/db/test_csv_numbers.py compares both, realtime rows included). Only the audit
differs: an update is audited per number (its before and after images, written in bulk), but
creations are recorded by the import's own entry (who, when, which file, how many) rather than by
100,000 "create" entries, which would cost as much as inserting the numbers themselves.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from app import projection
from app.csvio.importer import KeyTracker, Progress, row_data, validation_errors
from app.csvio.reader import CsvReader, Row
from app.csvio.result import ImportResult, RowError
from app.csvio.specs import KeyCellError
from app.csvio.write_behind import WriteBehind
from app.errors import ValidationError
from app.models import AuditEntry, Carrier, Client, Node, PhoneNumber, Trunk
from app.models.realtime import REALTIME_TABLES, SCOPE_CLIENT, SCOPE_KIND
from app.projection.names import RT_NUMBER
from app.projection.rows import number_row, trunks_of_clients
from app.projection.visibility import number_scope
from app.services import fields as F
from app.services import numbers
from app.services.audit import Actor, entry_values

BATCH = 2000  # rows validated per look-up of stored numbers
READ_AHEAD = 3  # batches whose stored numbers are requested before they are checked
WRITE_CHUNK = 5000  # rows per executemany
COLUMNS = numbers.AUDITED  # e164, carrier_id, client_id, trunk_id, e911_registered, e911_address, port_status, port_target_carrier_id
OTHER_FIELDS = {name: spec for name, spec in numbers.FIELDS.items() if name != "number"}
TABLE = PhoneNumber.__table__
AUDIT = AuditEntry.__table__
AUDIT_COLUMNS = ("at", "actor", "channel", "action", "entity", "entity_key", "before", "after", "summary")
EXT = REALTIME_TABLES["extensions"]
EXT_COLUMNS = ("context", "exten", "priority", "app", "appdata", SCOPE_KIND, SCOPE_CLIENT)


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
        nodes = {n.id: (n.name, n.state) for n in session.scalars(select(Node))}
        # What number_row needs of a client and of a trunk, as plain tuples (no ORM attribute access per row).
        self.route_of_client = {c.id: (c.account_code, c.status, *nodes.get(c.node_id, (None, None)))
                                for c in self.clients.values()}
        self.route_of_trunk = {t.id: (t.name, t.did_format) for t in trunk_list}
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

    def set_batch(self, rows: Iterable[tuple]) -> None:
        """The stored numbers of the batch about to be checked: rows of stored_query()."""
        self.batch = {}
        for row in rows:
            stored = Stored(row[0], tuple(row[1:]))
            self.batch[stored.e164] = stored


def stored_query(e164s: list[str]):
    """SELECT id and COLUMNS of the stored numbers among these."""
    return select(TABLE.c.id, *(TABLE.c[c] for c in COLUMNS)).where(TABLE.c.e164.in_(e164s))


@dataclass
class Changes:
    """What the written batches changed, for the projection's follow-up at the end."""

    client_ids: set = field(default_factory=set)
    updated_ids: set = field(default_factory=set)


def import_numbers(session: Session, reader: CsvReader, actor: Actor, result: ImportResult, progress: Progress | None) -> None:
    """Validate every row (collecting every error); while all are right, write each batch and its tl-num rows.

    The stored numbers of the next batches are read through the writer's queue, READ_AHEAD batches
    ahead, so that the database inserts batch N while batch N+1 is checked and neither waits for the
    other's slower moments. Keys are unique in a file (duplicates are refused), so a batch never
    needs a number written by an earlier batch of the same import. After the first wrong row nothing
    more is written and the caller rolls everything back; the rows are still all checked, to report
    every error.
    """
    session.flush()
    lookup = PreloadedLookup(session)
    writer = WriteBehind(session)
    changes = Changes()
    batches = _batches(reader, result, KeyTracker(reader.spec))
    ahead: deque = deque()  # (batch, wait for its stored numbers): reads queued behind the writes
    pending = None
    try:
        while True:
            while len(ahead) < READ_AHEAD and (batch := next(batches, None)) is not None:
                ahead.append((batch, writer.query(stored_query([e164 for _row, e164 in batch]))))
            if not ahead:
                break
            batch, stored_rows = ahead.popleft()
            lookup.set_batch(stored_rows())
            if pending is not None and not result.errors:
                _queue_writes(writer, actor, lookup, changes, *pending)
            pending = _validate(session, reader, lookup, batch, result)
            if progress is not None:
                progress(len(batch))
        if pending is not None and not result.errors:
            _queue_writes(writer, actor, lookup, changes, *pending)
    finally:
        writer.close()
    if result.errors or not (changes.client_ids or changes.updated_ids):
        return
    # What numbers.touch_number records besides the numbers' own rows: 911 rows of the clients'
    # trunks, and the trunk variables of clients whose main number changed.
    endpoints = {t.endpoint_id for client in lookup.clients.values() if client.main_number_id in changes.updated_ids
                 for t in lookup.trunks_by_client.get(client.id, ())}
    projection.touch(session, endpoints=endpoints, e911_trunks=trunks_of_clients(session, changes.client_ids - {None}))
    # Writes bypassed the identity map: reload anything the projection reads from the ORM.
    session.expire_all()


def _batches(reader: CsvReader, result: ImportResult, keys: KeyTracker) -> Iterator[list[tuple[Row, str]]]:
    """Rows with a readable, unique number, BATCH at a time (the others are reported as they come)."""
    batch: list[tuple[Row, str]] = []
    for row in reader.rows():
        result.rows += 1
        e164 = _key(reader, row, result, keys)
        if e164 is not None:
            batch.append((row, e164))
        if len(batch) >= BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def _key(reader: CsvReader, row: Row, result: ImportResult, keys: KeyTracker) -> str | None:
    if row.problem or row.cell_problems:
        if row.problem:
            result.errors.append(RowError(row.line, "", row.problem))
        result.errors += [RowError(row.line, column, reason) for column, reason in row.cell_problems]
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
              result: ImportResult) -> tuple[list[tuple], list[tuple[int, tuple, tuple]]]:
    """Check a batch; returns its creations (values) and updates (id, before, after)."""
    spec = reader.spec
    creates: list[tuple] = []
    updates: list[tuple[int, tuple, tuple]] = []
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
    return creates, updates


def _queue_writes(writer: WriteBehind, actor: Actor, lookup: PreloadedLookup, changes: Changes,
                  creates: list[tuple], updates: list[tuple[int, tuple, tuple]]) -> None:
    """Hand one batch's number rows, audit entries and tl-num rows to the writer."""
    for i in range(0, len(creates), WRITE_CHUNK):
        writer.insert_rows(TABLE, COLUMNS, creates[i:i + WRITE_CHUNK])
    for i in range(0, len(updates), WRITE_CHUNK):
        chunk = updates[i:i + WRITE_CHUNK]
        # Every id exists (read in this transaction), so each row takes the update branch.
        writer.insert_rows(TABLE, ("id", *COLUMNS), [(id_, *after) for id_, _b, after in chunk], key=("id",), update=COLUMNS[1:])
        writer.insert_rows(AUDIT, AUDIT_COLUMNS, [_audit_update(actor, before, after) for _id, before, after in chunk])
    afters = creates + [after for _id, _b, after in updates]
    changes.client_ids |= {values[2] for values in creates} | {v[2] for _id, before, after in updates for v in (before, after)}
    changes.updated_ids |= {id_ for id_, _b, _a in updates}
    routed, unrouted = [], []
    for values in afters:
        projected = _tl_num_row(lookup, values)
        if projected is None:
            unrouted.append(values[0])
        else:
            routed.append(tuple(projected[c] for c in EXT_COLUMNS))
    writer.insert_rows(EXT, EXT_COLUMNS, routed, key=("context", "exten", "priority"), update=EXT_COLUMNS[3:])
    for i in range(0, len(unrouted), 1000):
        writer.execute(delete(EXT).where(EXT.c.context == RT_NUMBER, EXT.c.priority == 1, EXT.c.exten.in_(unrouted[i:i + 1000])))


def _tl_num_row(lookup: PreloadedLookup, values: tuple) -> dict | None:
    """The number's realtime row from its validated values (number_row, as the projection computes it)."""
    e164, carrier_id, client_id, trunk_id, _registered, _address, port_status, _target = values
    projected = number_row(e164, carrier_id, port_status, *lookup.route_of_client.get(client_id, _NO_CLIENT),
                           *lookup.route_of_trunk.get(trunk_id, _NO_TRUNK))
    if projected is None:
        return None
    row = projected[1]
    row[SCOPE_KIND], row[SCOPE_CLIENT] = number_scope(row)  # who may read it, as the projection stamps it
    return row


_NO_CLIENT = (None, None, None, None)
_NO_TRUNK = (None, None)


def _audit_update(actor: Actor, before: tuple, after: tuple) -> tuple:
    values = entry_values(actor, "update", "number", after[0], dict(zip(COLUMNS, before, strict=True)),
                          dict(zip(COLUMNS, after, strict=True)))
    return tuple(values[c] for c in AUDIT_COLUMNS)
