"""Benchmark: SIPp call load through the two sandbox Asterisk nodes, realtime vs static config.

The call flow is the e2e outbound call: client PBX -> client node cl1 -> carrier node cn1 -> carrier
(SIPp answers), every step a real SIP dialog, CDRs written to MariaDB by both nodes. It runs in
three set-ups, each on fresh nodes and a fresh database:
- switch: the nodes exactly as `flask node render` writes them by default (ODBC realtime, sorcery
  caches, realtime keys read through the realtime switch: DIALPLAN_EXISTS then Gosub);
- odbc: the same, keys read through func_odbc (`node render --lookup odbc`: one SELECT per key);
- static: the same rendered files, but the realtime rows each node's own account reads (its scoped views) dumped into
  pjsip.conf (endpoints, AORs, auths, identifies) and extensions.conf (the tl-num, tl-route and
  tl-e911 data contexts): no realtime at all. The dialplan logic is identical.
Rates are stepped up; a step passes when every call succeeds and the run keeps pace (the last call
starts on time). Prints the highest passing rate, the realtime queries per call (both nodes; from
res_odbc's own query counter, CDR inserts taken off, and MariaDB's Com_select for comparison) and
each realtime set-up's throughput as a ratio of the static one.

Needs root and the Asterisk root (scripts/asterisk_root.sh); run:
    .venv/bin/python bench/bench_nodes.py [--rates 50,100,150,200] [--seconds 10] [--modes switch,odbc,static]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

from sqlalchemy import create_engine, make_url, text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.models.realtime import asterisk_columns  # noqa: E402
from app.projection.visibility import SCOPED  # noqa: E402
from tests.e2e import data  # noqa: E402
from tests.e2e.harness import MARIADB_URL, SIP_PORT, UAC_PORT, Platform  # noqa: E402
from tests.e2e.sipp import uac_scenario  # noqa: E402

DATA_CONTEXTS = ("tl-num", "tl-route", "tl-e911")
PJSIP_TYPES = (("ps_endpoints", "endpoint"), ("ps_aors", "aor"), ("ps_auths", "auth"), ("ps_endpoint_id_ips", "identify"))


def static_transform(platform: Platform, node: str, etc: Path) -> None:
    """Turn a rendered realtime node into a static one holding the same data: the rows this node's own
    account reads through its scoped views (what the realtime node would see), dumped into its files."""
    password = (platform.workdir / "node-secrets" / f"{node}.password").read_text().strip()
    user = platform.node_accounts[node]
    server = MARIADB_URL.split("@", 1)[1]
    engine = create_engine(f"mysql+mysqldb://{quote(user, safe='')}:{quote(password, safe='')}@{server}/{platform.db_name}")
    with engine.connect() as conn:
        sections = []
        for table, kind in PJSIP_TYPES:
            columns = ", ".join(f"`{c}`" for c in asterisk_columns(table))
            for row in conn.execute(text(f"SELECT {columns} FROM {SCOPED[table]} ORDER BY id")).mappings():
                lines = [f"[{row['id']}]", f"type = {kind}"]
                lines += [f"{k} = {v}" for k, v in row.items() if k != "id" and v is not None and v != ""]
                sections.append("\n".join(lines))
        data_rows = {ctx: [] for ctx in DATA_CONTEXTS}
        for row in conn.execute(text(f"SELECT context, exten, appdata FROM {SCOPED['extensions']} "
                                     "WHERE priority = 1 ORDER BY context, exten")):
            if row.context in data_rows:
                data_rows[row.context].append(f"exten => {row.exten},1,Return({row.appdata})")
    engine.dispose()
    pjsip = etc / "pjsip.conf"
    pjsip.write_text(pjsip.read_text() + "\n; ---- static copy of the realtime rows (benchmark baseline) ----\n"
                     + "\n\n".join(sections) + "\n")
    ext = etc / "extensions.conf"
    text_ = ext.read_text()
    for ctx, lines in data_rows.items():
        text_ = text_.replace(f"[{ctx}]\nswitch => Realtime/@extensions\n", f"[{ctx}]\n" + "\n".join(lines) + "\n")
    ext.write_text(text_)
    (etc / "sorcery.conf").write_text("; static baseline: every object from pjsip.conf\n")
    (etc / "extconfig.conf").write_text("[settings]\n")


def full_tables_transform(platform: Platform, node: str, etc: Path) -> None:
    """Control set-up (mode odbc-full): the realtime odbc node as it was before per-node accounts, reading
    the full tables as the admin's account (root here). Only for comparing the cost of the scoped views."""
    admin = make_url(MARIADB_URL)
    for name, pairs in (("res_odbc.conf", [(r"^username => .*$", f"username => {admin.username}"),
                                           (r"^password => .*$", f"password => {admin.password or ''}")]),
                        ("odbc.ini", [(r"^User = .*$", f"User = {admin.username}"), (r"^Password = .*$", f"Password = {admin.password or ''}")]),
                        ("extconfig.conf", [(r",node_(\w+)(,\d+)?$", r",\1\2")]),  # lines end with the priority
                        ("func_odbc.conf", [(r"FROM node_extensions ", "FROM extensions ")])):
        path = etc / name
        content = path.read_text()
        for pattern, repl in pairs:
            content = re.sub(pattern, repl, content, flags=re.M)
        path.write_text(content)


def com_select() -> int:
    """MariaDB's global SELECT counter (counts every client of the server)."""
    engine = create_engine(MARIADB_URL)
    with engine.connect() as conn:
        value = int(conn.execute(text("SHOW GLOBAL STATUS LIKE 'Com_select'")).one()[1])
    engine.dispose()
    return value


def odbc_queries(platform: Platform) -> int:
    """Queries both nodes ran through res_odbc (its own counter, `odbc show`)."""
    total = 0
    for node in platform.nodes.values():
        match = re.search(r"Number of queries executed: (\d+)", node.cli("odbc show"))
        total += int(match.group(1)) if match else 0
    return total


def cdr_rows(platform: Platform) -> int:
    return platform.query("SELECT COUNT(*) FROM cdr")[0][0]


def load(platform: Platform, rate: int, seconds: int, hold_ms: int) -> dict:
    """`rate` calls/s for `seconds` from the main PBX; all calls must succeed and keep pace."""
    calls = rate * seconds
    xml = platform.workdir / f"load-{rate}.xml"
    xml.write_text(uac_scenario("3125550123", "2045552001", 200, hold_ms=hold_ms))
    stat = platform.workdir / f"load-{rate}.csv"
    before_sel, before_q, before_cdr = com_select(), odbc_queries(platform), cdr_rows(platform)
    start = time.monotonic()
    result = subprocess.run(
        ["sipp", "-sf", str(xml), "-i", data.PBX["main"], "-p", str(UAC_PORT), "-mp", "6500", "-r", str(rate),
         "-rp", "1000", "-m", str(calls), "-l", str(rate * 20), "-recv_timeout", "8000", "-timeout", str(seconds * 4 + 30),
         "-timeout_error", "-trace_stat", "-stf", str(stat), "-fd", "1", "-nostdin",
         f"{data.CLIENT_NODE['public_ip']}:{SIP_PORT}"],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=seconds * 4 + 60)
    elapsed = time.monotonic() - start
    time.sleep(1)  # CDRs of the last calls
    selects = com_select() - before_sel
    cdrs = cdr_rows(platform) - before_cdr
    queries = odbc_queries(platform) - before_q - cdrs
    failed = _failed_calls(stat)
    # Keeping pace: the last call starts at `seconds`, then rings and is held; allow 2 s of slack.
    on_time = elapsed <= seconds + hold_ms / 1000 + 2
    return {"rate": rate, "calls": calls, "failed": failed, "exit": result.returncode, "elapsed": elapsed,
            "passed": result.returncode == 0 and failed == 0 and on_time,
            "queries_per_call": queries / calls, "selects_per_call": selects / calls}


def _failed_calls(stat: Path) -> int:
    """FailedCall(C) of the last line of SIPp's statistics file (-1 when unreadable)."""
    try:
        header, *rows = [line.split(";") for line in stat.read_text().splitlines() if line.strip()]
        return int(rows[-1][header.index("FailedCall(C)")])
    except (OSError, ValueError, IndexError):
        return -1


def run(label: str, rates: list[int], seconds: int, hold_ms: int) -> tuple[int, list[dict]]:
    workdir = Path(tempfile.mkdtemp(prefix=f"bench-nodes-{label}-"))
    static = label == "static"
    transform = static_transform if static else full_tables_transform if label == "odbc-full" else None
    platform = Platform(workdir, trace=False, verbose=False, lookup="switch" if static else label.split("-")[0],
                        transform=transform)
    results = []
    try:
        platform.start()
        if label != "odbc-full":
            print(f"  {label:7s} nodes connect as their own accounts, reading the scoped views: "
                  + ", ".join(f"{n}={u}" for n, u in platform.node_accounts.items()), flush=True)
        else:
            print(f"  {label:7s} control: nodes read the full tables as the admin account (before issue 11)", flush=True)
        load(platform, 10, 2, hold_ms)  # warm-up: caches, ODBC pool, qualify
        best = 0
        for rate in rates:
            outcome = load(platform, rate, seconds, hold_ms)
            results.append(outcome)
            ok = outcome["calls"] - outcome["failed"] if outcome["failed"] >= 0 else "?"
            print(f"  {label:7s} {rate:4d} calls/s x {seconds} s: {ok}/{outcome['calls']} ok in {outcome['elapsed']:.1f} s; "
                  f"realtime queries/call {outcome['queries_per_call']:.2f} (MariaDB Com_select/call "
                  f"{outcome['selects_per_call']:.2f}){'' if outcome['passed'] else '  <- step failed'}", flush=True)
            if not outcome["passed"]:
                break
            best = rate
        return best, results
    finally:
        platform.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rates", default="25,50,75,100,125,150,175,200,250,300", help="Calls per second to step through.")
    parser.add_argument("--seconds", type=int, default=10, help="Length of each step.")
    parser.add_argument("--hold-ms", type=int, default=500, help="How long each answered call lasts.")
    parser.add_argument("--modes", default="switch,odbc,static",
                        help="Set-ups to run (switch, odbc, static; odbc-full: odbc on the full tables as the admin, a control).")
    args = parser.parse_args()
    rates = [int(r) for r in args.rates.split(",")]
    modes = args.modes.split(",")
    print(f"call flow: PBX -> client node -> carrier node -> carrier; {args.hold_ms} ms calls; {args.seconds} s per step; "
          f"{os.cpu_count()} CPUs (shared with MariaDB and SIPp)")
    best, queries = {}, {}
    for mode in modes:
        best[mode], results = run(mode, rates, args.seconds, args.hold_ms)
        passed = [r for r in results if r["passed"]] or results[:1]
        queries[mode] = passed[-1]["queries_per_call"] if passed else float("nan")
    print()
    for mode in modes:
        line = f"{mode:7s}: highest sustained rate with zero failed calls: {best[mode]} calls/s"
        if mode != "static":
            line += f"; realtime queries per call (both nodes): {queries[mode]:.1f}"
            if best.get("static"):
                line += f"; throughput vs static: {best[mode] / best['static']:.2f}"
        print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
