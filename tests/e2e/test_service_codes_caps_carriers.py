"""Issue 9, sections 1, 4 and 5 on the real nodes: service codes (N11, 988), channel caps, carriers as they come.

Carrier (SIPp) <-> carrier node cn1 <-> client node cl1 <-> client PBX (SIPp); every assertion reads the
SIP messages an answering side received. Every test runs in both lookup modes (the platform fixture).
Settings changed by a test are put back in `finally`, through the services, like the admin would.
"""

from __future__ import annotations

import io
import re
import time

import pytest
from sqlalchemy.orm import Session as OrmSession

from app import node_push
from app.csvio.importer import import_csv
from app.services import carriers, clients, trunks
from tests.e2e import data
from tests.e2e.test_calls import CARRIERS, nobody_called, only_invite

pytestmark = pytest.mark.asterisk


def change(platform, fn):
    """Apply fn(session) through the services, commit, and wait until the nodes were told (AMI push)."""
    with OrmSession(platform.engine) as session:
        fn(session)
        session.commit()
    node_push.wait()


def set_carrier(platform, name, **values):
    change(platform, lambda s: carriers.save(s, values, data.ACTOR, carriers.get(s, name)))


def set_client(platform, **values):
    change(platform, lambda s: clients.save(s, values, data.ACTOR, clients.get(s, "ACME")))


def set_trunk(platform, name, **values):
    change(platform, lambda s: trunks.save(s, values, data.ACTOR, trunks.get(s, "ACME", name)))


def errors_logged(platform, node, text):
    return [line for line in platform.nodes[node].messages_log().splitlines() if " ERROR[" in line and text in line]


# ---- 1. service codes ----
@pytest.mark.parametrize("dialled", ["311", "1311", "+1311"])
def test_service_code_goes_to_the_caller_id_holder_as_3_digits(platform, dialled):
    """311 as 3 digits, 1 + 3 digits or +1 + 3 digits; caller ID held by charlie (e164): charlie first, the code as its 3
    digits (the default dial form), the caller ID in charlie's format like an ordinary call."""
    result = platform.call(data.PBX["main"], "cl1", dialled, "2045552005", 200, f"svc-{dialled}")
    assert result.final == 200, platform.diagnostics()
    invite = only_invite(result, "charlie")
    assert invite.request_user == "311"
    assert invite.header_user("From") == "+12045552005"
    assert invite.header_user("P-Asserted-Identity") == "+12045552005"


def test_service_code_in_the_carriers_dial_form_and_caller_id_rules(platform):
    """bravo wants 1 + the code; a caller ID the client does not own becomes the main number (2001, alpha)
    and alpha, holder of the main number, does not carry 988: bravo gets 1988 with its 11-digit caller ID."""
    try:
        set_carrier(platform, "bravo", service_code_format="1code")
        set_carrier(platform, "alpha", service_codes="211 311")
        result = platform.call(data.PBX["main"], "cl1", "988", "4165559999", 200, "svc-988-form")
        assert result.final == 200, platform.diagnostics()
        invite = only_invite(result, "bravo")
        assert invite.request_user == "1988"
        assert invite.header_user("From") == "12045552001"
    finally:
        set_carrier(platform, "bravo", service_code_format="code")
        set_carrier(platform, "alpha", service_codes="all")


def test_service_code_no_carrier_accepts_is_refused_with_404_and_an_error(platform):
    try:
        for name in CARRIERS:
            set_carrier(platform, name, service_codes="211 311 711 811 988")
        result = platform.call(data.PBX["main"], "cl1", "1511", "2045552001", 404, "svc-none")
        assert result.final == 404, platform.diagnostics()
        nobody_called(result)
        logged = errors_logged(platform, "cl1", "service code 511 from trunk-ACME-main (client ACME): no enabled carrier accepts it")
        assert len(logged) >= 1, platform.diagnostics()
    finally:
        for name in CARRIERS:
            set_carrier(platform, name, service_codes="all")


def test_blocked_code_is_refused_but_988_and_711_always_go_through(platform):
    try:
        set_client(platform, blocked_service_codes="411 211")
        blocked = platform.call(data.PBX["main"], "cl1", "411", "2045552001", 403, "svc-blocked")
        assert blocked.final == 403, platform.diagnostics()
        nobody_called(blocked)
        for code in ("711", "988"):
            result = platform.call(data.PBX["main"], "cl1", code, "2045552001", 200, f"svc-{code}-open")
            assert result.final == 200, platform.diagnostics()
            assert only_invite(result, "alpha").request_user == code
        # and 911 still follows the E911 cascade (caller's own registration, charlie, e164)
        e911 = platform.call(data.PBX["main"], "cl1", "911", "2045552005", 200, "svc-911")
        invite = only_invite(e911, "charlie")
        assert invite.request_user == "911" and invite.header_user("From") == "+12045552005"
    finally:
        set_client(platform, blocked_service_codes="")


ANONYMOUS = '"Anonymous" <sip:anonymous@anonymous.invalid>'


@pytest.mark.parametrize("pbx, caller, from_value, headers, carrier, want", [
    # the caller's own registered number: number level, its holder charlie, e164
    ("main", "2045552005", None, (), "charlie", "+12045552005"),
    # privacy asked: ignored, the trunk's cascade (client default 2001, alpha, 10 digits)
    ("main", "anonymous", ANONYMOUS, ("Privacy: id",), "alpha", "2045552001"),
    # an unregistered number on the alt trunk: the trunk's own E911 number (2003, bravo, 11 digits)
    ("alt", "2045552004", None, (), "bravo", "12045552003"),
])
@pytest.mark.parametrize("dialled", ["1911", "+1911", "*671911"])
def test_1911_is_911(platform, dialled, pbx, caller, from_value, headers, carrier, want):
    """1911 (and +1911, and behind *67) is an emergency call exactly like 911 from the same trunk: the same E911
    cascade and caller ID (E911 number in From and PAI, privacy ignored), and the carrier gets 911 (it used to
    get nothing: 484 to the PBX)."""
    seen = {}
    for number in ("911", dialled):
        result = platform.call(data.PBX[pbx], "cl1", number, caller, 200, f"e911-{number}", from_value=from_value,
                               headers=headers)
        assert result.final == 200, platform.diagnostics()
        invite = only_invite(result, carrier)
        seen[number] = (invite.request_user, invite.header_user("From"), invite.header_user("P-Asserted-Identity"),
                        invite.header("Privacy"))
    pai = want if carrier != "bravo" else None  # bravo gets no PAI (send_pai off)
    assert seen[dialled] == seen["911"] == ("911", want, pai, None), seen


# ---- 4. channel caps ----
def _wait_counted(platform, node, category, name, count, timeout=15):
    """Wait until `group show channels` on node counts `count` channels in name@category."""
    deadline = time.monotonic() + timeout
    while True:
        out = platform.nodes[node].cli("group show channels")
        got = len([line for line in out.splitlines() if re.search(rf"\s{re.escape(name)}\s+{category}\s*$", line)])
        if got == count:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"{node}: {got} channel(s) in {name}@{category}, want {count}\n{out}\n{platform.diagnostics()}")
        time.sleep(0.3)


def test_trunk_cap_refuses_the_next_call_but_never_911_or_988(platform):
    """Trunk main limited to 2: with 2 calls held open, a third outbound call gets 503, an inbound call to
    its DID gets 486 at the carrier; 911 and 988 still go through and are not counted."""
    held = []
    try:
        set_trunk(platform, "main", max_channels=2)
        held = [platform.hold_call(data.PBX["main"], "cl1", f"31255501{i}0", "2045552001", 5080 + 2 * i, tag=f"hold{i}")
                for i in range(2)]
        _wait_counted(platform, "cl1", "tl-trunk", "trunk-ACME-main", 2)
        over = platform.call(data.PBX["main"], "cl1", "3125550199", "2045552001", 503, "cap-trunk-over")
        assert over.final == 503, platform.diagnostics()
        nobody_called(over)
        inbound = platform.call(data.CARRIER_IP["alpha"], "cn1", "2045552001", "4165550100", 486, "cap-trunk-in")
        assert inbound.final == 486, platform.diagnostics()
        nobody_called(inbound)
        e911 = platform.call(data.PBX["main"], "cl1", "911", "2045552005", 200, "cap-911")
        assert e911.final == 200, platform.diagnostics()
        assert only_invite(e911, "charlie").request_user == "911"
        for dialled in ("1911", "+1911"):  # 911 as 1 + the code, and +1 + the code: an emergency call as well
            e911 = platform.call(data.PBX["main"], "cl1", dialled, "2045552005", 200, f"cap-{dialled}")
            assert e911.final == 200, platform.diagnostics()
            invite = only_invite(e911, "charlie")
            assert (invite.request_user, invite.header_user("From"), invite.header_user("P-Asserted-Identity")) == (
                "911", "+12045552005", "+12045552005")
        crisis = platform.call(data.PBX["main"], "cl1", "988", "2045552001", 200, "cap-988")
        assert crisis.final == 200, platform.diagnostics()
        assert only_invite(crisis, "alpha").request_user == "988"
        _wait_counted(platform, "cl1", "tl-trunk", "trunk-ACME-main", 2)  # neither was counted
    finally:
        platform.stop_held(held)
        set_trunk(platform, "main", max_channels=0)
    after = platform.call(data.PBX["main"], "cl1", "3125550198", "2045552001", 200, "cap-trunk-after")
    assert only_invite(after, "alpha").request_user == "3125550198"


def test_client_cap_counts_every_trunk_of_the_client(platform):
    held = []
    try:
        set_client(platform, max_channels=2)
        held = [platform.hold_call(data.PBX["main"], "cl1", "3125550170", "2045552001", 5090, tag="hold-main"),
                platform.hold_call(data.PBX["alt"], "cl1", "3125550171", "2045552003", 5090, tag="hold-alt")]
        _wait_counted(platform, "cl1", "tl-client", "ACME", 2)
        over = platform.call(data.PBX["alt"], "cl1", "3125550172", "2045552003", 503, "cap-client-over")
        assert over.final == 503, platform.diagnostics()
        nobody_called(over)
        e911 = platform.call(data.PBX["alt"], "cl1", "911", "2045552004", 200, "cap-client-911")
        assert only_invite(e911, "bravo").header_user("From") == "12045552003"  # the alt trunk's E911 number
    finally:
        platform.stop_held(held)
        set_client(platform, max_channels=50)


def test_carrier_cap_moves_the_call_to_the_next_carrier_but_not_911(platform):
    """alpha limited to 1 call (counted on the carrier node): the second call held by alpha's number goes
    to bravo as for a 503, an inbound call from alpha gets 503; a 911 call whose E911 number is alpha's
    still leaves through alpha."""
    held = []
    try:
        set_carrier(platform, "alpha", max_channels=1)
        held = [platform.hold_call(data.PBX["main"], "cl1", "3125550160", "2045552001", 5094, tag="hold-alpha")]
        _wait_counted(platform, "cn1", "tl-carrier", "carrier-alpha", 1)
        moved = platform.call(data.PBX["main"], "cl1", "3125550161", "2045552001", 200, "cap-carrier-next")
        assert moved.final == 200, platform.diagnostics()
        invite = only_invite(moved, "bravo")
        assert invite.request_user == "13125550161" and invite.header_user("From") == "12045552001"
        inbound = platform.call(data.CARRIER_IP["alpha"], "cn1", "2045552001", "4165550100", 503, "cap-carrier-in")
        assert inbound.final == 503, platform.diagnostics()  # the cap counts both directions on the carrier node
        nobody_called(inbound)
        for dialled in ("911", "1911"):
            e911 = platform.call(data.PBX["main"], "cl1", dialled, "2045552002", 200, f"cap-carrier-{dialled}")
            invite = only_invite(e911, "alpha")  # client default E911 number 2001, held by alpha
            assert invite.request_user == "911" and invite.header_user("From") == "2045552001"
        _wait_counted(platform, "cn1", "tl-carrier", "carrier-alpha", 1)
    finally:
        platform.stop_held(held)
        set_carrier(platform, "alpha", max_channels=0)


# ---- 5. carriers as they come ----
def test_120_carriers_imported_and_a_call_routed_past_100_of_them(platform):
    """120 carriers imported from one CSV (the 12th used to end `import carriers` in a traceback); 100 of
    them come before alpha by priority and carry no 611, charlie (holder of the caller ID) neither: the
    call to 611 walks the route rows past all of them and leaves through alpha."""
    lines = ["name,signalling_addresses,priority,service_codes,provides_911,enabled"]
    lines += [f"bulk{i:03d},10.99.{i // 200}.{i % 200 + 1},{1 if i < 100 else 500},{'none' if i < 100 else 'all'},no,yes"
              for i in range(120)]
    with OrmSession(platform.engine) as session:
        result = import_csv(session, "carriers", io.BytesIO("\n".join(lines).encode()), data.ACTOR)
        assert not result.errors and result.created == 120, result.errors[:3]
        session.commit()
    node_push.wait()
    try:
        set_carrier(platform, "charlie", service_codes="988")
        rows = platform.query("SELECT COUNT(*) FROM extensions WHERE context = 'tl-route' AND exten LIKE 'p%'")
        assert rows[0][0] == 123
        result = platform.call(data.PBX["main"], "cl1", "611", "2045552005", 200, "svc-many")
        assert result.final == 200, platform.diagnostics()
        invite = only_invite(result, "alpha")
        assert invite.request_user == "611" and invite.header_user("From") == "2045552005"
    finally:
        set_carrier(platform, "charlie", service_codes="all")
        with OrmSession(platform.engine) as session:
            for i in range(120):
                carriers.delete(session, carriers.get(session, f"bulk{i:03d}"), data.ACTOR)
            session.commit()
        node_push.wait()


def test_carrier_user_at_domain_registers_with_the_split_uris(platform):
    """A registration carrier whose username is 1234567@sip.example: the REGISTER goes to its signalling
    address with Request-URI sip:sip.example, To/From sip:1234567@sip.example, Contact user 1234567, and
    the digest username 1234567 (today the node rejected the client URI and never registered)."""
    ip = data.ip(34)
    registrar = platform.start_registrar("delta", ip, media_port=6950)
    try:
        change(platform, lambda s: carriers.save(s, {
            "name": "delta", "auth_mode": "register", "username": "1234567@sip.example",
            "password": "Delta-Secret-2026", "signalling_addresses": ip, "priority": 90}, data.ACTOR))
        node = platform.nodes["cn1"]
        node.cli("module reload res_pjsip_outbound_registration.so")
        deadline = time.monotonic() + 20
        while True:
            registers = [m for m in registrar.messages_since(0) if m.direction == "received" and m.method == "REGISTER"]
            if len(registers) >= 2 or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert len(registers) >= 2, f"{node.cli('pjsip show registrations')}\n{platform.diagnostics()}"
        first, second = registers[0], registers[1]
        assert first.first_line.startswith("REGISTER sip:sip.example SIP/2.0"), first.first_line
        assert first.header_user("To") == "1234567" and "@sip.example" in first.header("To")
        assert first.header_user("From") == "1234567" and "@sip.example" in first.header("From")
        assert first.header_user("Contact") == "1234567"
        assert 'username="1234567"' in second.header("Authorization")
        status = node.cli("pjsip show registrations")
        assert "carrier-delta-reg" in status and "Registered" in status, status
    finally:
        with OrmSession(platform.engine) as session:
            carriers.delete(session, carriers.get(session, "delta"), data.ACTOR)
            session.commit()
        node_push.wait()
        platform.stop_uas("delta")
        platform.nodes["cn1"].cli("module reload res_pjsip_outbound_registration.so")
