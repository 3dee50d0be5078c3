"""Data that cannot be corrupted: ASCII-only numbers in the database, an active client has a node, every
address list can be sent calls, credentials are never silently dropped; each on SQLite and MariaDB."""

from __future__ import annotations

import pytest
from alembic import command
from sqlalchemy import create_engine, insert, inspect, select, text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session as OrmSession

from app.errors import ValidationError
from app.migrations import alembic_config, current_revision, upgrade
from app.models import Client, PhoneNumber
from app.models.realtime import REALTIME_TABLES
from app.projection import apply_pending, drift
from app.projection.names import RT_NUMBER
from app.services import carriers, clients, nodes, numbers, trunks
from app.services.audit import Actor
from tests.conftest import scratch_mariadb
from tests.db.csv_support import run_import

ACTOR = Actor("tester", "form")
REFUSED = (IntegrityError, OperationalError)
FULL_WIDTH = "+1２０４５５５１２０４"  # the seeded +12045551204, as a Japanese IME types it
ARABIC_INDIC = "+1٢٠٤٥٥٥١٢٠٤"


def _fails(session, sql, **params):
    with pytest.raises(REFUSED), session.begin_nested():
        session.execute(text(sql), params)


def _errors(call) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as caught:
        call()
    return caught.value.errors


# --- the database refuses a non-ASCII E.164 -------------------------------------------------------------

@pytest.mark.parametrize("e164", [FULL_WIDTH, ARABIC_INDIC, "+1204555１２０４", "+12045551２04"])
def test_database_refuses_a_non_ascii_e164(seeded, e164):
    carrier = carriers.get(seeded, "telus").id
    _fails(seeded, "INSERT INTO phone_numbers (e164, carrier_id, e911_registered, port_status) VALUES (:e, :c, 0, 'active')",
           e=e164, c=carrier)
    _fails(seeded, "UPDATE phone_numbers SET e164 = :e WHERE e164 = '+12045551204'", e=e164)


def test_database_refuses_e164_shapes_nanp_forbids(seeded):
    carrier = carriers.get(seeded, "telus").id
    for e164 in ("+10045551234", "+12041551234", "+1204555123a"):
        _fails(seeded, "INSERT INTO phone_numbers (e164, carrier_id, e911_registered, port_status) VALUES (:e, :c, 0, 'active')",
               e=e164, c=carrier)


# --- non-ASCII digits in files and forms: one number, one owner -----------------------------------------

def test_full_width_numbers_csv_is_stored_in_ascii_and_stays_one_number(seeded):
    # The example: a numbers.csv typed with a Japanese IME, then the same number in ASCII for another client.
    content = ("number,carrier,client,trunk\n"
               "２０４５５５１３９０,telus,ACME,main\n"
               "٢٠٤-٥٥٥-١٣٩١,bell,ACME,branch\n"
               "۲۰۴ ۵۵۵ ۱۳۹۲,bell,,\n").encode()
    result = run_import(seeded, "numbers", content)
    assert result.ok and result.created == 3, [str(e) for e in result.errors]
    stored = set(seeded.scalars(select(PhoneNumber.e164).where(PhoneNumber.e164.like("+1204555139%"))))
    assert stored == {"+12045551390", "+12045551391", "+12045551392"}
    ext = REALTIME_TABLES["extensions"]
    extens = set(seeded.scalars(select(ext.c.exten).where(ext.c.context == RT_NUMBER, ext.c.exten.like("+1204555139%"))))
    assert extens == {"+12045551390", "+12045551391"}  # 1392 has no client: not routable, no row
    # The ASCII spelling is the same number: an update of its one row, never a second owner.
    again = run_import(seeded, "numbers", b"number,carrier,client,trunk\n2045551390,telus,GLOBEX,pbx\n")
    assert again.ok and (again.created, again.updated) == (0, 1)
    assert seeded.scalar(select(PhoneNumber).where(PhoneNumber.e164 == "+12045551390")).client.account_code == "GLOBEX"
    assert drift(seeded) == []


def test_both_spellings_in_one_file_are_the_same_key(seeded):
    result = run_import(seeded, "numbers", "number,carrier\n2045551393,telus\n２０４５５５１３９３,bell\n".encode())
    assert [(e.line, e.column) for e in result.errors] == [(3, "number")]
    assert "２０４５５５１３９３ is already on line 2" in result.errors[0].message


def test_ports_addresses_and_counts_in_other_digits_are_read_as_ascii(seeded):
    content = ("name,role,public_ip,sip_port,hosting_provider\n"
               "cl-imported-1,client,１９２.０.２.９１,５０８０,OVHcloud\n"
               "cl-imported-2,client,١٩٢.٠.٢.٩٢,٥٠٦٠,OVHcloud\n").encode()
    result = run_import(seeded, "nodes", content)
    assert result.ok, [str(e) for e in result.errors]
    assert (nodes.get(seeded, "cl-imported-1").public_ip, nodes.get(seeded, "cl-imported-1").sip_port) == ("192.0.2.91", 5080)
    assert (nodes.get(seeded, "cl-imported-2").public_ip, nodes.get(seeded, "cl-imported-2").sip_port) == ("192.0.2.92", 5060)
    client, _ = clients.save(seeded, {"max_channels": "٤٠"}, ACTOR, clients.get(seeded, "ACME"))
    assert client.max_channels == 40
    trunk, _ = trunks.save(seeded, {"pbx_port": "５０７０", "source_addresses": "１９８.１８.１０.５"}, ACTOR, trunks.get(seeded, "ACME", "main"))
    assert (trunk.pbx_port, trunk.source_addresses) == (5070, "198.18.10.5")
    apply_pending(seeded)
    assert drift(seeded) == []


def test_spreadsheet_numbers_in_a_csv_say_how_to_keep_text(seeded):
    content = b"number,carrier\n2045551220.0,telus\n2.04556E+09,telus\n"
    result = run_import(seeded, "numbers", content)
    assert [(e.line, e.column) for e in result.errors] == [(2, "number"), (3, "number")]
    assert "'2045551220.0' looks like a spreadsheet number (it added '.0'): did you mean 2045551220?" in result.errors[0].message
    assert "scientific notation: its last digits are lost" in result.errors[1].message
    assert all("format the column as Text" in e.message for e in result.errors)


# --- realtime verify notices non-ASCII rows -------------------------------------------------------------

def test_drift_reports_a_realtime_row_with_non_ascii_digits(seeded):
    ext = REALTIME_TABLES["extensions"]
    # A number nobody holds (MariaDB's unicode_ci collation would take +1２０４... for a stored +1204...).
    exten = "+1２０４５５５１９９９"
    seeded.execute(insert(ext).values(context=RT_NUMBER, exten=exten, priority=1, app="Return", appdata="1|ACME"))
    lines = drift(seeded)
    assert any(line.startswith(f"extensions {RT_NUMBER}/{exten}/1: non-ASCII text, which Asterisk cannot match: "
                               f"exten='{exten}' (U+FF12 U+FF10 U+FF14 U+FF15 U+FF11 U+FF19)") for line in lines), lines


def test_realtime_verify_cli_exits_1_on_a_non_ascii_row(app, seeded):
    ext = REALTIME_TABLES["extensions"]
    exten = "+1٢٠٤٥٥٥١٩٩٨"
    seeded.execute(insert(ext).values(context=RT_NUMBER, exten=exten, priority=1, app="Return", appdata="1|ACME"))
    result = app.test_cli_runner().invoke(args=["realtime", "verify"])
    assert result.exit_code == 1
    assert f"extensions {RT_NUMBER}/{exten}/1: non-ASCII text" in result.output


# --- an active client needs a node ----------------------------------------------------------------------

def test_an_active_client_without_a_node_is_refused(seeded):
    errors = _errors(lambda: clients.save(seeded, {"name": "No Node Inc", "account_code": "NONODE"}, ACTOR))
    assert errors == {"node": ["an active client needs its client-facing node (without one its trunks and numbers cannot "
                               "place or receive calls): choose the node, or set the status to suspended until the node exists"]}
    client, _ = clients.save(seeded, {"name": "No Node Inc", "account_code": "NONODE", "status": "suspended"}, ACTOR)
    assert client.node_id is None
    assert "node" in _errors(lambda: clients.save(seeded, {"status": "active"}, ACTOR, client))
    nodes.save(seeded, {"name": "cl-nonode", "role": "client", "public_ip": "192.0.2.95", "hosting_provider": "Vultr"}, ACTOR)
    client, _ = clients.save(seeded, {"status": "active", "node": "cl-nonode"}, ACTOR, client)
    assert client.status == "active"
    assert "node" in _errors(lambda: clients.save(seeded, {"node": ""}, ACTOR, client))


def test_database_refuses_an_active_client_without_a_node(seeded):
    _fails(seeded, "UPDATE clients SET node_id = NULL WHERE account_code = 'ACME'")
    seeded.execute(text("UPDATE clients SET status = 'suspended', node_id = NULL WHERE account_code = 'INITECH'"))
    _fails(seeded, "UPDATE clients SET status = 'active' WHERE account_code = 'INITECH'")


def test_csv_client_without_a_node_names_the_line(seeded):
    result = run_import(seeded, "clients", b"name,account_code,node,status\nNew,NEWCO,,active\nLater,LATERCO,,suspended\n")
    assert [(e.line, e.column) for e in result.errors] == [(2, "node")]


# --- addresses: a host to send calls to, every bad one reported, no silent credentials -------------------

def test_an_ip_carrier_given_only_networks_must_name_its_host(seeded):
    base = {"name": "netonly", "signalling_addresses": "203.0.113.0/28", "auth_mode": "ip"}
    errors = _errors(lambda: carriers.save(seeded, base, ACTOR))
    assert errors["signalling_addresses"] == ["203.0.113.0/28 only lists network(s): calls to the carrier are sent to one "
                                              "address, the first single IP in the list; add the host that receives calls "
                                              "(for example 203.0.113.1), before or beside the networks"]
    carrier, _ = carriers.save(seeded, {**base, "signalling_addresses": "203.0.113.0/28 203.0.113.4"}, ACTOR)
    apply_pending(seeded)
    aors = REALTIME_TABLES["ps_aors"]
    assert seeded.scalar(select(aors.c.contact).where(aors.c.id == carrier.endpoint_id)) == "sip:203.0.113.4:5060"


def test_an_ip_trunk_given_only_networks_must_name_its_host(seeded):
    errors = _errors(lambda: trunks.save(seeded, {"client": "INITECH", "name": "lab", "source_addresses": "198.18.30.64/29"}, ACTOR))
    assert errors["source_addresses"][0].startswith("198.18.30.64/29 only lists network(s): calls to the PBX are sent to one address")
    trunk, _ = trunks.save(seeded, {"client": "INITECH", "name": "lab", "source_addresses": "198.18.30.64/29 198.18.30.66"}, ACTOR)
    apply_pending(seeded)
    aors = REALTIME_TABLES["ps_aors"]
    assert seeded.scalar(select(aors.c.contact).where(aors.c.id == trunk.endpoint_id)) == "sip:198.18.30.66:5060"


def test_every_bad_address_of_a_csv_cell_is_reported(seeded):
    content = b"name,signalling_addresses\nbadnets,198.51.100.300 10.0.0.1/8 203.0.113.9 sip.example.net\n"
    result = run_import(seeded, "carriers", content)
    assert [str(e) for e in result.errors] == [
        "line 2, column signalling_addresses: '198.51.100.300' is not an IP address or CIDR network; '10.0.0.1/8' has host "
        "bits set: did you mean 10.0.0.0/8?; 'sip.example.net' is not an IP address or CIDR network"]


def test_credentials_typed_for_an_ip_carrier_are_refused(seeded):
    errors = _errors(lambda: carriers.save(seeded, {"name": "ipcreds", "signalling_addresses": "203.0.113.30", "auth_mode": "ip",
                                                     "username": "acct123", "password": "Some-Long-Password-1"}, ACTOR))
    message = ("is not used: this carrier is identified by its IP addresses (auth ip); leave it empty, or choose auth "
               "register if the carrier wants us to register with these credentials")
    assert errors == {"username": [message], "password": [message]}
    # A register carrier turned into an IP one by a form that no longer sends its credentials: fine.
    thinq = carriers.get(seeded, "thinq")
    carrier, _ = carriers.save(seeded, {"auth_mode": "ip"}, ACTOR, thinq)
    assert (carrier.username, carrier.password) == (None, None)


def test_credentials_typed_for_an_ip_trunk_are_refused(seeded):
    errors = _errors(lambda: trunks.save(seeded, {"username": "acme_main"}, ACTOR, trunks.get(seeded, "ACME", "main")))
    assert errors["username"][0].startswith("is not used: this trunk is identified by its IP addresses (auth ip)")


def test_csv_credentials_for_an_ip_carrier_name_the_line_and_columns(seeded):
    content = b"name,auth,signalling_addresses,username,password\nipcsv,ip,203.0.113.31,user1,Some-Long-Password-1\n"
    result = run_import(seeded, "carriers", content)
    assert sorted((e.line, e.column) for e in result.errors) == [(2, "password"), (2, "username")]


# --- the migration: existing rows are repaired or named -------------------------------------------------

def _load_demo_at_0002(url: str) -> None:
    from seeds.demo import load

    upgrade(url, "0002")
    engine = create_engine(url)
    with OrmSession(engine) as session:
        load(session)
        apply_pending(session)
        session.commit()
        session.execute(text("UPDATE phone_numbers SET e164 = :e WHERE e164 = '+12045551204'"), {"e": FULL_WIDTH})
        session.execute(text("UPDATE clients SET node_id = NULL WHERE account_code = 'INITECH'"))
        session.commit()
    engine.dispose()


def _check_constraints(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        names = set()
        for table in ("phone_numbers", "clients"):
            names |= {c["name"] for c in inspect(engine).get_check_constraints(table)}
        return names
    finally:
        engine.dispose()


def _migrate_and_check(url: str) -> None:
    with pytest.raises(RuntimeError, match="client INITECH is active without a node: give it a client-facing node or suspend it"):
        upgrade(url)
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE clients SET status = 'suspended' WHERE account_code = 'INITECH'"))
    upgrade(url)
    with OrmSession(engine) as session:
        assert session.scalar(select(PhoneNumber.e164).where(PhoneNumber.e164.like("%1204"))) == "+12045551204"
        assert session.scalar(select(Client.status).where(Client.account_code == "INITECH")) == "suspended"
        with pytest.raises(REFUSED):
            session.execute(text("UPDATE phone_numbers SET e164 = :e WHERE e164 = '+12045551204'"), {"e": FULL_WIDTH})
    engine.dispose()
    new = {"ck_phone_numbers_e164_ascii", "ck_clients_active_needs_node"}
    assert new <= _check_constraints(url)
    command.downgrade(alembic_config(url), "0002")  # down and up again
    assert current_revision(url) == "0002" and not new & _check_constraints(url)
    upgrade(url)
    assert current_revision(url) == "0003c" and new <= _check_constraints(url)


def test_migration_repairs_non_ascii_numbers_and_names_nodeless_clients_sqlite(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    _load_demo_at_0002(url)
    _migrate_and_check(url)


def test_migration_stops_on_a_number_stored_twice_sqlite(tmp_path):
    url = f"sqlite:///{tmp_path / 'twice.db'}"
    _load_demo_at_0002(url)
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE clients SET status = 'suspended' WHERE account_code = 'INITECH'"))
        carrier = conn.execute(text("SELECT id FROM carriers WHERE name = 'telus'")).scalar()
        conn.execute(text("INSERT INTO phone_numbers (e164, carrier_id, e911_registered, port_status) "
                          "VALUES ('+12045551204', :c, 0, 'active')"), {"c": carrier})
    engine.dispose()
    with pytest.raises(RuntimeError, match=r"number '\+1２０４５５５１２０４' \(id \d+\) is also stored as \+12045551204: delete one of them"):
        upgrade(url)


@pytest.mark.mariadb
def test_migration_repairs_non_ascii_numbers_and_names_nodeless_clients_mariadb():
    with scratch_mariadb("trunkline_mig") as url:
        _load_demo_at_0002(url)
        _migrate_and_check(url)


def test_numbers_service_get_accepts_any_digits(seeded):
    assert numbers.get(seeded, "２０４-５５５-１２０１").e164 == "+12045551201"
