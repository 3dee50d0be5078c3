"""Call records counted right, from the records real calls leave on both nodes.

A known mix of calls goes through the real nodes; the rows cdr_adaptive_odbc wrote on both nodes are
then counted by app.calls (the rollup, `calls summary`, the dashboard): each call once, each carrier exactly.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select, text
from sqlalchemy.orm import Session as OrmSession

from app import calls
from app.db import utc_now
from app.models.realtime import REALTIME_TABLES
from app.web.dashboard import calls as dashboard_calls
from tests.e2e import data

pytestmark = pytest.mark.asterisk

CDR = REALTIME_TABLES["cdr"]
# Where `TRUNKLINE_CAPTURE_CDR=1` writes the rows, for tests/db/test_call_counts.py.
FIXTURE = Path(__file__).resolve().parents[1] / "db" / "fixtures" / "cdr_real_calls.json"


def _mark(platform) -> int:
    return platform.query("SELECT COALESCE(MAX(id), 0) FROM cdr")[0][0]


def _rows_after(platform, mark: int) -> list:
    with platform.engine.connect() as conn:
        return list(conn.execute(select(CDR).where(CDR.c.id > mark).order_by(CDR.c.id)))


def _summary(platform) -> dict:
    with OrmSession(platform.engine) as session:
        calls.refresh(session)
        session.commit()
        return calls.summary(session)


def _delta(after: dict, before: dict) -> dict:
    out = {}
    for key, value in after.items():
        if isinstance(value, dict):
            diff = {k: n - before[key].get(k, 0) for k, n in value.items() if n != before[key].get(k, 0)}
            out[key] = diff
        else:
            out[key] = value - before[key]
    return out


def test_each_call_is_counted_once_per_client_and_exact_carrier(platform):
    before = _summary(platform)
    mark = _mark(platform)
    placed = [
        # (from, node, dialled, caller, final answer)
        (data.PBX["main"], "cl1", "3125550140", "2045552001", 200),        # outbound, alpha answers
        (data.PBX["main"], "cl1", "3125550501", "2045552001", 200),        # alpha 503, then bravo answers
        (data.PBX["main"], "cl1", "3125550481", "2045552001", 486),        # alpha busy: passed back
        (data.CARRIER_IP["bravo"], "cn1", "12045552003", "4165550100", 200),  # inbound through bravo
        (data.PBX["main"], "cl1", "911", "2045552001", 200),               # 911: number level, alpha
        (data.PBX["main"], "cl1", "0115551234", "2045552001", 484),        # refused on the client node
        (data.CARRIER_IP["alpha"], "cn1", "3125550199", "4165550100", 404),  # unknown DID: no client's call
    ]
    for source, node, dialled, caller, final in placed:
        result = platform.call(source, node, dialled, caller, final, "cdr")
        assert result.final == final, platform.diagnostics()
    want = {"calls": 6, "by_client": {"ACME": 6}, "by_carrier": {"alpha": 3, "bravo": 2}, "e911_calls": 1,
            "answered": 4, "billed_minutes": 0, "inbound": 1, "outbound": 5}
    # Records are written as each channel hangs up: wait until every one is in.
    deadline = time.monotonic() + 15
    while True:
        got = _delta(_summary(platform), before)
        if got == want or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    rows = _rows_after(platform, mark)
    if os.environ.get("TRUNKLINE_CAPTURE_CDR"):
        FIXTURE.parent.mkdir(parents=True, exist_ok=True)
        keep = [c.name for c in CDR.columns if c.name != "id"]
        FIXTURE.write_text(json.dumps([{k: (str(r._mapping[k]) if r._mapping[k] is not None else None) for k in keep}
                                       for r in rows], indent=1) + "\n")
    assert got == want, [tuple(r) for r in rows]

    # Both nodes wrote rows (the call crossed two nodes), and the failover left one per attempt: many more
    # rows than calls, all of one call sharing one call id.
    assert len(rows) >= 11, [tuple(r) for r in rows]
    ids = {r.call_id or r.linkedid for r in rows
           if r.channel and "trunk-ACME-main" in r.channel and "3125550501@node-" in (r.lastdata or "")}
    assert len(ids) == 1
    failover = [r for r in rows if (r.call_id or r.linkedid) in ids]
    assert {calls.endpoint_of(r.dstchannel) for r in failover} >= {"carrier-alpha", "carrier-bravo", "node-cn1"}
    assert all(r.linkedid.startswith(("cl1-", "cn1-")) for r in rows), "systemname prefixes every linkedid"

    # The dashboard shows the same counts (it reads the same rollup).
    with OrmSession(platform.engine) as session:
        today = dashboard_calls(session)
        assert today["total"] >= want["calls"] and today["freshness"]["pending_records"] == 0


def test_calls_summary_cli_agrees_with_the_rollup(platform):
    from app.cli import calls as calls_cli
    from app.db import Session, bind_session

    app = Flask("trunkline-e2e-calls")
    calls_cli.register(app)
    bind_session(platform.engine)
    try:
        today = utc_now().date()
        result = app.test_cli_runner().invoke(args=["calls", "summary", "--since", today.isoformat(), "--json"])
        assert result.exit_code == 0, result.output
        printed = json.loads(result.output)
        with OrmSession(platform.engine) as session:
            assert printed == calls.summary(session, today, None)
        assert set(printed) >= {"calls", "by_client", "by_carrier", "e911_calls"}
        with platform.engine.connect() as conn:
            # Every call placed today through the suite, once: the distinct call ids of the client node's rows.
            distinct = conn.execute(text(
                "SELECT COUNT(DISTINCT COALESCE(NULLIF(call_id, ''), linkedid)) FROM cdr "
                "WHERE (channel LIKE 'PJSIP/trunk-%' OR dstchannel LIKE 'PJSIP/trunk-%') AND start >= :day"),
                {"day": today}).scalar()
        assert printed["calls"] == distinct > 0
    finally:
        Session.remove()
        Session.configure(bind=None)
