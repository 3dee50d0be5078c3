"""`db promote` on a real GTID cluster on loopback (a primary and two replicas, scripts/db_loopback.py):
refused while the primary answers and while the candidate has not applied what it received; then the
replica becomes a writable primary, the other replica follows it, and the roles are recorded."""

from __future__ import annotations

import signal
import time

import pytest

from tests.e2e.dbcluster import IN_CI, available, flask, loopback, loopback_net


@pytest.fixture
def cluster(tmp_path):
    reason = available()
    if reason:
        if IN_CI:
            pytest.fail(f"loopback MariaDB cluster required when CI=true: {reason}", pytrace=False)
        pytest.skip(reason)
    net = loopback_net()
    servers = loopback.start_cluster(str(tmp_path / "dbs"), [("p", f"{net}.1", 3306), ("r1", f"{net}.2", 3306),
                                                             ("r2", f"{net}.3", 3306)])
    yield servers
    for inst in servers:
        loopback.stop(inst, signal.SIGKILL)


def _url(inst):
    return f"mysql+mysqldb://root@{inst.host}:{inst.port}/trunkline"


def test_promote_refuses_then_promotes_and_repoints(cluster):
    p, r1, r2 = cluster
    p.sql("CREATE DATABASE trunkline CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
    assert flask(_url(p), "schema", "upgrade").returncode == 0
    for inst, role, provider in ((p, "primary", "OVHcloud"), (r1, "replica", "Vultr"), (r2, "replica", "Vultr")):
        done = flask(_url(p), "db", "server", "add", inst.name, "--host", inst.host, "--port", str(inst.port),
                     "--role", role, "--hosting-provider", provider)
        assert done.returncode == 0, done.stderr
    loopback.wait_caught_up(r1, p)
    loopback.wait_caught_up(r2, p)

    # 1. The primary still answers: refused, nothing changed.
    done = flask(_url(p), "db", "promote", "r1")
    assert done.returncode == 1
    assert "the primary p" in done.stderr and "still answers" in done.stderr and "nothing was changed" in done.stderr
    assert r1.sql("SELECT @@read_only AS ro")[0]["ro"] == 1

    # 2. r1 received a transaction it has not applied (its SQL thread stopped), then the primary dies.
    r1.sql("STOP SLAVE SQL_THREAD")
    p.sql("INSERT INTO trunkline.audit_log (at, actor, channel, action, entity, entity_key) "
          "VALUES (NOW(), 'test', 'cli', 'create', 'probe', 'last-write')")
    want = p.sql("SELECT @@GLOBAL.gtid_binlog_pos AS p")[0]["p"]
    deadline = time.monotonic() + 20
    while r1.sql("SHOW SLAVE STATUS")[0]["Gtid_IO_Pos"] != want:
        assert time.monotonic() < deadline, "r1 never received the last transaction"
        time.sleep(0.2)
    loopback.wait_caught_up(r2, p)
    loopback.stop(p, signal.SIGKILL)
    done = flask(_url(p), "db", "promote", "r1", "--at", f"{r1.host}:{r1.port}", "--wait", "1")
    assert done.returncode == 1, done.stdout
    assert f"r1 has received transactions up to {want} but applied only" in done.stderr
    assert "SQL thread running: No" in done.stderr and "Traceback" not in done.stderr

    # 3. Once it has applied everything, the promotion goes through (the old primary is gone).
    r1.sql("START SLAVE SQL_THREAD")
    done = flask(_url(p), "db", "promote", "r1", "--at", f"{r1.host}:{r1.port}")
    assert done.returncode == 0, done.stderr
    assert "r1 is the primary" in done.stdout and "repointed replica r2 to r1" in done.stdout
    assert r1.sql("SELECT @@read_only AS ro")[0]["ro"] == 0 and r1.sql("SHOW SLAVE STATUS") == []
    status = r2.sql("SHOW SLAVE STATUS")[0]
    assert (status["Master_Host"], status["Master_Port"]) == (r1.host, r1.port)

    # The roles are recorded on the new primary, replicated to r2, and a new write on r1 reaches r2.
    listed = flask(_url(r1), "db", "server", "list", "--json")
    roles = {s["name"]: s["role"] for s in __import__("json").loads(listed.stdout)}
    assert roles == {"p": "replica", "r1": "primary", "r2": "replica"}
    r1.sql("INSERT INTO trunkline.audit_log (at, actor, channel, action, entity, entity_key) "
           "VALUES (NOW(), 'test', 'cli', 'create', 'probe', 'after-promotion')")
    loopback.wait_caught_up(r2, r1)
    rows = r2.sql("SELECT entity_key FROM trunkline.audit_log WHERE entity IN ('probe', 'db_server') ORDER BY id")
    keys = [r["entity_key"] for r in rows]
    assert "last-write" in keys and keys[-1] == "after-promotion" and keys.count("r1") >= 2


def test_push_waits_for_the_replica_a_node_reads(tmp_path):
    """app.replica_wait on a real primary + replica: the commit's position is found on the primary, the node's first
    server is its local replica, and waiting succeeds once the replica applied it, fails (False) while it cannot."""
    reason = available()
    if reason:
        if IN_CI:
            pytest.fail(f"loopback MariaDB cluster required when CI=true: {reason}", pytrace=False)
        pytest.skip(reason)
    from types import SimpleNamespace

    from sqlalchemy import create_engine

    from app import replica_wait
    from app.models import DbServer

    net = loopback_net()
    p, r = loopback.start_cluster(str(tmp_path / "dbs"), [("p", f"{net}.1", 3306), ("r", f"{net}.2", 3306)])
    try:
        p.sql("CREATE DATABASE trunkline")
        assert flask(_url(p), "schema", "upgrade").returncode == 0
        for inst, role in ((p, "primary"), (r, "replica")):
            assert flask(_url(p), "db", "server", "add", inst.name, "--host", inst.host, "--port", "3306", "--role", role,
                         "--hosting-provider", "OVHcloud").returncode == 0
        engine = create_engine(_url(p))
        node = SimpleNamespace(id=1, name="cl-1", hosting_provider="OVHcloud")
        loopback.wait_caught_up(r, p)
        reads = replica_wait.read_servers(engine, [node])
        assert isinstance(reads["cl-1"], DbServer) and reads["cl-1"].name == "r"
        r.sql("STOP SLAVE SQL_THREAD")
        p.sql("INSERT INTO trunkline.audit_log (at, actor, channel, action, entity) VALUES (NOW(), 't', 'cli', 'x', 'probe')")
        position = replica_wait.commit_position(engine)
        assert position and replica_wait.wait_applied(engine, reads["cl-1"], position, timeout=1) is False
        r.sql("START SLAVE SQL_THREAD")
        assert replica_wait.wait_applied(engine, reads["cl-1"], position, timeout=10) is True
        engine.dispose()
    finally:
        for inst in (p, r):
            loopback.stop(inst, signal.SIGKILL)
