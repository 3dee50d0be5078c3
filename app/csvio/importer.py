"""import_csv: one file of one kind, all or nothing, every bad row reported; the CLI and admin call this.

The import runs inside a SAVEPOINT of the caller's session: when any row is wrong, or on a dry run,
the savepoint is rolled back and nothing is written; otherwise it is released and the caller commits
(the CLI commits at once; an admin view commits after its preview is confirmed).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import IO

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app import projection
from app.config import Config
from app.csvio.reader import CsvReader, Row
from app.csvio.result import CsvFileError, ImportResult, RowError
from app.csvio.specs import SPECS, KeyCellError, KindSpec
from app.errors import DomainError, ValidationError
from app.services.audit import Actor, record

Progress = Callable[[int], None]  # called with the number of rows just processed


def configured_max_rows() -> int:
    """IMPORT_MAX_ROWS of the running app (or of the environment outside an app context)."""
    try:
        from flask import current_app

        return int(current_app.config["IMPORT_MAX_ROWS"])
    except (RuntimeError, KeyError):
        return Config.IMPORT_MAX_ROWS


def spec_of(kind: str) -> KindSpec:
    """The format of a kind, or a plain-words error naming the kinds."""
    try:
        return SPECS[kind]
    except KeyError:
        raise CsvFileError(f"unknown kind '{kind}': choose one of {', '.join(SPECS)}") from None


def open_reader(kind: str, file_obj: IO, *, filename: str | None = None, max_rows: int | None = None) -> CsvReader:
    """A reader whose header has been checked (raises CsvFileError); its `estimate` sizes a progress bar."""
    return CsvReader(file_obj, spec_of(kind), max_rows or configured_max_rows(), filename)


def import_csv(session: Session, kind: str, file_obj: IO | CsvReader, actor: Actor, dry_run: bool = False, *,
               filename: str | None = None, max_rows: int | None = None, progress: Progress | None = None,
               bulk: bool | None = None) -> ImportResult:
    """Validate and upsert every row of a CSV file of `kind`; nothing is written unless every row is right.

    file_obj is a binary (or text) file, or a reader from open_reader(). Raises CsvFileError when the
    file as a whole is unusable; otherwise returns the counts and every row error. Numbers go through
    the bulk path (same rules, set-based writes) unless bulk=False.
    """
    reader = file_obj if isinstance(file_obj, CsvReader) else open_reader(kind, file_obj, filename=filename, max_rows=max_rows)
    spec = reader.spec
    actor = Actor(actor.name, "csv")
    result = ImportResult(kind=spec.kind, filename=reader.filename, dry_run=dry_run)
    use_bulk = spec.kind == "numbers" and bulk is not False
    savepoint = session.begin_nested()
    try:
        if use_bulk:
            from app.csvio.bulk_numbers import import_numbers

            import_numbers(session, reader, actor, result, progress)
        else:
            with projection.deferred(session):  # one projection pass below, not one per row
                _import_rows(session, reader, actor, result, progress)
        if result.errors:
            savepoint.rollback()
            result.errors.sort(key=lambda e: e.line)
            return result
        projection.apply_pending(session)
        if not dry_run:
            record(session, actor, "import", spec.kind, reader.filename[:255],
                   after={"rows": result.rows, "created": result.created, "updated": result.updated,
                          "unchanged": result.unchanged}, summary=result.summary())
            session.flush()
        if dry_run:
            savepoint.rollback()
        else:
            savepoint.commit()
    except BaseException:
        if savepoint.is_active:
            savepoint.rollback()
        raise
    return result


_FIELD_OF: dict[str, dict[str, str]] = {}


def row_data(spec: KindSpec, cells: dict[str, str]) -> dict[str, str]:
    """Service field -> raw cell text, for the columns the file has (absent columns keep current values)."""
    fields = _FIELD_OF.get(spec.kind)
    if fields is None:
        fields = _FIELD_OF[spec.kind] = {c.name: c.field for c in spec.columns}
    return {fields[name]: value for name, value in cells.items()}


def validation_errors(spec: KindSpec, line: int, exc: ValidationError) -> list[RowError]:
    """One RowError per message of a service ValidationError, under the CSV column of its field."""
    return [RowError(line, spec.column_of_field(name), message) for name, messages in exc.errors.items() for message in messages]


class KeyTracker:
    """Refuses a natural key seen earlier in the same file, naming the earlier line."""

    def __init__(self, spec: KindSpec):
        self.spec = spec
        self.seen: dict[tuple, int] = {}

    def duplicate(self, row: Row, key: tuple) -> RowError | None:
        """A RowError when the key was already on an earlier line, else None (and the key is remembered)."""
        first = self.seen.setdefault(key, row.line)
        if first == row.line:
            return None
        columns = list(self.spec.key_parsers)
        shown = "/".join(row.cells.get(c, "").strip() for c in columns)
        return RowError(row.line, "+".join(columns),
                        f"{shown} is already on line {first}: each {'/'.join(columns)} may appear only once in a file")


def _import_rows(session: Session, reader: CsvReader, actor: Actor, result: ImportResult, progress: Progress | None) -> None:
    """The per-row path: each row through its service's upsert, in its own savepoint so every bad row is seen."""
    spec = reader.spec
    keys = KeyTracker(spec)
    ticks = 0
    for row in reader.rows():
        result.rows += 1
        ticks += 1
        if progress is not None and ticks >= 200:
            progress(ticks)
            ticks = 0
        if row.problem or row.cell_problems:
            if row.problem:
                result.errors.append(RowError(row.line, "", row.problem))
            result.errors += [RowError(row.line, column, reason) for column, reason in row.cell_problems]
            continue
        try:
            duplicate = keys.duplicate(row, spec.key(row.cells))
        except KeyCellError:
            duplicate = None  # the service reports a bad key together with the row's other problems
        if duplicate is not None:
            result.errors.append(duplicate)
            continue
        try:
            with session.begin_nested():
                _obj, outcome = spec.service.upsert(session, row_data(spec, row.cells), actor)
        except ValidationError as exc:
            result.errors += validation_errors(spec, row.line, exc)
        except DomainError as exc:
            result.errors.append(RowError(row.line, "", str(exc)))
        except IntegrityError as exc:
            reason = str(exc.orig).splitlines()[0] if exc.orig is not None else str(exc).splitlines()[0]
            result.errors.append(RowError(row.line, "", f"the database refused this row ({reason})"))
        else:
            result.count(outcome)
    if progress is not None and ticks:
        progress(ticks)
