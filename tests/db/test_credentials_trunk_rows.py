"""A registering (credentials) trunk projects rows Asterisk can identify and register against."""

from __future__ import annotations

from sqlalchemy import select

from app.models.realtime import REALTIME_TABLES
from app.projection import apply_pending, drift
from app.services import trunks
from app.services.audit import Actor

ACTOR = Actor("test", "cli")
AOR = REALTIME_TABLES["ps_aors"]
IDS = REALTIME_TABLES["ps_endpoint_id_ips"]
EP = REALTIME_TABLES["ps_endpoints"]


def test_credentials_trunk_aor_is_named_after_its_username_and_identified_by_its_digest_username(seeded):
    trunks.save(seeded, {"client": "GLOBEX", "name": "remote", "auth_mode": "credentials", "username": "globex_rem"}, ACTOR)
    apply_pending(seeded)
    ep = seeded.execute(select(EP).where(EP.c.id == "trunk-GLOBEX-remote")).one()
    assert ep.aors == "globex_rem"
    aor = seeded.execute(select(AOR).where(AOR.c.id == "globex_rem")).one()
    assert (aor.max_contacts, aor.remove_existing) == (1, "yes")
    assert seeded.scalar(select(AOR.c.id).where(AOR.c.id == "trunk-GLOBEX-remote")) is None
    ident = seeded.execute(select(IDS).where(IDS.c.endpoint == "trunk-GLOBEX-remote")).one()
    # Identified by the Authorization header's digest username, never by From (which carries a DID).
    assert ident.match_header == 'Authorization: /[ ,]username="globex_rem"/' and ident.match is None
    assert (ep.identify_by, ep.trust_id_inbound, ep.trust_connected_line) == ("header,auth_username", "yes", "no")
    assert drift(seeded) == []


def test_username_change_and_switch_to_ip_replace_the_aor(seeded):
    trunk, _ = trunks.save(seeded, {"client": "GLOBEX", "name": "remote", "auth_mode": "credentials", "username": "globex_a"}, ACTOR)
    apply_pending(seeded)
    trunks.save(seeded, {"username": "globex_b"}, ACTOR, trunk)
    apply_pending(seeded)
    assert set(seeded.scalars(select(AOR.c.id).where(AOR.c.id.like("globex_%")))) == {"globex_b"}
    assert drift(seeded) == []
    trunks.save(seeded, {"auth_mode": "ip", "source_addresses": "198.18.20.65 198.18.20.64/29"}, ACTOR, trunk)
    apply_pending(seeded)
    assert set(seeded.scalars(select(AOR.c.id).where(AOR.c.id.like("globex_%")))) == set()
    assert seeded.scalar(select(AOR.c.id).where(AOR.c.id == "trunk-GLOBEX-remote")) == "trunk-GLOBEX-remote"
    # a set: the rows come back in no defined order (SQLite varies), and Asterisk's identify treats them as one
    assert {r.match for r in seeded.execute(select(IDS).where(IDS.c.endpoint == "trunk-GLOBEX-remote"))} == {"198.18.20.65", "198.18.20.64/29"}
    assert drift(seeded) == []
