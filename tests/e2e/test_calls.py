"""Real calls through two Asterisk 22 nodes reading the Trunkline database over ODBC realtime.

Carrier (SIPp) <-> carrier node cn1 <-> client node cl1 <-> client PBX (SIPp); every assertion reads
the SIP messages an answering side received (SIPp -trace_msg).
"""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session as OrmSession

from app import node_push
from app.models import Node
from app.projection import drift
from app.services import clients, numbers
from tests.e2e import data
from tests.e2e.harness import UAC_PORT

pytestmark = pytest.mark.asterisk

CARRIERS = [c["name"] for c in data.CARRIERS]
PBXS = ["pbx-main", "pbx-alt", "pbx-branch"]


def only_invite(result, label):
    """The one INVITE `label` received during the call, after checking nobody else got one."""
    got = {side: len(result.invites(side)) for side in CARRIERS + PBXS if result.invites(side)}
    assert got == {label: 1}, f"INVITEs received: {got}"
    return result.invites(label)[0]


def nobody_called(result):
    got = {side: len(result.invites(side)) for side in CARRIERS + PBXS if result.invites(side)}
    assert got == {}, f"INVITEs received: {got}"


def pai_user(invite):
    return invite.header_user("P-Asserted-Identity")


def test_0_the_database_the_nodes_read_has_no_drift(platform):
    with OrmSession(platform.engine) as session:
        assert drift(session) == []


# ---- 1. inbound ----
@pytest.mark.parametrize("carrier, dialled, pbx, delivered", [
    ("alpha", "2045552001", "pbx-main", "2045552001"),      # carrier sends 10 digits; main trunk wants 10 digits
    ("bravo", "12045552003", "pbx-alt", "+12045552003"),    # 11 digits in; alt trunk wants +E.164
    ("charlie", "+12045552005", "pbx-main", "2045552005"),  # +E.164 in; main trunk wants 10 digits
])
def test_1_inbound_reaches_the_trunk_in_its_format(platform, carrier, dialled, pbx, delivered):
    result = platform.call(data.CARRIER_IP[carrier], "cn1", dialled, "4165550100", 200, f"in-{carrier}")
    assert result.final == 200, platform.diagnostics()
    invite = only_invite(result, pbx)
    assert invite.request_user == delivered
    assert invite.header_user("From") == "4165550100"


@pytest.mark.parametrize("carrier, dialled", [
    ("alpha", "2045552099"),   # held by alpha but assigned to no client
    ("alpha", "3125550199"),   # not ours at all
    ("alpha", "12045552003"),  # ours, but held by bravo: alpha may not deliver it
])
def test_1_inbound_unknown_did_is_rejected(platform, carrier, dialled):
    result = platform.call(data.CARRIER_IP[carrier], "cn1", dialled, "4165550100", 404, "in-unknown")
    assert result.final == 404, platform.diagnostics()
    nobody_called(result)


# ---- 2. outbound ----
@pytest.mark.parametrize("pbx, caller, dialled, carrier, want_ruri, want_from, want_pai", [
    # 10-digit dialling, caller ID held by alpha (nanp10, sends PAI)
    ("main", "2045552001", "3125550123", "alpha", "3125550123", "2045552001", "2045552001"),
    # 11-digit dialling, caller ID as +E.164 held by bravo (nanp11, no PAI)
    ("alt", "+12045552003", "13125550124", "bravo", "13125550124", "12045552003", None),
    # +E.164 dialling, caller ID held by charlie (e164, sends PAI)
    ("main", "2045552005", "+13125550125", "charlie", "+13125550125", "+12045552005", "+12045552005"),
    # a caller ID the client does not own: replaced by the main number 2045552001, so alpha carries it
    ("main", "4165559999", "3125550126", "alpha", "3125550126", "2045552001", "2045552001"),
])
def test_2_outbound_formats_and_caller_id(platform, pbx, caller, dialled, carrier, want_ruri, want_from, want_pai):
    result = platform.call(data.PBX[pbx], "cl1", dialled, caller, 200, f"out-{carrier}")
    assert result.final == 200, platform.diagnostics()
    invite = only_invite(result, carrier)
    assert invite.request_user == want_ruri
    assert invite.header_user("From") == want_from
    assert pai_user(invite) == want_pai
    assert invite.header("X-TL-Carrier") is None and invite.header("X-TL-Account") is None


def test_2_outbound_invalid_number_is_refused(platform):
    result = platform.call(data.PBX["main"], "cl1", "0115551234", "2045552001", 484, "out-invalid")
    assert result.final == 484
    nobody_called(result)


# ---- 3. E911 ----
@pytest.mark.parametrize("pbx, caller, carrier, want_from, want_pai, level", [
    ("main", "2045552005", "charlie", "+12045552005", "+12045552005", "number"),  # caller's own registration, e164
    ("alt", "2045552004", "bravo", "12045552003", None, "trunk"),                 # alt trunk's E911 number, nanp11
    ("main", "2045552002", "alpha", "2045552001", "2045552001", "client"),        # client default, nanp10
])
def test_3_e911_each_cascade_level(platform, pbx, caller, carrier, want_from, want_pai, level):
    result = platform.call(data.PBX[pbx], "cl1", "911", caller, 200, f"e911-{level}")
    assert result.final == 200, platform.diagnostics()
    invite = only_invite(result, carrier)
    assert invite.request_user == "911"
    assert invite.header_user("From") == want_from
    assert pai_user(invite) == want_pai


def test_3_e911_unresolved_logs_an_error_and_still_calls_a_911_carrier(platform):
    """No registered number resolves (client default removed, caller not registered): the node logs an
    ERROR and still sends the call to the first 911 carrier with the presented caller ID, the client's own."""
    try:
        with OrmSession(platform.engine) as session:
            clients.save(session, {"e911_number": ""}, data.ACTOR, clients.get(session, "ACME"))
            session.commit()
        result = platform.call(data.PBX["main"], "cl1", "911", "2045552002", 200, "e911-unresolved")
        assert result.final == 200, platform.diagnostics()
        invite = only_invite(result, "alpha")  # priority 10: the first carrier that provides 911
        assert invite.request_user == "911" and invite.header_user("From") == "2045552002"
        logged = [line for line in platform.nodes["cl1"].messages_log().splitlines()
                  if " ERROR[" in line and "E911 unresolved for trunk trunk-ACME-main" in line]
        # the presented number is the client's own: kept (issue 9 section 0: never another client's)
        assert len(logged) == 1 and logged[0].endswith("with the client's number +12045552002 (presented: 2045552002)"), logged
    finally:
        with OrmSession(platform.engine) as session:
            clients.save(session, {"e911_number": "2045552001"}, data.ACTOR, clients.get(session, "ACME"))
            session.commit()


# ---- 4. failover ----
def test_4_failover_on_503_to_the_next_carrier(platform):
    result = platform.call(data.PBX["main"], "cl1", "3125550501", "2045552001", 200, "failover")
    assert result.final == 200, platform.diagnostics()
    first, second = result.invites("alpha"), result.invites("bravo")
    assert [m.request_user for m in first] == ["3125550501"]
    assert [m.status for m in result.at["alpha"]
            if m.direction == "sent" and m.status and m.status >= 200 and m.header("CSeq").endswith("INVITE")] == [503]
    assert [m.request_user for m in second] == ["13125550501"]
    assert second[0].header_user("From") == "12045552001"  # bravo's own caller-ID format
    assert result.invites("charlie") == []


def test_4_busy_is_passed_back_not_retried(platform):
    result = platform.call(data.PBX["main"], "cl1", "3125550481", "2045552001", 486, "busy")
    assert result.final == 486, platform.diagnostics()
    only_invite(result, "alpha")


# ---- 5. security ----
@pytest.mark.parametrize("source, node, dialled", [
    (data.STRANGER, "cl1", "3125550123"),                   # unknown address to the client node
    (data.STRANGER, "cn1", "2045552001"),                   # unknown address to the carrier node
    (data.PBX["main"], "cn1", "3125550123"),                # a PBX straight to the carrier node
    (data.CARRIER_IP["alpha"], "cl1", "2045552001"),        # a carrier straight to the client node
])
def test_5_unlisted_or_misdirected_sources_get_no_call_through(platform, source, node, dialled):
    result = platform.call(source, node, dialled, "2045552001", 401 if source == data.STRANGER else 403, "security")
    assert result.final in (401, 403), platform.diagnostics()
    nobody_called(result)


def test_5_credentials_trunk_registers_only_with_the_right_password(platform):
    bad = platform.register(data.PBX["branch"], "cl1", data.BRANCH_USER, "Not-The-Password-0000", (401, 403))
    assert bad.final in (401, 403)
    assert data.BRANCH_USER not in platform.nodes["cl1"].cli("pjsip show contacts")
    good = platform.register(data.PBX["branch"], "cl1", data.BRANCH_USER, data.BRANCH_PASSWORD, (200,))
    assert good.final == 200, platform.diagnostics()
    contacts = platform.nodes["cl1"].cli("pjsip show contacts")
    assert f"{data.BRANCH_USER}/sip:{data.BRANCH_USER}@{data.PBX['branch']}" in contacts


def test_5_inbound_call_reaches_the_pbx_where_it_registered(platform):
    """A credentials trunk has no fixed address: its DIDs go to the contact its PBX registered (rewritten
    to the REGISTER's source address and port), in the trunk's DID format."""
    good = platform.register(data.PBX["branch"], "cl1", data.BRANCH_USER, data.BRANCH_PASSWORD, (200,))
    assert good.final == 200, platform.diagnostics()
    platform.start_uas("pbx-branch", data.PBX["branch"], port=UAC_PORT, media_port=6900)  # where the REGISTER came from
    try:
        result = platform.call(data.CARRIER_IP["charlie"], "cn1", "+12045552006", "4165550100", 200, "in-branch")
        assert result.final == 200, platform.diagnostics()
        invite = only_invite(result, "pbx-branch")
        assert invite.request_user == "+12045552006"  # the branch trunk wants +E.164
        assert invite.header_user("From") == "4165550100"
    finally:
        platform.stop_uas("pbx-branch")


# ---- 6. live change ----
def test_6_reassigned_number_follows_within_two_seconds_without_restart(platform):
    pids = {name: node.proc.pid for name, node in platform.nodes.items()}
    before = platform.call(data.CARRIER_IP["alpha"], "cn1", "2045552002", "4165550100", 200, "live-before")
    assert only_invite(before, "pbx-main").request_user == "2045552002"
    with OrmSession(platform.engine) as session:
        numbers.save(session, {"trunk": "alt"}, data.ACTOR, numbers.get(session, "2045552002"))
        session.commit()
    changed = time.monotonic()
    time.sleep(1.2)  # pbx_realtime keeps an exact dialplan hit for 1 s
    after = platform.call(data.CARRIER_IP["alpha"], "cn1", "2045552002", "4165550100", 200, "live-after")
    assert only_invite(after, "pbx-alt").request_user == "+12045552002"  # and in the alt trunk's format
    assert time.monotonic() - changed < 2.5
    assert {name: node.proc.pid for name, node in platform.nodes.items()} == pids
    assert all(node.proc.poll() is None for node in platform.nodes.values())


def test_6_endpoint_change_applies_at_once_after_a_cache_expire(platform):
    """Endpoint rows (here the trunk's TL_TRUNK main number) are cached by sorcery until expired (no lifetime:
    docs/databases.md); expiring the object applies it now."""
    node = platform.nodes["cl1"]
    try:
        with OrmSession(platform.engine) as session:
            clients.save(session, {"main_number": "2045552005"}, data.ACTOR, clients.get(session, "ACME"))
            session.commit()
        node.cli("sorcery memory cache expire endpoint trunk-ACME-main")
        result = platform.call(data.PBX["main"], "cl1", "3125550127", "4165559999", 200, "live-endpoint")
        invite = only_invite(result, "charlie")  # the new main number is held by charlie
        assert invite.header_user("From") == "+12045552005"
    finally:
        with OrmSession(platform.engine) as session:
            clients.save(session, {"main_number": "2045552001"}, data.ACTOR, clients.get(session, "ACME"))
            session.commit()
        node.cli("sorcery memory cache expire endpoint")


def test_6b_endpoint_change_reaches_the_nodes_without_a_manual_expire(platform):
    """After the commit the admin side tells every live node over AMI to expire the changed objects
    (app.node_push): the new value is used at once (cached objects have no lifetime of their own)."""
    node = platform.nodes["cl1"]
    node.cli("sorcery memory cache expire endpoint")
    warm = platform.call(data.PBX["main"], "cl1", "3125550127", "4165559999", 200, "push-warm")
    only_invite(warm, "alpha")  # the endpoint is cached now, with the old main number (held by alpha)
    try:
        with OrmSession(platform.engine) as session:
            clients.save(session, {"main_number": "2045552005"}, data.ACTOR, clients.get(session, "ACME"))
            session.commit()
        committed = time.monotonic()
        node_push.wait()
        told = time.monotonic() - committed
        result = platform.call(data.PBX["main"], "cl1", "3125550127", "4165559999", 200, "push-after")
        assert only_invite(result, "charlie").header_user("From") == "+12045552005"
        assert told < 2, told
    finally:
        with OrmSession(platform.engine) as session:
            clients.save(session, {"main_number": "2045552001"}, data.ACTOR, clients.get(session, "ACME"))
            session.commit()
        node_push.wait()


def test_6c_the_nodes_manager_interface_refuses_a_wrong_secret(platform):
    with OrmSession(platform.engine) as session:
        host = session.scalar(select(Node.public_ip).where(Node.name == "cl1"))
    with pytest.raises(node_push.AmiError):
        node_push.send_actions(host, 5038, "not-the-secret", [])
    assert node_push.send_actions(host, 5038, platform.ami_secret, [{"Action": "Ping"}]) == 1


# ---- 7. CDRs ----
def test_7_calls_are_in_the_cdr_table_with_the_account_code(platform):
    want = {
        # outbound on the client node: the trunk's channel, dialled through the carrier node
        ("PJSIP/trunk-ACME-main-", "PJSIP/3125550123@node-cn1"),
        # the same call on the carrier node: from the client node to alpha
        ("PJSIP/node-cl1-", "PJSIP/3125550123@carrier-alpha"),
        # inbound on the carrier node, and on the client node
        ("PJSIP/carrier-alpha-", "PJSIP/+12045552001@node-cl1"),
        ("PJSIP/node-cn1-", "PJSIP/2045552001@trunk-ACME-main"),
        # E911 through charlie
        ("PJSIP/node-cl1-", "PJSIP/911@carrier-charlie"),
    }
    deadline = time.monotonic() + 10
    while True:
        rows = platform.query("SELECT channel, lastdata, accountcode, disposition FROM cdr WHERE accountcode = 'ACME'")
        found = {(channel, data_prefix) for channel, data_prefix in want
                 for row in rows if row.channel.startswith(channel) and (row.lastdata or "").startswith(data_prefix)
                 and row.disposition == "ANSWERED"}
        if found == want or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert found == want, f"missing CDRs: {want - found}; have {[tuple(r) for r in rows][:20]}"
    assert platform.query("SELECT COUNT(*) FROM cdr WHERE accountcode = 'ACME'")[0][0] >= 20

