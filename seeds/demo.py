"""A realistic demo data set, loaded through the same services as the admin and CSV."""

from __future__ import annotations

from collections import Counter

from sqlalchemy.orm import Session

from app.services import carriers, clients, nodes, numbers, trunks
from app.services.audit import Actor

ACTOR = Actor("seed", "seed")

CARRIERS = [
    # Three 911 carriers, one per caller-ID format: the cascade's output differs visibly.
    dict(name="telus", tier=1, auth_mode="ip", signalling_addresses="198.51.100.10 198.51.100.11", port=5060,
         callerid_format="nanp10", e911_callerid_format="nanp10", dial_format="nanp10", send_pai=True,
         provides_911=True, priority=10, max_channels=500),
    dict(name="bell", tier=1, auth_mode="ip", signalling_addresses="198.51.100.20 198.51.100.64/28", port=5060,
         callerid_format="nanp11", e911_callerid_format="nanp11", dial_format="nanp11", send_pai=False,
         provides_911=True, priority=20, max_channels=300),
    dict(name="thinq", tier=2, auth_mode="register", signalling_addresses="203.0.113.50", port=5060,
         username="msp_demo", password="Demo-Reseller-Secret-2026", callerid_format="e164",
         e911_callerid_format="e164", dial_format="e164", send_pai=True, provides_911=True, priority=30,
         max_channels=100),
]
NODES = [
    dict(name="cn-ovh-bhs1", role="carrier", public_ip="192.0.2.11", hosting_provider="OVHcloud", region="Beauharnois",
         dns_name="cn1.trunk.example.net"),
    dict(name="cn-vultr-tor1", role="carrier", public_ip="192.0.2.12", hosting_provider="Vultr", region="Toronto",
         dns_name="cn2.trunk.example.net"),
    dict(name="cl-ovh-bhs7", role="client", public_ip="192.0.2.21", hosting_provider="OVHcloud", region="Beauharnois",
         dns_name="acme.trunk.example.net"),
    dict(name="cl-vultr-tor3", role="client", public_ip="192.0.2.22", hosting_provider="Vultr", region="Toronto",
         dns_name="globex.trunk.example.net"),
    dict(name="cl-ovh-bhs9", role="client", public_ip="192.0.2.23", hosting_provider="OVHcloud", region="Beauharnois",
         dns_name="initech.trunk.example.net"),
]
CLIENTS = [
    dict(name="Acme Dental Group", account_code="ACME", node="cl-ovh-bhs7", max_channels=30),
    dict(name="Globex Logistics", account_code="GLOBEX", node="cl-vultr-tor3", max_channels=20),
    dict(name="Initech Software", account_code="INITECH", node="cl-ovh-bhs9", max_channels=10),
]
TRUNKS = [
    dict(client="ACME", name="main", auth_mode="ip", source_addresses="198.18.10.5", did_format="nanp10", max_channels=20),
    dict(client="ACME", name="branch", auth_mode="credentials", password="Acme-Branch-Demo-Password-1",
         did_format="e164", max_channels=10),
    dict(client="GLOBEX", name="pbx", auth_mode="ip", source_addresses="198.18.20.2 198.18.20.0/29", did_format="nanp11"),
    dict(client="INITECH", name="hq", auth_mode="ip", source_addresses="198.18.30.7", did_format="e164"),
]
NUMBERS = [
    dict(number="204-555-1201", carrier="telus", client="ACME", trunk="main", e911_registered=True,
         e911_address="100 Main St, Winnipeg MB R3C 1A1"),
    dict(number="204-555-1202", carrier="telus", client="ACME", trunk="main", e911_registered=True,
         e911_address="100 Main St, Suite 200, Winnipeg MB R3C 1A1"),
    dict(number="(204) 555-1203", carrier="bell", client="ACME", trunk="branch", e911_registered=True,
         e911_address="55 Portage Ave, Brandon MB R7A 0A1"),
    dict(number="12045551204", carrier="bell", client="ACME", trunk="branch"),
    dict(number="+1 416 555 2301", carrier="bell", client="GLOBEX", trunk="pbx", e911_registered=True,
         e911_address="2 Front St W, Toronto ON M5J 1A1"),
    dict(number="416.555.2302", carrier="telus", client="GLOBEX", trunk="pbx"),
    dict(number="6045553401", carrier="thinq", client="INITECH", trunk="hq", e911_registered=True,
         e911_address="9 Hastings St, Vancouver BC V6B 1A1"),
    dict(number="6045553402", carrier="thinq", client="INITECH", trunk="hq", port_status="port_in_pending",
         port_target_carrier="telus"),
    dict(number="6045553403", carrier="thinq"),
]
# E911 at all three levels: ACME's default, its branch trunk's own number, and 1202 by itself.
CLIENT_NUMBERS = [
    dict(account_code="ACME", e911_number="2045551201", main_number="2045551201"),
    dict(account_code="GLOBEX", e911_number="4165552301", main_number="4165552301"),
    dict(account_code="INITECH", e911_number="6045553401", main_number="6045553401"),
]
TRUNK_E911 = [dict(client="ACME", name="branch", e911_number="2045551203")]


def load(session: Session) -> Counter:
    """Upsert the demo data; returns how many objects of each kind were created or updated."""
    counts: Counter = Counter()
    for kind, service, rows in (("carriers", carriers, CARRIERS), ("nodes", nodes, NODES), ("clients", clients, CLIENTS),
                                ("trunks", trunks, TRUNKS), ("numbers", numbers, NUMBERS)):
        for row in rows:
            _obj, outcome = service.upsert(session, row, ACTOR)
            counts[f"{kind} {outcome}"] += 1
    for row in CLIENT_NUMBERS:
        clients.save(session, row, ACTOR, clients.get(session, row["account_code"]))
    for row in TRUNK_E911:
        trunks.save(session, {"e911_number": row["e911_number"]}, ACTOR, trunks.get(session, row["client"], row["name"]))
    return counts
