"""Statements a bulk import hands to the database while it goes on validating the next rows.

A bulk import alternates CPU work (reading, parsing, checking rows) with database work (inserting
them). On MariaDB the two can overlap: the driver releases the interpreter while the server works, so
a worker thread runs the inserts of batch N on the session's own connection, inside the session's
transaction, while the caller checks batch N+1. The connection is never used by both at once: every
statement the session itself runs first waits until the queued ones are done. Elsewhere (SQLite) the
statements simply run at once, in the caller's thread. Either way nothing is committed here: the
caller's transaction (and its savepoint) decides.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Sequence
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session
from sqlalchemy.sql import ClauseElement

_STOP = object()


class WriteBehind:
    """Runs statements on a session's connection in order: in a worker thread on MariaDB, inline elsewhere."""

    def __init__(self, session: Session, threaded: bool | None = None):
        self.connection = session.connection()
        self.dialect = self.connection.dialect
        self.dbapi = self.connection.connection.dbapi_connection
        if threaded is None:
            threaded = self.dialect.name in ("mysql", "mariadb")
        self.threaded = threaded
        self._compiled: dict[int, tuple[str, list | None, ClauseElement]] = {}  # the statement is kept so its id stays unique
        self._error: BaseException | None = None
        self._jobs: queue.Queue = queue.Queue()
        self._thread: threading.Thread | None = None
        if threaded:
            self._thread = threading.Thread(target=self._work, name="csv-write-behind", daemon=True)
            self._thread.start()
            event.listen(self.connection, "before_cursor_execute", self._before_session_statement)

    # -- what callers use --------------------------------------------------------------------------

    def executemany(self, stmt: ClauseElement, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        """Queue one statement run for every row (values in `columns` order)."""
        if not rows:
            return
        sql, plan = self._compile_many(stmt, tuple(columns))
        if plan is None:  # the columns are in statement order and no value needs converting
            params = rows if isinstance(rows, list) else list(rows)
        else:
            params = [tuple(proc(row[i]) if proc else row[i] for i, proc in plan) for row in rows]
        self._submit(sql, params, many=True)

    def execute(self, stmt: ClauseElement) -> None:
        """Queue one statement whose values the dialect writes into its SQL (an IN list of plain values)."""
        compiled = stmt.compile(dialect=self.dialect, compile_kwargs={"literal_binds": True})
        self._submit(str(compiled), None, many=False)

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

    # -- inside --------------------------------------------------------------------------------------

    def _before_session_statement(self, *_args) -> None:
        # The session is about to use the connection itself: let the queued statements finish first.
        self.drain()

    def _raise_failure(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def _submit(self, sql: str, params, many: bool) -> None:
        self._raise_failure()
        if self._thread is None:
            self._run(sql, params, many)
        else:
            self._jobs.put((sql, params, many))

    def _run(self, sql: str, params, many: bool) -> None:
        cursor = self.dbapi.cursor()
        if hasattr(cursor, "max_stmt_length"):
            # mysqlclient splits a batch into 64 KB statements by default; fewer, larger ones mean fewer
            # round trips (and fewer hand-overs of the interpreter lock). Well under max_allowed_packet.
            cursor.max_stmt_length = 1 << 20
        try:
            if many:
                cursor.executemany(sql, params)
            elif params is None:
                cursor.execute(sql)
            else:
                cursor.execute(sql, params)
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
                self._jobs.task_done()

    def _compile_many(self, stmt: ClauseElement, columns: tuple[str, ...]) -> tuple[str, list | None]:
        cached = self._compiled.get(id(stmt))
        if cached is None:
            compiled = stmt.compile(dialect=self.dialect, column_keys=list(columns))
            plan = [(columns.index(key), self._processor(compiled, key)) for key in compiled.positiontup]
            if [i for i, _p in plan] == list(range(len(columns))) and not any(p for _i, p in plan):
                plan = None
            cached = self._compiled[id(stmt)] = (str(compiled), plan, stmt)
        return cached[0], cached[1]

    def _processor(self, compiled, key: str):
        """The dialect's conversion of a bound value (SQLite's DateTime, ...), or None."""
        bind_type = compiled.binds[key].type
        return bind_type.dialect_impl(self.dialect).bind_processor(self.dialect)
