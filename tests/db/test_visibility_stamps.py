"""The projection stamps every realtime row with whose it is (tl_kind, tl_client), on SQLite and MariaDB alike,
and the numbers fast path (CSV) stamps its tl-num rows the same way."""

from __future__ import annotations

from sqlalchemy import select

from app.models import Carrier, Node, Trunk
from app.models.realtime import PROJECTED_TABLES, REALTIME_TABLES
from app.projection import drift
from app.projection import visibility as V


def _rows(session, table):
    return [dict(r) for r in session.execute(select(REALTIME_TABLES[table])).mappings()]


def test_every_projected_row_has_its_kind_and_client(seeded):
    trunks = {t.endpoint_id: t for t in seeded.scalars(select(Trunk))}
    by_id = {t.id: t for t in trunks.values()}
    carriers = {c.endpoint_id for c in seeded.scalars(select(Carrier))}
    roles = {n.endpoint_id: n.role for n in seeded.scalars(select(Node))}

    def owner(endpoint):
        if endpoint in trunks:
            return V.TRUNK, trunks[endpoint].client.account_code
        if endpoint in carriers:
            return V.CARRIER, None
        return f"{roles[endpoint]}-node", None

    counted = 0
    for table in PROJECTED_TABLES:
        endpoints = {r["id"]: r for r in _rows(seeded, "ps_endpoints")}
        aor_owner = {r["aors"]: ep for ep, r in endpoints.items()}
        for row in _rows(seeded, table):
            counted += 1
            got = (row["tl_kind"], row["tl_client"])
            if table == "ps_endpoints":
                assert got == owner(row["id"]), row
            elif table == "ps_aors":
                assert got == owner(aor_owner[row["id"]]), row
            elif table == "ps_auths":
                assert got == owner(row["id"].removesuffix("-auth")), row
            elif table in ("ps_endpoint_id_ips", "ps_registrations"):
                assert got == owner(row["endpoint"]), row
            elif row["context"] == "tl-num":
                assert got == (V.NUMBER, row["appdata"].split("|")[1]), row
            elif row["context"] == "tl-e911":
                assert got == (V.E911, by_id[int(row["exten"].split("*")[0])].client.account_code), row
            else:
                assert got == (V.ROUTE, None), row
    assert counted > 30


def test_a_wrong_stamp_is_drift(seeded):
    t = REALTIME_TABLES["ps_auths"]
    seeded.execute(t.update().where(t.c.id == "trunk-ACME-branch-auth").values(tl_kind=V.CARRIER, tl_client=None))
    assert any(line.startswith("ps_auths trunk-ACME-branch-auth: differs: tl_kind='carrier' (expected 'trunk')")
               for line in drift(seeded))
