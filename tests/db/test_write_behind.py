"""WriteBehind writes exactly the rows it is given, in the session's transaction, and never loses a failure."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import Boolean, func, literal, select

from app.csvio.write_behind import WriteBehind
from app.models import AuditEntry
from app.models.realtime import REALTIME_TABLES

EXT = REALTIME_TABLES["extensions"]
AUDIT = AuditEntry.__table__
EXT_COLUMNS = ("context", "exten", "priority", "app", "appdata")
AUDIT_COLUMNS = ("at", "actor", "channel", "action", "entity", "entity_key", "before", "after", "summary")
AWKWARD = ["Ça va, \"quoted\" 'single' \\backslash\\ tab\there", "line\nbreak", "emoji ☎️ 🚒", "%s %(x)s ?", "", "  spaces  "]


def _ext_rows(session, context="tl-test") -> dict:
    return {(r.exten, r.priority): r.appdata for r in session.execute(select(EXT).where(EXT.c.context == context))}


def test_mariadb_sends_json_rows_through_a_thread(session, backend):
    writer = WriteBehind(session)
    try:
        assert writer.threaded == (backend == "mariadb")
        assert writer.json_rows == (backend == "mariadb")
    finally:
        writer.close()


def test_every_value_arrives_exactly(session):
    at = dt.datetime(2026, 11, 25, 12, 34, 56)
    rows = [(at, "bench", "csv", "update", "number", f"+1204555{i:04d}", text, None, text or None) for i, text in enumerate(AWKWARD)]
    writer = WriteBehind(session)
    try:
        writer.insert_rows(AUDIT, AUDIT_COLUMNS, rows)
    finally:
        writer.close()
    stored = session.execute(select(AUDIT.c.entity_key, AUDIT.c.at, AUDIT.c.before, AUDIT.c.after, AUDIT.c.summary)
                             .where(AUDIT.c.actor == "bench").order_by(AUDIT.c.entity_key)).all()
    assert [tuple(r) for r in stored] == [(r[5], at, r[6], None, r[8]) for r in rows]


def test_upsert_rewrites_existing_keys_and_adds_the_others(session):
    writer = WriteBehind(session)
    try:
        writer.insert_rows(EXT, EXT_COLUMNS, [("tl-test", "a", 1, "Return", "old"), ("tl-test", "b", 1, "Return", "old")])
        writer.insert_rows(EXT, EXT_COLUMNS, [("tl-test", "b", 1, "Return", "new"), ("tl-test", "c", 1, "Return", "new")],
                           key=("context", "exten", "priority"), update=("app", "appdata"))
    finally:
        writer.close()
    assert _ext_rows(session) == {("a", 1): "old", ("b", 1): "new", ("c", 1): "new"}


def test_the_session_sees_queued_rows_before_its_own_statement(session):
    writer = WriteBehind(session)
    try:
        for start in range(0, 6000, 2000):
            writer.insert_rows(EXT, EXT_COLUMNS, [("tl-test", f"x{i}", 1, "Return", str(i)) for i in range(start, start + 2000)])
        # No drain here: the session's own query must wait for the three queued inserts.
        assert session.scalar(select(func.count()).select_from(EXT).where(EXT.c.context == "tl-test")) == 6000
    finally:
        writer.close()


def test_a_value_too_long_for_its_column_is_never_cut(session, backend):
    writer = WriteBehind(session)
    if backend == "sqlite":  # SQLite keeps any length (the services enforce theirs): stored whole
        writer.insert_rows(EXT, EXT_COLUMNS, [("tl-test", "e" * 41, 1, "Return", "x")])
        writer.close()
        assert _ext_rows(session) == {("e" * 41, 1): "x"}
        return
    with pytest.raises(Exception) as caught:  # noqa: B017 - the driver's own error class, raised from the worker
        writer.insert_rows(EXT, EXT_COLUMNS, [("tl-test", "e" * 41, 1, "Return", "x")])
        writer.close()
    writer.close()
    assert "too long" in str(caught.value).lower()
    assert _ext_rows(session) == {}


def test_an_integer_out_of_range_fails_on_mariadb(session, backend):
    writer = WriteBehind(session)
    if backend == "sqlite":
        writer.insert_rows(EXT, EXT_COLUMNS, [("tl-test", "big", 2**40, "Return", "x")])
        writer.close()
        assert _ext_rows(session) == {("big", 2**40): "x"}
        return
    with pytest.raises(Exception) as caught:  # noqa: B017
        writer.insert_rows(EXT, EXT_COLUMNS, [("tl-test", "big", 2**40, "Return", "x")])
        writer.close()
    writer.close()
    assert "out of range" in str(caught.value).lower()


def test_a_duplicate_key_fails_and_the_rest_of_the_queue_is_skipped(session):
    writer = WriteBehind(session)
    with pytest.raises(Exception) as caught:  # noqa: B017 - the driver's own error class, raised from the worker
        writer.insert_rows(EXT, EXT_COLUMNS, [("tl-test", "d", 1, "Return", "1"), ("tl-test", "d", 1, "Return", "2")])
        writer.insert_rows(EXT, EXT_COLUMNS, [("tl-test", "after", 1, "Return", "3")])
        writer.close()
    writer.close()
    assert "uplicate" in str(caught.value) or "UNIQUE" in str(caught.value)
    assert ("after", 1) not in _ext_rows(session)


def test_rows_written_are_rolled_back_with_the_savepoint(session):
    savepoint = session.begin_nested()
    writer = WriteBehind(session)
    try:
        writer.insert_rows(EXT, EXT_COLUMNS, [("tl-test", "r", 1, "Return", "1")])
    finally:
        writer.close()
    assert _ext_rows(session) == {("r", 1): "1"}
    savepoint.rollback()
    assert _ext_rows(session) == {}


def test_an_in_list_delete_runs_in_order(session):
    writer = WriteBehind(session)
    try:
        writer.insert_rows(EXT, EXT_COLUMNS, [("tl-test", f"k{i}", 1, "Return", "v") for i in range(10)])
        writer.execute(EXT.delete().where(EXT.c.context == "tl-test", EXT.c.exten.in_([f"k{i}" for i in range(5)])))
    finally:
        writer.close()
    assert sorted(_ext_rows(session)) == [(f"k{i}", 1) for i in range(5, 10)]


def test_a_queued_read_sees_the_writes_queued_before_it_with_converted_values(session):
    writer = WriteBehind(session)
    try:
        writer.insert_rows(EXT, EXT_COLUMNS, [("tl-test", f"q{i}", 1, "Return", str(i)) for i in range(3)])
        rows = writer.query(select(EXT.c.exten, EXT.c.priority).where(EXT.c.context == "tl-test").order_by(EXT.c.exten))
        writer.insert_rows(EXT, EXT_COLUMNS, [("tl-test", "q9", 1, "Return", "9")])
        assert rows() == [("q0", 1), ("q1", 1), ("q2", 1)]
    finally:
        writer.close()
    flags = WriteBehind(session)
    try:
        (value,), = flags.query(select(literal(True, Boolean)))()
        assert value is True  # the column type's result conversion applies (MariaDB answers 1)
    finally:
        flags.close()


def test_a_read_queued_after_a_failed_write_raises_the_write_failure(session):
    writer = WriteBehind(session)
    with pytest.raises(Exception) as caught:  # noqa: B017 - the driver's own error class, raised from the worker
        writer.insert_rows(EXT, EXT_COLUMNS, [("tl-test", "d", 1, "Return", "1"), ("tl-test", "d", 1, "Return", "2")])
        rows = writer.query(select(EXT.c.exten).where(EXT.c.context == "tl-test"))
        rows()
    writer.close()
    assert "uplicate" in str(caught.value) or "UNIQUE" in str(caught.value)
