"""The one description of which rows each node reads, and the SQL generated from it, kept in step with the projection."""

from __future__ import annotations

import re

from app.models.realtime import PROJECTED_TABLES, REALTIME_TABLES, SCOPE_CLIENT, SCOPE_KIND, asterisk_columns
from app.projection import visibility as V


def test_every_projected_table_has_a_scoped_counterpart():
    assert set(V.SCOPED) == set(PROJECTED_TABLES)
    statements = V.create_statements()
    for table in PROJECTED_TABLES:
        view = [s for s in statements if f"VIEW `{V.SCOPED[table]}` AS" in s]
        assert len(view) == 1, f"{table} has no scoped view"
        listed = re.findall(r"t\.`(\w+)`", view[0].split(" FROM ")[0])
        assert listed == asterisk_columns(table)  # Asterisk's columns, in its order; never tl_kind / tl_client
        assert f"FROM `{table}` t " in view[0] and "SQL SECURITY DEFINER" in view[0]
        assert "SUBSTRING_INDEX(USER(), '@', 1)" in view[0] and "CURRENT_USER" not in view[0]
    assert ("SELECT", "cdr") not in V.grant_objects() and ("INSERT", "cdr") in V.grant_objects()
    assert sorted(o for p, o in V.grant_objects() if p == "SELECT") == sorted(V.SCOPED.values())


def test_projected_tables_carry_the_scope_columns():
    for table in PROJECTED_TABLES:
        assert {SCOPE_KIND, SCOPE_CLIENT} <= set(REALTIME_TABLES[table].columns.keys())
    assert "tl_node" in REALTIME_TABLES["cdr"].columns


def test_every_kind_is_read_by_some_role_and_roles_never_share_credentials():
    seen = {kind for kinds in V.SEES.values() for kind in kinds}
    assert seen == set(V.KINDS)
    assert V.CARRIER not in V.SEES["client"] and V.CLIENT_NODE not in V.SEES["client"]
    assert V.TRUNK not in V.SEES["carrier"]
    assert all(V.SEES["client"][k] == V.OWN for k in (V.TRUNK, V.NUMBER, V.E911))


def test_every_realtime_context_has_a_kind():
    from app.projection.names import REALTIME_CONTEXTS

    assert set(V.CONTEXT_KINDS) == set(REALTIME_CONTEXTS), "describe who reads the new context in visibility.CONTEXT_KINDS"
    assert set(V.CONTEXT_KINDS.values()) <= set(V.KINDS)


def test_the_condition_follows_the_description():
    condition = V.visibility_condition()
    assert "(a.role = 'client' AND (t.tl_kind IN ('carrier-node', 'route') OR (t.tl_kind IN ('e911', 'num', 'trunk') " \
           "AND t.tl_client = a.client)))" in condition
    assert "(a.role = 'carrier' AND (t.tl_kind IN ('carrier', 'client-node', 'num')))" in condition
