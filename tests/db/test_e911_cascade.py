"""The E911 cascade at all three levels, with nanp10, nanp11 and e164 carriers, and its failure cases."""

from __future__ import annotations

import pytest

from app.e911 import resolve_e911
from app.errors import E911Unresolved, ValidationError
from app.services import carriers, clients, nodes, numbers, trunks
from app.services.audit import Actor

ACTOR = Actor("test", "cli")


def trunk(session, ref):
    account, name = ref.split("/")
    return trunks.get(session, account, name)


@pytest.mark.parametrize(
    ("ref", "caller", "number", "level", "carrier", "sent"),
    [
        # number level: the caller's own registered number, nanp10 carrier
        ("ACME/main", "204-555-1202", "+12045551202", "number", "telus", "2045551202"),
        ("ACME/main", "+12045551203", "+12045551203", "number", "bell", "12045551203"),
        # trunk level, nanp11 carrier
        ("ACME/branch", None, "+12045551203", "trunk", "bell", "12045551203"),
        ("ACME/branch", "2045551204", "+12045551203", "trunk", "bell", "12045551203"),
        # client level, nanp10, nanp11 and e164 carriers
        ("ACME/main", None, "+12045551201", "client", "telus", "2045551201"),
        ("GLOBEX/pbx", "4165552302", "+14165552301", "client", "bell", "14165552301"),
        ("INITECH/hq", None, "+16045553401", "client", "thinq", "+16045553401"),
        ("INITECH/hq", "6045553401", "+16045553401", "number", "thinq", "+16045553401"),
    ],
)
def test_cascade_levels_and_formats(seeded, ref, caller, number, level, carrier, sent):
    route = resolve_e911(seeded, trunk(seeded, ref), caller)
    assert (route.number, route.level, route.carrier.name, route.sent) == (number, level, carrier, sent)


def test_caller_id_of_another_client_is_never_used(seeded):
    route = resolve_e911(seeded, trunk(seeded, "ACME/main"), "416-555-2301")  # GLOBEX's registered number
    assert route.level == "client" and route.number == "+12045551201"
    assert any("belongs to another client" in s for s in route.skipped)


def test_unknown_or_garbage_caller_id_falls_through(seeded):
    for caller in ("anonymous", "6135550100", ""):
        route = resolve_e911(seeded, trunk(seeded, "ACME/main"), caller)
        assert route.level == "client"


def test_no_911_number_is_an_error_with_reasons(seeded):
    nodes.save(seeded, {"name": "cl-newco", "role": "client", "public_ip": "192.0.2.98", "hosting_provider": "OVHcloud"}, ACTOR)
    clients.save(seeded, {"name": "New Co", "account_code": "NEWCO", "node": "cl-newco"}, ACTOR)
    t, _ = trunks.save(seeded, {"client": "NEWCO", "name": "pbx", "source_addresses": "198.18.40.1"}, ACTOR)
    with pytest.raises(E911Unresolved) as err:
        resolve_e911(seeded, t, "2045551201")
    assert err.value.reasons == [
        "number level: +12045551201 belongs to another client",
        "trunk level: not set",
        "client level: not set",
    ]


def test_number_held_by_a_disabled_or_non_911_carrier_is_skipped(seeded):
    # Disabling telus (holder of ACME's default) leaves ACME/main with no usable level.
    carriers.save(seeded, {"enabled": False}, ACTOR, carriers.get(seeded, "telus"))
    with pytest.raises(E911Unresolved, match="carrier telus, which is disabled"):
        resolve_e911(seeded, trunk(seeded, "ACME/main"))
    # ACME/branch still resolves through its own trunk-level number at bell.
    assert resolve_e911(seeded, trunk(seeded, "ACME/branch")).carrier.name == "bell"


def test_cannot_choose_a_number_of_a_carrier_without_911(seeded):
    carriers.save(seeded, {"name": "cheapco", "signalling_addresses": "198.51.100.99", "provides_911": "no"}, ACTOR)
    numbers.save(seeded, {"number": "2045559876", "carrier": "cheapco", "client": "ACME"}, ACTOR)
    with pytest.raises(ValidationError) as err:
        numbers.save(seeded, {"e911_registered": "yes", "e911_address": "1 Main"}, ACTOR, numbers.get(seeded, "2045559876"))
    assert "cheapco does not provide 911" in err.value.errors["e911_registered"][0]
    with pytest.raises(ValidationError) as err:
        trunks.save(seeded, {"e911_number": "2045559876"}, ACTOR, trunk(seeded, "ACME/main"))
    assert "not registered for E911" in err.value.errors["e911_number"][0]


def test_cannot_choose_a_number_of_another_client(seeded):
    with pytest.raises(ValidationError) as err:
        trunks.save(seeded, {"e911_number": "4165552301"}, ACTOR, trunk(seeded, "ACME/main"))
    assert "belongs to client GLOBEX" in err.value.errors["e911_number"][0]
    with pytest.raises(ValidationError) as err:
        clients.save(seeded, {"e911_number": "4165552301"}, ACTOR, clients.get(seeded, "ACME"))
    assert "belongs to client GLOBEX" in err.value.errors["e911_number"][0]


def test_carrier_holding_registered_numbers_cannot_drop_911(seeded):
    with pytest.raises(ValidationError, match="registered for E911"):
        carriers.save(seeded, {"provides_911": False}, ACTOR, carriers.get(seeded, "bell"))


def test_e911_number_cannot_be_unregistered_or_given_away(seeded):
    n = numbers.get(seeded, "2045551203")  # ACME/branch's trunk-level E911 number
    with pytest.raises(ValidationError, match="must stay registered"):
        numbers.save(seeded, {"e911_registered": "no"}, ACTOR, n)
    with pytest.raises(ValidationError, match="E911 number of trunk ACME/branch"):
        numbers.save(seeded, {"client": "GLOBEX"}, ACTOR, n)


def test_carrier_format_change_changes_the_digits(seeded):
    carriers.save(seeded, {"e911_callerid_format": "e164"}, ACTOR, carriers.get(seeded, "telus"))
    assert resolve_e911(seeded, trunk(seeded, "ACME/main")).sent == "+12045551201"
