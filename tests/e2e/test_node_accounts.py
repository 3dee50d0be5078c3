"""Per-node database accounts on real Asterisk nodes: each node reads only its own rows.

Three nodes: carrier node cn1, client nodes cl1 (client ACME) and cl2 (client BETA, whose PBX sits
behind the same public address as ACME's main PBX). Every node connects with its own account.
"""

from __future__ import annotations

import re
import time

import pytest

from tests.e2e import data

pytestmark = pytest.mark.asterisk

CARRIERS = [c["name"] for c in data.CARRIERS]


def test_every_node_connects_with_its_own_account(platform):
    db = platform.db_name
    assert platform.node_accounts == {name: f"{db}.{name}" for name in ("cn1", "cl1", "cl2")}
    for name, node in platform.nodes.items():
        res_odbc = (node.host_dir / "etc" / "res_odbc.conf").read_text()
        assert re.findall(r"^username => (.*)$", res_odbc, re.M) == [f"{db}.{name}"]
        connected = re.search(r"Number of active connections: (\d+)", node.cli("odbc show"))
        assert connected and int(connected.group(1)) > 0, f"{name} holds no ODBC connection"
    # Who is connected to this database, as MariaDB sees it: the three node accounts and the harness's own (root).
    users = {u for (u,) in platform.query("SELECT USER FROM information_schema.PROCESSLIST WHERE DB = :db", db=db)}
    assert set(platform.node_accounts.values()) <= users
    assert users - set(platform.node_accounts.values()) <= {"root"}  # the harness (admin side), never a node


def _aors(node) -> set[str]:
    out = node.cli("pjsip show aors")
    return {m.group(1) for m in re.finditer(r"^\s*Aor:\s+([^<\s]\S*)", out, re.M)}


def _contacts(node) -> set[str]:
    out = node.cli("pjsip show contacts")
    return {m.group(1).split("/")[0] for m in re.finditer(r"^\s*Contact:\s+([^<\s]\S*)", out, re.M)}


def test_client_nodes_qualify_only_their_trunks_and_the_carrier_nodes(platform):
    # What each node qualifies: the AORs with contacts it can read.
    # (acme_branch: the AOR of ACME's registering PBX, once it registered; not qualified, it has no static contact.)
    assert _contacts(platform.nodes["cl1"]) - {"acme_branch"} == {"node-cn1", "trunk-ACME-main", "trunk-ACME-alt"}
    assert _contacts(platform.nodes["cl2"]) == {"node-cn1", "trunk-BETA-main"}
    assert _contacts(platform.nodes["cn1"]) == {"node-cl1", "node-cl2", "carrier-alpha", "carrier-bravo", "carrier-charlie"}
    for name, other in (("cl1", "node-cl2"), ("cl2", "node-cl1"), ("cl1", "carrier-alpha"), ("cl2", "trunk-ACME-main")):
        assert "Unable to find object" in platform.nodes[name].cli(f"pjsip show endpoint {other}"), f"{name} sees {other}"
        assert other not in _aors(platform.nodes[name])
    # On the wire: since the nodes started, the carriers received OPTIONS from the carrier node only.
    senders = set()
    for carrier in CARRIERS:
        for message in platform.uas[carrier].messages_since(0):
            if message.direction == "received" and message.method == "OPTIONS":
                via = message.header("Via") or ""
                senders.add(re.search(r"SIP/2\.0/\w+\s+([^:;\s]+)", via).group(1))
    assert senders == {data.CARRIER_NODE["public_ip"]}, f"OPTIONS to the carriers came from {senders}"


def test_two_clients_behind_one_address_are_each_identified_on_their_own_node(platform):
    """ACME's main PBX and BETA's PBX share one public address; cl1 knows only ACME's trunk, cl2 only BETA's."""
    for node, trunk, main in (("cl1", "trunk-ACME-main", "2045552001"), ("cl2", "trunk-BETA-main", "2045552101")):
        identifies = platform.nodes[node].cli("pjsip show identifies")
        assert trunk in identifies and data.PBX["main"] in identifies
        # A caller ID the client does not own is replaced by the client's main number: whose trunk it was.
        result = platform.call(data.PBX["main"], node, "3125550128", "4165559999", 200, f"shared-ip-{node}")
        assert result.final == 200, platform.diagnostics()
        invites = [m for c in CARRIERS for m in result.invites(c)]
        assert len(invites) == 1 and invites[0].header_user("From") == main, (node, [m.header("From") for m in invites])
    # Inbound: BETA's DID goes to cl2 and rings the PBX behind the shared address in BETA's format.
    result = platform.call(data.CARRIER_IP["alpha"], "cn1", "2045552101", "4165550100", 200, "shared-ip-inbound")
    assert result.final == 200, platform.diagnostics()
    assert [m.request_user for m in result.invites("pbx-main")] == ["2045552101"]


def test_cdrs_are_stamped_with_the_node_they_come_from(platform):
    result = platform.call(data.PBX["main"], "cl2", "3125550129", "2045552101", 200, "cdr-stamp")
    assert result.final == 200, platform.diagnostics()
    rows = []
    for _ in range(20):
        rows = platform.query("SELECT tl_node, accountcode FROM cdr WHERE lastdata LIKE '%3125550129@%'")
        if len(rows) >= 2:
            break
        time.sleep(0.25)
    # One CDR on each node the call went through, each stamped by the database with the node whose account inserted it.
    assert sorted(tuple(r) for r in rows) == [("cl2", "BETA"), ("cn1", "BETA")], rows
