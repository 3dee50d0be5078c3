"""Database servers as data: the service's rules (one primary, roles only by promotion), the CLI, the read order
nodes follow and the connection budget, on SQLite and MariaDB."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from app.dbtopology import RESERVE, fleet_budget, fleet_warnings, read_order
from app.errors import Conflict, NotFound, ValidationError
from app.models import AuditEntry, DbServer, Node
from app.services import db_servers, nodes
from app.services.audit import Actor

ACTOR = Actor("alice@example.com", "cli")


def add(session, name, host, role, provider, port=3306, **extra):
    server, _ = db_servers.save(session, {"name": name, "host": host, "port": port, "role": role,
                                          "hosting_provider": provider, **extra}, ACTOR)
    return server


@pytest.fixture
def topology(session):
    add(session, "db-primary", "10.0.0.10", "primary", "OVHcloud")
    add(session, "db-ovh-r1", "10.0.0.11", "replica", "OVHcloud")
    add(session, "db-vultr-r1", "10.1.0.11", "replica", "Vultr")
    add(session, "db-vultr-r2", "db2.vultr.example.net", "replica", "Vultr", port=3307)
    return session


def test_every_bad_field_is_named(session):
    with pytest.raises(ValidationError) as err:
        db_servers.save(session, {"name": "Bad Name", "host": "db 1!.example", "port": "70000", "role": "master",
                                  "max_connections": "lots"}, ACTOR)
    errors = err.value.errors
    assert set(errors) == {"name", "host", "port", "role", "hosting_provider", "max_connections"}
    assert errors["role"] == ["'master' is not one of: primary, replica"]
    assert errors["port"] == ["70000 is out of range (1 to 65535)"]


def test_one_primary_and_unique_address(topology):
    with pytest.raises(ValidationError) as err:
        add(topology, "db-other", "10.0.0.11", "primary", "Vultr")
    assert err.value.errors["role"] == [
        "db-primary is already the primary: add this server as a replica, then promote it (db promote)"]
    assert err.value.errors["host"] == ["database server db-ovh-r1 already is 10.0.0.11:3306"]


def test_the_database_refuses_a_second_primary_too(topology):
    replica = db_servers.get(topology, "db-ovh-r1")
    with pytest.raises(IntegrityError), topology.begin_nested():
        topology.execute(update(DbServer).where(DbServer.id == replica.id).values(role="primary", primary_flag=True))


def test_roles_change_only_by_promotion(topology):
    with pytest.raises(ValidationError) as err:
        db_servers.save(topology, {"role": "primary"}, ACTOR, db_servers.get(topology, "db-ovh-r1"))
    assert "roles change only by promoting a replica" in err.value.errors["role"][0]


def test_remove_exact_name_and_never_the_primary_while_replicas_remain(topology):
    with pytest.raises(NotFound, match="no database server db-ovh"):
        db_servers.get(topology, "db-ovh")
    with pytest.raises(NotFound, match="no database server DB-OVH-R1"):
        db_servers.get(topology, "DB-OVH-R1")  # MariaDB's collation would have matched it
    with pytest.raises(Conflict, match="db-primary is the primary: promote a replica first"):
        db_servers.delete(topology, db_servers.get(topology, "db-primary"), ACTOR)
    db_servers.delete(topology, db_servers.get(topology, "db-ovh-r1"), ACTOR)
    assert [s.name for s in db_servers.all_servers(topology)] == ["db-primary", "db-vultr-r1", "db-vultr-r2"]
    actions = [(a.action, a.entity_key) for a in topology.scalars(select(AuditEntry).where(AuditEntry.entity == "db_server"))]
    assert ("delete", "db-ovh-r1") in actions and ("create", "db-primary") in actions


def test_set_primary_swaps_roles_and_audits(topology):
    db_servers.set_primary(topology, db_servers.get(topology, "db-vultr-r1"), ACTOR)
    topology.flush()
    assert {s.name: s.role for s in db_servers.all_servers(topology)} == {
        "db-vultr-r1": "primary", "db-primary": "replica", "db-ovh-r1": "replica", "db-vultr-r2": "replica"}
    updates = topology.scalars(select(AuditEntry).where(AuditEntry.entity == "db_server", AuditEntry.action == "update"))
    assert {(a.entity_key, json.loads(a.after)["role"]) for a in updates} == {("db-primary", "replica"), ("db-vultr-r1", "primary")}


def test_read_order_local_replica_then_other_replicas_then_primary(topology):
    servers = db_servers.all_servers(topology)
    assert [s.name for s in read_order(servers, "OVHcloud", 0)] == ["db-ovh-r1", "db-vultr-r1", "db-vultr-r2", "db-primary"]
    assert [s.name for s in read_order(servers, "Vultr", 0)] == ["db-vultr-r1", "db-vultr-r2", "db-ovh-r1", "db-primary"]
    # Two Vultr nodes start on different local replicas: the load is spread.
    assert [s.name for s in read_order(servers, "Vultr", 1)] == ["db-vultr-r2", "db-vultr-r1", "db-ovh-r1", "db-primary"]
    assert [s.name for s in read_order(servers, "Hetzner", 0)][-1] == "db-primary"
    # A provider typed in another case (or with spaces) is the same provider.
    assert [s.name for s in read_order(servers, " vultr ", 0)] == ["db-vultr-r1", "db-vultr-r2", "db-ovh-r1", "db-primary"]


def test_func_odbc_reads_at_most_five_servers_and_always_the_primary():
    from app.nodeconf import func_odbc_handles

    assert func_odbc_handles(["r1", "r2", "p"]) == ["r1", "r2", "p"]
    assert func_odbc_handles(["r1", "r2", "r3", "r4", "p"]) == ["r1", "r2", "r3", "r4", "p"]
    assert func_odbc_handles(["r1", "r2", "r3", "r4", "r5", "p"]) == ["r1", "r2", "r3", "r4", "p"]


def test_budget_warns_when_the_fleet_pools_exceed_a_server(topology):
    for i in range(5):
        nodes.save(topology, {"name": f"cl-{i}", "role": "client", "public_ip": f"198.51.100.{i + 10}",
                              "hosting_provider": "OVHcloud"}, ACTOR)
    live = len(topology.scalars(select(Node).where(Node.state.in_(("active", "draining")))).all())
    loads = {load.server.name: load for load in fleet_budget(topology, lambda node: 10)}
    assert loads["db-primary"].worst_case == 10 * live and loads["db-primary"].first_choice == 0
    assert sum(load.first_choice for load in loads.values()) == 10 * live
    assert live == 5 and fleet_warnings(topology, lambda node: 10) == []
    small = db_servers.get(topology, "db-vultr-r2")
    db_servers.save(topology, {"max_connections": str(RESERVE + 10 * live - 1)}, ACTOR, small)
    warnings = fleet_warnings(topology, lambda node: 10)
    assert len(warnings) == 1 and warnings[0].startswith(f"database server db-vultr-r2: the pools of the {live} nodes")


@pytest.fixture
def run(app, session):
    runner = app.test_cli_runner()
    return lambda *args: runner.invoke(args=list(args))


def test_cli_add_list_json_remove(run):
    result = run("db", "server", "add", "main", "--host", "10.9.0.1", "--port", "3306", "--role", "primary",
                 "--hosting-provider", "OVHcloud")
    assert result.exit_code == 0, result.output
    assert result.stdout == "added primary main (10.9.0.1:3306, OVHcloud)\n"
    assert "next: render and deploy every node again" in result.stderr
    assert run("db", "server", "add", "r1", "--host", "10.9.0.2", "--port", "3307", "--role", "replica",
               "--hosting-provider", "Vultr", "--max-connections", "500").exit_code == 0
    listed = json.loads(run("db", "server", "list", "--json").output)
    assert listed == [
        {"name": "main", "host": "10.9.0.1", "port": 3306, "role": "primary", "hosting_provider": "OVHcloud", "max_connections": 151},
        {"name": "r1", "host": "10.9.0.2", "port": 3307, "role": "replica", "hosting_provider": "Vultr", "max_connections": 500}]
    text = run("db", "server", "list").output
    assert "r1" in text and "10.9.0.2:3307" in text
    result = run("db", "server", "remove", "r")
    assert result.exit_code == 1 and result.output == "Error: no database server r\n"
    result = run("db", "server", "remove", "r1")
    assert result.stdout == "removed r1\n" and "next: flask --app wsgi db push-nodes" in result.stderr
    assert result.exit_code == 0 and [s["name"] for s in json.loads(run("db", "server", "list", "--json").output)] == ["main"]


def test_cli_errors_are_one_line(run):
    result = run("db", "server", "add", "x", "--host", "not a host", "--port", "0", "--role", "replica",
                 "--hosting-provider", "OVH")
    assert result.exit_code == 1
    assert result.output.count("\n") == 1 and result.output.startswith("Error: host: 'not a host' is neither")
    assert "port: 0 is out of range" in result.output
    result = run("db", "promote", "x")
    assert result.exit_code == 1 and "Traceback" not in result.output


def test_promote_at_an_address_that_is_not_a_server_names_it(run, backend, app, session, monkeypatch):
    import socket

    url = session.get_bind().engine.url.render_as_string(hide_password=False)
    monkeypatch.setitem(app.config, "DATABASE_URL", url)  # the test app's engine is bound apart from its setting

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    bad_port = run("db", "promote", "r1", "--at", "127.0.0.1:99999")
    nothing = run("db", "promote", "r1", "--at", f"127.0.0.1:{closed}")
    negative = run("db", "promote", "r1", "--at", f"127.0.0.1:{closed}", "--wait", "-1")
    assert negative.exit_code == 2 and "-1" in negative.output  # click's range check
    if backend == "sqlite":
        assert bad_port.exit_code == 1 and "promotion needs MariaDB" in bad_port.output
        return
    assert bad_port.exit_code == 1 and bad_port.output == "Error: --at 127.0.0.1:99999: 99999 is not a port (1-65535)\n"
    assert nothing.exit_code == 1 and f"nothing answers as a database server at --at 127.0.0.1:{closed}" in nothing.output
    assert "primary database is unreachable" not in nothing.output
