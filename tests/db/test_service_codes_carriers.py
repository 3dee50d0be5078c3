"""Issue 9 settings in the database, the CSV files and the projection: service codes per carrier and client,
carrier usernames as user@domain, and any number of carriers (the 12th used to break `import carriers`)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, text

from app.errors import ValidationError
from app.models.realtime import REALTIME_TABLES
from app.projection import apply_pending, drift
from app.services import carriers, clients
from app.services.audit import SYSTEM
from tests.db.csv_support import export_text, run_import, snapshot
from tests.db.test_constraints import _fails
from tests.db.test_csv_cli import run, write  # noqa: F401 - `run` is a fixture

EXT = REALTIME_TABLES["extensions"]


def test_new_settings_default_to_all_codes_3_digits_and_nothing_blocked(seeded):
    c, _ = carriers.save(seeded, {"name": "rogers", "signalling_addresses": "198.51.100.40"}, SYSTEM)
    assert (c.service_codes, c.service_code_format) == ("211 311 411 511 611 711 811 988", "code")
    assert clients.get(seeded, "ACME").blocked_service_codes == ""


def test_export_of_changed_settings_imports_as_it_is_and_restores_them(seeded):
    carriers.save(seeded, {"service_codes": "988 711", "service_code_format": "+1code"}, SYSTEM, carriers.get(seeded, "telus"))
    carriers.save(seeded, {"service_codes": "none", "service_code_format": "1code"}, SYSTEM, carriers.get(seeded, "bell"))
    clients.save(seeded, {"blocked_service_codes": "411, 211"}, SYSTEM, clients.get(seeded, "ACME"))
    apply_pending(seeded)
    before = snapshot(seeded)
    carrier_csv, client_csv = export_text(seeded, "carriers"), export_text(seeded, "clients")
    header = carrier_csv.splitlines()[0].split(",")
    assert header[-2:] == ["service_codes", "service_code_format"]
    rows = {line.split(",")[0]: line for line in carrier_csv.splitlines()[1:]}
    assert rows["telus"].endswith(",711 988,+1code") and rows["bell"].endswith(",none,1code")
    assert rows["thinq"].endswith(",all,code")
    assert client_csv.splitlines()[0].endswith(",blocked_service_codes")
    assert any(line.startswith("Acme") and line.endswith(",211 411") for line in client_csv.splitlines()[1:]), client_csv
    for kind, text_ in (("carriers", carrier_csv), ("clients", client_csv)):
        result = run_import(seeded, kind, text_)
        assert result.ok and (result.created, result.updated) == (0, 0), result.errors
    carriers.save(seeded, {"service_codes": "all", "service_code_format": "code"}, SYSTEM, carriers.get(seeded, "telus"))
    carriers.save(seeded, {"service_codes": "all"}, SYSTEM, carriers.get(seeded, "bell"))
    clients.save(seeded, {"blocked_service_codes": ""}, SYSTEM, clients.get(seeded, "ACME"))
    apply_pending(seeded)
    assert snapshot(seeded) != before
    for kind, text_ in (("carriers", carrier_csv), ("clients", client_csv)):
        assert run_import(seeded, kind, text_).ok
    assert snapshot(seeded) == before
    assert drift(seeded) == []


def test_csv_refuses_blocking_988_or_711_and_unknown_codes_naming_each_row(seeded):
    before = snapshot(seeded)
    result = run_import(seeded, "clients", "name,account_code,blocked_service_codes\n"
                                           "Acme,ACME,988\nGlobex,GLOBEX,211 711\nNew,NEWCO,912\n")
    errors = [(e.line, e.column, e.message) for e in result.errors]
    assert [(line, column) for line, column, _ in errors] == [(2, "blocked_service_codes"), (3, "blocked_service_codes"),
                                                              (4, "blocked_service_codes")]
    assert "988 can never be blocked: 988 is the suicide crisis line" in errors[0][2]
    assert "711 can never be blocked" in errors[1][2]
    assert "912: not a service code" in errors[2][2]
    result = run_import(seeded, "carriers", "name,signalling_addresses,service_codes,service_code_format\n"
                                            "telus,192.0.2.10,911,code\nbell,192.0.2.20,all,e164\n")
    errors = [(e.line, e.column, e.message) for e in result.errors]
    assert errors[0][:2] == (2, "service_codes") and "always follows the E911 cascade" in errors[0][2]
    assert errors[1][:2] == (3, "service_code_format") and "is not one of: code, 1code, +1code" in errors[1][2]
    assert snapshot(seeded) == before


def test_database_refuses_what_the_services_refuse(seeded):
    acme = clients.get(seeded, "ACME").id
    telus = carriers.get(seeded, "telus").id
    for blocked in ("988", "211 711", "912", "all"):
        _fails(seeded, "UPDATE clients SET blocked_service_codes = :b WHERE id = :c", b=blocked, c=acme)
    _fails(seeded, "UPDATE carriers SET service_codes = '311 911' WHERE id = :c", c=telus)
    _fails(seeded, "UPDATE carriers SET service_code_format = 'e164' WHERE id = :c", c=telus)
    seeded.execute(text("UPDATE clients SET blocked_service_codes = '211 411' WHERE id = :c"), {"c": acme})
    seeded.execute(text("UPDATE carriers SET service_codes = '' WHERE id = :c"), {"c": telus})


def test_carrier_username_user_at_domain_is_split_for_the_registration(seeded):
    carrier, _ = carriers.save(seeded, {"name": "voipco", "auth_mode": "register", "username": "1234567@sip.example",
                                        "password": "S3cret-Reg-Password", "signalling_addresses": "198.51.100.60",
                                        "port": "5080"}, SYSTEM)
    apply_pending(seeded)
    reg = seeded.execute(select(REALTIME_TABLES["ps_registrations"]).where(
        REALTIME_TABLES["ps_registrations"].c.id == "carrier-voipco-reg")).mappings().one()
    assert (reg["server_uri"], reg["client_uri"], reg["contact_user"]) == (
        "sip:sip.example", "sip:1234567@sip.example", "1234567")
    assert reg["outbound_proxy"] == "sip:198.51.100.60:5080^3Blr"  # ^3B: realtime's escaped ';'
    auth = seeded.execute(select(REALTIME_TABLES["ps_auths"]).where(
        REALTIME_TABLES["ps_auths"].c.id == "carrier-voipco-auth")).mappings().one()
    assert auth["username"] == "1234567"
    endpoint = seeded.execute(select(REALTIME_TABLES["ps_endpoints"]).where(
        REALTIME_TABLES["ps_endpoints"].c.id == "carrier-voipco")).mappings().one()
    assert endpoint["from_domain"] == "sip.example"
    carriers.save(seeded, {"username": "7654321"}, SYSTEM, carrier)  # no domain: the address as before
    apply_pending(seeded)
    reg = seeded.execute(select(REALTIME_TABLES["ps_registrations"]).where(
        REALTIME_TABLES["ps_registrations"].c.id == "carrier-voipco-reg")).mappings().one()
    assert (reg["server_uri"], reg["client_uri"], reg["outbound_proxy"]) == (
        "sip:198.51.100.60:5080", "sip:7654321@198.51.100.60:5080", None)
    assert drift(seeded) == []


@pytest.mark.parametrize("username, reason", [
    ("1234 567@sip.example", "a space cannot stand in the user part of a SIP URI"),
    ("1234567@sip example", "after the @ is not a host name or IP address"),
    ("12;34@sip.example", "';' cannot be used in the user"),
])
def test_carrier_username_that_cannot_stand_in_a_sip_uri_is_refused(seeded, username, reason):
    with pytest.raises(ValidationError) as exc:
        carriers.save(seeded, {"name": "voipco", "auth_mode": "register", "username": username, "password": "x" * 16,
                               "signalling_addresses": "198.51.100.60"}, SYSTEM)
    assert any(reason in m for m in exc.value.errors["username"]), exc.value.errors


def test_import_of_120_carriers_then_one_more_by_the_cli(run, seeded, tmp_path):  # noqa: F811 - the fixture
    """The 12th carrier used to end `import carriers` in a traceback (all carriers in one 256-character row)."""
    lines = ["name,tier,auth,signalling_addresses,port,callerid_format,e911_callerid_format,dial_format,send_pai,"
             "provides_911,priority,max_channels,username,enabled,service_codes,service_code_format"]
    lines += [f"carrier{i:03d},2,ip,10.77.{i // 250}.{i % 250 + 1},5060,nanp11,e164,nanp10,yes,no,{100 + i},30,,yes,"
              f"{'all' if i % 2 else '988 711'},{'1code' if i % 3 else 'code'}" for i in range(120)]
    result = run("import", "carriers", write(tmp_path, "carriers.csv", "\n".join(lines) + "\n"))
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    result = run("import", "carriers", write(tmp_path, "one.csv", "name,signalling_addresses\ncarrier999,10.78.0.1\n"))
    assert result.exit_code == 0, result.output
    positions = seeded.scalar(select(func.count()).select_from(EXT).where(EXT.c.context == "tl-route", EXT.c.exten.like("p%")))
    assert positions == 3 + 121
    longest = seeded.scalar(select(func.max(func.length(EXT.c.appdata))).where(EXT.c.context == "tl-route"))
    assert longest <= 256
    last = carriers.get(seeded, "carrier119")
    value = seeded.scalar(select(EXT.c.appdata).where(EXT.c.context == "tl-route", EXT.c.exten == str(last.id)))
    assert value == "carrier-carrier119/11/10/4/211-311-411-511-611-711-811-988"
    assert drift(seeded) == []
    exported = export_text(seeded, "carriers")
    assert len(exported.splitlines()) == 1 + 3 + 121
    assert run("import", "carriers", write(tmp_path, "again.csv", exported)).exit_code == 0
