"""The end-to-end data set: one carrier node, one client node, three carriers (one per number format),
one client with three trunks; loaded through the project's own services, like the admin does."""

from __future__ import annotations

import os
import random

from app.services import carriers, clients, nodes, numbers, trunks
from app.services.audit import Actor

ACTOR = Actor("e2e", "test")

# Every address is in a /24 of 127.0.0.0/8 picked per process, so that test runs started at the same
# time on one machine (developers sharing it, a bench) never collide on an address and port.
NET = os.environ.get("TRUNKLINE_E2E_NET") or f"127.{random.randint(100, 254)}.{random.randint(0, 255)}"


def ip(host: int) -> str:
    """An address of this run's /24."""
    return f"{NET}.{host}"


CARRIER_NODE = dict(name="cn1", role="carrier", public_ip=ip(11), sip_port=5060, hosting_provider="loopback")
CLIENT_NODE = dict(name="cl1", role="client", public_ip=ip(12), sip_port=5060, hosting_provider="loopback")

# Each carrier answers 503 / 486 to numbers containing its own trigger digits (see REJECT_503/REJECT_486).
CARRIERS = [
    dict(name="alpha", signalling_addresses=ip(31), callerid_format="nanp10", e911_callerid_format="nanp10",
         dial_format="nanp10", send_pai=True, provides_911=True, priority=10),
    dict(name="bravo", signalling_addresses=ip(32), callerid_format="nanp11", e911_callerid_format="nanp11",
         dial_format="nanp11", send_pai=False, provides_911=True, priority=20),
    dict(name="charlie", signalling_addresses=ip(33), callerid_format="e164", e911_callerid_format="e164",
         dial_format="e164", send_pai=True, provides_911=True, priority=30),
]
REJECT_503 = {"alpha": "5550501", "bravo": "5550502", "charlie": "5550503"}
REJECT_486 = {"alpha": "5550481", "bravo": "5550482", "charlie": "5550483"}

CLIENT = dict(name="Acme E2E", account_code="ACME", node="cl1", max_channels=50)
TRUNKS = [
    dict(client="ACME", name="main", auth_mode="ip", source_addresses=ip(21), pbx_port=5060, did_format="nanp10"),
    dict(client="ACME", name="alt", auth_mode="ip", source_addresses=ip(22), pbx_port=5060, did_format="e164"),
    dict(client="ACME", name="branch", auth_mode="credentials", username="acme_branch",
         password="Branch-Secret-Password-2026", did_format="e164"),
]
BRANCH_USER, BRANCH_PASSWORD = "acme_branch", "Branch-Secret-Password-2026"
NUMBERS = [
    dict(number="2045552001", carrier="alpha", client="ACME", trunk="main", e911_registered=True, e911_address="1 Main St"),
    dict(number="2045552002", carrier="alpha", client="ACME", trunk="main"),
    dict(number="2045552003", carrier="bravo", client="ACME", trunk="alt", e911_registered=True, e911_address="3 Alt St"),
    dict(number="2045552004", carrier="bravo", client="ACME", trunk="alt"),
    dict(number="2045552005", carrier="charlie", client="ACME", trunk="main", e911_registered=True, e911_address="5 Main St"),
    dict(number="2045552006", carrier="charlie", client="ACME", trunk="branch"),
    dict(number="2045552099", carrier="alpha"),  # held, but assigned to no client
]
# Client default E911 and main number: 2001 (alpha); the alt trunk's own E911 number: 2003 (bravo).
CLIENT_NUMBERS = dict(e911_number="2045552001", main_number="2045552001")
ALT_E911 = "2045552003"

PBX = {"main": ip(21), "alt": ip(22), "branch": ip(23)}

# A second client on a client node of its own, whose PBX sits behind the same public address as ACME's
# main PBX (two offices of one building, one NAT): each node must identify only its own client's trunk.
CLIENT_NODE2 = dict(name="cl2", role="client", public_ip=ip(13), sip_port=5060, hosting_provider="loopback")
CLIENT2 = dict(name="Beta E2E", account_code="BETA", node="cl2", max_channels=10)
TRUNKS2 = [dict(client="BETA", name="main", auth_mode="ip", source_addresses=ip(21), pbx_port=5060, did_format="nanp10")]
NUMBERS2 = [dict(number="2045552101", carrier="alpha", client="BETA", trunk="main")]
CLIENT2_NUMBERS = dict(main_number="2045552101")
CARRIER_IP = {c["name"]: c["signalling_addresses"] for c in CARRIERS}
STRANGER = ip(99)  # on no whitelist


def load(session) -> None:
    """Create the data set through the services (the projection writes the realtime rows on commit)."""
    for row in CARRIERS:
        carriers.save(session, row, ACTOR)
    nodes.save(session, CARRIER_NODE, ACTOR)
    nodes.save(session, CLIENT_NODE, ACTOR)
    clients.save(session, CLIENT, ACTOR)
    for row in TRUNKS:
        trunks.save(session, row, ACTOR)
    for row in NUMBERS:
        numbers.save(session, row, ACTOR)
    clients.save(session, CLIENT_NUMBERS, ACTOR, clients.get(session, "ACME"))
    trunks.save(session, {"e911_number": ALT_E911}, ACTOR, trunks.get(session, "ACME", "alt"))
    nodes.save(session, CLIENT_NODE2, ACTOR)
    clients.save(session, CLIENT2, ACTOR)
    for row in TRUNKS2:
        trunks.save(session, row, ACTOR)
    for row in NUMBERS2:
        numbers.save(session, row, ACTOR)
    clients.save(session, CLIENT2_NUMBERS, ACTOR, clients.get(session, "BETA"))
