"""Call counts from the records real calls leave (tests/db/fixtures/cdr_real_calls.json, written by
tests/e2e/test_call_records.py with TRUNKLINE_CAPTURE_CDR=1): both nodes' rows, failover attempts, hang-up rows.

The captured calls, through one client node (cl1) and one carrier node (cn1), client ACME:
1. outbound, alpha answers; 2. outbound, alpha 503 then bravo answers; 3. outbound, alpha busy (486);
4. inbound through bravo, answered; 5. 911 through alpha, answered; 6. refused on the client node (484);
7. a carrier's call to an unknown DID, refused on the carrier node (no client's call).
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import delete, insert, select

from app import calls
from app.models import CallRollup
from app.models.realtime import REALTIME_TABLES

CDR = REALTIME_TABLES["cdr"]
FIXTURE = Path(__file__).parent / "fixtures" / "cdr_real_calls.json"
DAY = date(2026, 11, 2)
WANT = {"calls": 6, "by_client": {"ACME": 6}, "by_carrier": {"alpha": 3, "bravo": 2}, "e911_calls": 1,
        "answered": 4, "billed_minutes": 0, "inbound": 1, "outbound": 5}


def real_rows(day: date = DAY, rename: dict[str, str] | None = None) -> list[dict]:
    """The captured rows, moved to `day` (same times of day), carriers renamed in channel names if asked."""
    rows = json.loads(FIXTURE.read_text())
    first = min(datetime.fromisoformat(r["start"]) for r in rows)
    shift = datetime.combine(day, datetime.min.time()) + timedelta(hours=12) - first
    out = []
    for row in rows:
        row = dict(row)
        for key in ("start", "answer", "end"):
            if row[key] not in (None, "None"):
                row[key] = datetime.fromisoformat(row[key]) + shift
            else:
                row[key] = None
        for key in ("duration", "billsec", "sequence"):
            row[key] = int(row[key]) if row[key] not in (None, "None") else None
        if day != DAY:  # another day's copy is another record: the cdr table holds each (uniqueid, sequence) once
            row["uniqueid"] = f"{row['uniqueid']}-{day:%m%d}"
        for old, new in (rename or {}).items():
            for key in ("channel", "dstchannel", "lastdata"):
                if row[key]:
                    row[key] = row[key].replace(f"carrier-{old}-", f"carrier-{new}-").replace(f"@carrier-{old}", f"@carrier-{new}")
        out.append(row)
    return out


def add(session, rows) -> None:
    session.execute(insert(CDR), rows)
    session.flush()


@pytest.fixture
def empty(session):
    session.execute(delete(CDR))
    session.execute(delete(CallRollup))
    session.flush()
    return session


def test_the_fixture_is_what_real_calls_wrote():
    rows = real_rows()
    assert len(rows) == 17
    # Both nodes' rows, with the call id the first node handed on: the call crossed two nodes.
    assert {r["linkedid"].split("-")[0] for r in rows} == {"cl1", "cn1"}
    assert sum(1 for r in rows if r["call_id"]) >= 6


def test_each_real_call_is_counted_once(empty):
    add(empty, real_rows())
    calls.refresh(empty)
    assert calls.summary(empty) == WANT
    assert calls.summary(empty, DAY, DAY) == WANT
    assert calls.summary(empty, DAY + timedelta(days=1))["calls"] == 0


def test_carriers_are_matched_exactly_not_by_prefix(empty):
    """telus and telus-west are two carriers (the old dashboard's LIKE 'carrier-telus-%' counted both as telus)."""
    add(empty, real_rows(rename={"alpha": "telus", "bravo": "telus-west"}))
    calls.refresh(empty)
    assert calls.summary(empty)["by_carrier"] == {"telus": 3, "telus-west": 2}
    assert calls.summary(empty, carrier="telus")["calls"] == 3


def test_records_arriving_in_any_order_and_late_give_the_same_counts(empty):
    rows = real_rows()
    add(empty, rows[::2])
    calls.refresh(empty)
    partial = calls.summary(empty)
    assert partial["calls"] <= WANT["calls"]
    add(empty, rows[1::2])
    result = calls.refresh(empty)
    assert result.new_records == len(rows[1::2]) and DAY in result.days
    assert calls.summary(empty) == WANT
    calls.rebuild(empty)
    assert calls.summary(empty) == WANT
    assert calls.refresh(empty).new_records == 0  # nothing new: nothing recomputed


def key_of(row) -> str:
    return row["call_id"] or row["linkedid"]


def test_a_call_across_midnight_counts_once_on_the_day_its_client_node_record_started(empty):
    rows = real_rows()
    midnight = datetime.combine(DAY + timedelta(days=1), datetime.min.time())
    outbound = key_of(next(r for r in rows if r["channel"].startswith("PJSIP/trunk-ACME-main")))
    inbound = key_of(next(r for r in rows if r["channel"].startswith("PJSIP/carrier-bravo")))
    for row in rows:
        on_client = (row["channel"] or "").startswith("PJSIP/trunk-") or (row["dstchannel"] or "").startswith("PJSIP/trunk-")
        if key_of(row) == outbound:  # the PBX's call starts at 23:59:59, the carrier leg after midnight
            row["start"] = midnight - timedelta(seconds=1) if on_client else midnight + timedelta(seconds=1)
        elif key_of(row) == inbound:  # the carrier's call reaches the carrier node first, the client node after midnight
            row["start"] = midnight if on_client else midnight - timedelta(seconds=1)
    add(empty, rows)
    calls.refresh(empty)
    assert calls.summary(empty) == WANT
    first, second = calls.summary(empty, DAY, DAY), calls.summary(empty, DAY + timedelta(days=1))
    assert (first["calls"], first["by_carrier"], first["inbound"]) == (5, {"alpha": 3, "bravo": 1}, 0)
    assert (second["calls"], second["by_carrier"], second["inbound"]) == (1, {"bravo": 1}, 1)


def test_records_written_before_call_ids_count_each_call_once_by_linkedid(empty):
    rows = [dict(r, call_id=None) for r in real_rows()]
    add(empty, rows)
    calls.refresh(empty)
    got = calls.summary(empty)
    # The client node's rows alone still give every call once; the carrier cannot be known without the id.
    assert (got["calls"], got["by_client"], got["e911_calls"], got["by_carrier"]) == (6, {"ACME": 6}, 1, {})


def test_billed_minutes_round_each_answered_call_up(empty):
    rows = real_rows()
    for row in rows:
        if row["disposition"] == "ANSWERED":
            row["billsec"] = 61  # 1 min 1 s on both nodes: billed 2 minutes, once
    add(empty, rows)
    calls.refresh(empty)
    assert calls.summary(empty)["billed_minutes"] == 4 * 2


def test_monthly_usage_per_client_and_carrier(empty):
    add(empty, real_rows())
    add(empty, real_rows(day=DAY + timedelta(days=40)))  # next month: not in November
    calls.refresh(empty)
    usage = calls.monthly_usage(empty, date(2026, 11, 1))
    assert usage["clients"] == [{"name": "ACME", "calls": 6, "inbound": 1, "outbound": 5, "answered": 4,
                                 "billed_minutes": 0, "e911_calls": 1}]
    by_carrier = {row["name"]: row for row in usage["carriers"]}
    assert by_carrier[""]["calls"] == 1  # refused before any carrier
    assert (by_carrier["alpha"]["calls"], by_carrier["alpha"]["e911_calls"], by_carrier["alpha"]["answered"]) == (3, 1, 2)
    assert (by_carrier["bravo"]["inbound"], by_carrier["bravo"]["outbound"]) == (1, 1)


def test_freshness_counts_records_not_yet_read(empty):
    add(empty, real_rows())
    assert calls.freshness(empty)["pending_records"] == 17
    calls.refresh(empty)
    fresh = calls.freshness(empty)
    assert fresh["pending_records"] == 0 and fresh["refreshed_at"] is not None


def test_rollup_rows_are_one_per_day_account_carrier_direction(empty):
    add(empty, real_rows())
    calls.refresh(empty)
    keys = list(empty.execute(select(CallRollup.accountcode, CallRollup.carrier, CallRollup.direction, CallRollup.calls)
                              .order_by(CallRollup.carrier, CallRollup.direction)))
    assert [tuple(k) for k in keys] == [("ACME", "", "out", 1), ("ACME", "alpha", "out", 3), ("ACME", "bravo", "in", 1),
                                        ("ACME", "bravo", "out", 1)]


@pytest.mark.parametrize("channel, endpoint", [
    ("PJSIP/carrier-telus-west-0000001a", "carrier-telus-west"),
    ("PJSIP/trunk-ACME-main-00000000", "trunk-ACME-main"),
    ("PJSIP/node-cl1-ffffffff", "node-cl1"),
    ("Local/911@tl-911-00000001;1", ""),
    (None, ""),
    ("", ""),
])
def test_endpoint_of_channel_names(channel, endpoint):
    assert calls.endpoint_of(channel) == endpoint


# ---- CLI ----
@pytest.fixture
def run(app, empty):
    runner = app.test_cli_runner()
    return lambda *args: runner.invoke(args=list(args))


def test_calls_summary_json_has_the_documented_keys(run, empty):
    add(empty, real_rows())
    result = run("calls", "summary", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == WANT
    since = run("calls", "summary", "--since", "2026-11-03", "--json")
    assert json.loads(since.output)["calls"] == 0


def test_calls_summary_text(run, empty):
    add(empty, real_rows())
    result = run("calls", "summary", "--since", "2026-11-01", "--until", "2026-11-30")
    assert result.exit_code == 0, result.output
    assert "calls:      6  (5 outbound, 1 inbound" in result.output
    assert "911 calls:  1" in result.output and "  alpha                3" in result.output
    assert "period:     from 2026-11-01 to 2026-11-30 (UTC days, both ends included)" in result.output
    none = run("calls", "summary", "--since", "2026-11-20")
    assert "period:     since 2026-11-20" in none.output and "by client: none" in none.output, none.output


@pytest.mark.parametrize("args, message", [
    (("--since", "30/11/2026"), "--since must be a date as YYYY-MM-DD, not '30/11/2026'"),
    (("--until", "2026-13-01"), "--until must be a date as YYYY-MM-DD"),
    (("--since", "2026-11-05", "--until", "2026-11-01"), "--since 2026-11-05 is after --until 2026-11-01"),
])
def test_calls_summary_bad_dates_are_one_line_errors(run, args, message):
    result = run("calls", "summary", *args)
    assert result.exit_code != 0
    assert message in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_calls_usage_csv(run, empty, tmp_path):
    add(empty, real_rows())
    out = tmp_path / "usage.csv"
    result = run("calls", "usage", "--month", "2026-11", "--by", "carrier", "--out", str(out))
    assert result.exit_code == 0, result.output
    lines = out.read_text().splitlines()
    assert lines[0] == "carrier,month,calls,inbound,outbound,answered,billed_minutes,e911_calls"
    assert "alpha,2026-11,3,0,3,2,0,1" in lines and "(none),2026-11,1,0,1,0,0,0" in lines
    bad = run("calls", "usage", "--month", "November")
    assert bad.exit_code != 0 and "--month must be YYYY-MM, not 'November'" in bad.output


def test_calls_rollup_command(run, empty):
    add(empty, real_rows())
    result = run("calls", "rollup")
    assert result.exit_code == 0 and "17 call record(s) read; days recomputed: 2026-11-02" in result.output
    again = run("calls", "rollup", "--rebuild")
    assert again.exit_code == 0 and "days recomputed: 2026-11-02" in again.output
