"""Importing rows: every bad row reported, all or nothing, dry runs, idempotence, audit, realtime kept in line."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from app.models import AuditEntry
from app.models.realtime import REALTIME_TABLES
from app.projection import drift
from app.services import carriers, clients, nodes, numbers, trunks
from tests.db.csv_support import audit_count, export_text, last_audit_id, run_import, snapshot

NUMBERS_HEADER = "number,carrier,client,trunk,e911_registered,e911_address,port_status,port_target_carrier\n"


def errors_of(result) -> list[tuple[int, str, str]]:
    return [(e.line, e.column, e.message) for e in result.errors]


def test_every_bad_row_is_reported_with_line_column_and_reason_and_nothing_is_written(seeded):
    before, since = snapshot(seeded), last_audit_id(seeded)
    text = NUMBERS_HEADER + "\n".join([
        "2045551320,telus,ACME,main,no,,active,",            # 2: fine
        "2045551321,nope,ACME,main,no,,active,",             # 3: unknown carrier
        "204555132,telus,,,no,,active,",                     # 4: 9 digits
        "2045551322,telus,ACME,pbx,no,,active,",             # 5: GLOBEX's trunk, not ACME's
        "2045551323,telus,NOBODY,,maybe,,sold,",             # 6: three bad cells at once
        "2045551324,telus,ACME,main,no,,active,",            # 7: fine
        "(204) 555-1320,bell,,,no,,active,",                 # 8: line 2's number again, other spelling
        "2045551325,rogers,,,yes,,active,",                  # 9: unknown carrier and E911 without client/address
        "2045551326,telus,,,no,,active",                     # 10: a cell missing
        "2045551201,telus,GLOBEX,pbx,yes,x,active,",         # 11: ACME's default E911 number moved away
        "2045551327,telus,,,no,,port_in_pending,",           # 12: pending port without a target
    ]) + "\n"
    result = run_import(seeded, "numbers", text)
    assert not result.ok
    errors = errors_of(result)
    assert (3, "carrier", "there is no carrier named 'nope'") in errors
    assert (4, "number", "'204555132' has 9 digits: a NANP number has 10 (or 11 starting with 1)") in errors
    assert (5, "trunk", "client ACME has no trunk named 'pbx'") in errors
    assert (6, "e911_registered", "'maybe' is not yes/no, true/false or 1/0") in errors
    assert (6, "port_status", "'sold' is not one of: active, port_in_pending, ported_out") in errors
    assert (8, "number", "(204) 555-1320 is already on line 2: each number may appear only once in a file") in errors
    assert (9, "carrier", "there is no carrier named 'rogers'") in errors
    assert (9, "e911_registered", "a number must belong to a client to be registered for E911") in errors
    assert (9, "e911_address", "the service address registered for 911 is required") in errors
    assert (10, "", "has 7 cell(s) but the header has 8 column(s)") in errors
    assert any(line == 11 and column == "client" and "the default E911 number of client ACME" in message
               for line, column, message in errors)
    assert (12, "port_target_carrier", "a pending port needs the carrier the number is moving to") in errors
    assert {e.line for e in result.errors} == {3, 4, 5, 6, 8, 9, 10, 11, 12}
    assert [e.line for e in result.errors] == sorted(e.line for e in result.errors)
    assert result.bad_rows == 9
    assert "9 of 11 row(s) are wrong" in result.summary() and "nothing was imported" in result.summary()
    assert snapshot(seeded) == before
    assert audit_count(seeded, since=since) == 0


@pytest.mark.parametrize("bulk", [True, False], ids=["bulk", "per-row"])
def test_one_bad_row_keeps_every_good_row_out(seeded, bulk):
    before = snapshot(seeded)
    good = "".join(f"20455513{40 + i},telus,ACME,main,no,,active,\n" for i in range(5))
    result = run_import(seeded, "numbers", NUMBERS_HEADER + good + "2045551399,nope,,,no,,active,\n", bulk=bulk)
    assert errors_of(result) == [(7, "carrier", "there is no carrier named 'nope'")]
    assert snapshot(seeded) == before


@pytest.mark.parametrize(("kind", "text"), [
    ("carriers", "name,signalling_addresses,auth,username,password\nnewco,203.0.113.80,register,newco_user,Some-Long-Password-1\n"),
    ("nodes", "name,role,public_ip,hosting_provider\ncl-new-1,client,192.0.2.99,OVHcloud\n"),
    ("clients", "name,account_code,status\nNew Client,NEWCO,suspended\n"),
    ("trunks", "client,name,auth,source_addresses\nGLOBEX,backup,ip,198.18.20.17 198.18.20.16/29\n"),
    ("numbers", NUMBERS_HEADER + "2045551350,bell,GLOBEX,pbx,no,,active,\n"),
])
def test_dry_run_validates_everything_and_writes_nothing(seeded, kind, text):
    before, since = snapshot(seeded), last_audit_id(seeded)
    result = run_import(seeded, kind, text, dry_run=True)
    assert result.ok, [str(e) for e in result.errors]
    assert result.dry_run and result.created == 1
    assert "dry run" in result.summary() and "nothing was written" in result.summary()
    assert snapshot(seeded) == before
    assert audit_count(seeded, since=since) == 0
    # The same file for real does write, and a second time changes nothing.
    assert run_import(seeded, kind, text).created == 1
    assert snapshot(seeded) != before
    again = run_import(seeded, kind, text)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 1)
    assert drift(seeded) == []


def test_dry_run_reports_bad_rows_like_a_real_import(seeded):
    text = NUMBERS_HEADER + "2045551351,nope,,,no,,active,\n"
    assert errors_of(run_import(seeded, "numbers", text, dry_run=True)) == errors_of(run_import(seeded, "numbers", text))


@pytest.mark.parametrize("kind", ["carriers", "trunks", "numbers"])
def test_each_import_is_one_audit_entry_with_its_counts_under_channel_csv(seeded, kind):
    texts = {
        "carriers": "name,signalling_addresses,priority\nnewco,203.0.113.80,50\ntelus,198.51.100.10 198.51.100.11,11\n"
                    "bell,198.51.100.20 198.51.100.64/28,20\n",
        "trunks": "client,name,source_addresses\nGLOBEX,backup,198.18.20.17 198.18.20.16/29\nACME,main,198.18.10.9\nINITECH,hq,198.18.30.7\n",
        "numbers": NUMBERS_HEADER + "2045551352,bell,,,no,,active,\n+14165552302,bell,GLOBEX,pbx,no,,active,\n"
                                    "+16045553403,thinq,,,no,,active,\n",
    }
    since = last_audit_id(seeded)
    result = run_import(seeded, kind, texts[kind])
    assert (result.created, result.updated, result.unchanged) == (1, 1, 1), [str(e) for e in result.errors]
    entries = seeded.scalars(select(AuditEntry).where(AuditEntry.id > since, AuditEntry.action == "import")).all()
    assert len(entries) == 1
    entry = entries[0]
    assert (entry.actor, entry.channel, entry.entity, entry.entity_key) == ("tester", "csv", kind, f"{kind}.csv")
    assert json.loads(entry.after) == {"rows": 3, "created": 1, "updated": 1, "unchanged": 1}
    assert entry.summary == f"{kind}.csv: 3 row(s) imported: 1 created, 1 updated, 1 unchanged"
    # Per-object entries say where the change came from too.
    changed = seeded.scalars(select(AuditEntry).where(AuditEntry.id > since, AuditEntry.action == "update")).all()
    assert [(e.entity, e.actor) for e in changed] == [(kind[:-1], "tester")]
    assert drift(seeded) == []


def test_missing_optional_columns_keep_current_values_and_blank_cells_clear_them(seeded):
    # No e911/port columns: those stay as they are; the client changes and the trunk, absent, is dropped.
    result = run_import(seeded, "numbers", "number,carrier,client\n2045551204,bell,GLOBEX\n")
    assert result.updated == 1, [str(e) for e in result.errors]
    moved = numbers.get(seeded, "2045551204")
    assert (moved.client.account_code, moved.trunk_id, moved.port_status) == ("GLOBEX", None, "active")
    # A present but blank cell means "none": the trunk's E911 number is cleared.
    assert run_import(seeded, "trunks", "client,name,e911_number\nACME,branch,\n").updated == 1
    assert trunks.get(seeded, "ACME", "branch").e911_number_id is None
    assert drift(seeded) == []


def test_csv_column_names_map_to_service_fields_and_values_accept_every_spelling(seeded):
    text = ("name,tier,auth,signalling_addresses,port,callerid_format,e911_callerid_format,dial_format,send_pai,provides_911,"
            "priority,max_channels,username,password\n"
            "newco,2,REGISTER,203.0.113.80   203.0.113.81,5080,NANP10,e164,nanp11,TRUE,0,5,12,newco_user,Some-Long-Password-1\n"
            "other,1,ip,203.0.113.90,5060,e164,e164,e164,Yes,1,6,0,,\n")
    result = run_import(seeded, "carriers", text)
    assert result.created == 2, [str(e) for e in result.errors]
    newco, other = carriers.get(seeded, "newco"), carriers.get(seeded, "other")
    assert (newco.auth_mode, newco.signalling_addresses, newco.callerid_format, newco.send_pai, newco.provides_911) == (
        "register", "203.0.113.80 203.0.113.81", "nanp10", True, False)
    assert (other.send_pai, other.provides_911) == (True, True)
    errors = errors_of(run_import(seeded, "carriers", "name,signalling_addresses,auth\nthird,203.0.113.95,register\n"))
    assert (2, "username", "is required when the carrier authenticates by registration") in errors
    errors = errors_of(run_import(seeded, "carriers", "name,signalling_addresses,auth\nthird,203.0.113.95,telepathy\n"))
    assert errors == [(2, "auth", "'telepathy' is not one of: ip, register")]
    assert drift(seeded) == []


def test_carrier_privacy_mode_column_imports_exports_and_refuses_unknown_modes(seeded):
    """privacy_mode: pai (RFC 3325, the default) or rpid (Remote-Party-ID); projected as the endpoint's send_rpid."""
    text = ("name,signalling_addresses,privacy_mode\n"
            "rpidco,203.0.113.110,RPID\n"
            "paico,203.0.113.111,pai\n"
            "defco,203.0.113.112,\n")
    result = run_import(seeded, "carriers", text)
    assert result.created == 3, [str(e) for e in result.errors]
    assert [carriers.get(seeded, n).privacy_mode for n in ("rpidco", "paico", "defco")] == ["rpid", "pai", "pai"]
    endpoints = REALTIME_TABLES["ps_endpoints"]
    send_rpid = dict(seeded.execute(select(endpoints.c.id, endpoints.c.send_rpid).where(
        endpoints.c.id.in_(["carrier-rpidco", "carrier-paico"]))).all())
    assert send_rpid == {"carrier-rpidco": "yes", "carrier-paico": "no"}
    before = snapshot(seeded)
    errors = errors_of(run_import(seeded, "carriers", "name,signalling_addresses,privacy_mode\nx1,203.0.113.113,isup\n"
                                  "x2,203.0.113.114,pai\n"))
    assert errors == [(2, "privacy_mode", "'isup' is not one of: pai, rpid")]
    assert snapshot(seeded) == before
    exported = export_text(seeded, "carriers")
    header = exported.splitlines()[0].split(",")
    assert header.index("privacy_mode") == header.index("max_channels") + 1
    assert ",rpid," in next(line for line in exported.splitlines() if line.startswith("rpidco,"))
    assert run_import(seeded, "carriers", exported).updated == 0  # the export imports as it is, unchanged
    assert drift(seeded) == []


@pytest.mark.parametrize(("kind", "text", "expected"), [
    ("carriers", "name,signalling_addresses\ntelus,198.51.100.10\n telus ,198.51.100.10\n", (3, "name", "telus is already on line 2")),
    ("nodes", "name,role,public_ip,hosting_provider\nn1,client,192.0.2.90,X\nn1,client,192.0.2.91,X\n", (3, "name", "n1 is already on line 2")),
    ("clients", "name,account_code,status\nA,NEWA,suspended\nB,newa,suspended\n", (3, "account_code", "newa is already on line 2")),
    ("trunks", "client,name,source_addresses\nACME,x,198.18.10.50\nACME,x,198.18.10.51\n", (3, "client+name", "ACME/x is already on line 2")),
    ("numbers", "number,carrier\n2045551360,telus\n+1 204 555 1360,telus\n", (3, "number", "+1 204 555 1360 is already on line 2")),
])
def test_duplicate_keys_inside_a_file_are_refused(seeded, kind, text, expected):
    before = snapshot(seeded)
    result = run_import(seeded, kind, text)
    line, column, start = expected
    assert [(e.line, e.column) for e in result.errors] == [(line, column)]
    assert result.errors[0].message.startswith(start)
    assert snapshot(seeded) == before


def test_rows_of_other_kinds_are_checked_by_their_services(seeded):
    assert errors_of(run_import(seeded, "nodes", "name,role,public_ip,hosting_provider\nBad Name,client,192.0.2.21,X\n")) == [
        (2, "name", "'Bad Name' is not allowed: use 1-32 lowercase letters, digits, '-' or '_', starting with a letter or digit")]
    errors = errors_of(run_import(seeded, "nodes", "name,role,public_ip,hosting_provider\nnew-node,client,192.0.2.21,X\n"))
    assert errors == [(2, "public_ip", "node cl-ovh-bhs7 already has this address")]
    errors = errors_of(run_import(seeded, "clients", "name,account_code,node\nNew,NEWCO,cl-ovh-bhs7\n"))
    assert errors == [(2, "node", "node cl-ovh-bhs7 already serves client ACME (one client per node)")]
    errors = errors_of(run_import(seeded, "trunks", "client,name,source_addresses\nNOPE,x,198.18.10.5\nACME,y,198.18.10.5\n"))
    assert errors[0] == (2, "client", "there is no client with account code 'NOPE'")
    assert errors[1][:2] == (3, "source_addresses") and "already claimed by trunk ACME/main" in errors[1][2]
    assert clients.get(seeded, "ACME").node.name == nodes.get(seeded, "cl-ovh-bhs7").name
