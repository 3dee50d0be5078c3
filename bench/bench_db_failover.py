"""Benchmark: calls through both nodes while the database is lost, today's node settings vs the new ones.

Each set-up gets a fresh loopback GTID primary + replica (scripts/db_loopback.py), a fresh database on the
primary, fresh nodes and SIPp placing calls at a steady rate (PBX -> client node -> carrier node -> carrier).
Faults, both set-ups alike: kill -9 of the primary, restart; then SIGSTOP of the primary for 30 s.
- today: the nodes as `node render` wrote them before issue 13: one DSN (the primary), no DSN timeouts,
  caches refreshed after 10 s and dropped after 60 s (expire_on_reload=yes), a look-up that reaches no
  database returns an empty value (the dialplan answers 404), CDRs only through cdr_adaptive_odbc, pools 4..64;
- new: `node render` with the two servers recorded: replica first, then primary, 2 s timeouts, no cache
  lifetime, 503 + ERROR when no server answers, local CDR spool shipped after recovery.
Prints a per-second timeline side by side (calls attempted, answered, failed by SIP code, post-dial delay
p50/p99 in ms), the time from each fault to the first failed call, and the CDRs missing after recovery.

Needs root, the Asterisk root (scripts/asterisk_root.sh), mariadbd and nftables; run:
    .venv/bin/python bench/bench_db_failover.py [--rate 20] [--seconds 95] [--setups today,new]
"""

from __future__ import annotations

import argparse
import random
import re
import signal
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app import node_push  # noqa: E402
from tests.e2e import data  # noqa: E402
from tests.e2e.dbcluster import loopback  # noqa: E402
from tests.e2e.failover import (  # noqa: E402
    FaultLog,
    Faults,
    Load,
    db_servers_prepare,
    run_in_background,
    ship,
    spool_records,
    timeline,
    wait_until,
)
from tests.e2e.harness import Platform  # noqa: E402

OLD_LOOKUP = "exten => s,1,Return(${ODBC_TL_LOOKUP(${ARG1},${ARG2})})\n"


def today_transform(platform: Platform, node: str, etc: Path) -> None:
    """Undo what issue 13 added to the rendered files (single DSN, old pool and lifetimes come from the options)."""
    ini = etc / "odbc.ini"
    ini.write_text(re.sub(r"^(CONN|READ|WRITE)_TIMEOUT = \d+\n", "", ini.read_text(), flags=re.M))
    res = etc / "res_odbc.conf"
    res.write_text(res.read_text().replace("negative_connection_cache => 10", "negative_connection_cache => 1"))
    sorcery = etc / "sorcery.conf"
    sorcery.write_text(sorcery.read_text().replace("expire_on_reload=no", "expire_on_reload=yes"))
    ext = etc / "extensions.conf"
    text = ext.read_text()
    start = text.index("exten => s,1,Set(ODBCROWS=)")
    end = text.index("\n[", start) + 1
    text = text[:start] + OLD_LOOKUP + "\n" + text[end:]
    text = re.sub(r"\[tl-local-[^\]]+\]\n(exten => .*\n)*\n?", "", text)
    ext.write_text(text)
    (etc / "cdr_custom.conf").write_text("; today: no local CDR copy\n")


def run(setup: str, rate: int, seconds: int) -> dict:
    work = Path(tempfile.mkdtemp(prefix=f"bench-dbfail-{setup}-"))
    primary, replica = loopback.start_cluster(str(work / "dbs"), [("p", data.ip(41), 3306), ("r", data.ip(42), 3306)])
    new = setup == "new"
    platform = Platform(work, trace=False, verbose=False, lookup="odbc", rtp_base=30000 + 3000 * random.randint(0, 10), mariadb_url=f"mysql+mysqldb://root@{primary.host}:3306",
                        prepare=db_servers_prepare(primary, replica, data.CLIENT_NODE["hosting_provider"]) if new else None,
                        transform=None if new else today_transform,
                        render_args=() if new else ("--cache-stale", "10", "--cache-max", "60", "--pool", "4"))
    faults = Faults(f"tl_bench_{platform.run_id}")
    try:
        platform.start()
        deadline = time.monotonic() + 60  # the admin's retries of nodes that were not up yet at the data load
        while node_push.pending_nodes() and time.monotonic() < deadline:
            time.sleep(1)
        loopback.wait_caught_up(replica, primary)
        platform.call(data.PBX["main"], "cl1", "3125550123", "2045552001", 200, "warm")
        load = Load(platform, rate, seconds)
        log = FaultLog()
        load.start()

        def steps():
            wait_until(load, 10)
            log.mark(load, "kill -9 primary")
            faults.kill(primary)
            wait_until(load, 40)
            faults.restart(primary, replica=False)
            log.mark(load, "primary restarted")
            wait_until(load, 55)
            log.mark(load, "SIGSTOP primary")
            faults.freeze(primary)
            wait_until(load, 85)
            faults.thaw(primary)
            log.mark(load, "SIGCONT primary")

        thread = run_in_background(steps)
        load.wait()
        thread.join(timeout=60)
        calls = load.calls()
        pools = {name: odbc_pools(node) for name, node in platform.nodes.items()}
        time.sleep(3)
        if new:
            loopback.wait_caught_up(replica, primary, timeout=60)
            ship(platform, [platform.db_url.replace("mysql+mysqldb://", "mysql://")])
        cdr_rows = platform.query("SELECT COUNT(*) FROM cdr")[0][0]
        client_records = platform.query("SELECT COUNT(DISTINCT COALESCE(call_id, linkedid)) FROM cdr WHERE uniqueid LIKE 'cl1-%'")[0][0]
        written = len(spool_records(platform)) if new else None
        return {"setup": setup, "calls": calls, "pools": pools, "rows": timeline(calls), "events": log.events, "cdr_rows": cdr_rows,
                "client_calls_recorded": client_records, "spooled": written}
    finally:
        faults.unblock()
        for inst in (primary, replica):
            if inst.pid:
                faults.thaw(inst)
        platform.stop()
        for inst in (primary, replica):
            loopback.stop(inst, signal.SIGKILL)


def odbc_pools(node) -> dict[str, str]:
    """res_odbc's connections per DSN ("active (out of max)"): a pool opens a connection only when every open one
    is busy and keeps it, so the active count after a run is the most the node needed at once."""
    out, name = {}, None
    for line in node.cli("odbc show").splitlines():
        if m := re.match(r"\s*ODBC DSN Settings|\s*Name:\s*(\S+)", line):
            name = m.group(1) or name
        elif (m := re.search(r"Number of active connections: (\d+) \(out of (\d+)\)", line)) and name:
            out[name] = f"{m.group(1)}/{m.group(2)}"
    return out


def first_failure_after(calls: list[dict], t: float) -> float | None:
    later = [c["start"] for c in calls if c["start"] >= t and c["code"] != 200]
    return min(later) - t if later else None


def _secs(value: float | None) -> str:
    return "none" if value is None else f"{value:.1f} s"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=int, default=20)
    parser.add_argument("--seconds", type=int, default=95)
    parser.add_argument("--setups", default="today,new")
    args = parser.parse_args()
    results = [run(s, args.rate, args.seconds) for s in args.setups.split(",")]
    print(f"\n{args.rate} calls/s for {args.seconds} s; faults (s after the load began): "
          + "; ".join(f"{t:.1f} {what}" for t, what in results[0]["events"]))
    head = "sec | " + " | ".join(f"{r['setup']:>5}: att ans  failed(code:n)        pdd p50/p99 ms" for r in results)
    print(head)
    for second in range(max(len(r["rows"]) for r in results)):
        cells = []
        for r in results:
            row = r["rows"][second] if second < len(r["rows"]) else None
            if row is None:
                cells.append(" " * 60)
                continue
            failed = ",".join(f"{k}:{v}" for k, v in sorted(row["failed"].items())) or "-"
            pdd = f"{row['pdd_p50'] or 0:.0f}/{row['pdd_p99'] or 0:.0f}" if row["pdd_p50"] is not None else "-"
            cells.append(f"{row['attempted']:>10} {row['answered']:>3}  {failed:<20} {pdd:>13}")
        print(f"{second:>3} | " + " | ".join(cells))
    for r in results:
        calls = r["calls"]
        failed = [c for c in calls if c["code"] != 200]
        codes = {}
        for c in failed:
            codes[str(c["code"])] = codes.get(str(c["code"]), 0) + 1
        spooled = "" if r["spooled"] is None else f", {r['spooled']} written to the spools"
        firsts = "; ".join(f"{what}: {_secs(first_failure_after(calls, t))}"
                           for t, what in r["events"] if what.startswith(("kill", "SIGSTOP")))
        print(f"{r['setup']}: {len(calls)} calls, {len(failed)} failed {codes}; first failed call after {firsts}; "
              f"calls with a client-node CDR in the central table after recovery: {r['client_calls_recorded']} "
              f"({r['cdr_rows']} cdr rows{spooled}); ODBC connections used/pool per node and DSN: {r['pools']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
