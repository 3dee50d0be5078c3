"""app.node_reconfig without a node: reading Asterisk .conf text and GetConfig answers, and the UpdateConfig
requests that turn one into the other (main/manager.c action_getconfig / handle_updates)."""

from __future__ import annotations

import pytest

from app.node_reconfig import ACTIONS_PER_REQUEST, NodeNeedsDeploy, from_getconfig, node_settings, parse_config, update_requests

RES_ODBC = """; generated; do not edit.
; comment with = sign
[trunkline]
enabled => yes
dsn => trunkline-r1
username => node_cl1
password => pw
max_connections => 2
connect_timeout => 1

[trunkline_2]
dsn => trunkline-p ; trailing comment
"""


def test_parse_config_categories_and_lines_in_order():
    assert parse_config(RES_ODBC) == [
        ("trunkline", [("enabled", "yes"), ("dsn", "trunkline-r1"), ("username", "node_cl1"), ("password", "pw"),
                       ("max_connections", "2"), ("connect_timeout", "1")]),
        ("trunkline_2", [("dsn", "trunkline-p")])]
    # '=' inside a value stays in the value; '=>' and '=' read alike; repeated names are kept in order.
    assert parse_config("[settings]\nreadsql = SELECT a FROM t WHERE c='x' AND p=1\nx => 1\nx = 2\n") == [
        ("settings", [("readsql", "SELECT a FROM t WHERE c='x' AND p=1"), ("x", "1"), ("x", "2")])]


def test_getconfig_answer_reads_like_the_file():
    answer = {"Response": "Success", "Category-000000": "trunkline", "Line-000000-000000": "enabled=yes",
              "Line-000000-000001": "dsn=trunkline-r1", "Line-000000-000002": "username=node_cl1",
              "Line-000000-000003": "password=pw", "Line-000000-000004": "max_connections=2",
              "Line-000000-000005": "connect_timeout=1", "Category-000001": "trunkline_2",
              "Line-000001-000000": "dsn=trunkline-p"}
    assert from_getconfig(answer) == parse_config(RES_ODBC)
    assert from_getconfig({"Response": "Success"}) == []


def test_update_requests_delete_then_write_in_bounded_requests():
    old = parse_config(RES_ODBC)
    new = [("trunkline", [(f"k{i}", str(i)) for i in range(40)]),
           ("trunkline_2", [("dsn", "trunkline-r2")])]
    reqs = update_requests("res_odbc.conf", old, new)
    actions = []
    # Built in the staging file: the file itself is read first and written last, once.
    assert len(reqs) == 2 and [(r["SrcFilename"], r["DstFilename"]) for r in reqs] == [
        ("res_odbc.conf", "trunkline-staging.conf"), ("trunkline-staging.conf", "res_odbc.conf")]
    small = update_requests("res_odbc.conf", old, [("trunkline_2", [("dsn", "trunkline-r2")])])
    assert [(r["SrcFilename"], r["DstFilename"]) for r in small] == [("res_odbc.conf", "res_odbc.conf")]
    for req in reqs:
        assert req["Action"] == "UpdateConfig"
        n = len([k for k in req if k.startswith("Action-")])
        assert n <= ACTIONS_PER_REQUEST and len(req) < 128  # AST_MAX_MANAGER_HEADERS
        for i in range(n):
            actions.append((req[f"Action-{i:06d}"], req[f"Cat-{i:06d}"], req.get(f"Var-{i:06d}"), req.get(f"Value-{i:06d}")))
    assert actions[:2] == [("DelCat", "trunkline", None, None), ("DelCat", "trunkline_2", None, None)]
    assert actions[2] == ("NewCat", "trunkline", None, None)
    assert actions[3:43] == [("Append", "trunkline", f"k{i}", str(i)) for i in range(40)]
    assert actions[43:] == [("NewCat", "trunkline_2", None, None), ("Append", "trunkline_2", "dsn", "trunkline-r2")]
    assert reqs[0]["Options-000000"] == reqs[0]["Options-000001"] == "ignoreerror"  # a category already gone is no error


def test_node_settings_keep_the_nodes_account_pool_and_timeout():
    s = node_settings(parse_config(RES_ODBC))
    assert (s.dsn, s.db_user, s.db_password, s.pool, s.db_timeout) == ("trunkline", "node_cl1", "pw", 2, 1)
    with pytest.raises(NodeNeedsDeploy, match="no connection"):
        node_settings([])
    with pytest.raises(NodeNeedsDeploy, match="not one `node render` wrote"):
        node_settings(parse_config("[trunkline]\nmax_connections => many\n"))
