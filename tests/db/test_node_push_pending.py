"""The durable list of cache expiries nodes have still to be told (node_push_pending), on a real MariaDB.

Written in the same transaction as the change, so nothing a commit changed is forgotten when the process that made
it goes away; a node that does not answer keeps its rows with the failure; the CLI lists them and retries once.
"""

from __future__ import annotations

import json
import socket

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session as OrmSession

from app import node_push
from app.db import make_engine
from app.migrations import upgrade
from app.models import Node, NodePushPending
from app.services import nodes
from app.services.audit import Actor
from tests.conftest import scratch_mariadb

ACTOR = Actor("t", "cli")
pytestmark = pytest.mark.mariadb


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # nothing listens once the socket is closed: connection refused at once


@pytest.fixture
def pushed(monkeypatch):
    """A migrated scratch MariaDB with two live client nodes and a retired one; pushes go to a closed AMI port."""
    monkeypatch.setenv("TRUNKLINE_AMI_SECRET", "s3cret")
    monkeypatch.setenv("TRUNKLINE_AMI_PORT", str(_closed_port()))
    node_push.retry_paused.set()  # this process's background retrier must not race the assertions
    with scratch_mariadb("tl_push") as url:
        upgrade(url)
        engine = make_engine(url)
        with OrmSession(engine) as session:
            for name, ip in (("cl-p1", "127.0.0.1"), ("cl-p2", "127.0.0.2"), ("cl-gone", "127.0.0.4")):
                nodes.save(session, {"name": name, "role": "client", "public_ip": ip, "hosting_provider": "Vultr"}, ACTOR)
            session.commit()
            gone = nodes.get(session, "cl-gone")
            nodes.save(session, {"state": "retired"}, ACTOR, gone)
            session.commit()
        node_push.wait()
        try:
            yield url, engine
        finally:
            node_push.wait()
            engine.dispose()
            node_push.retry_paused.clear()


def _rows(engine) -> list[NodePushPending]:
    with OrmSession(engine) as session:
        return list(session.scalars(select(NodePushPending).order_by(NodePushPending.id)))


def test_each_commit_records_one_row_per_live_node_and_a_failed_push_marks_it(pushed):
    _url, engine = pushed
    with OrmSession(engine) as session:
        session.execute(NodePushPending.__table__.delete())
        session.commit()
        session.add(Node(name="cl-p3", role="client", public_ip="127.0.0.3", sip_port=5060, hosting_provider="Vultr",
                         state="active"))  # a live node with no endpoint change of its own
        session.commit()
        node = nodes.get(session, "cl-p1")
        nodes.save(session, {"sip_port": 5070}, ACTOR, node)  # rewrites the node's endpoint on the other nodes
        session.commit()
    node_push.wait()
    rows = _rows(engine)
    with OrmSession(engine) as session:
        names = {i: n for i, n in session.execute(select(Node.id, Node.name))}
    assert sorted(names[r.node_id] for r in rows) == ["cl-p1", "cl-p2", "cl-p3"]  # the retired node is told nothing
    assert len({r.batch for r in rows}) == 1
    objects = node_push.decode_objects(rows[0].objects)
    assert any("cl-p1" in oid for ids in objects.values() for oid in ids), objects
    # The push right after the commit found no AMI (connection refused): the rows say so.
    assert all(r.attempts == 1 and r.last_error and r.last_attempt_at for r in rows), [(r.attempts, r.last_error) for r in rows]
    assert node_push.pending_nodes(engine) == ["cl-p1", "cl-p2", "cl-p3"]


def test_a_rolled_back_change_records_nothing(pushed):
    _url, engine = pushed
    before = len(_rows(engine))
    with OrmSession(engine) as session:
        nodes.save(session, {"sip_port": 5080}, ACTOR, nodes.get(session, "cl-p2"))
        session.flush()
        from app.projection import apply_pending

        apply_pending(session)
        session.rollback()
    node_push.wait()
    assert len(_rows(engine)) == before


def test_retry_keeps_the_rows_of_a_node_that_does_not_answer_and_counts_the_attempt(pushed):
    _url, engine = pushed
    rows = _rows(engine)
    assert rows
    secret, port = node_push.ami_settings()
    results = node_push.retry_pending(engine, secret, port, ["cl-p1"])
    assert [(r["node"], r["told"]) for r in results] == [("cl-p1", False)]
    assert "refused" in results[0]["error"].lower() or "errno" in results[0]["error"].lower(), results
    after = {r.id: r for r in _rows(engine)}
    cl_p1 = next(n for n, e in node_push.pending(OrmSession(engine)).items() if e["node"] == "cl-p1")
    assert all(after[r.id].attempts == r.attempts + 1 for r in rows if r.node_id == cl_p1)
    assert all(after[r.id].attempts == r.attempts for r in rows if r.node_id != cl_p1)  # only the node asked for


def test_many_objects_become_all():
    many = {"endpoint": {f"e{i}" for i in range(node_push.MAX_IDS + 1)}}
    assert node_push.encode_objects(many) == "all"
    assert node_push.decode_objects("all") == {"all": {"*"}}
    few = {"endpoint": {"b", "a"}, "identify": {"x"}}
    assert json.loads(node_push.encode_objects(few)) == {"endpoint": ["a", "b"], "identify": ["*"]}


def test_cli_lists_and_retries_with_one_line_per_node(pushed, monkeypatch):
    url, engine = pushed
    from app import create_app

    monkeypatch.setenv("DATABASE_URL", url)
    app = create_app({"DATABASE_URL": url})
    runner = app.test_cli_runner()
    listed = runner.invoke(args=["node", "push-pending", "--json"])
    assert listed.exit_code == 0, listed.output
    got = {e["node"]: e for e in json.loads(listed.output)}
    assert set(got) == {"cl-p1", "cl-p2"} and got["cl-p1"]["changes"] >= 1 and got["cl-p1"]["attempts"] >= 1
    text = runner.invoke(args=["node", "push-pending"])
    assert "change(s) not yet on this node since" in text.output
    retried = runner.invoke(args=["node", "push-retry", "cl-p2"])
    assert retried.exit_code == 1 and "cl-p2: not told (" in retried.output and "Traceback" not in retried.output
    with OrmSession(engine) as session:
        assert session.scalar(select(func.count()).select_from(NodePushPending)) >= 2
    app.extensions["trunkline_engine"].dispose()


def test_sqlite_records_nothing(tmp_path):
    url = f"sqlite:///{tmp_path / 'p.db'}"
    upgrade(url)
    engine = make_engine(url)
    with OrmSession(engine) as session:
        nodes.save(session, {"name": "cl-s", "role": "client", "public_ip": "127.0.0.1", "hosting_provider": "Vultr"}, ACTOR)
        session.commit()
    node_push.wait()
    assert _rows(engine) == []
    engine.dispose()
