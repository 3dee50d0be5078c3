"""A node that could not be told about a change is told when it comes back, by a process that shares no memory
with the one that made the change (issue 13: node_push_pending, app.node_push).

On the running platform (real Asterisk nodes): the client node's manager interface is cut off (an nftables drop
rule on its AMI port); a short `python` process changes ACME's main number (the trunk endpoint's TL_TRUNK
variable) through the service and exits: its push reaches the carrier node and the other client node but not cl1,
which keeps using the old cached endpoint. `node push-pending --json` (a new process) lists cl1; `node push-retry`
fails while the port is blocked; once it is open again a fresh `flask alerts watch` (the long-lived service) tells
cl1, the row disappears, and the next call uses the change.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session as OrmSession

from app import node_push
from app.models import Node
from app.services import clients
from tests.e2e import data
from tests.e2e.test_calls import only_invite

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.asterisk, pytest.mark.parametrize("platform", ["odbc"], indirect=True)]

CHANGE = """
import sys
from app import create_app, node_push
from app.db import Session
from app.services import clients
from tests.e2e import data
app = create_app()
with app.app_context():
    clients.save(Session(), {"main_number": sys.argv[1]}, data.ACTOR, clients.get(Session(), "ACME"))
    Session.commit()
node_push.wait()
"""


def _env(platform) -> dict:
    return {**os.environ, "DATABASE_URL": platform.db_url, "TRUNKLINE_AMI_SECRET": platform.ami_secret,
            "PYTHONPATH": str(ROOT)}


def _flask(platform, *args, timeout=60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", *args], cwd=ROOT, env=_env(platform),
                          capture_output=True, text=True, timeout=timeout)


def _block_ami(table: str, host: str) -> None:
    rules = (f"table inet {table} {{\n chain out {{ type filter hook output priority -10; policy accept;\n"
             f"  ip daddr {host} tcp dport 5038 drop\n }}\n}}\n")
    subprocess.run(["nft", "-f", "-"], input=rules, text=True, check=True, capture_output=True)


def _unblock(table: str) -> None:
    subprocess.run(["nft", "delete", "table", "inet", table], capture_output=True, check=False)


def test_a_node_cut_off_during_a_change_gets_it_from_a_fresh_retrier_when_it_comes_back(platform):
    deadline = time.monotonic() + 60  # the platform's own data load is told to the nodes once they run
    while node_push.pending_nodes(platform.engine) and time.monotonic() < deadline:
        time.sleep(1)
    assert not node_push.pending_nodes(platform.engine), node_push.pending_nodes(platform.engine)
    node = platform.nodes["cl1"]
    with OrmSession(platform.engine) as session:
        host = session.scalar(select(Node.public_ip).where(Node.name == "cl1"))
    table = f"tl_push_{platform.run_id}"
    node_push.retry_paused.set()  # this process retries nothing: the fresh processes below must do it
    try:
        node.cli("sorcery memory cache expire endpoint")
        warm = platform.call(data.PBX["main"], "cl1", "3125550127", "4165559999", 200, "pend-warm")
        only_invite(warm, "alpha")  # cached with the old main number (held by alpha)
        _block_ami(table, host)
        changed = subprocess.run([sys.executable, "-c", CHANGE, "2045552005"], cwd=ROOT, env=_env(platform),
                                 capture_output=True, text=True, timeout=60)
        assert changed.returncode == 0, changed.stderr
        assert "node cl1" in changed.stderr and "not told to expire its cache" in changed.stderr, changed.stderr

        listed = _flask(platform, "node", "push-pending", "--json")
        assert listed.returncode == 0, listed.stderr
        pending = {e["node"]: e for e in json.loads(listed.stdout)}
        assert list(pending) == ["cl1"], pending  # the other nodes answered the push and were cleared
        assert pending["cl1"]["changes"] == 1 and pending["cl1"]["attempts"] == 1, pending
        assert "trunk-ACME-main" in pending["cl1"]["objects"]["endpoint"], pending

        stale = platform.call(data.PBX["main"], "cl1", "3125550127", "4165559999", 200, "pend-stale")
        only_invite(stale, "alpha")  # cl1 was not told: it still uses its cached endpoint

        retried = _flask(platform, "node", "push-retry", "--json")
        assert retried.returncode == 1, (retried.stdout, retried.stderr)
        assert [(r["node"], r["told"]) for r in json.loads(retried.stdout)] == [("cl1", False)]

        _unblock(table)
        started = time.monotonic()
        watcher = subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "alerts", "watch", "--seconds", "40"],
                                   cwd=ROOT, env=_env(platform), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            while node_push.pending_nodes(platform.engine) and time.monotonic() - started < 35:
                time.sleep(0.5)
            assert not node_push.pending_nodes(platform.engine), node_push.pending_nodes(platform.engine)
            told_after = time.monotonic() - started
        finally:
            watcher.terminate()
            out, _ = watcher.communicate(timeout=30)
        assert "node cl1 answers again: told 1 missed change(s)" in out, out
        after = platform.call(data.PBX["main"], "cl1", "3125550127", "4165559999", 200, "pend-after")
        assert only_invite(after, "charlie").header_user("From") == "+12045552005"
        print(f"cl1 told by a fresh alerts watch {told_after:.1f} s after its AMI port reopened")
    finally:
        _unblock(table)
        node_push.retry_paused.clear()
        with OrmSession(platform.engine) as session:
            clients.save(session, {"main_number": "2045552001"}, data.ACTOR, clients.get(session, "ACME"))
            session.commit()
        node_push.wait()
