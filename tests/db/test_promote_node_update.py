"""After a promotion, what `db promote` does about nodes it cannot update (app.cli.db._update_nodes,
app.node_reconfig.push_all): each is named with what to deploy, nodes that do not answer are tried again, and
the command ends with status 3. (The push itself, on real nodes: tests/e2e/test_db_promote_push.py.)"""

from __future__ import annotations

import socket

from sqlalchemy import select

from app.cli.db import _update_nodes
from app.models import Node
from app.node_reconfig import push_all
from app.projection.rows import LIVE_NODE_STATES


def _closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now: a connection is refused at once
    return port


def _live(session) -> list[str]:
    return list(session.scalars(select(Node.name).where(Node.state.in_(LIVE_NODE_STATES)).order_by(Node.name)))


def test_without_push_every_live_node_is_listed_to_deploy(seeded, capsys, monkeypatch):
    monkeypatch.setenv("TRUNKLINE_AMI_SECRET", "s")
    live = _live(seeded)
    assert live and _update_nodes(seeded, False, 0, None) == len(live)
    err = capsys.readouterr().err
    for name in live:
        assert f"{name}: not updated (--no-push): re-render and deploy it: flask --app wsgi node render {name} --out DIR" in err
        assert "--db-password-file FILE --admin-net YOUR_ADMIN_NETWORK" in err  # the whole command, as the node page
    monkeypatch.delenv("TRUNKLINE_AMI_SECRET")
    monkeypatch.delenv("AMI_SECRET", raising=False)
    assert _update_nodes(seeded, True, 0, None) == len(live)
    assert "not updated (TRUNKLINE_AMI_SECRET is not set)" in capsys.readouterr().err


def test_unreachable_nodes_are_retried_then_named(seeded, capsys, monkeypatch):
    for i, node in enumerate(seeded.scalars(select(Node).order_by(Node.name))):
        node.public_ip = f"127.0.0.{i + 1}"
    seeded.flush()
    port = _closed_port()
    tries = []
    results = push_all(seeded, "s", port, retry_for=1.2, every=0.5, log=tries.append)
    live = _live(seeded)
    assert [r.node for r in results] == live and {r.status for r in results} == {"unreachable"}
    assert all(f":{port}: " in r.message for r in results)
    assert len(tries) == 2 and tries[0].startswith("not reached yet: ")  # tried 3 times, 0.5 s apart
    monkeypatch.setenv("TRUNKLINE_AMI_SECRET", "s")
    monkeypatch.setenv("TRUNKLINE_AMI_PORT", str(port))
    assert _update_nodes(seeded, True, 0, None) == len(live)
    err = capsys.readouterr().err
    assert f"{live[0]}: not reached (127.0.0." in err and f":{port}: " in err
    assert f"when it is back, run flask --app wsgi db push-nodes {live[0]}" in err


def test_push_nodes_command(app, seeded, monkeypatch):
    """`db push-nodes`: an unknown node is one clear line (exit 1); a node not updated gives exit status 3."""
    for i, node in enumerate(seeded.scalars(select(Node).order_by(Node.name))):
        node.public_ip = f"127.0.0.{i + 1}"
    seeded.flush()
    runner = app.test_cli_runner()
    bad = runner.invoke(args=["db", "push-nodes", "no-such-node"])
    assert bad.exit_code == 1 and bad.output.strip() == "Error: no node no-such-node"
    monkeypatch.setenv("TRUNKLINE_AMI_SECRET", "s")
    monkeypatch.setenv("TRUNKLINE_AMI_PORT", str(_closed_port()))
    name = _live(seeded)[0]
    result = runner.invoke(args=["db", "push-nodes", name, "--retry", "0"])
    assert result.exit_code == 3, result.output
    assert result.stderr.startswith(f"{name}: not reached (") and result.stdout == ""
