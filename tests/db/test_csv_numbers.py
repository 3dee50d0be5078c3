"""numbers.csv: the bulk path gives exactly what the per-row service path gives, rows, realtime and errors alike."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from app.csvio import bulk_numbers
from app.models import AuditEntry
from app.projection import drift
from app.services import numbers
from tests.db.csv_support import audit_count, last_audit_id, run_import, snapshot

HEADER = "number,carrier,client,trunk,e911_registered,e911_address,port_status,port_target_carrier\n"

MIXED = HEADER + "\n".join([
    # created
    "204-555-1370,telus,ACME,main,yes,\"7 Main St, Winnipeg MB\",active,",
    "(204) 555-1371,bell,ACME,branch,no,,active,",
    "+1 416 555 2370,bell,GLOBEX,pbx,true,2 Front St W,active,",
    "14165552371,telus,,,no,,active,",
    "604.555.3470,thinq,INITECH,hq,0,,port_in_pending,bell",
    # updated: moved to another client, port started, port finished, assigned, main number's carrier changed
    "2045551204,bell,GLOBEX,pbx,no,,active,",
    "4165552302,telus,GLOBEX,pbx,no,,port_in_pending,thinq",
    "6045553402,telus,INITECH,hq,no,,active,",
    "6045553403,thinq,INITECH,hq,no,,active,",
    "2045551201,bell,ACME,main,yes,\"100 Main St, Winnipeg MB R3C 1A1\",active,",
    # unchanged
    "2045551202,telus,ACME,main,yes,\"100 Main St, Suite 200, Winnipeg MB R3C 1A1\",active,",
]) + "\n"

BAD = HEADER + "\n".join([
    "2045551380,telus,ACME,main,no,,active,",
    "2045551381,nope,ACME,main,no,,active,",
    "204555138,telus,,,maybe,,active,",
    "2045551382,telus,ACME,pbx,no,,active,",
    "2045551383,telus,NOBODY,main,maybe,,sold,",
    "(204) 555-1380,bell,,,no,,active,",
    "2045551384,bell,,,yes,,port_in_pending,bell",
    "2045551385,telus,,,no,,active",
    "2045551201,telus,GLOBEX,pbx,no,,ported_out,",
    "2045551203,bell,ACME,branch,no,,active,",
    "6045553401,thinq,INITECH,nope,yes,x,active,",
]) + "\n"


def _both_paths(session, text):
    """Import text per row, snapshot, roll back; then in bulk, snapshot: (results, snapshots)."""
    savepoint = session.begin_nested()
    per_row = run_import(session, "numbers", text, bulk=False)
    per_row_state = snapshot(session)
    per_row_drift = drift(session)
    savepoint.rollback()
    bulk = run_import(session, "numbers", text, bulk=True)
    return (per_row, bulk), (per_row_state, snapshot(session)), (per_row_drift, drift(session))


@pytest.mark.parametrize("batch", [3, bulk_numbers.BATCH], ids=["small-batches", "one-batch"])
def test_bulk_import_equals_the_per_row_service_path(seeded, monkeypatch, batch):
    monkeypatch.setattr(bulk_numbers, "BATCH", batch)
    before = snapshot(seeded)
    (per_row, bulk), (per_row_state, bulk_state), drifts = _both_paths(seeded, MIXED)
    assert per_row.ok and bulk.ok, [str(e) for e in per_row.errors + bulk.errors]
    counts = [(r.rows, r.created, r.updated, r.unchanged) for r in (per_row, bulk)]
    assert counts == [(11, 5, 5, 1)] * 2
    assert bulk_state == per_row_state
    assert bulk_state != before
    assert drifts == ([], [])
    # Spot checks that the rules were applied, not just mirrored.
    moved = numbers.get(seeded, "2045551204")
    assert (moved.client.account_code, moved.trunk.name) == ("GLOBEX", "pbx")
    assert numbers.get(seeded, "4165552302").port_target_carrier.name == "thinq"
    assert numbers.get(seeded, "6045553402").port_target_carrier_id is None


@pytest.mark.parametrize("batch", [2, bulk_numbers.BATCH], ids=["small-batches", "one-batch"])
def test_bulk_and_per_row_paths_report_the_same_errors(seeded, monkeypatch, batch):
    monkeypatch.setattr(bulk_numbers, "BATCH", batch)
    before = snapshot(seeded)
    (per_row, bulk), (per_row_state, bulk_state), _drifts = _both_paths(seeded, BAD)
    as_tuples = [[(e.line, e.column, e.message) for e in r.errors] for r in (per_row, bulk)]
    assert as_tuples[0] == as_tuples[1]
    assert {line for line, _c, _m in as_tuples[1]} == {3, 4, 5, 6, 7, 8, 9, 10, 11, 12}
    assert per_row_state == bulk_state == before


def test_bulk_import_audits_each_update_and_the_import(seeded):
    since = last_audit_id(seeded)
    result = run_import(seeded, "numbers", MIXED)
    assert result.ok
    updates = seeded.scalars(select(AuditEntry).where(AuditEntry.id > since, AuditEntry.action == "update")
                             .order_by(AuditEntry.entity_key)).all()
    assert [e.entity_key for e in updates] == ["+12045551201", "+12045551204", "+14165552302", "+16045553402", "+16045553403"]
    moved = next(e for e in updates if e.entity_key == "+12045551204")
    assert (moved.entity, moved.actor) == ("number", "tester")
    assert set(json.loads(moved.before)) == set(json.loads(moved.after)) == {"client_id", "trunk_id"}
    assert audit_count(seeded, since=since, channel="csv", action="import") == 1
    # Creations are counted by the import's entry rather than audited one by one on this path.
    assert audit_count(seeded, since=since, action="create") == 0
    assert audit_count(seeded, since=since) == 6


def test_reimporting_the_same_numbers_changes_nothing(seeded):
    assert run_import(seeded, "numbers", MIXED).changed == 10
    state, since = snapshot(seeded), last_audit_id(seeded)
    again = run_import(seeded, "numbers", MIXED)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 11)
    assert again.summary() == "numbers.csv: nothing changed: all 11 row(s) already match"
    assert snapshot(seeded) == state
    # Only the import's own entry: no per-number entries when nothing changed.
    assert audit_count(seeded, since=since) == 1


def test_a_few_thousand_numbers_in_many_batches_project_cleanly(seeded, monkeypatch):
    monkeypatch.setattr(bulk_numbers, "BATCH", 500)
    rows = [f"+1204{2000000 + i * 7},{['telus', 'bell', 'thinq'][i % 3]},{'ACME' if i % 2 else 'GLOBEX'},"
            f"{('main' if i % 4 == 1 else 'branch') if i % 2 else 'pbx'},{'yes' if i % 50 == 0 else 'no'},"
            f"{'1 Main St' if i % 50 == 0 else ''},active," for i in range(2500)]
    progress = []
    result = run_import(seeded, "numbers", HEADER + "\n".join(rows) + "\n", progress=progress.append)
    assert result.ok, [str(e) for e in result.errors[:5]]
    assert result.created == 2500
    assert sum(progress) == 2500 and len(progress) == 5
    assert drift(seeded) == []
    assert run_import(seeded, "numbers", HEADER + "\n".join(rows) + "\n").unchanged == 2500
