"""`node render` writes the read order: one DSN per database server with timeouts, realtime families with
failover priorities, func_odbc read handles, CDRs to the primary plus a local spool, caches that never expire by
age, and warnings when the fleet's pools exceed a server's max_connections."""

from __future__ import annotations

import re

import pytest
from flask import Flask

from app.cli import node as node_cli
from app.nodeconf import NodeSettings, node_pool, render_node, render_warnings
from app.services import db_servers, nodes
from app.services.audit import Actor
from tests.db.test_node_render import node_password  # noqa: F401 - the node account's password file (fixture)

ACTOR = Actor("test", "cli")
SETTINGS = dict(db_host="10.9.8.7", db_port=3307, db_name="tl", db_user="ast", db_password="s3cret")


@pytest.fixture
def topology(seeded):
    for name, host, role, provider in (("db-primary", "10.0.0.10", "primary", "OVHcloud"),
                                       ("db-ovh-r1", "10.0.0.11", "replica", "OVHcloud"),
                                       ("db-vultr-r1", "10.1.0.11", "replica", "Vultr")):
        db_servers.save(seeded, {"name": name, "host": host, "role": role, "hosting_provider": provider}, ACTOR)
    return seeded


def render(session, name, **extra):
    return render_node(session, name, NodeSettings(**SETTINGS, **extra))


def test_without_servers_one_dsn_as_before_with_timeouts(seeded):
    files = render(seeded, "cl-ovh-bhs7")
    assert re.findall(r"^\[(\S+)\]$", files["res_odbc.conf"], re.M) == ["trunkline"]
    ini = files["odbc.ini"]
    assert "Server = 10.9.8.7" in ini and "Port = 3307" in ini
    assert "CONN_TIMEOUT = 1" in ini and "READ_TIMEOUT = 1" in ini and "WRITE_TIMEOUT = 1" in ini
    assert "ps_endpoints => odbc,trunkline,node_ps_endpoints,1" in files["extconfig.conf"]
    assert "readhandle = trunkline\n" in files["func_odbc.conf"]
    assert "connection = trunkline\n" in files["cdr_adaptive_odbc.conf"]


def test_read_order_local_replica_other_replicas_primary(topology):
    files = render(topology, "cl-ovh-bhs7", db_timeout=3)  # an OVHcloud node
    res = files["res_odbc.conf"]
    assert re.findall(r"^\[(\S+)\]$", res, re.M) == ["trunkline", "trunkline_2", "trunkline_3"]
    servers = re.findall(r"^Server = (\S+)$", files["odbc.ini"], re.M)
    assert servers == ["10.0.0.11", "10.1.0.11", "10.0.0.10"]
    # Connections by position, DSNs by server: a promotion reorders the first, never renames the second.
    assert re.findall(r"^dsn => (\S+)$", res, re.M) == ["trunkline-db-ovh-r1", "trunkline-db-vultr-r1", "trunkline-db-primary"]
    assert re.findall(r"^\[(\S+)\]$", files["odbc.ini"], re.M) == ["trunkline-db-ovh-r1", "trunkline-db-vultr-r1", "trunkline-db-primary"]
    assert files["odbc.ini"].count("READ_TIMEOUT = 3") == 3 and "connect_timeout => 3" in res
    ext = files["extconfig.conf"]
    assert re.findall(r"^extensions => (\S+)$", ext, re.M) == [
        "odbc,trunkline,node_extensions,1", "odbc,trunkline_2,node_extensions,2", "odbc,trunkline_3,node_extensions,3"]
    assert ext.count("ps_endpoint_id_ips => odbc,") == 3
    assert "readhandle = trunkline,trunkline_2,trunkline_3\n" in files["func_odbc.conf"]
    # CDRs go to the primary (the third DSN); every CDR is also spooled locally as JSON.
    assert "connection = trunkline_3\n" in files["cdr_adaptive_odbc.conf"]
    assert "format = json" in files["cdr_custom.conf"] and "call_id(uservar)" in files["cdr_custom.conf"]
    assert "noload => cdr_custom.so" not in files["modules.conf"]
    vultr = render(topology, "cl-vultr-tor3")
    assert re.findall(r"^Server = (\S+)$", vultr["odbc.ini"], re.M) == ["10.1.0.11", "10.0.0.11", "10.0.0.10"]


def test_pools_sized_per_node_and_caches_never_expire_by_age(topology):
    files = render(topology, "cl-ovh-bhs7")
    pool = node_pool(nodes.get(topology, "cl-ovh-bhs7"), topology)
    assert re.findall(r"^max_connections => (\d+)$", files["res_odbc.conf"], re.M) == [str(pool)] * 3
    sorcery = files["sorcery.conf"]
    assert sorcery.count("object_lifetime_stale=0,object_lifetime_maximum=0,expire_on_reload=no") == 4


def test_warning_when_the_fleet_pools_exceed_a_server(topology, tmp_path, node_password):  # noqa: F811
    assert render_warnings(topology, NodeSettings(**SETTINGS)) == []
    small = db_servers.get(topology, "db-vultr-r1")
    db_servers.save(topology, {"max_connections": "20"}, ACTOR, small)
    warnings = render_warnings(topology, NodeSettings(**SETTINGS))
    assert len(warnings) == 1 and warnings[0].startswith("database server db-vultr-r1: the pools of the")
    app = Flask("render-warn")
    app.config["DATABASE_URL"] = "sqlite:///unused.db"
    node_cli.register(app)
    result = app.test_cli_runner().invoke(args=["node", "render", "cl-ovh-bhs7", "--out", str(tmp_path / "out"),
                                                                "--db-url", "mysql+mysqldb://a:b@10.0.0.10/tl", "--admin-net", "10.9.0.0/16",
                                                                "--db-password-file", str(node_password)])
    assert result.exit_code == 0, result.output
    assert "warning: database server db-vultr-r1" in result.stderr


def test_lookup_failure_is_503_and_911_data_is_kept_locally(topology):
    from app.e911 import resolve_e911
    from app.models import Trunk

    ext = render(topology, "cl-ovh-bhs7", rendered_at=__import__("datetime").datetime(2026, 11, 30, 17, 0, 0))["extensions.conf"]
    lookup = ext[ext.index("[tl-lookup]"):ext.index("[tl-e164]")]
    assert 'GotoIf($["${ODBCROWS}" = "-1" | "${ODBCROWS}" = ""]?down)' in lookup and "Goto(tl-end,unavailable,1)" in lookup
    assert "Log(ERROR,no database server answered" in lookup
    assert "TL_LOCAL_AS_OF = 2026-11-30T17:00:00Z" in ext
    assert "exten => 911,1,Set(TL_EMERGENCY=1)" in ext
    # Every E911 row of ACME's trunks is in the local copy, with the value resolve_e911 gives now.
    local = ext[ext.index("[tl-local-tl-e911]"):ext.index("[tl-local-tl-route]")]
    acme_trunks = topology.query(Trunk).filter(Trunk.client.has(account_code="ACME")).all()
    for trunk in acme_trunks:
        assert f"exten => {trunk.id}*default,1,Return(" in local
        answer = resolve_e911(topology, trunk, None)
        assert f"|{answer.number}|carrier-{answer.carrier.name}|{answer.sent}|" in local
    other = topology.query(Trunk).filter(~Trunk.client.has(account_code="ACME")).first()
    assert f"exten => {other.id}*default" not in local  # another client's rows stay out
    assert "exten => nodes,1,Return(" in ext[ext.index("[tl-local-tl-route]"):]


def test_node_page_state_of_the_local_copy(topology, tmp_path, node_password):  # noqa: F811
    from app.nodeconf import local_copy_state
    from app.services import clients

    node = nodes.get(topology, "cl-ovh-bhs7")
    assert local_copy_state(topology, node)["rendered_at"] is None
    app = Flask("render-local")
    app.config["DATABASE_URL"] = "sqlite:///unused.db"
    node_cli.register(app)
    result = app.test_cli_runner().invoke(args=["node", "render", "cl-ovh-bhs7", "--out", str(tmp_path / "o"),
                                                "--db-url", "mysql+mysqldb://a:b@10.0.0.10/tl", "--admin-net", "10.9.0.0/16",
                                                                "--db-password-file", str(node_password)])
    assert result.exit_code == 0, result.output
    state = local_copy_state(topology, node)
    assert state["rendered_at"] is not None and state["current"] and state["rows"] > 0
    # ACME's default E911 number changes: the node's copy is now out of date until the next render.
    acme = clients.get(topology, "ACME")
    clients.save(topology, {"e911_number": "204-555-1203"}, ACTOR, acme)
    from app.projection import apply_pending

    apply_pending(topology)
    assert local_copy_state(topology, node)["current"] is False


def test_a_trunk_change_puts_the_local_realtime_copy_out_of_date(topology, tmp_path, node_password):  # noqa: F811
    """The node page's "as of" covers the pjsip rows of the local realtime copy too: a trunk deleted since the
    render would be accepted again by the node while no database answers, so the copy shows out of date."""
    from datetime import datetime

    from app.models import Client, Trunk
    from app.nodeconf import local_copy, local_copy_state, record_local_copy
    from app.projection import apply_pending
    from app.services import trunks

    node = nodes.get(topology, "cl-ovh-bhs7")
    record_local_copy(topology, node, local_copy(topology, node), datetime(2026, 11, 30, 17, 0))
    assert local_copy_state(topology, node)["current"]
    trunk = topology.query(Trunk).join(Trunk.client).filter(Client.account_code == "ACME").order_by(Trunk.id).first()
    trunks.delete(topology, trunk, ACTOR, release_numbers=True)
    apply_pending(topology)
    assert local_copy_state(topology, node)["current"] is False
