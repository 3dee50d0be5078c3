"""Key domain rules are mirrored by database constraints: raw SQL that breaks them is refused."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, OperationalError

from app.services import clients, numbers, trunks

REFUSED = (IntegrityError, OperationalError)


def _fails(session, sql, **params):
    with pytest.raises(REFUSED), session.begin_nested():
        session.execute(text(sql), params)


def test_trunk_e911_number_must_be_a_number_of_its_client(seeded):
    other = numbers.get(seeded, "4165552301").id  # GLOBEX's
    t = trunks.get(seeded, "ACME", "main").id
    _fails(seeded, "UPDATE trunks SET e911_number_id = :n WHERE id = :t", n=other, t=t)


def test_client_e911_and_main_numbers_must_be_its_own(seeded):
    other = numbers.get(seeded, "4165552301").id
    acme = clients.get(seeded, "ACME").id
    _fails(seeded, "UPDATE clients SET e911_number_id = :n WHERE id = :c", n=other, c=acme)
    _fails(seeded, "UPDATE clients SET main_number_id = :n WHERE id = :c", n=other, c=acme)


def test_number_can_only_ring_a_trunk_of_its_client(seeded):
    globex_trunk = trunks.get(seeded, "GLOBEX", "pbx").id
    _fails(seeded, "UPDATE phone_numbers SET trunk_id = :t WHERE e164 = '+12045551204'", t=globex_trunk)


def test_number_is_stored_once_and_as_e164(seeded):
    carrier = numbers.get(seeded, "2045551201").carrier_id
    _fails(seeded, "INSERT INTO phone_numbers (e164, carrier_id, e911_registered, port_status) VALUES ('+12045551201', :c, 0, 'active')",
           c=carrier)
    _fails(seeded, "INSERT INTO phone_numbers (e164, carrier_id, e911_registered, port_status) VALUES ('2045557777', :c, 0, 'active')",
           c=carrier)


def test_one_client_per_node(seeded):
    globex_node = clients.get(seeded, "GLOBEX").node_id
    _fails(seeded, "UPDATE clients SET node_id = :n WHERE account_code = 'ACME'", n=globex_node)


def test_same_source_network_twice_on_one_node_is_refused(seeded):
    t = trunks.get(seeded, "ACME", "main")
    branch = trunks.get(seeded, "ACME", "branch")
    _fails(seeded, "INSERT INTO trunk_addresses (trunk_id, node_id, network) VALUES (:t, :n, '198.18.10.5')",
           t=branch.id, n=t.client.node_id)


def test_e911_registration_needs_a_client(seeded):
    _fails(seeded, "UPDATE phone_numbers SET e911_registered = 1 WHERE e164 = '+16045553403'")


def test_carrier_privacy_mode_is_one_the_nodes_know(seeded):
    """CHECK (privacy_mode IN ('pai', 'rpid')), added by migration 0003a; existing carriers default to pai."""
    assert seeded.execute(text("SELECT DISTINCT privacy_mode FROM carriers")).scalars().all() == ["pai"]
    _fails(seeded, "UPDATE carriers SET privacy_mode = 'isup' WHERE name = 'telus'")
    seeded.execute(text("UPDATE carriers SET privacy_mode = 'rpid' WHERE name = 'telus'"))
