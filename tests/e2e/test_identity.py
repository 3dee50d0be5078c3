"""The caller's identity on the real nodes (issue 9, sections 0, 2, 3): P-Asserted-Identity or From as real
PBXs send them, caller-ID privacy (anonymous From, Privacy, *67) per carrier privacy mode, registering PBXs
identified by their digest username, and an unresolved 911 call that never presents another client's number.

Every assertion reads the SIP messages the SIPp carriers and PBXs received; every test runs in both lookup
modes (the `platform` fixture)."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session as OrmSession

from app import node_push
from app.models import Client
from app.services import carriers, clients, nodes, numbers
from app.web.dashboard import e911_unresolved_calls
from tests.e2e import data

pytestmark = pytest.mark.asterisk

CARRIERS = [c["name"] for c in data.CARRIERS]
PBXS = ["pbx-main", "pbx-alt", "pbx-branch"]
ANONYMOUS = '"Anonymous" <sip:anonymous@anonymous.invalid>'
OTHER = "2045552131"  # a number of another client, registered for 911 (fixture other_client)


def only_invite(result, label):
    """The one INVITE `label` received during the call, after checking nobody else got one."""
    got = {side: len(result.invites(side)) for side in CARRIERS + PBXS if result.invites(side)}
    assert got == {label: 1}, f"INVITEs received: {got}"
    return result.invites(label)[0]


def is_anonymous(invite) -> bool:
    """From is RFC 3261's anonymous identity, exactly as Asterisk writes it."""
    value = invite.header("From") or ""
    return value.startswith('"Anonymous" <sip:anonymous@anonymous.invalid>')


def identity(invite) -> dict:
    """What a carrier learns about the caller from one INVITE."""
    return {"from": "anonymous" if is_anonymous(invite) else invite.header_user("From"),
            "pai": invite.header_user("P-Asserted-Identity"), "privacy": invite.header("Privacy"),
            "rpid": invite.header("Remote-Party-ID")}


def commit(platform, change) -> None:
    """Apply a change through the services, commit, and wait until the nodes were told (node_push)."""
    with OrmSession(platform.engine) as session:
        change(session)
        session.commit()
    node_push.wait()


# ---- 2. the caller's identity: P-Asserted-Identity when the PBX sends one, else From ----
@pytest.mark.parametrize("caller, headers, dialled, carrier, want", [
    # FreePBX/Asterisk style: From carries the main number, PAI the extension's own DID -> PAI wins
    ("2045552001", ('P-Asserted-Identity: "Reception" <sip:2045552005@[local_ip]>',), "3125550150", "charlie",
     {"from": "+12045552005", "pai": "+12045552005", "privacy": None, "rpid": None}),
    # 3CX/Yealink style: PAI as a tel: URI in +E.164
    ("2045552001", ("P-Asserted-Identity: <tel:+12045552005>",), "3125550151", "charlie",
     {"from": "+12045552005", "pai": "+12045552005", "privacy": None, "rpid": None}),
    # PAI with user=phone and +E.164 in a sip: URI, held by bravo (nanp11, sends no PAI)
    ("2045552001", ("P-Asserted-Identity: <sip:+12045552003@[local_ip];user=phone>",), "3125550152", "bravo",
     {"from": "12045552003", "pai": None, "privacy": None, "rpid": None}),
    # the PBX asserts a number the client does not own: the ownership rule applies to PAI (main number), even
    # though From was one of its own numbers
    ("2045552005", ("P-Asserted-Identity: <tel:+14165559999>",), "3125550153", "alpha",
     {"from": "2045552001", "pai": "2045552001", "privacy": None, "rpid": None}),
    # a PBX that writes the extension in PAI (no phone number): the DID in From counts
    ("2045552005", ('P-Asserted-Identity: "Reception" <sip:201@[local_ip]>',), "3125550157", "charlie",
     {"from": "+12045552005", "pai": "+12045552005", "privacy": None, "rpid": None}),
    # older PBXs (chan_sip sendrpid, Cisco): Remote-Party-ID, no PAI -> RPID is the identity
    ("2045552001", ('Remote-Party-ID: "Reception" <sip:2045552005@[local_ip]>;party=calling;privacy=off;screen=no',),
     "3125550155", "charlie", {"from": "+12045552005", "pai": "+12045552005", "privacy": None, "rpid": None}),
    # *82 (per-call unblocking) before the number: stripped, the number shown as usual
    ("2045552001", (), "*823125550156", "alpha",
     {"from": "2045552001", "pai": "2045552001", "privacy": None, "rpid": None}),
    # "Privacy: none" is no request for privacy
    ("2045552001", ("Privacy: none",), "3125550154", "alpha",
     {"from": "2045552001", "pai": "2045552001", "privacy": None, "rpid": None}),
])
def test_2_identity_is_pai_when_the_pbx_sends_one_else_from(platform, caller, headers, dialled, carrier, want):
    result = platform.call(data.PBX["main"], "cl1", dialled, caller, 200, "identity", headers=headers)
    assert result.final == 200, platform.diagnostics()
    invite = only_invite(result, carrier)
    assert identity(invite) == want
    digits = dialled.removeprefix("*82")
    assert invite.request_user == {"alpha": digits, "bravo": "1" + digits, "charlie": "+1" + digits}[carrier]


FOREIGN = data.NUMBERS2[0]["number"]  # 2045552101: BETA's number, not ACME's


@pytest.mark.parametrize("method, mid_from, headers", [
    # a re-INVITE with another client's number in P-Asserted-Identity
    ("INVITE", None, (f"P-Asserted-Identity: <sip:{FOREIGN}@[local_ip]>",)),
    # an UPDATE (RFC 3311) doing the same, as a tel: URI
    ("UPDATE", None, (f"P-Asserted-Identity: <tel:+1{FOREIGN}>",)),
    # every identity header at once: From, PAI and Remote-Party-ID
    ("INVITE", f'"Beta" <sip:{FOREIGN}@[local_ip]>',
     (f"P-Asserted-Identity: <sip:+1{FOREIGN}@[local_ip];user=phone>",
      f"Remote-Party-ID: <sip:{FOREIGN}@[local_ip]>;party=calling;privacy=off;screen=no")),
])
def test_2_a_pbx_cannot_change_its_identity_mid_call(platform, method, mid_from, headers):
    """The identity is checked once, on the INVITE (trunk endpoints: trust_connected_line no): an answered call,
    then a re-INVITE or UPDATE from the PBX asserting another client's number. The node takes the request (200)
    and the carrier receives no request with that number; Asterisk would otherwise pass it on as a connected-line
    update (a re-INVITE with it in PAI) through both nodes to carriers that get PAI (alpha: send_pai)."""
    result = platform.call(data.PBX["main"], "cl1", "3125550190", "2045552001", 200, "mid-call", mid_call=method,
                           mid_call_from=mid_from, mid_call_headers=headers)
    assert result.final == 200, platform.diagnostics()
    answered = [m.status for m in result.received if (m.header("CSeq") or "").endswith(f"2 {method}")]
    assert answered[-1:] == [200], [m.first_line for m in result.received]  # the node took the request
    requests = [m for m in result.at["alpha"] if m.direction == "received" and m.method not in (None, "OPTIONS")]
    leaked = [m.text for m in requests
              if any(FOREIGN in (m.header(h) or "") for h in ("From", "P-Asserted-Identity", "Remote-Party-ID"))]
    assert leaked == []
    assert [m.method for m in requests] == ["INVITE", "ACK", "BYE"], [m.first_line for m in requests]
    assert requests[0].header_user("From") == requests[0].header_user("P-Asserted-Identity") == "2045552001"


# ---- 2. caller-ID privacy ----
@pytest.mark.parametrize("pbx, from_value, caller, headers, dialled, carrier, pai", [
    # the usual request: anonymous From, the number in PAI, Privacy: id (FreePBX, Asterisk with trust_id_outbound)
    ("main", ANONYMOUS, "anonymous", ('P-Asserted-Identity: "Reception" <sip:+12045552001@[local_ip];user=phone>',
                                      "Privacy: id"), "3125550160", "alpha", "2045552001"),
    # anonymous From and PAI as tel:, no Privacy header: the anonymous From alone asks for privacy
    ("main", ANONYMOUS, "anonymous", ("P-Asserted-Identity: <tel:+12045552005>",), "3125550161", "charlie",
     "+12045552005"),
    # the number in From and "Privacy: id" (no PAI) - to bravo, which sends no PAI on ordinary calls:
    # Trunkline adds PAI and Privacy for the private call
    ("alt", None, "2045552003", ("Privacy: id",), "3125550162", "bravo", "12045552003"),
    # RFC 3323 spelling with header privacy too
    ("main", None, "2045552001", ("Privacy: header;id",), "3125550163", "alpha", "2045552001"),
    # Cisco style: lower-case anonymous user on the PBX's own host, no PAI -> the main number is asserted
    ("main", '"anonymous" <sip:anonymous@[local_ip]>', "anonymous", (), "3125550164", "alpha", "2045552001"),
    # anonymous with a number the client does not own in PAI: checked like any caller ID (main number)
    ("main", ANONYMOUS, "anonymous", ("P-Asserted-Identity: <sip:4165559999@[local_ip]>", "Privacy: id"),
     "3125550165", "alpha", "2045552001"),
    # *67 before the number (NANP per-call blocking), caller ID in From
    ("main", None, "2045552005", (), "*673125550166", "charlie", "+12045552005"),
])
def test_2_privacy_request_leaves_anonymous_with_the_checked_caller_id_in_pai(platform, pbx, from_value, caller,
                                                                             headers, dialled, carrier, pai):
    result = platform.call(data.PBX[pbx], "cl1", dialled, caller, 200, "privacy", from_value=from_value,
                           headers=headers)
    assert result.final == 200, platform.diagnostics()
    invite = only_invite(result, carrier)
    assert identity(invite) == {"from": "anonymous", "pai": pai, "privacy": "id", "rpid": None}
    want_ruri = {"alpha": "3125550166", "charlie": "+13125550166"}[carrier] if dialled.startswith("*67") else None
    assert want_ruri is None or invite.request_user == want_ruri


def test_2_privacy_to_a_carrier_in_rpid_mode(platform):
    """privacy_mode rpid: Remote-Party-ID on every call, privacy=full on private ones (anonymous From)."""
    try:
        commit(platform, lambda s: carriers.save(s, {"privacy_mode": "rpid"}, data.ACTOR, carriers.get(s, "bravo")))
        private = platform.call(data.PBX["alt"], "cl1", "3125550170", "2045552003", 200, "rpid-private",
                                headers=("Privacy: id",))
        assert private.final == 200, platform.diagnostics()
        seen = identity(only_invite(private, "bravo"))
        assert (seen["from"], seen["pai"], seen["privacy"]) == ("anonymous", None, None), seen
        assert "<sip:12045552003@" in seen["rpid"] and "privacy=full;screen=yes" in seen["rpid"], seen
        shown = platform.call(data.PBX["alt"], "cl1", "3125550171", "2045552003", 200, "rpid-shown")
        seen = identity(only_invite(shown, "bravo"))
        assert (seen["from"], seen["pai"], seen["privacy"]) == ("12045552003", None, None), seen
        assert "<sip:12045552003@" in seen["rpid"] and "privacy=off;screen=yes" in seen["rpid"], seen
    finally:
        commit(platform, lambda s: carriers.save(s, {"privacy_mode": "pai"}, data.ACTOR, carriers.get(s, "bravo")))


@pytest.mark.parametrize("from_value, caller, headers, dialled, carrier, want_from", [
    # anonymous + PAI + Privacy: the PAI number is the caller's own registration (number level), shown
    (ANONYMOUS, "anonymous", ("P-Asserted-Identity: <sip:2045552005@[local_ip]>", "Privacy: id"), "911", "charlie",
     "+12045552005"),
    # *67 before 911: ignored
    (None, "2045552005", (), "*67911", "charlie", "+12045552005"),
    # From holds the main number, PAI the caller's own registered DID: the number level uses PAI
    (None, "2045552001", ("P-Asserted-Identity: <tel:+12045552005>",), "911", "charlie", "+12045552005"),
    # the extension in PAI, the caller's own registered DID in From: number level from From
    (None, "2045552005", ('P-Asserted-Identity: "Reception" <sip:201@[local_ip]>',), "911", "charlie", "+12045552005"),
    # anonymous with no number anywhere: the trunk's cascade (client default, alpha, 10 digits), shown
    (ANONYMOUS, "anonymous", ("Privacy: id",), "911", "alpha", "2045552001"),
])
def test_2_911_ignores_privacy(platform, from_value, caller, headers, dialled, carrier, want_from):
    result = platform.call(data.PBX["main"], "cl1", dialled, caller, 200, "e911-privacy", from_value=from_value,
                           headers=headers)
    assert result.final == 200, platform.diagnostics()
    invite = only_invite(result, carrier)
    assert invite.request_user == "911"
    assert identity(invite) == {"from": want_from, "pai": want_from, "privacy": None, "rpid": None}


@pytest.mark.parametrize("carrier, dialled, from_value, headers, pbx", [
    # the number in From, "Privacy: id"
    ("alpha", "2045552001", None, ("Privacy: id",), "pbx-main"),
    # anonymous From, the number in PAI, "Privacy: id" (RFC 3325 between networks)
    ("charlie", "+12045552005", ANONYMOUS, ("P-Asserted-Identity: <sip:+14165550100@[local_ip]>", "Privacy: id"),
     "pbx-main"),
    # the same from a carrier that writes 10 digits and a tel: URI
    ("alpha", "2045552001", ANONYMOUS, ("P-Asserted-Identity: <tel:4165550100>", "Privacy: id"), "pbx-main"),
    # the pilot number in From, the withheld caller in PAI, "Privacy: id"
    ("bravo", "12045552003", '"Pilot" <sip:4165550000@[local_ip]>',
     ("P-Asserted-Identity: <sip:4165550100@[local_ip]>", "Privacy: id"), "pbx-alt"),
    # Remote-Party-ID privacy=full
    ("bravo", "12045552003", None, ("Remote-Party-ID: <sip:4165550100@[local_ip]>;party=calling;privacy=full;screen=yes",),
     "pbx-alt"),
])
def test_2_inbound_privacy_is_kept_towards_the_pbx(platform, carrier, dialled, from_value, headers, pbx):
    """The withheld number crosses to the client node (trusted node leg: PAI + "Privacy: id", so the client
    node's call record has it) but reaches the PBX in no header."""
    mark = platform.query("SELECT COALESCE(MAX(id), 0) FROM cdr")[0][0]
    result = platform.call(data.CARRIER_IP[carrier], "cn1", dialled, "4165550100", 200, "in-privacy",
                           from_value=from_value, headers=headers)
    assert result.final == 200, platform.diagnostics()
    invite = only_invite(result, pbx)
    assert is_anonymous(invite), invite.header("From")
    assert "4165550100" not in invite.text  # the number is nowhere: not in From, PAI, RPID or Contact
    assert PILOT not in invite.text
    assert invite.header("P-Asserted-Identity") is None and invite.header("Remote-Party-ID") is None
    assert invite.header("Privacy") == "id"
    deadline = time.monotonic() + 10  # the CDR is written at hang-up
    while True:
        srcs = [r[0] for r in platform.query(
            "SELECT src FROM cdr WHERE id > :mark AND channel LIKE 'PJSIP/node-cn1-%'", mark=mark)]
        if srcs or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert [src.removeprefix("+1") for src in srcs] == ["4165550100"], srcs  # on the client node, for tracing


PILOT = "4165550000"  # a carrier's billing/pilot number, sent in From while PAI carries the real caller


@pytest.mark.parametrize("carrier, dialled, pai, pbx", [
    ("alpha", "2045552001", "<sip:4165550100@[local_ip]>", "pbx-main"),
    ("charlie", "+12045552005", "<tel:+14165550100>", "pbx-main"),
    ("bravo", "12045552003", '"Real Caller" <sip:+14165550100@[local_ip];user=phone>', "pbx-alt"),
])
def test_2_inbound_caller_is_the_carriers_pai_else_from(platform, carrier, dialled, pai, pbx):
    """Carriers are the trust domain (RFC 3325; carrier endpoints trust_id_inbound): From = the carrier's pilot
    number, P-Asserted-Identity = the real caller, no privacy -> the PBX gets the real caller in From (through
    both nodes), the pilot number nowhere. The carrier node's call record names the real caller too."""
    mark = platform.query("SELECT COALESCE(MAX(id), 0) FROM cdr")[0][0]
    result = platform.call(data.CARRIER_IP[carrier], "cn1", dialled, PILOT, 200, "in-pai",
                           headers=(f"P-Asserted-Identity: {pai}",))
    assert result.final == 200, platform.diagnostics()
    invite = only_invite(result, pbx)
    assert (invite.header_user("From") or "").removeprefix("+1") == "4165550100", invite.text
    assert PILOT not in invite.text
    assert invite.header("Privacy") is None and not is_anonymous(invite)
    deadline = time.monotonic() + 10  # the CDR is written at hang-up
    while True:
        srcs = [r[0] for r in platform.query(
            "SELECT src FROM cdr WHERE id > :mark AND channel LIKE :channel", mark=mark, channel=f"PJSIP/carrier-{carrier}-%")]
        if srcs or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert [src.removeprefix("+1") for src in srcs] == ["4165550100"], srcs


def test_2_inbound_without_privacy_shows_the_number_to_the_pbx(platform):
    result = platform.call(data.CARRIER_IP["alpha"], "cn1", "2045552001", "4165550100", 200, "in-shown",
                           headers=("Privacy: none",))
    assert result.final == 200, platform.diagnostics()
    invite = only_invite(result, "pbx-main")
    assert (invite.header_user("From"), invite.header("Privacy")) == ("4165550100", None)


# ---- 3. registering PBXs present their own numbers ----
@pytest.fixture
def registered_branch(platform):
    """The branch PBX registered as its username (acme_branch), as a real PBX is before it calls."""
    result = platform.register(data.PBX["branch"], "cl1", data.BRANCH_USER, data.BRANCH_PASSWORD, (200,))
    assert result.final == 200, platform.diagnostics()


@pytest.mark.parametrize("caller, headers, carrier, want_from", [
    # its DID in From (the default of most PBXs): kept, in the holder's (charlie) format
    ("2045552006", (), "charlie", "+12045552006"),
    # +E.164 in From
    ("+12045552006", (), "charlie", "+12045552006"),
    # its username in From, the DID in PAI
    (data.BRANCH_USER, ('P-Asserted-Identity: "Branch" <sip:2045552006@[local_ip]>',), "charlie", "+12045552006"),
    # another number of the same client (the alt trunk's): still the client's own, kept
    ("2045552003", (), "bravo", "12045552003"),
    # a number the client does not own: replaced by the main number (2045552001, alpha)
    ("4165559999", (), "alpha", "2045552001"),
])
def test_3_registering_pbx_presents_its_own_numbers(platform, registered_branch, caller, headers, carrier, want_from):
    result = platform.call(data.PBX["branch"], "cl1", "3125550180", caller, 200, "branch-out", headers=headers,
                           auth=(data.BRANCH_USER, data.BRANCH_PASSWORD))
    assert result.final == 200, platform.diagnostics()
    assert [m.status for m in result.received if m.status and m.status >= 400] == [401]  # challenged once, then in
    assert only_invite(result, carrier).header_user("From") == want_from


def test_3_registering_pbx_without_credentials_or_with_a_wrong_password_gets_no_call_through(platform, registered_branch):
    unauthenticated = platform.call(data.PBX["branch"], "cl1", "3125550181", "2045552006", 401, "branch-noauth")
    assert unauthenticated.final == 401
    wrong = platform.call(data.PBX["branch"], "cl1", "3125550182", "2045552006", 401, "branch-wrongpw",
                          auth=(data.BRANCH_USER, "Not-The-Password-0000"))
    assert wrong.final == 401
    for result in (unauthenticated, wrong):
        assert not any(result.invites(side) for side in CARRIERS + PBXS)


@pytest.mark.parametrize("caller, headers", [
    ("2045552006", ()),                                                               # its DID in From
    (data.BRANCH_USER, ('P-Asserted-Identity: "Branch" <sip:+12045552006@[local_ip];user=phone>',)),  # in PAI
])
def test_3_registering_pbx_911_resolves_at_the_number_level(platform, registered_branch, caller, headers):
    """911 from the branch PBX with its DID in From (or PAI): once the DID is registered for 911, the call
    presents it (number level), through its holder charlie in charlie's 911 format."""
    try:
        commit(platform, lambda s: numbers.save(s, {"e911_registered": "yes", "e911_address": "6 Branch Rd"}, data.ACTOR,
                                                numbers.get(s, "2045552006")))
        result = platform.call(data.PBX["branch"], "cl1", "911", caller, 200, "branch-911", headers=headers,
                               auth=(data.BRANCH_USER, data.BRANCH_PASSWORD))
        assert result.final == 200, platform.diagnostics()
        invite = only_invite(result, "charlie")
        assert (invite.request_user, invite.header_user("From"), invite.header_user("P-Asserted-Identity")) == (
            "911", "+12045552006", "+12045552006")
    finally:
        commit(platform, lambda s: numbers.save(s, {"e911_registered": "no"}, data.ACTOR, numbers.get(s, "2045552006")))


# ---- 0. an unresolved 911 call never presents another client's number ----
@pytest.fixture(scope="module")
def other_client(platform):
    """Another client holding OTHER, registered for 911 at its own address; its node (an active client needs
    one) is not started: only its data matters here. Removed afterwards: the platform is shared, and the carrier
    node would otherwise go on qualifying that never-started node (tests/e2e/test_node_accounts.py)."""
    with OrmSession(platform.engine) as session:
        if session.scalar(select(Client).where(Client.account_code == "OTHR")) is None:
            nodes.save(session, dict(name="cl9", role="client", public_ip=data.ip(19), sip_port=5060,
                                     hosting_provider="loopback"), data.ACTOR)
            clients.save(session, {"name": "Other E2E", "account_code": "OTHR", "node": "cl9"}, data.ACTOR)
            numbers.save(session, {"number": OTHER, "carrier": "alpha", "client": "OTHR", "e911_registered": "yes",
                                   "e911_address": "9 Other St"}, data.ACTOR)
            clients.save(session, {"e911_number": OTHER, "main_number": OTHER}, data.ACTOR, clients.get(session, "OTHR"))
            session.commit()
    node_push.wait()
    yield
    with OrmSession(platform.engine) as session:
        client = clients.get(session, "OTHR")
        clients.save(session, {"e911_number": "", "main_number": ""}, data.ACTOR, client)
        numbers.delete(session, numbers.get(session, OTHER), data.ACTOR)
        clients.delete(session, client, data.ACTOR)
        nodes.delete(session, nodes.get(session, "cl9"), data.ACTOR)
        session.commit()
    node_push.wait()


def unresolved_calls_of(platform, account: str) -> list[dict]:
    """The dashboard's list of 911 calls that left unresolved, for one client."""
    with OrmSession(platform.engine) as session:
        return [c for c in e911_unresolved_calls(session) if c["account"] == account]


@pytest.mark.parametrize("caller, headers", [
    (OTHER, ()),                                                   # 10 digits in From
    ("1" + OTHER, ()),                                             # 11 digits
    ("+1" + OTHER, ()),                                            # +E.164
    ("2045552002", (f"P-Asserted-Identity: <sip:+1{OTHER}@[local_ip];user=phone>",)),  # in PAI, own number in From
    ("2045552002", ("P-Asserted-Identity: <tel:+1-204-555-2131>",)),                  # tel: URI with separators
])
def test_0_unresolved_911_never_presents_another_clients_number(platform, other_client, caller, headers):
    """ACME's main trunk resolves no E911 level (client default removed, trunk has none, the presented number
    is not ACME's): the node logs an ERROR, the call still goes to the first 911 carrier (alpha), with
    ACME's main number - never OTHR's registered number, whose 911 record is another address."""
    log_before = len(platform.nodes["cl1"].messages_log().splitlines())
    marked_before = unresolved_calls_of(platform, "ACME")
    try:
        commit(platform, lambda s: clients.save(s, {"e911_number": ""}, data.ACTOR, clients.get(s, "ACME")))
        result = platform.call(data.PBX["main"], "cl1", "911", caller, 200, "e911-other", headers=headers)
        assert result.final == 200, platform.diagnostics()
        invite = only_invite(result, "alpha")
        assert identity(invite) == {"from": "2045552001", "pai": "2045552001", "privacy": None, "rpid": None}
        assert OTHER not in invite.text
        logged = [line for line in platform.nodes["cl1"].messages_log().splitlines()[log_before:]
                  if " ERROR[" in line and "E911 unresolved for trunk trunk-ACME-main" in line]
        assert len(logged) == 1 and "with the client's number +12045552001" in logged[0], logged
        deadline = time.monotonic() + 10  # the CDR is written at hang-up
        while (marked := unresolved_calls_of(platform, "ACME")) == marked_before and time.monotonic() < deadline:
            time.sleep(0.5)
        assert len(marked) == len(marked_before) + 1, marked  # on the dashboard
        assert marked[0]["trunk"] == "trunk-ACME-main"
    finally:
        commit(platform, lambda s: clients.save(s, {"e911_number": "2045552001"}, data.ACTOR, clients.get(s, "ACME")))


def test_0_unresolved_911_from_a_client_with_no_number_of_its_own_presents_none(platform, other_client):
    """No E911 level and no main number: the call still goes to a 911 carrier, but with no number at all
    rather than the other client's registered one."""
    try:
        commit(platform, lambda s: clients.save(s, {"e911_number": "", "main_number": ""}, data.ACTOR,
                                                clients.get(s, "ACME")))
        result = platform.call(data.PBX["main"], "cl1", "911", "+1" + OTHER, 200, "e911-nonumber")
        assert result.final == 200, platform.diagnostics()
        invite = only_invite(result, "alpha")
        assert OTHER not in invite.text
        assert is_anonymous(invite), invite.text
        assert invite.header_user("P-Asserted-Identity") in (None, "anonymous"), invite.text
    finally:
        commit(platform, lambda s: clients.save(s, {"e911_number": "2045552001", "main_number": "2045552001"},
                                                data.ACTOR, clients.get(s, "ACME")))
