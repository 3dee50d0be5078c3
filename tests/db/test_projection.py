"""The realtime rows follow every kind of domain change, and hand edits are detected and repaired."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, insert, select, update

from app.e911 import resolve_e911
from app.models.realtime import REALTIME_TABLES
from app.projection import apply_pending, deferred, drift, rebuild
from app.services import carriers, clients, nodes, numbers, trunks
from app.services.audit import Actor

ACTOR = Actor("test", "cli")
EXT = REALTIME_TABLES["extensions"]
EP = REALTIME_TABLES["ps_endpoints"]


def value(session, context, exten):
    return session.scalar(select(EXT.c.appdata).where(EXT.c.context == context, EXT.c.exten == exten))


CHANGES = {
    "carrier create": lambda s: carriers.save(s, {"name": "rogers", "signalling_addresses": "198.51.100.40", "provides_911": True,
                                                  "priority": 5, "callerid_format": "nanp11"}, ACTOR),
    "carrier rename": lambda s: carriers.save(s, {"name": "telus2"}, ACTOR, carriers.get(s, "telus")),
    "carrier disable": lambda s: carriers.save(s, {"enabled": False}, ACTOR, carriers.get(s, "bell")),
    "carrier to register auth": lambda s: carriers.save(s, {"auth_mode": "register", "username": "u1", "password": "p" * 20},
                                                        ACTOR, carriers.get(s, "telus")),
    "carrier delete": lambda s: carriers.delete(
        s, carriers.save(s, {"name": "spare", "signalling_addresses": "198.51.100.77"}, ACTOR)[0], ACTOR),
    "node create": lambda s: nodes.save(s, {"name": "cn-aws-1", "role": "carrier", "public_ip": "192.0.2.99",
                                            "hosting_provider": "AWS"}, ACTOR),
    "node drain": lambda s: nodes.save(s, {"state": "draining"}, ACTOR, nodes.get(s, "cn-ovh-bhs1")),
    "node rename": lambda s: nodes.save(s, {"name": "cl-acme-2"}, ACTOR, nodes.get(s, "cl-ovh-bhs7")),
    "client move node": lambda s: clients.save(s, {"node": nodes.save(s, {"name": "cl-new", "role": "client",
                                                                            "public_ip": "192.0.2.77", "hosting_provider": "Vultr"},
                                                                         ACTOR)[0]}, ACTOR, clients.get(s, "ACME")),
    "client rename account": lambda s: clients.save(s, {"account_code": "ACME2"}, ACTOR, clients.get(s, "ACME")),
    "client suspend": lambda s: clients.save(s, {"status": "suspended"}, ACTOR, clients.get(s, "GLOBEX")),
    "client main number": lambda s: clients.save(s, {"main_number": "2045551204"}, ACTOR, clients.get(s, "ACME")),
    "trunk create credentials": lambda s: trunks.save(s, {"client": "GLOBEX", "name": "remote", "auth_mode": "credentials"}, ACTOR),
    "trunk rename": lambda s: trunks.save(s, {"name": "primary"}, ACTOR, trunks.get(s, "ACME", "main")),
    "trunk addresses": lambda s: trunks.save(s, {"source_addresses": "198.18.10.5 198.18.10.64/26"}, ACTOR, trunks.get(s, "ACME", "main")),
    "trunk e911 cleared": lambda s: trunks.save(s, {"e911_number": None}, ACTOR, trunks.get(s, "ACME", "branch")),
    "trunk delete releasing numbers": lambda s: trunks.delete(s, trunks.get(s, "GLOBEX", "pbx"), ACTOR, release_numbers=True),
    "number create": lambda s: numbers.save(s, {"number": "2045557000", "carrier": "telus", "client": "ACME", "trunk": "main"}, ACTOR),
    "number reassign trunk": lambda s: numbers.save(s, {"trunk": "branch"}, ACTOR, numbers.get(s, "2045551202")),
    "number register e911": lambda s: numbers.save(s, {"e911_registered": True, "e911_address": "1 Rd"}, ACTOR, numbers.get(s, "2045551204")),
    "number move client": lambda s: numbers.save(s, {"client": "GLOBEX"}, ACTOR, numbers.get(s, "2045551204")),
    "number port to carrier": lambda s: numbers.save(s, {"carrier": "telus", "port_status": "active"}, ACTOR,
                                                                 numbers.get(s, "6045553402")),
    "number ported out": lambda s: numbers.save(s, {"port_status": "ported_out"}, ACTOR, numbers.get(s, "4165552302")),
    "number delete": lambda s: numbers.delete(s, numbers.get(s, "6045553403"), ACTOR),
}


@pytest.mark.parametrize("change", list(CHANGES))
def test_no_drift_after_change(seeded, change):
    CHANGES[change](seeded)
    apply_pending(seeded)
    assert drift(seeded) == []


def test_number_row_follows_reassignment(seeded):
    telus = carriers.get(seeded, "telus").id
    assert value(seeded, "tl-num", "+12045551202") == f"{telus}|ACME|node-cl-ovh-bhs7|trunk-ACME-main|2045551202"
    numbers.save(seeded, {"trunk": "branch"}, ACTOR, numbers.get(seeded, "2045551202"))
    apply_pending(seeded)
    # the branch trunk wants +E.164 DIDs
    assert value(seeded, "tl-num", "+12045551202") == f"{telus}|ACME|node-cl-ovh-bhs7|trunk-ACME-branch|+12045551202"


def test_e911_rows_are_the_cascade(seeded):
    for t in (trunks.get(seeded, "ACME", "main"), trunks.get(seeded, "ACME", "branch"), trunks.get(seeded, "INITECH", "hq")):
        route = resolve_e911(seeded, t)
        assert value(seeded, "tl-e911", f"{t.id}*default") == "|".join(
            [route.level, route.number, route.carrier.endpoint_id, route.sent,
             {"e164": "e", "nanp11": "11", "nanp10": "10"}[route.carrier.e911_callerid_format]])
    main = trunks.get(seeded, "ACME", "main")
    assert value(seeded, "tl-e911", f"{main.id}*+12045551202") == "number|+12045551202|carrier-telus|2045551202|10"


def test_unresolvable_trunk_gets_an_explicit_unresolved_row(seeded):
    nodes.save(seeded, {"name": "cl-newco", "role": "client", "public_ip": "192.0.2.98", "hosting_provider": "OVHcloud"}, ACTOR)
    clients.save(seeded, {"name": "New Co", "account_code": "NEWCO", "node": "cl-newco"}, ACTOR)
    t, _ = trunks.save(seeded, {"client": "NEWCO", "name": "pbx", "source_addresses": "198.18.40.1"}, ACTOR)
    apply_pending(seeded)
    assert value(seeded, "tl-e911", f"{t.id}*default") == "unresolved||carrier-telus||10"


ALL_CODES = "211-311-411-511-611-711-811-988"


def test_route_rows_one_per_carrier_holder_by_id_then_priority_order(seeded):
    """tl-route/<id> is the holder's own item; p1, p2... list the enabled carriers by priority (issue 9:
    one row per carrier, so that any number of carriers fits Asterisk's 256-character appdata)."""
    bell = carriers.get(seeded, "bell")
    assert value(seeded, "tl-route", str(bell.id)) == f"carrier-bell/11/11/3/{ALL_CODES}"
    assert [value(seeded, "tl-route", f"p{i}") for i in (1, 2, 3, 4)] == [
        f"carrier-telus/10/10/3/{ALL_CODES}", f"carrier-bell/11/11/3/{ALL_CODES}", f"carrier-thinq/e/e/3/{ALL_CODES}", None]
    carriers.save(seeded, {"enabled": False}, ACTOR, bell)
    apply_pending(seeded)
    assert value(seeded, "tl-route", str(bell.id)) is None
    assert [value(seeded, "tl-route", f"p{i}") for i in (1, 2, 3)] == [
        f"carrier-telus/10/10/3/{ALL_CODES}", f"carrier-thinq/e/e/3/{ALL_CODES}", None]
    assert seeded.scalar(select(EP.c.id).where(EP.c.id == "carrier-bell")) is None


def test_route_rows_carry_service_codes_and_their_dial_form(seeded):
    thinq = carriers.get(seeded, "thinq")
    carriers.save(seeded, {"service_codes": "988, 311 211", "service_code_format": "+1code"}, ACTOR, thinq)
    apply_pending(seeded)
    assert value(seeded, "tl-route", str(thinq.id)) == "carrier-thinq/e/e/p/211-311-988"
    carriers.save(seeded, {"service_codes": "none", "service_code_format": "1code"}, ACTOR, thinq)
    apply_pending(seeded)
    assert value(seeded, "tl-route", str(thinq.id)) == "carrier-thinq/e/e/4/"
    assert drift(seeded) == []


def test_blocked_service_codes_reach_the_trunk_endpoint(seeded):
    clients.save(seeded, {"blocked_service_codes": "411 211"}, ACTOR, clients.get(seeded, "ACME"))
    apply_pending(seeded)
    set_var = seeded.scalar(select(EP.c.set_var).where(EP.c.id == "trunk-ACME-main"))
    assert set_var.startswith("TL_TRUNK=") and set_var.split("/")[5] == "211-411"


def test_identity_trust_of_each_endpoint_kind(seeded):
    """Who is believed about the caller (docs/nodes.md, caller identity): carriers (the trust domain, RFC 3325)
    and nodes on the INVITE, PBXs on the INVITE only (the dialplan checks it), no connected-line update from
    a PBX or a carrier, and nothing asserted towards a PBX."""
    rows = {r.id: (r.trust_id_inbound, r.trust_connected_line, r.trust_id_outbound) for r in seeded.execute(
        select(EP.c.id, EP.c.trust_id_inbound, EP.c.trust_connected_line, EP.c.trust_id_outbound)
        .where(EP.c.id.in_(["carrier-telus", "node-cn-ovh-bhs1", "trunk-ACME-main"])))}
    assert rows == {"carrier-telus": ("yes", "no", "yes"), "node-cn-ovh-bhs1": ("yes", None, "yes"),
                    "trunk-ACME-main": ("yes", "no", "no")}


def test_hand_edited_rows_are_detected_and_repaired(seeded):
    seeded.execute(update(EP).where(EP.c.id == "trunk-ACME-main").values(context="default"))
    seeded.execute(update(EXT).where(EXT.c.context == "tl-num", EXT.c.exten == "+12045551201").values(appdata="9|EVIL|x|y|z"))
    seeded.execute(delete(REALTIME_TABLES["ps_aors"]).where(REALTIME_TABLES["ps_aors"].c.id == "carrier-bell"))
    seeded.execute(insert(EXT).values(context="tl-num", exten="+19995550000", priority=1, app="Return", appdata="x"))
    lines = drift(seeded)
    assert "ps_endpoints trunk-ACME-main: differs: context='default' (expected 'tl-from-trunk')" in lines
    assert any(line.startswith("extensions tl-num/+12045551201/1: differs") for line in lines)
    assert "ps_aors carrier-bell: missing" in lines
    assert "extensions tl-num/+19995550000/1: unexpected row" in lines
    assert len(lines) == 4
    counts = rebuild(seeded)
    assert counts == {"inserted": 1, "updated": 2, "deleted": 1}
    assert drift(seeded) == []


def test_credentials_trunk_projects_auth_and_username_identify(seeded):
    t, _ = trunks.save(seeded, {"client": "GLOBEX", "name": "remote", "auth_mode": "credentials"}, ACTOR)
    apply_pending(seeded)
    auth = seeded.execute(select(REALTIME_TABLES["ps_auths"]).where(REALTIME_TABLES["ps_auths"].c.id == "trunk-GLOBEX-remote-auth")).one()
    assert auth.username == "globex_remote" and auth.password == t.password and len(t.password) >= 16
    ep = seeded.execute(select(EP).where(EP.c.id == "trunk-GLOBEX-remote")).one()
    assert (ep.identify_by, ep.auth, ep.accountcode) == ("header,auth_username", "trunk-GLOBEX-remote-auth", "GLOBEX")


def test_deferred_savepoints_leave_the_rows_for_one_pass_at_the_end(seeded):
    """What a bulk import of trunks, clients, ... relies on: no projection per row, one at the end."""
    with deferred(seeded):
        for line in range(3):
            with seeded.begin_nested():
                numbers.save(seeded, {"number": f"204-555-13{line:02d}", "carrier": "telus", "client": "ACME", "trunk": "main"}, ACTOR)
        assert {line.split(":")[0] for line in drift(seeded)} == {f"extensions tl-num/+120455513{line:02d}/1" for line in range(3)}
    apply_pending(seeded)
    assert drift(seeded) == []


def test_outside_deferred_a_savepoint_commit_still_projects(seeded):
    with seeded.begin_nested():
        numbers.save(seeded, {"number": "204-555-1390", "carrier": "telus", "client": "ACME", "trunk": "main"}, ACTOR)
    assert drift(seeded) == []


def test_the_projection_records_the_cached_objects_it_rewrote_for_the_nodes(seeded):
    from app.projection.sync import changed_objects

    changed_objects(seeded)
    trunks.save(seeded, {"source_addresses": "198.18.0.77"}, ACTOR, trunks.get(seeded, "ACME", "main"))
    apply_pending(seeded)
    objects = changed_objects(seeded)
    assert objects == {"aor": {"trunk-ACME-main"}, "identify": {"trunk-ACME-main-ip1"}}
    assert changed_objects(seeded) == {}  # handed over once
    numbers.save(seeded, {"number": "204-555-1391", "carrier": "telus", "client": "ACME", "trunk": "main"}, ACTOR)
    apply_pending(seeded)
    assert changed_objects(seeded) == {}  # dialplan rows are not cached by the nodes' sorcery
