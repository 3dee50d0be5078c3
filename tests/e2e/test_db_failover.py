"""Calls keep flowing when a database server is lost (issue 13).

A loopback GTID primary and replica (scripts/db_loopback.py) hold the platform's database; both nodes are
rendered by `node render` with the two servers recorded (`db server add`), so they read the replica first
(same hosting provider), then the primary, and write CDRs to the primary plus their local spool. SIPp places
calls at a steady 20 calls/s through both nodes (PBX -> client node -> carrier node -> carrier) for 150 s
while the primary is killed (kill -9) and restarted, frozen (SIGSTOP) for 30 s, and cut off by an nftables
drop rule; then the same happens to the replica. A registering PBX registers during each freeze.

Pass: no call fails; every registration succeeds; after recovery every CDR the nodes wrote is in the central
table exactly once (the spools shipped by scripts/cdr_ship.py); a change made after recovery reaches the next call.
"""

from __future__ import annotations

import random
import signal
import sqlite3
import time

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session as OrmSession

from app import node_push
from app.services import clients, trunks
from tests.e2e import data
from tests.e2e.dbcluster import IN_CI, available, loopback
from tests.e2e.failover import FaultLog, Faults, Load, db_servers_prepare, run_in_background, ship, spool_records, timeline, wait_until
from tests.e2e.harness import Platform, Unavailable

pytestmark = pytest.mark.asterisk

RATE = 20
SECONDS = 150


@pytest.fixture(scope="module", params=["odbc", "switch"])
def drill(request, tmp_path_factory):
    """The loopback cluster and the platform on it, once per way the dialplan reads realtime keys (`node render
    --lookup`); the 150 s drill runs in the default mode only, the no-database answers in both."""
    reason = available()
    if reason:
        if IN_CI:
            pytest.fail(f"loopback MariaDB required when CI=true: {reason}", pytrace=False)
        pytest.skip(reason)
    work = tmp_path_factory.mktemp(f"failover-{request.param}")
    primary, replica = loopback.start_cluster(str(work / "dbs"), [("p", data.ip(41), 3306), ("r", data.ip(42), 3306)])
    rtp_base = 30000 + 3000 * random.randint(0, 10)  # not the default range other runs on this machine use
    platform = Platform(work, trace=True, verbose=False, lookup=request.param, rtp_base=rtp_base, mariadb_url=f"mysql+mysqldb://root@{primary.host}:3306",
                        prepare=db_servers_prepare(primary, replica, data.CLIENT_NODE["hosting_provider"]))
    faults = Faults(f"tl_failover_{platform.run_id}")
    try:
        platform.start()
    except BaseException as exc:
        platform.stop()
        for inst in (primary, replica):
            loopback.stop(inst, signal.SIGKILL)
        if not isinstance(exc, Unavailable):
            raise
        if IN_CI:
            pytest.fail(f"the Asterisk sandbox is required when CI=true: {exc}", pytrace=False)
        pytest.skip(f"Asterisk sandbox unavailable: {exc}")
    # The data was committed before the nodes ran: the admin retries them and then expires all their caches;
    # let that happen now rather than in the middle of a test.
    try:
        deadline = time.monotonic() + 60
        while node_push.pending_nodes(platform.engine) and time.monotonic() < deadline:
            time.sleep(1)
        assert not node_push.pending_nodes(platform.engine), node_push.pending_nodes(platform.engine)
        yield platform, primary, replica, faults
    finally:  # also when the set-up above failed: no nodes, SIPp or mariadbd left running for later tests
        faults.unblock()
        for inst in (primary, replica):
            if inst.pid:
                faults.thaw(inst)
        platform.stop()
        for inst in (primary, replica):
            loopback.stop(inst, signal.SIGKILL)


@pytest.mark.parametrize("drill", ["odbc"], indirect=True)
def test_calls_keep_flowing_through_every_database_fault(drill):
    platform, primary, replica, faults = drill
    ext = (platform.root / platform.inner.lstrip("/") / "cl1" / "etc" / "odbc.ini").read_text()
    assert ext.index(f"Server = {replica.host}") < ext.index(f"Server = {primary.host}")  # replica first
    loopback.wait_caught_up(replica, primary)
    # Warm-up: caches filled, pools connected, the branch PBX registered.
    assert platform.call(data.PBX["main"], "cl1", "3125550123", "2045552001", 200, "warm").final == 200
    registrations = []

    def register(label):
        result = platform.register(data.PBX["branch"], "cl1", data.BRANCH_USER, data.BRANCH_PASSWORD, (200,))
        registrations.append((label, result.final))

    register("before")
    load = Load(platform, RATE, SECONDS)
    log = FaultLog()
    load.start()

    def drill_steps():
        for server, inst, is_replica, t in (("primary", primary, False, 8), ("replica", replica, True, 78)):
            wait_until(load, t)
            log.mark(load, f"kill -9 {server}")
            faults.kill(inst)
            wait_until(load, t + 10)
            faults.restart(inst, replica=is_replica)
            log.mark(load, f"{server} restarted")
            wait_until(load, t + 18)
            log.mark(load, f"SIGSTOP {server}")
            faults.freeze(inst)
            wait_until(load, t + 25)
            register(f"{server} frozen")
            wait_until(load, t + 48)
            faults.thaw(inst)
            log.mark(load, f"SIGCONT {server}")
            wait_until(load, t + 54)
            log.mark(load, f"nftables drop {server}")
            faults.block(inst)
            wait_until(load, t + 64)
            faults.unblock()
            log.mark(load, f"{server} reachable")

    steps = run_in_background(drill_steps)
    load.wait()
    steps.join(timeout=60)
    calls = load.calls()
    rows = timeline(calls)
    failed = [c for c in calls if c["code"] != 200]
    events = "; ".join(f"{t:.1f}s {what}" for t, what in log.events)
    bad_seconds = [r for r in rows if r["failed"]]
    assert len(calls) == RATE * SECONDS, f"{len(calls)} calls placed"
    assert not failed, f"{len(failed)} failed calls; faults: {events}; seconds with failures: {bad_seconds[:10]}"
    assert registrations == [("before", 200), ("primary frozen", 200), ("replica frozen", 200)], registrations

    # Recovery: the replica caught up; every CDR the nodes wrote reaches the central table exactly once.
    loopback.wait_caught_up(replica, primary, timeout=60)
    time.sleep(2)  # the last CDRs of the run
    ship(platform, [platform.db_url.replace("mysql+mysqldb://", "mysql://")])
    written = spool_records(platform)
    keys = {(r["uniqueid"], int(r["sequence"])) for r in written}
    assert len(keys) == len(written)
    central = {(u, s) for u, s in platform.query("SELECT uniqueid, sequence FROM cdr")}
    assert keys <= central, f"{len(keys - central)} CDRs missing"
    assert len(platform.query("SELECT id FROM cdr")) == len(central)  # one row per CDR
    placed = {r["call_id"] or r["linkedid"] for r in written if r["uniqueid"].startswith("cl1-")}
    assert len(placed) >= RATE * SECONDS  # every call left a record on the client node (plus the warm-up)

    # A change made after recovery reaches the next call (main number held by charlie).
    try:
        with OrmSession(platform.engine) as session:
            clients.save(session, {"main_number": "2045552005"}, data.ACTOR, clients.get(session, "ACME"))
            session.commit()
        node_push.wait()
        result = platform.call(data.PBX["main"], "cl1", "3125550127", "4165559999", 200, "after-recovery")
        invite = [m for m in result.at.get("charlie", []) if m.direction == "received" and m.method == "INVITE"]
        assert invite and invite[-1].header_user("From") == "+12045552005"
    finally:
        with OrmSession(platform.engine) as session:
            clients.save(session, {"main_number": "2045552001"}, data.ACTOR, clients.get(session, "ACME"))
            session.commit()
        node_push.wait()


@pytest.mark.parametrize("pbx, caller, carrier, want_from", [
    ("main", "2045552005", "charlie", "+12045552005"),  # number level (caller's own registration), e164
    ("alt", "2045552004", "bravo", "12045552003"),      # trunk level, nanp11
    ("main", "2045552002", "alpha", "2045552001"),      # client level, nanp10
])
def test_no_database_at_all_503_for_lookups_and_911_still_leaves(drill, pbx, caller, carrier, want_from):
    """Both servers frozen: a number that exists is answered 503 (never 404) with an ERROR logged; a 911 call
    leaves within seconds with the same cascade answer as with the database up (the node's local copy)."""
    platform, primary, replica, faults = drill
    # A node that has carried calls has their objects cached (an object never used since the node started is not,
    # and cannot be read while no server answers): one ordinary call from this PBX first.
    warm = platform.call(data.PBX[pbx], "cl1", "3125550123", caller, 200, f"nodb-warm-{pbx}")
    assert invite_final(warm) == 200, platform.diagnostics()
    warm = platform.call(data.CARRIER_IP["alpha"], "cn1", "2045552001", "4165550100", 200, "nodb-warm-in")
    assert invite_final(warm) == 200, platform.diagnostics()
    faults.freeze(primary)
    faults.freeze(replica)
    try:
        mark = len(platform.nodes["cn1"].messages_log())
        t0 = time.monotonic()
        inbound = platform.call(data.CARRIER_IP["alpha"], "cn1", "2045552001", "4165550100", 503, "nodb-in")
        took_in = time.monotonic() - t0
        assert invite_final(inbound) == 503, platform.diagnostics()
        assert "no database server answered the look-up of tl-num/+12045552001" in platform.nodes["cn1"].messages_log()[mark:]
        # An ordinary outbound call: the caller ID look-up finds no server, so 503 (the PBX tries its other trunk).
        mark_cl = len(platform.nodes["cl1"].messages_log())
        outbound = platform.call(data.PBX[pbx], "cl1", "3125550123", caller, 503, f"nodb-out-{pbx}")
        assert invite_final(outbound) == 503, platform.diagnostics()
        assert f"no database server answered the look-up of tl-num/+1{caller}" in platform.nodes["cl1"].messages_log()[mark_cl:]
        assert not [c for c in data.CARRIER_IP if outbound.invites(c)], "no carrier may see the call"
        t0 = time.monotonic()
        e911 = platform.call(data.PBX[pbx], "cl1", "911", caller, 200, f"nodb-911-{carrier}")
        took_911 = time.monotonic() - t0
        assert invite_final(e911) == 200, platform.diagnostics()
        invites = [m for m in e911.at.get(carrier, []) if m.direction == "received" and m.method == "INVITE"]
        assert len(invites) == 1 and invites[0].request_user == "911" and invites[0].header_user("From") == want_from
        assert "from this node's local copy of" in platform.nodes["cl1"].messages_log()[mark_cl:]
        print(f"no database ({platform.lookup}): inbound 503 after {took_in:.1f} s; 911 ({carrier}) answered after {took_911:.1f} s")
        assert took_911 < 10 and took_in < 10
    finally:
        faults.thaw(primary)
        faults.thaw(replica)
        time.sleep(11)  # res_odbc skips a server that failed a connection for negative_connection_cache (10 s)


def invite_final(result) -> int | None:
    """The final answer to the INVITE itself (CallResult.final would also count a 200 to a CANCEL)."""
    codes = [m.status for m in result.received if m.status and m.status >= 200 and "INVITE" in (m.header("CSeq") or "")]
    return codes[-1] if codes else None


def _restart(platform, name: str) -> None:
    node = platform.nodes[name]
    node.stop()
    node.start()
    node.wait_booted()


def _cached(node, cache: str) -> str:
    return node.cli(f"sorcery memory cache dump {cache}")


def test_a_restarted_node_is_warmed_and_serves_trunks_it_never_used_while_no_database_answers(drill):
    """Objects a node never used are cached too (app.node_push.warm_node, run by the retriers when a node starts):
    the client node is restarted with the database up, then both servers are frozen before any of its trunks made
    a call. Control first: restarted with nothing to warm it, the same 911 call is refused (the trunk cannot be read).
    The node's local realtime copy is moved away meanwhile (with it the cold node would read the trunk from the copy:
    the next test), so this shows what the warm alone does."""
    platform, primary, replica, faults = drill
    node = platform.nodes["cl1"]
    saved = node_push.WARM_CHECK_SECONDS
    (local,) = node.host_dir.glob("etc/trunkline-local-*.sqlite3")
    aside = platform.workdir / local.name
    local.rename(aside)  # res_config_sqlite3 then opens (creates) an empty file: every read of it fails

    def frozen_911(tag: str):
        faults.freeze(primary)
        faults.freeze(replica)
        try:
            return platform.call(data.PBX["alt"], "cl1", "911", "2045552004", 200, tag), \
                platform.register(data.PBX["branch"], "cl1", data.BRANCH_USER, data.BRANCH_PASSWORD, (200,))
        finally:
            faults.thaw(primary)
            faults.thaw(replica)
            time.sleep(11)  # res_odbc's negative_connection_cache

    node_push.retry_paused.set()
    try:
        _restart(platform, "cl1")
        # Asterisk itself reads every endpoint by id at start (they are in the cache), but no AOR, auth or identify row.
        assert "Total number of objects cached: 0" in _cached(node, "aor")
        assert "Total number of objects cached: 0" in _cached(node, "auth")
        assert "Total number of objects cached: 0" in _cached(node, "identify")
        cold, cold_reg = frozen_911("cold-911")
        assert invite_final(cold) in (401, 403), (invite_final(cold), platform.diagnostics())
        assert not [m for m in cold.at.get("bravo", []) if m.method == "INVITE"]
        assert 200 not in [m.status for m in cold_reg.received], "registered without its auth being readable?"

        _restart(platform, "cl1")
        node_push.WARM_CHECK_SECONDS = 1
        node_push.retry_paused.clear()
        node_push.start_background_retry(platform.engine)  # this process's retrier (the admin web's, in production)
        restarted = time.monotonic()
        deadline = restarted + node_push.RETRY_SECONDS * 3
        while "trunk-ACME-branch-auth" not in _cached(node, "auth") and time.monotonic() < deadline:
            time.sleep(0.5)
        warmed_after = time.monotonic() - restarted
        endpoints, aors, auths, identify = (_cached(node, c) for c in ("endpoint", "aor", "auth", "identify"))
        for endpoint in ("trunk-ACME-main", "trunk-ACME-alt", "trunk-ACME-branch"):
            assert endpoint in endpoints, endpoints
        assert data.BRANCH_USER in aors and "trunk-ACME-branch-auth" in auths, (aors, auths)  # its AOR: the username
        assert "trunk-ACME-alt-ip1" in identify, identify
        warm, warm_reg = frozen_911("warm-911")
        assert invite_final(warm) == 200, platform.diagnostics()
        invites = [m for m in warm.at.get("bravo", []) if m.direction == "received" and m.method == "INVITE"]
        assert len(invites) == 1 and invites[0].request_user == "911" and invites[0].header_user("From") == "12045552003"
        assert 200 in [m.status for m in warm_reg.received], platform.diagnostics()
        print(f"restarted cl1 warmed {warmed_after:.1f} s after it booted; its never-used trunk's 911 call and "
              "registration worked with no database")
    finally:
        node_push.WARM_CHECK_SECONDS = saved
        node_push.retry_paused.clear()
        aside.replace(local)
        _restart(platform, "cl1")  # opens the copy again
        platform.requalify()


@pytest.mark.parametrize("drill", ["odbc"], indirect=True)
def test_a_node_restarted_while_no_database_answers_reads_its_trunks_from_its_local_copy(drill):
    """The local realtime copy (app/nodeconf/local_realtime.py): cl1 is restarted while both servers are frozen, and
    nothing warms it (the retrier is paused). Its trunks are identified and authenticated from the SQLite copy
    `node render` wrote, read by extconfig only after every server failed: the alt trunk's 911 call leaves through
    bravo with the same caller ID as with the database up, the branch PBX registers, and an ordinary call gets the
    503 of tl-lookup (not 401/403). Control, with the database up: the alt and branch trunks, deleted in the database
    after the render (so still in the copy), are refused: a server that answers "no such row" ends the look-up."""
    platform, primary, replica, faults = drill
    node = platform.nodes["cl1"]
    up = platform.call(data.PBX["alt"], "cl1", "911", "2045552004", 200, "local-911-up")
    assert invite_final(up) == 200, platform.diagnostics()
    up_invites = [m for m in up.at.get("bravo", []) if m.direction == "received" and m.method == "INVITE"]
    assert len(up_invites) == 1 and up_invites[0].request_user == "911"
    want_from = up_invites[0].header_user("From")
    assert want_from == "12045552003"

    # The branch trunk's password changes in the database behind the admin's back (no push): the copy, rendered
    # before, still has the old one. Read from the copy while no server answers, it must not outlive the outage.
    new_password = "Changed-Behind-The-Copy-2026"
    with platform.engine.begin() as conn:
        conn.execute(text("UPDATE ps_auths SET password = :p WHERE id = 'trunk-ACME-branch-auth'"), {"p": new_password})
    loopback.wait_caught_up(replica, primary)

    node_push.retry_paused.set()  # no warm-up: this process's retrier would otherwise make cl1 read its trunks
    faults.freeze(primary)
    faults.freeze(replica)
    try:
        t0 = time.monotonic()
        _restart(platform, "cl1")
        booted = time.monotonic() - t0
        for cache in ("aor", "auth", "identify"):
            assert "Total number of objects cached: 0" in _cached(node, cache), cache
        mark = len(node.messages_log())
        t0 = time.monotonic()
        e911 = platform.call(data.PBX["alt"], "cl1", "911", "2045552004", 200, "local-911-nodb")
        took_911 = time.monotonic() - t0
        assert invite_final(e911) == 200, platform.diagnostics()
        invites = [m for m in e911.at.get("bravo", []) if m.direction == "received" and m.method == "INVITE"]
        assert len(invites) == 1 and invites[0].request_user == "911" and invites[0].header_user("From") == want_from
        assert not [c for c in data.CARRIER_IP if c != "bravo" and e911.invites(c)]
        assert "from this node's local copy of" in node.messages_log()[mark:]
        reg = platform.register(data.PBX["branch"], "cl1", data.BRANCH_USER, data.BRANCH_PASSWORD, (200,))
        assert 200 in [m.status for m in reg.received], platform.diagnostics()
        mark = len(node.messages_log())
        outbound = platform.call(data.PBX["alt"], "cl1", "3125550123", "2045552004", 503, "local-out-nodb")
        assert invite_final(outbound) == 503, platform.diagnostics()
        assert "no database server answered the look-up of tl-num/+12045552004" in node.messages_log()[mark:]
        assert not [c for c in data.CARRIER_IP if outbound.invites(c)]
        print(f"cl1 restarted with no database: booted in {booted:.1f} s; 911 through bravo after {took_911:.1f} s "
              "from the local copy; ordinary call 503")
    finally:
        faults.thaw(primary)
        faults.thaw(replica)
        time.sleep(11)  # res_odbc's negative_connection_cache

    saved = node_push.WARM_CHECK_SECONDS
    try:
        # The database is back, but what cl1 read from the copy is cached (no lifetime): the old password still works,
        # until the retrier sees cl1's new start, finds it reads a server, empties its caches and warms it.
        stale = platform.register(data.PBX["branch"], "cl1", data.BRANCH_USER, data.BRANCH_PASSWORD, (200,))
        assert 200 in [m.status for m in stale.received], platform.diagnostics()
        node_push.WARM_CHECK_SECONDS = 1
        node_push.retry_paused.clear()
        node_push.start_background_retry(platform.engine)
        t0 = time.monotonic()
        while True:
            fresh = platform.register(data.PBX["branch"], "cl1", data.BRANCH_USER, new_password, (200, 401, 403))
            if 200 in [m.status for m in fresh.received]:
                break
            assert time.monotonic() - t0 < 150, "cl1 was not emptied and warmed after the database came back"
            time.sleep(2)
        rewarmed = time.monotonic() - t0
        old = platform.register(data.PBX["branch"], "cl1", data.BRANCH_USER, data.BRANCH_PASSWORD, (401, 403))
        assert 200 not in [m.status for m in old.received], "the copy's old password outlived the outage"
        print(f"cl1 emptied and warmed from the database {rewarmed:.1f} s after the retrier resumed")

        # Control: the database answers; the copy (rendered before) still holds both trunks.
        local = next(node.host_dir.glob("etc/trunkline-local-*.sqlite3"))
        conn = sqlite3.connect(local)
        try:
            kept = {r[0] for r in conn.execute("SELECT id FROM ps_endpoints")}
        finally:
            conn.close()
        assert {"trunk-ACME-alt", "trunk-ACME-branch"} <= kept
        loopback.wait_caught_up(replica, primary)
        with OrmSession(platform.engine) as session:
            for name in ("alt", "branch"):
                trunks.delete(session, trunks.get(session, "ACME", name), data.ACTOR, release_numbers=True)
            session.commit()
        node_push.wait()
        loopback.wait_caught_up(replica, primary)
        gone = platform.call(data.PBX["alt"], "cl1", "911", "2045552004", 401, "local-911-deleted")
        assert invite_final(gone) in (401, 403), (invite_final(gone), platform.diagnostics())
        assert not [c for c in data.CARRIER_IP if gone.invites(c)]
        reg = platform.register(data.PBX["branch"], "cl1", data.BRANCH_USER, data.BRANCH_PASSWORD, (401, 403))
        assert 200 not in [m.status for m in reg.received], "a deleted trunk registered from the stale copy"
    finally:
        node_push.WARM_CHECK_SECONDS = saved
        node_push.retry_paused.clear()
