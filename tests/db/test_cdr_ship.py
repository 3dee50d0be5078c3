"""No CDR lost, none counted twice: the node's local spool shipped by scripts/cdr_ship.py into the central cdr
table (real MariaDB), and migration 0003h building UNIQUE(uniqueid, sequence) over legacy duplicates."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import create_engine, text

from app.migrations import alembic_config, current_revision, upgrade
from tests.conftest import scratch_mariadb

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("cdr_ship", ROOT / "scripts" / "cdr_ship.py")
cdr_ship = importlib.util.module_from_spec(_spec)
sys.modules["cdr_ship"] = cdr_ship
_spec.loader.exec_module(cdr_ship)

pytestmark = pytest.mark.mariadb


def record(node: str, n: int, **extra) -> dict:
    """One CDR as cdr_custom writes it (node render's cdr_custom.conf: JSON, times as epoch seconds)."""
    base = {"accountcode": "ACME", "src": "2045552001", "dst": "s", "dcontext": "tl-out", "clid": '"Caller" <2045552001>',
            "channel": f"PJSIP/trunk-ACME-main-0000000{n}", "dstchannel": f"PJSIP/node-cn1-0000000{n}", "lastapp": "Dial",
            "lastdata": "PJSIP/3125550140@node-cn1", "start": 1796055539 + n, "answer": 1796055540 + n, "end": 1796055545 + n,
            "duration": 6, "billsec": 5, "disposition": "ANSWERED", "amaflags": "DOCUMENTATION", "userfield": "",
            "uniqueid": f"{node}-1796055539.{n}", "linkedid": f"{node}-1796055539.{n}", "peeraccount": "", "sequence": n,
            "call_id": f"{node}-1796055539.{n}"}
    return {**base, **extra}


@pytest.fixture
def central():
    with scratch_mariadb("trunkline_ship") as url:
        upgrade(url)
        engine = create_engine(url)
        yield url.replace("mysql+mysqldb://", "mysql://"), engine
        engine.dispose()


def rows(engine) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text("SELECT uniqueid, sequence, start, answer, userfield, call_id FROM cdr ORDER BY id"))]


def test_spool_is_shipped_exactly_once(central, tmp_path):
    url, engine = central
    spool = tmp_path / "trunkline-cdr.json"
    # Record 0 also arrived directly (the database was up at its hangup); 1-2 were written while it was down.
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO cdr (uniqueid, sequence, start, call_id) VALUES ('cl1-1796055539.0', 0, "
                          "'2026-11-30 16:18:59', 'cl1-1796055539.0')"))
    spool.write_text("".join(json.dumps(record("cl1", n)) + "\n" for n in range(3))
                     + json.dumps(record("cl1", 3))[:40])  # a record Asterisk is still writing
    assert cdr_ship.ship_once(spool, ["mysql://root@127.0.0.1:1/none", url]) == (3, 2)
    got = rows(engine)
    assert [r[:2] for r in got] == [("cl1-1796055539.0", 0), ("cl1-1796055539.1", 1), ("cl1-1796055539.2", 2)]
    # Times are UTC as cdr_adaptive_odbc writes them (usegmtime), empty text is NULL.
    assert str(got[1][2]) == "2026-11-30 16:19:00" and str(got[1][3]) == "2026-11-30 16:19:01" and got[1][4] is None
    # The last line is finished later, and another node's record with the same numbers arrives: both new.
    with spool.open("a") as fh:
        fh.write(json.dumps(record("cl1", 3))[40:] + "\n" + json.dumps(record("cn1", 1)) + "\n")
    assert cdr_ship.ship_once(spool, [url]) == (2, 2)
    assert cdr_ship.ship_once(spool, [url]) == (0, 0)
    # A run that died before saving its offset ships everything again: still one row per record.
    spool.with_name(spool.name + ".offset").unlink()
    assert cdr_ship.ship_once(spool, [url]) == (5, 0)
    assert len(rows(engine)) == 5


def test_no_writable_server_keeps_the_records(central, tmp_path):
    url, engine = central
    spool = tmp_path / "trunkline-cdr.json"
    spool.write_text(json.dumps(record("cl1", 7)) + "\n")
    with pytest.raises(ConnectionError, match="no database server takes writes"):
        cdr_ship.ship_once(spool, ["mysql://root@127.0.0.1:1/none"])
    assert not spool.with_name(spool.name + ".offset").exists() and rows(engine) == []
    assert cdr_ship.main(["--spool", str(spool), "--db", "mysql://root@127.0.0.1:1/none"]) == 2
    assert cdr_ship.main(["--spool", str(spool), "--db", url]) == 0
    assert [r[0] for r in rows(engine)] == ["cl1-1796055539.7"]


@pytest.mark.parametrize("backend", ["sqlite", "mariadb"])
def test_migration_keeps_legacy_duplicates_and_builds_the_unique_key(backend, tmp_path):
    def run(url):
        upgrade(url, "0003f")
        engine = create_engine(url)
        with engine.begin() as conn:
            for seq in (5, 5, 6):  # two legacy nodes wrote the same uniqueid and sequence in the same second
                conn.execute(text("INSERT INTO cdr (uniqueid, sequence, accountcode) VALUES ('1700000000.12', :s, 'X')"),
                             {"s": seq})
        upgrade(url, "0003h")
        assert current_revision(url) == "0003h"
        with engine.connect() as conn:
            got = [tuple(r) for r in conn.execute(text("SELECT uniqueid, sequence FROM cdr ORDER BY id"))]
        assert got == [("1700000000.12", 5), ("1700000000.12", None), ("1700000000.12", 6)]
        with pytest.raises(Exception, match="(?i)duplicate|unique"), engine.begin() as conn:
            conn.execute(text("INSERT INTO cdr (uniqueid, sequence) VALUES ('1700000000.12', 6)"))
        command.downgrade(alembic_config(url), "-1")  # 0003h down: the unique key and the tables go
        upgrade(url, "0003h")
        engine.dispose()

    if backend == "sqlite":
        run(f"sqlite:///{tmp_path / 'mig.db'}")
    else:
        with scratch_mariadb("trunkline_mig13") as url:
            run(url)
