"""Round trips: every kind's export imports as it is, restores what was changed, and rebuilds a platform."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, update

from app.db import Base
from app.models import AuditEntry, Client, Trunk
from app.projection import apply_pending, drift
from app.services import carriers, clients, nodes, numbers, trunks
from app.services.audit import SYSTEM
from tests.db.csv_support import export_text, run_import, snapshot

KINDS = ["carriers", "nodes", "clients", "trunks", "numbers"]


@pytest.mark.parametrize("kind", KINDS)
def test_export_imports_as_it_is_and_changes_nothing(seeded, kind):
    before = snapshot(seeded)
    text = export_text(seeded, kind)
    assert text.startswith("\ufeff")  # Excel reads the file as UTF-8 only with the byte-order mark
    assert text.splitlines()[0].removeprefix("\ufeff").startswith({"carriers": "name,tier,auth,", "nodes": "name,role,public_ip,",
                                            "clients": "name,account_code,node,", "trunks": "client,name,auth,",
                                            "numbers": "number,carrier,client,trunk,"}[kind])
    result = run_import(seeded, kind, text)
    assert result.ok, result.errors
    assert (result.created, result.updated) == (0, 0)
    assert result.unchanged == len(text.splitlines()) - 1 > 0
    assert "nothing changed" in result.summary()
    assert snapshot(seeded) == before


# One change per kind, made through the service; importing the earlier export must undo it.
CHANGES = {
    "carriers": lambda s: carriers.save(s, {"priority": "99", "send_pai": "no", "signalling_addresses": "198.51.100.99"}, SYSTEM,
                                        carriers.get(s, "telus")),
    "nodes": lambda s: nodes.save(s, {"region": "Elsewhere", "sip_port": "5080"}, SYSTEM, nodes.get(s, "cn-ovh-bhs1")),
    "clients": lambda s: clients.save(s, {"max_channels": "3", "main_number": "2045551202"}, SYSTEM, clients.get(s, "ACME")),
    "trunks": lambda s: trunks.save(s, {"source_addresses": "198.18.10.6 198.18.10.7", "did_format": "e164", "codecs": "g722"},
                                    SYSTEM, trunks.get(s, "ACME", "main")),
    "numbers": lambda s: numbers.save(s, {"client": "GLOBEX", "trunk": "pbx", "e911_registered": "no", "e911_address": ""}, SYSTEM,
                                      numbers.get(s, "2045551202")),
}


@pytest.mark.parametrize("kind", KINDS)
def test_importing_an_export_restores_a_changed_object(seeded, kind):
    before = snapshot(seeded)
    text = export_text(seeded, kind)
    CHANGES[kind](seeded)
    apply_pending(seeded)
    assert snapshot(seeded) != before
    result = run_import(seeded, kind, text)
    assert result.ok, result.errors
    assert (result.created, result.updated) == (0, 1)
    assert snapshot(seeded) == before
    assert drift(seeded) == []


def _wipe(session) -> None:
    """Delete every row of every table (DML only; the test's transaction is rolled back)."""
    session.execute(update(Client).values(e911_number_id=None, main_number_id=None))
    session.execute(update(Trunk).values(e911_number_id=None))
    for table in reversed(Base.metadata.sorted_tables):
        if table.name != AuditEntry.__tablename__:
            session.execute(delete(table))
    session.expunge_all()


def test_exports_rebuild_the_whole_platform_on_an_empty_database(seeded):
    before = snapshot(seeded)
    exported = {kind: export_text(seeded, kind, with_secrets=True) for kind in KINDS}
    _wipe(seeded)
    assert snapshot(seeded)["numbers"].count("\n") == 1  # header only
    # Documented order; clients and trunks name E911/main numbers, so they come again after the numbers.
    first_pass = {"clients": ["e911_number", "main_number"], "trunks": ["e911_number"]}
    for kind in KINDS:
        text = exported[kind]
        if kind in first_pass:
            text = _without_columns(text, first_pass[kind])
        result = run_import(seeded, kind, text)
        assert result.ok, (kind, [str(e) for e in result.errors])
        assert result.created == len(text.splitlines()) - 1
    for kind in ("clients", "trunks"):
        result = run_import(seeded, kind, exported[kind])
        assert result.ok, [str(e) for e in result.errors]
        assert result.updated > 0
    after = snapshot(seeded)
    # Same objects, same values; the realtime rows carry the new database ids, so they are checked by drift.
    assert {k: v for k, v in after.items() if k != "realtime"} == {k: v for k, v in before.items() if k != "realtime"}
    assert drift(seeded) == []
    assert sum(len(rows) for rows in after["realtime"].values()) == sum(len(rows) for rows in before["realtime"].values())


def _without_columns(text: str, drop: list[str]) -> str:
    import csv
    import io

    rows = list(csv.reader(io.StringIO(text)))
    keep = [i for i, name in enumerate(rows[0]) if name not in drop]
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([[row[i] for i in keep] for row in rows])
    return out.getvalue()


def test_passwords_are_exported_only_on_request_and_round_trip_either_way(seeded):
    plain = export_text(seeded, "trunks")
    assert "password" not in plain.splitlines()[0]
    assert "Acme-Branch-Demo-Password-1" not in plain
    assert "Demo-Reseller-Secret-2026" not in export_text(seeded, "carriers")
    secret = export_text(seeded, "trunks", with_secrets=True)
    assert secret.splitlines()[0].endswith(",password")
    assert "Acme-Branch-Demo-Password-1" in secret
    assert "Demo-Reseller-Secret-2026" in export_text(seeded, "carriers", with_secrets=True)
    # Without the column the stored password is kept; with it, it is set.
    assert run_import(seeded, "trunks", plain).unchanged == 4
    changed = secret.replace("Acme-Branch-Demo-Password-1", "Another-Long-Password-2026")
    assert run_import(seeded, "trunks", changed).updated == 1
    assert trunks.get(seeded, "ACME", "branch").password == "Another-Long-Password-2026"
    assert drift(seeded) == []
