"""Rows a bulk import hands to the database while it goes on validating the next rows.

A bulk import alternates CPU work (reading, parsing, checking rows) with database work (inserting
them). On MariaDB the two overlap: a worker thread runs the inserts of batch N on the session's own
connection, inside the session's transaction, while the caller checks batch N+1; the driver releases
the interpreter while the server works. The connection is never used by both at once: every
statement the session itself runs first waits until the queued ones are done.

On MariaDB the rows of one call travel as a single JSON document expanded by JSON_TABLE (INSERT ...
SELECT): the server parses it on its own core, where the driver would otherwise quote every value in
Python, holding the interpreter the validation needs. Each value is read as text (JSON null as NULL)
and converted by the INSERT itself under strict mode, as a quoted literal would be, so a value that
does not fit fails instead of being cut; a plain insert must also report exactly as many rows as it
was given. Elsewhere (SQLite) the
rows go through an ordinary executemany, in the caller's thread. Nothing is committed here: the
caller's transaction (and its savepoint) decides.
"""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Table, event, insert
from sqlalchemy.orm import Session
from sqlalchemy.sql import ClauseElement, Select

_STOP = object()


class WriteFailed(RuntimeError):
    """The database wrote something other than what it was given (a safety check, never expected)."""


class WriteBehind:
    """Runs inserts on a session's connection in order: in a worker thread on MariaDB, inline elsewhere."""

    def __init__(self, session: Session):
        self.connection = session.connection()
        self.dialect = self.connection.dialect
        self.dbapi = self.connection.connection.dbapi_connection
        mysql = self.dialect.name in ("mysql", "mariadb")
        self.json_rows = mysql and _has_json_table(self.dialect)
        self.threaded = mysql
        self._sql: dict[tuple, tuple[str, list]] = {}
        self._error: BaseException | None = None
        self._jobs: queue.Queue = queue.Queue()
        self._thread: threading.Thread | None = None
        if self.threaded:
            self._thread = threading.Thread(target=self._work, name="csv-write-behind", daemon=True)
            self._thread.start()
            event.listen(self.connection, "before_cursor_execute", self._before_session_statement)

    # -- what callers use --------------------------------------------------------------------------

    def insert_rows(self, table: Table, columns: Sequence[str], rows: Sequence[Sequence[Any]], *,
                    key: Sequence[str] = (), update: Sequence[str] = ()) -> None:
        """Queue an INSERT of rows (values in `columns` order); with `update`, a row whose `key` exists rewrites those columns."""
        if not rows:
            return
        columns, key, update = tuple(columns), tuple(key), tuple(update)
        sql, processors = self._statement(table, columns, key, update)
        if any(processors):
            rows = [tuple(proc(v) if proc else v for v, proc in zip(row, processors, strict=True)) for row in rows]
        if self.json_rows:
            payload = json.dumps(rows, default=str, separators=(",", ":"), ensure_ascii=False)
            self._submit(sql, (payload,), many=False, expected=None if update else len(rows))
        else:
            self._submit(sql, rows if isinstance(rows, list) else list(rows), many=True, expected=None)

    def execute(self, stmt: ClauseElement) -> None:
        """Queue one statement whose values the dialect writes into its SQL (an IN list of plain values)."""
        compiled = stmt.compile(dialect=self.dialect, compile_kwargs={"literal_binds": True})
        self._submit(str(compiled), None, many=False, expected=None)

    def query(self, stmt: Select) -> Callable[[], list[tuple]]:
        """Queue a SELECT (values rendered into its SQL) after the queued writes; returns a wait for its rows."""
        compiled = stmt.compile(dialect=self.dialect, compile_kwargs={"literal_binds": True})
        processors = [col.type.dialect_impl(self.dialect).result_processor(self.dialect, None)
                      for col in stmt.selected_columns]
        answer = _Answer(processors)
        self._submit(str(compiled), None, many=False, expected=None, answer=answer)
        return lambda: self._rows_of(answer)

    def drain(self) -> None:
        """Wait until every queued statement has run; re-raise the first failure."""
        if self._thread is not None and threading.current_thread() is not self._thread:
            self._jobs.join()
        self._raise_failure()

    def close(self) -> None:
        """Drain (re-raising a failure), then stop the worker; safe to call twice."""
        try:
            self.drain()
        finally:
            if self._thread is not None:
                self._jobs.put(_STOP)
                self._thread.join()
                self._thread = None
                event.remove(self.connection, "before_cursor_execute", self._before_session_statement)

    # -- statements --------------------------------------------------------------------------------

    def _statement(self, table: Table, columns: tuple, key: tuple, update: tuple) -> tuple[str, list]:
        """(SQL, per-column bind processors) for inserting `columns` of `table`, cached."""
        cache_key = (table.name, columns, key, update)
        cached = self._sql.get(cache_key)
        if cached is None:
            processors = [table.c[c].type.dialect_impl(self.dialect).bind_processor(self.dialect) for c in columns]
            sql = self._json_sql(table, columns, update) if self.json_rows else self._executemany_sql(table, columns, key, update)
            cached = self._sql[cache_key] = (sql, processors)
        return cached

    def _json_sql(self, table: Table, columns: tuple, update: tuple) -> str:
        prep = self.dialect.identifier_preparer
        names = ", ".join(prep.quote(c) for c in columns)
        # Every value comes out as text and the INSERT converts it, under strict mode, exactly as it
        # would a quoted literal: JSON_TABLE's own typed columns cut a too-long string without a word.
        typed = ", ".join(f"{prep.quote(c)} LONGTEXT PATH '$[{i}]' ERROR ON ERROR" for i, c in enumerate(columns))
        sql = (f"INSERT INTO {prep.format_table(table)} ({names}) SELECT {names} "
               f"FROM JSON_TABLE(%s, '$[*]' COLUMNS ({typed})) AS tl_rows")
        if update:
            # MariaDB's VALUES() names the value the row would have inserted.
            sql += " ON DUPLICATE KEY UPDATE " + ", ".join(f"{prep.quote(c)} = VALUES({prep.quote(c)})" for c in update)
        return sql

    def _executemany_sql(self, table: Table, columns: tuple, key: tuple, update: tuple) -> str:
        stmt = insert(table)
        if update and self.dialect.name == "sqlite":
            from sqlalchemy.dialects.sqlite import insert as sqlite_insert

            stmt = sqlite_insert(table)
            stmt = stmt.on_conflict_do_update(index_elements=list(key), set_={c: stmt.excluded[c] for c in update})
        elif update:  # MySQL before 8.0.4: the driver still sends thousands of rows per statement
            from sqlalchemy.dialects.mysql import insert as mysql_insert

            stmt = mysql_insert(table)
            stmt = stmt.on_duplicate_key_update({c: stmt.inserted[c] for c in update})
        compiled = stmt.compile(dialect=self.dialect, column_keys=list(columns))
        if list(compiled.positiontup) != list(columns):
            raise NotImplementedError("bulk insert parameters out of column order")
        return str(compiled)

    # -- inside --------------------------------------------------------------------------------------

    def _before_session_statement(self, *_args) -> None:
        # The session is about to use the connection itself: let the queued statements finish first.
        self.drain()

    def _rows_of(self, answer: _Answer) -> list[tuple]:
        answer.done.wait()
        if answer.result is None:
            self._raise_failure()
            raise WriteFailed("a queued read did not run because an earlier write failed")
        return answer.result

    def _raise_failure(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def _submit(self, sql: str, params, many: bool, expected: int | None, answer: _Answer | None = None) -> None:
        self._raise_failure()
        if self._thread is None:
            self._run(sql, params, many, expected, answer)
        else:
            self._jobs.put((sql, params, many, expected, answer))

    def _run(self, sql: str, params, many: bool, expected: int | None, answer: _Answer | None = None) -> None:
        cursor = self.dbapi.cursor()
        if hasattr(cursor, "max_stmt_length"):
            # mysqlclient splits an executemany into 64 KB statements; fewer, larger ones mean fewer
            # round trips. Well under max_allowed_packet.
            cursor.max_stmt_length = 1 << 20
        try:
            if many:
                cursor.executemany(sql, params)
            elif params is None:
                cursor.execute(sql)
            else:
                cursor.execute(sql, params)
            if expected is not None and cursor.rowcount != expected:
                raise WriteFailed(f"the database inserted {cursor.rowcount} row(s) of {expected}: nothing was imported")
            if answer is not None:
                answer.fulfil(cursor.fetchall())
        finally:
            cursor.close()

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            try:
                if job is _STOP:
                    return
                if self._error is None:  # after a failure the rest is skipped: the caller rolls back
                    self._run(*job)
            except BaseException as exc:  # handed to the caller's thread at its next call
                self._error = exc
            finally:
                if job is not _STOP and job[4] is not None:
                    job[4].done.set()  # a failed or skipped query still wakes its reader (who then sees the failure)
                self._jobs.task_done()


class _Answer:
    """The rows of a queued SELECT, once the worker has run it."""

    def __init__(self, processors: list):
        self.processors = processors
        self.done = threading.Event()
        self.result: list[tuple] | None = None

    def fulfil(self, raw_rows) -> None:
        procs = self.processors
        self.result = [tuple(p(v) if p else v for v, p in zip(row, procs, strict=True)) for row in raw_rows]
        self.done.set()


def _has_json_table(dialect) -> bool:
    """JSON_TABLE exists from MariaDB 10.6 and MySQL 8.0.4."""
    version = dialect.server_version_info or ()
    if getattr(dialect, "is_mariadb", False):
        return tuple(version[:2]) >= (10, 6)
    return tuple(version[:3]) >= (8, 0, 4)
