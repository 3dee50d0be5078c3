"""CLI commands: e911 resolve, realtime verify/rebuild, seed, schema --sql; user errors are one line, non-zero."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import update

from app.models.realtime import REALTIME_TABLES


@pytest.fixture
def run(app, seeded):
    runner = app.test_cli_runner()

    def invoke(*args):
        return runner.invoke(args=list(args))

    return invoke


def test_e911_resolve_json_has_exactly_the_documented_keys(run):
    result = run("e911", "resolve", "--trunk", "ACME/main", "--caller-id", "(204) 555-1202", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert {k: data[k] for k in ("number", "level", "carrier", "sent")} == {
        "number": "+12045551202", "level": "number", "carrier": "telus", "sent": "2045551202"}


@pytest.mark.parametrize(("trunk", "level", "carrier", "sent"), [
    ("ACME/branch", "trunk", "bell", "12045551203"),
    ("INITECH/hq", "client", "thinq", "+16045553401"),
])
def test_e911_resolve_text(run, trunk, level, carrier, sent):
    result = run("e911", "resolve", "--trunk", trunk)
    assert result.exit_code == 0, result.output
    assert f"level:   {level}" in result.output
    assert f"carrier: {carrier}" in result.output
    assert f"sent:    {sent} " in result.output


def test_e911_resolve_unresolved_exits_non_zero_with_reason(run):
    from app.db import Session
    from app.services import clients, nodes, trunks
    from app.services.audit import SYSTEM

    nodes.save(Session(), {"name": "cl-newco", "role": "client", "public_ip": "192.0.2.98", "hosting_provider": "OVHcloud"}, SYSTEM)
    clients.save(Session(), {"name": "New", "account_code": "NEWCO", "node": "cl-newco"}, SYSTEM)
    trunks.save(Session(), {"client": "NEWCO", "name": "pbx", "source_addresses": "198.18.50.1"}, SYSTEM)
    result = run("e911", "resolve", "--trunk", "NEWCO/pbx", "--json")
    # 3, told apart from click's usage errors (2) and the one-line wrong arguments (1); the reason on stderr only.
    assert result.exit_code == 3
    assert result.stdout == ""
    assert "no E911 number resolves for trunk NEWCO/pbx: trunk level: not set; client level: not set" in result.stderr


@pytest.mark.parametrize("args", [(), ("--trunk", "ACME/main", "--no-such-option"), ("--trunk",)])
def test_e911_resolve_usage_errors_exit_2(run, args):
    result = run("e911", "resolve", *args)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.rstrip().splitlines()[-1].startswith("Error: ")
    assert "Traceback" not in result.output


def test_e911_resolve_help_states_the_exit_statuses(run):
    result = run("e911", "resolve", "--help")
    assert result.exit_code == 0
    assert "3 nothing resolves" in result.stdout
    assert "2 a usage error" in result.stdout


@pytest.mark.parametrize(("args", "message"), [
    (("--trunk", "ACME"), "--trunk must be ACCOUNT_CODE/TRUNK_NAME, not 'ACME'"),
    (("--trunk", "NOPE/x"), "no client NOPE"),
    (("--trunk", "ACME/nope"), "client ACME has no trunk named nope"),
])
def test_e911_resolve_user_errors_are_one_line(run, args, message):
    result = run("e911", "resolve", *args)
    assert result.exit_code == 1
    assert result.output.strip() == f"Error: {message}"
    assert "Traceback" not in result.output


def test_realtime_verify_and_rebuild(run, seeded):
    assert run("realtime", "verify").output.strip() == "realtime: no drift"
    ep = REALTIME_TABLES["ps_endpoints"]
    seeded.execute(update(ep).where(ep.c.id == "carrier-telus").values(send_pai="no"))
    seeded.commit()
    result = run("realtime", "verify")
    assert result.exit_code == 1
    assert "ps_endpoints carrier-telus: differs: send_pai='no' (expected 'yes')" in result.output
    assert run("realtime", "rebuild").output.strip() == "realtime rebuilt: 0 inserted, 1 updated, 0 deleted"
    assert run("realtime", "verify").exit_code == 0


def test_seed_is_idempotent(run):
    result = run("seed")
    assert result.exit_code == 0
    assert "created" not in result.output and "updated" not in result.output
    assert "3 carriers unchanged" in result.output


def test_schema_sql_prints_mariadb_ddl(app):
    result = app.test_cli_runner().invoke(args=["schema", "upgrade", "--sql"])
    assert result.exit_code == 0, result.output
    assert "CREATE TABLE ps_endpoints" in result.output
    assert "ENGINE" not in result.output or "InnoDB" in result.output
    assert "ENUM('0','1','off','on','false','true','no','yes')" in result.output
    assert "trunkline_schema_version" in result.output


def test_e911_resolve_reads_a_caller_id_typed_in_other_digits(run):
    for caller_id in ("(２０４) ５５５-１２０２", "٢٠٤٥٥٥١٢٠٢"):
        result = run("e911", "resolve", "--trunk", "ACME/main", "--caller-id", caller_id, "--json")
        assert result.exit_code == 0, result.output
        assert json.loads(result.output)["number"] == "+12045551202"
