"""`db promote` brings the running nodes up to date over AMI (issue 13: "re-render and push what nodes need").

A loopback GTID primary and two replicas (scripts/db_loopback.py) hold the platform's database; the three nodes
are rendered by `node render` with the servers recorded, so they read r1 (their hosting provider) first, then the
other servers, and insert CDRs through the connection of the primary p. p is killed: a call still goes through
(read from r1) but its CDR cannot be inserted (the spool keeps it). `db promote r2` then rewrites every node's
res_odbc.conf over AMI (GetConfig / UpdateConfig / Reload, app/node_reconfig.py): the CDR connection now opens
r2's DSN, and the next calls' CDRs are inserted on r2, the new primary, without a restart. Once p is removed from
the servers, `db push-nodes` rewrites and reloads all four files on each node. Both happen while SIPp places 20
calls/s through the nodes: no call may fail. With r1 stopped as well, the look-ups of the next call are answered by
r2 through the reloaded connections; a server added since the nodes' last render is refused (odbc.ini).

Runs in the second pytest process of scripts/test.sh (its platform takes the e2e addresses).
"""

from __future__ import annotations

import random
import re
import signal
import time

import pytest

from tests.e2e import data
from tests.e2e.dbcluster import IN_CI, available, flask, loopback
from tests.e2e.failover import Load, timeline, wait_until
from tests.e2e.harness import Platform, Unavailable

pytestmark = pytest.mark.asterisk

RATE = 20  # calls per second during the promotion and the push
SECONDS = 20


def _prepare(p, r1, r2):
    def prepare(platform, session):
        from app.services import db_servers
        from app.services.audit import Actor

        actor = Actor("e2e", "cli")
        for inst, role, provider in ((p, "primary", "elsewhere"), (r1, "replica", data.CLIENT_NODE["hosting_provider"]),
                                     (r2, "replica", "elsewhere")):
            db_servers.save(session, {"name": inst.name, "host": inst.host, "port": inst.port, "role": role,
                                      "hosting_provider": provider}, actor)
    return prepare


@pytest.fixture(scope="module")
def promoted_platform(tmp_path_factory):
    reason = available()
    if reason:
        if IN_CI:
            pytest.fail(f"loopback MariaDB required when CI=true: {reason}", pytrace=False)
        pytest.skip(reason)
    work = tmp_path_factory.mktemp("promote-push")
    servers = loopback.start_cluster(str(work / "dbs"), [("p", data.ip(44), 3306), ("r1", data.ip(45), 3306),
                                                         ("r2", data.ip(46), 3306)])
    p, r1, r2 = servers
    platform = Platform(work, trace=True, verbose=False, lookup="odbc", rtp_base=30000 + 3000 * random.randint(0, 10),
                        mariadb_url=f"mysql+mysqldb://root@{p.host}:3306", prepare=_prepare(p, r1, r2))
    try:
        platform.start()
    except BaseException as exc:
        platform.stop()
        for inst in servers:
            loopback.stop(inst, signal.SIGKILL)
        if not isinstance(exc, Unavailable):
            raise
        if IN_CI:
            pytest.fail(f"the Asterisk sandbox is required when CI=true: {exc}", pytrace=False)
        pytest.skip(f"Asterisk sandbox unavailable: {exc}")
    yield platform, p, r1, r2
    # The primary the platform was created on is gone: its database and accounts go with the cluster.
    platform._db_created = False
    platform.node_accounts = {}
    platform.stop()
    for inst in servers:
        if inst.pid:
            loopback.stop(inst, signal.SIGKILL)


def _cdrs(inst, platform) -> int:
    return inst.sql(f"SELECT COUNT(*) AS n FROM {platform.db_name}.cdr")[0]["n"]


def _wait_cdrs(inst, platform, above: int, timeout: float = 10) -> int:
    deadline = time.monotonic() + timeout
    while True:
        n = _cdrs(inst, platform)
        if n > above or time.monotonic() > deadline:
            return n
        time.sleep(0.5)


def _etc(platform, node: str):
    return platform.root / platform.inner.lstrip("/") / node / "etc"


def test_promote_pushes_the_new_read_order_and_cdr_server_to_every_node(promoted_platform):
    platform, p, r1, r2 = promoted_platform
    loopback.wait_caught_up(r1, p)
    loopback.wait_caught_up(r2, p)
    etc = _etc(platform, "cl1")
    cdr_conn = re.search(r"^connection = (\S+)$", (etc / "cdr_adaptive_odbc.conf").read_text(), re.M)[1]
    res = (etc / "res_odbc.conf").read_text()
    assert f"[{cdr_conn}]" in res and re.search(rf"\[{cdr_conn}\][^\[]*dsn => trunkline-p\n", res)

    # The primary dies: calls go on (read from r1), their CDRs cannot be inserted anywhere (the spool keeps them).
    loopback.stop(p, signal.SIGKILL)
    before = _cdrs(r2, platform)
    assert platform.call(data.PBX["main"], "cl1", "3125550123", "2045552001", 200, "promote-before").final == 200
    assert _wait_cdrs(r2, platform, before, timeout=4) == before

    # While SIPp places 20 calls/s through both nodes: `db promote r2` (res_odbc.conf rewritten and reloaded on every
    # node), then, once the dead old primary is removed from the servers, `db push-nodes` (every node's read order
    # shrinks to r1, r2: res_odbc, extconfig, func_odbc and cdr_adaptive_odbc rewritten and reloaded).
    load = Load(platform, RATE, SECONDS)
    load.start()
    wait_until(load, 3)
    t0 = time.monotonic()
    done = flask(platform.db_url, "db", "promote", "r2", "--at", f"{r2.host}:{r2.port}", "--retry", "10",
                 "--out", str(platform.workdir / "pushed"), timeout=180)
    took_promote = time.monotonic() - t0
    after_promote = _cdrs(r2, platform)
    wait_until(load, 10)
    before_second = _cdrs(r2, platform)
    new_url = f"mysql+mysqldb://root@{r2.host}:{r2.port}/{platform.db_name}"
    removed = flask(new_url, "db", "server", "remove", "p")
    t0 = time.monotonic()
    pushed = flask(new_url, "db", "push-nodes", "--retry", "10", timeout=120)
    took_push = time.monotonic() - t0
    load.wait()
    calls = load.calls()
    failed = [c for c in calls if c["code"] != 200]
    print(f"db promote with the push to 3 nodes: {took_promote:.1f} s\n{done.stdout}{done.stderr}"
          f"db push-nodes (3 nodes, 4 files each): {took_push:.1f} s\n{pushed.stdout}{pushed.stderr}"
          f"{len(calls)} calls under load, {len(failed)} failed; worst seconds: "
          f"{sorted(timeline(calls), key=lambda r: -(r['pdd_p99'] or 0))[:3]}")

    assert done.returncode == 0, done.stdout + done.stderr
    assert "r2 is the primary" in done.stdout and "repointed replica r1 to r2" in done.stdout
    for node in ("cn1", "cl1", "cl2"):
        assert f"{node}: updated (res_odbc.conf rewritten and reloaded)" in done.stdout, done.stdout
    assert "Traceback" not in done.stderr
    assert (platform.workdir / "pushed" / "cl1" / "res_odbc.conf").stat().st_mode & 0o777 == 0o600
    # Without a restart, the CDRs of the calls after the promotion are inserted on the new primary.
    assert before_second > after_promote, "no CDR reached r2 after the promotion"
    assert removed.returncode == 0, removed.stderr
    assert pushed.returncode == 0, pushed.stdout + pushed.stderr
    for node in ("cn1", "cl1", "cl2"):
        assert (f"{node}: updated (res_odbc.conf, extconfig.conf, func_odbc.conf, cdr_adaptive_odbc.conf rewritten and "
                "reloaded)") in pushed.stdout
    assert len(calls) == RATE * SECONDS and not failed, f"{len(failed)} failed calls: {failed[:5]}"
    # The node's files are now as `node render` writes them for the read order r1, r2; CDRs through trunkline_2.
    res = (etc / "res_odbc.conf").read_text()
    assert "trunkline-p" not in res and "trunkline_3" not in (etc / "extconfig.conf").read_text()
    assert re.search(r"\[trunkline_2\][^\[]*dsn =>? trunkline-r2\n", res), res
    assert re.search(r"^connection =>? trunkline_2$", (etc / "cdr_adaptive_odbc.conf").read_text(), re.M)
    time.sleep(2)  # the last CDRs of the load
    before = _cdrs(r2, platform)
    assert platform.call(data.PBX["main"], "cl1", "3125550124", "2045552001", 200, "push-after").final == 200
    assert _wait_cdrs(r2, platform, before) > before

    # With r1 gone too, the look-ups of the next call are answered by r2 through the reloaded connections.
    loopback.stop(r1, signal.SIGKILL)
    before = _cdrs(r2, platform)
    assert platform.call(data.PBX["main"], "cl1", "3125550125", "2045552001", 200, "promote-r1-gone").final == 200
    assert _wait_cdrs(r2, platform, before) > before

    # A server the nodes' odbc.ini does not know (added since their last `node render`): odbc.ini is outside what
    # AMI may write, so the node is named with what to deploy and left as it is (exit status 3).
    assert flask(new_url, "db", "server", "add", "r3", "--host", data.ip(47), "--port", "3306", "--role", "replica",
                 "--hosting-provider", "elsewhere").returncode == 0
    res_before = (etc / "res_odbc.conf").read_text()
    later = flask(new_url, "db", "push-nodes", "cl1", "--retry", "0", timeout=60)
    assert later.returncode == 3, later.stdout + later.stderr
    assert "cl1: not updated: its odbc.ini may lack the DSN trunkline-r3" in later.stderr and later.stdout == ""
    assert (etc / "res_odbc.conf").read_text() == res_before
