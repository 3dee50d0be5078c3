"""Domain services: field-level errors in plain words, dependencies protected, audit written."""

from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import select

from app.errors import Conflict, NotFound, ValidationError
from app.models import AuditEntry, TrunkAddress
from app.services import carriers, clients, nodes, numbers, trunks
from app.services.audit import Actor

ACTOR = Actor("alice@example.com", "form")


def errors_of(call):
    with pytest.raises(ValidationError) as err:
        call()
    return err.value.errors


def test_every_bad_field_is_reported_at_once(session):
    errors = errors_of(lambda: carriers.save(session, {
        "name": "Bad Name", "signalling_addresses": "10.0.0.300 10.1.1.1/24", "port": "99999",
        "callerid_format": "twelve", "send_pai": "maybe"}, ACTOR))
    assert set(errors) == {"name", "signalling_addresses", "port", "callerid_format", "send_pai"}
    assert "host bits set: did you mean 10.1.1.0/24?" in errors["signalling_addresses"][0] or "not an IP" in errors["signalling_addresses"][0]
    assert errors["port"] == ["99999 is out of range (1 to 65535)"]
    assert errors["send_pai"] == ["'maybe' is not yes/no, true/false or 1/0"]


def test_register_carrier_needs_credentials(session):
    errors = errors_of(lambda: carriers.save(session, {"name": "reg", "auth_mode": "register", "signalling_addresses": "203.0.113.9"}, ACTOR))
    assert "username" in errors and "password" in errors


@pytest.mark.parametrize(("number", "message"), [
    ("911", "has 3 digits"),
    ("4115551234", "N11 code"),
    ("+44 20 7123 4567", "not a NANP number"),
    ("2045551234 x5", "extensions are not allowed"),
])
def test_number_rules_say_why(seeded, number, message):
    errors = errors_of(lambda: numbers.save(seeded, {"number": number, "carrier": "telus"}, ACTOR))
    assert message in errors["number"][0]


def test_number_belongs_to_one_client(seeded):
    errors = errors_of(lambda: numbers.save(seeded, {"number": "(204) 555-1201", "carrier": "telus", "client": "GLOBEX"}, ACTOR))
    assert errors["number"] == ["+12045551201 already exists (client ACME)"]


def test_trunk_must_be_of_the_numbers_client(seeded):
    errors = errors_of(lambda: numbers.save(seeded, {"number": "2045558888", "carrier": "telus", "client": "ACME", "trunk": "pbx"}, ACTOR))
    assert errors["trunk"] == ["client ACME has no trunk named 'pbx'"]


def test_unknown_references_are_named(seeded):
    errors = errors_of(lambda: numbers.save(seeded, {"number": "2045558888", "carrier": "nope", "client": "NOPE"}, ACTOR))
    assert errors["carrier"] == ["there is no carrier named 'nope'"]
    assert errors["client"] == ["there is no client with account code 'NOPE'"]


def test_no_two_trunks_claim_the_same_source_on_a_node(seeded):
    errors = errors_of(lambda: trunks.save(seeded, {"client": "ACME", "name": "dup", "source_addresses": "198.18.10.200 198.18.10.0/24"}, ACTOR))
    assert "overlaps 198.18.10.5/32 already claimed by trunk ACME/main on the same node" in errors["source_addresses"][0]
    # the same address on another client's node is fine (its own node, its own whitelist)
    trunks.save(seeded, {"client": "GLOBEX", "name": "two", "source_addresses": "198.18.10.5"}, ACTOR)


def test_trunk_addresses_follow_the_client_node(seeded):
    new_node, _ = nodes.save(seeded, {"name": "cl-new", "role": "client", "public_ip": "192.0.2.70", "hosting_provider": "Vultr"}, ACTOR)
    clients.save(seeded, {"node": "cl-new"}, ACTOR, clients.get(seeded, "ACME"))
    rows = seeded.scalars(select(TrunkAddress).where(TrunkAddress.network == "198.18.10.5")).all()
    assert [r.node_id for r in rows] == [new_node.id]


def test_ip_trunk_needs_an_address_and_weak_password_refused(seeded):
    errors = errors_of(lambda: trunks.save(seeded, {"client": "ACME", "name": "x"}, ACTOR))
    assert errors["source_addresses"][0].startswith("at least one IP address")
    errors = errors_of(lambda: trunks.save(seeded, {"client": "ACME", "name": "x", "auth_mode": "credentials", "password": "short"}, ACTOR))
    assert "too weak" in errors["password"][0]


def test_client_node_rules(seeded):
    errors = errors_of(lambda: clients.save(seeded, {"name": "X", "account_code": "XCO", "node": "cn-ovh-bhs1"}, ACTOR))
    assert "faces the carriers" in errors["node"][0]
    errors = errors_of(lambda: clients.save(seeded, {"name": "X", "account_code": "XCO", "node": "cl-ovh-bhs7"}, ACTOR))
    assert errors["node"] == ["node cl-ovh-bhs7 already serves client ACME (one client per node)"]
    errors = errors_of(lambda: clients.save(seeded, {"name": "X", "account_code": "ACME"}, ACTOR))
    assert "already used" in errors["account_code"][0]


def test_node_serving_a_client_cannot_retire_or_change_role(seeded):
    errors = errors_of(lambda: nodes.save(seeded, {"state": "retired", "role": "carrier"}, ACTOR, nodes.get(seeded, "cl-ovh-bhs7")))
    assert set(errors) == {"state", "role"}


@pytest.mark.parametrize(("delete", "message"), [
    (lambda s: carriers.delete(s, carriers.get(s, "telus"), ACTOR), "carrier telus holds or is porting"),
    (lambda s: nodes.delete(s, nodes.get(s, "cl-ovh-bhs7"), ACTOR), "serves client ACME"),
    (lambda s: clients.delete(s, clients.get(s, "ACME"), ACTOR), "still has 2 trunk(s) and 4 number(s)"),
    (lambda s: trunks.delete(s, trunks.get(s, "ACME", "main"), ACTOR), "rings 2 number(s)"),
    (lambda s: numbers.delete(s, numbers.get(s, "2045551201"), ACTOR), "default E911 number of client ACME"),
])
def test_deleting_what_others_depend_on_is_refused(seeded, delete, message):
    with pytest.raises(Conflict, match=re.escape(message)):
        delete(seeded)


def test_not_found_is_plain(seeded):
    with pytest.raises(NotFound, match="client ACME has no trunk named nope"):
        trunks.get(seeded, "ACME", "nope")
    with pytest.raises(NotFound, match="no client NOPE"):
        trunks.get(seeded, "NOPE", "x")


def test_every_write_is_audited_with_before_and_after(seeded):
    n = numbers.get(seeded, "2045551204")
    numbers.save(seeded, {"trunk": "main"}, ACTOR, n)
    entry = seeded.scalars(select(AuditEntry).where(AuditEntry.entity == "number").order_by(AuditEntry.id.desc())).first()
    assert (entry.actor, entry.channel, entry.action, entry.entity_key) == ("alice@example.com", "form", "update", "+12045551204")
    assert json.loads(entry.before) == {"trunk_id": trunks.get(seeded, "ACME", "branch").id}
    assert json.loads(entry.after) == {"trunk_id": trunks.get(seeded, "ACME", "main").id}


def test_unchanged_save_writes_no_audit(seeded):
    before = seeded.query(AuditEntry).count()
    _, outcome = carriers.upsert(seeded, {"name": "telus", "signalling_addresses": "198.51.100.10 198.51.100.11",
                                          "callerid_format": "nanp10", "e911_callerid_format": "nanp10", "dial_format": "nanp10",
                                          "send_pai": "yes", "provides_911": "yes", "priority": "10", "max_channels": "500"}, ACTOR)
    assert outcome == "unchanged"
    assert seeded.query(AuditEntry).count() == before


def test_secrets_are_masked_in_audit(seeded):
    trunks.save(seeded, {"client": "GLOBEX", "name": "remote", "auth_mode": "credentials"}, ACTOR)
    entry = seeded.scalars(select(AuditEntry).where(AuditEntry.entity_key == "GLOBEX/remote")).one()
    assert json.loads(entry.after)["password"] == "********"
