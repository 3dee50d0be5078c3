"""call_problems(): everything that cannot place or receive calls, in plain words, for the platform or one client."""

from __future__ import annotations

from sqlalchemy import text

from app.call_health import call_problems
from app.services import carriers, clients, nodes
from app.services.audit import Actor

ACTOR = Actor("tester", "form")


def _lines(session, client=None) -> list[str]:
    return [str(p) for p in call_problems(session, client)]


def test_the_demo_platform_can_call_everywhere(seeded):
    assert call_problems(seeded) == []
    assert call_problems(seeded, clients.get(seeded, "ACME")) == []


def test_a_disabled_carrier_holding_numbers_is_named_with_their_count(seeded):
    bell = carriers.get(seeded, "bell")
    carriers.save(seeded, {"enabled": False}, ACTOR, bell)
    problems = call_problems(seeded)
    assert [(p.kind, p.id) for p in problems] == [("carrier", bell.id)]
    assert str(problems[0]).startswith("carrier bell: is disabled: the ")
    assert "number(s) it holds cannot receive calls; enable it or port the numbers" in str(problems[0])
    # On a client's page: only the numbers of that client.
    acme = _lines(seeded, clients.get(seeded, "ACME"))
    assert acme == ["carrier bell: is disabled: the 2 number(s) it holds cannot receive calls; enable it or port the numbers"]
    assert call_problems(seeded, clients.get(seeded, "INITECH")) == []  # INITECH has no bell numbers


def test_a_client_without_trunks_and_a_trunk_without_a_host_are_named(seeded):
    nodes.save(seeded, {"name": "cl-empty", "role": "client", "public_ip": "192.0.2.96", "hosting_provider": "Vultr"}, ACTOR)
    empty, _ = clients.save(seeded, {"name": "Empty Co", "account_code": "EMPTY", "node": "cl-empty"}, ACTOR)
    # A trunk stored before the host rule existed (rows written by an older version).
    seeded.execute(text("UPDATE trunks SET source_addresses = '198.18.20.0/29' WHERE name = 'pbx'"))
    seeded.expire_all()
    lines = _lines(seeded)
    assert "client EMPTY: has no trunk: its numbers ring nowhere and it cannot place calls" in lines
    assert ("trunk GLOBEX/pbx: lists only networks: calls to the PBX have no address to be sent to; "
            "add the PBX's own IP address") in lines
    assert _lines(seeded, empty) == ["client EMPTY: has no trunk: its numbers ring nowhere and it cannot place calls"]


def test_a_suspended_client_shows_on_its_page_not_on_the_dashboard(seeded):
    initech = clients.get(seeded, "INITECH")
    clients.save(seeded, {"status": "suspended"}, ACTOR, initech)
    assert call_problems(seeded) == []
    assert _lines(seeded, initech) == ["client INITECH: the client is suspended: its trunks and numbers carry no calls"]


def test_no_active_carrier_node_stops_every_call(seeded):
    seeded.execute(text("UPDATE nodes SET state = 'draining' WHERE role = 'carrier'"))
    assert _lines(seeded) == ["the platform: no carrier-facing node is active: no call can reach a carrier"]


def test_a_client_on_a_retired_node_is_named_with_its_node(seeded):
    acme = clients.get(seeded, "ACME")
    seeded.execute(text("UPDATE nodes SET state = 'retired' WHERE name = 'cl-ovh-bhs7'"))
    seeded.expire_all()
    problems = call_problems(seeded)
    assert [(p.kind, p.what) for p in problems] == [("node", "node cl-ovh-bhs7")]
    assert problems[0].reason == "serves client ACME but is retired: the client's calls have no node; replace the node"
    assert [p.what for p in call_problems(seeded, acme)] == ["node cl-ovh-bhs7"]
