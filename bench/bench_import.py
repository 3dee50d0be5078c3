"""Benchmark: import 100,000 numbers from CSV into MariaDB (realtime projection included), re-import it.

Usage:  python bench/bench_import.py [--rows 100000] [--url mysql+mysqldb://root@127.0.0.1:3306] [--keep]

Creates a scratch database trunkline_bench_<hex> (dropped at the end unless --keep), migrates it,
imports a platform from CSV files (carriers, client nodes, clients, trunks: the per-row path, timed
for information), writes numbers.csv
with the numbers in mixed NANP spellings, then measures, in this order and in the same run:

1. baseline: one plain DB-API executemany INSERT of the same rows into phone_numbers, ids already
   resolved (then deleted again);
2. import: `import_csv` + commit, exactly what `flask import numbers FILE` runs, in a fresh child
   process whose peak RSS (getrusage ru_maxrss) is reported;
3. re-import of the unchanged file (child process again);
and checks that realtime drift is empty and every number has its row.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from scratch import create_scratch_db, drop_scratch_db  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

AREA_CODES = ["204", "431", "416", "647", "437", "604", "778", "514", "438", "403", "587", "613", "343", "905", "289",
              "306", "902", "709", "506", "519", "226", "705", "807", "250", "780"]


def _platform_files(folder: Path, clients_count: int) -> list[tuple[str, Path, int]]:
    """carriers, nodes (one client node per client), clients and two trunks each, as the CSV files a sysadmin imports."""
    files = {
        "carriers": ["name,tier,auth,signalling_addresses,port,callerid_format,e911_callerid_format,dial_format,send_pai,"
                     "provides_911,priority,max_channels"]
        + [f"{name},1,ip,198.51.100.{10 + i},5060,{fmt},{fmt},{fmt},yes,{'yes' if e911 else 'no'},{10 * (i + 1)},0"
           for i, (name, fmt, e911) in enumerate([("telus", "nanp10", True), ("bell", "nanp11", True), ("rogers", "e164", False),
                                                  ("thinq", "e164", True)])],
        "nodes": ["name,role,public_ip,sip_port,hosting_provider,region,dns_name,state", "cn-bench-1,carrier,192.0.2.1,5060,OVHcloud,,,active"]
        + [f"cl-bench-{c},client,10.{c // 250}.{c % 250}.1,5060,Vultr,,,active" for c in range(clients_count)],
        "clients": ["name,account_code,node,max_channels,e911_number,status"]
        + [f"Client {c},C{c:04d},cl-bench-{c},0,,active" for c in range(clients_count)],
        "trunks": ["client,name,auth,source_addresses,username,e911_number,max_channels,did_format"]
        + [f"C{c:04d},{t},ip,172.{16 + c // 250}.{c % 250}.{1 + (t == 'fax')},,,0,{did}"
           for c in range(clients_count) for t, did in (("main", "nanp10"), ("fax", "e164"))],
    }
    out = []
    for kind, lines in files.items():
        path = folder / f"{kind}.csv"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        out.append((kind, path, len(lines) - 1))
    return out


def _platform(url: str, folder: Path, clients_count: int) -> list[tuple[str, int, float]]:
    """Import the platform's CSV files (the per-row path, through the services); (kind, rows, seconds) each."""
    from app.csvio import import_csv
    from app.db import Session, make_engine
    from app.services.audit import Actor

    engine = make_engine(url)
    Session.configure(bind=engine)
    timings = []
    for kind, path, rows in _platform_files(folder, clients_count):
        started = time.perf_counter()
        with path.open("rb") as fh:
            result = import_csv(Session(), kind, fh, Actor("bench", "csv"), filename=path.name)
        Session.commit()
        if not result.ok:
            raise SystemExit(f"{kind}.csv did not import: {[str(e) for e in result.errors[:3]]}")
        timings.append((kind, rows, time.perf_counter() - started))
    Session.remove()
    engine.dispose()
    return timings


def _numbers(count: int, seed: int = 5) -> list[str]:
    """count distinct valid NANP numbers (E.164), deterministic."""
    from app.numbering import try_parse_nanp

    rng, seen = random.Random(seed), set()
    while len(seen) < count:
        npa, nxx, line = rng.choice(AREA_CODES), rng.randint(200, 999), rng.randint(0, 9999)
        if nxx % 100 == 11 or nxx == 555:
            continue
        e164 = try_parse_nanp(f"{npa}{nxx}{line:04d}")
        if e164:
            seen.add(e164)
    return sorted(seen)


def _spell(e164: str, i: int) -> str:
    d = e164[2:]
    return [e164, f"({d[:3]}) {d[3:6]}-{d[6:]}", f"{d[:3]}-{d[3:6]}-{d[6:]}", f"1{d}", f"{d[:3]}.{d[3:6]}.{d[6:]}"][i % 5]


def _write_csv(path: Path, e164s: list[str], clients_count: int) -> list[dict]:
    """numbers.csv: 90% assigned to a client trunk, 5% registered for E911, 1% pending a port; returns the rows."""
    carrier_names = ["telus", "bell", "rogers", "thinq"]
    rows = []
    for i, e164 in enumerate(e164s):
        carrier = carrier_names[i % 4]
        assigned = i % 10 != 9
        client = f"C{(i // 7) % clients_count:04d}" if assigned else ""
        registered = assigned and carrier != "rogers" and i % 20 == 0
        pending = i % 100 == 50
        rows.append({"number": _spell(e164, i), "carrier": carrier, "client": client,
                     "trunk": ("main" if i % 3 else "fax") if assigned else "",
                     "e911_registered": "yes" if registered else "no",
                     "e911_address": f"{i} Main St, Winnipeg MB R3C 1A1" if registered else "",
                     "port_status": "port_in_pending" if pending else "active",
                     "port_target_carrier": ("telus" if carrier != "telus" else "bell") if pending else ""})
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return rows


def _write_changed(path: Path, rows: list[dict]) -> None:
    """The same numbers, each changed: assigned ones ring the client's other trunk, the others get a new holder."""
    changed = []
    for row in rows:
        row = dict(row)
        if row["client"]:
            row["trunk"] = "fax" if row["trunk"] == "main" else "main"
        else:
            row["carrier"] = "bell" if row["carrier"] != "bell" else "telus"
            if row["port_target_carrier"] == row["carrier"]:
                row["port_target_carrier"] = "thinq"
        changed.append(row)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(changed[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(changed)


def _baseline(url: str, e164s: list[str], rows: list[dict]) -> float:
    """Seconds for one plain executemany INSERT of the same rows (ids resolved beforehand), then undone."""
    from app.db import make_engine
    from app.models import Carrier, Client, Trunk

    engine = make_engine(url)
    with engine.connect() as conn:
        carriers = dict(conn.execute(select(Carrier.name, Carrier.id)).all())
        clients = dict(conn.execute(select(Client.account_code, Client.id)).all())
        trunks = {(c, n): i for i, c, n in conn.execute(select(Trunk.id, Trunk.client_id, Trunk.name))}
    params = []
    for e164, row in zip(e164s, rows, strict=True):
        client = clients.get(row["client"])
        params.append((e164, carriers[row["carrier"]], client, trunks.get((client, row["trunk"])),
                       row["e911_registered"] == "yes", row["e911_address"] or None, row["port_status"],
                       carriers.get(row["port_target_carrier"])))
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        started = time.perf_counter()
        cur.executemany("INSERT INTO phone_numbers (e164, carrier_id, client_id, trunk_id, e911_registered, e911_address, "
                        "port_status, port_target_carrier_id) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)", params)
        raw.commit()
        seconds = time.perf_counter() - started
        cur.execute("DELETE FROM phone_numbers")
        raw.commit()
    finally:
        raw.close()
        engine.dispose()
    return seconds


def _child(url: str, csv_path: str) -> None:
    """One import in this (fresh) process: what `flask import numbers FILE` does; prints JSON figures."""
    from app.csvio import import_csv
    from app.db import Session, make_engine
    from app.services.audit import Actor

    engine = make_engine(url)
    Session.configure(bind=engine)
    started = time.perf_counter()
    with open(csv_path, "rb") as fh:
        result = import_csv(Session(), "numbers", fh, Actor("bench", "csv"), filename="numbers.csv")
    Session.commit()
    seconds = time.perf_counter() - started
    print(json.dumps({"seconds": seconds, "summary": result.summary(), "ok": result.ok,
                      "errors": [str(e) for e in result.errors[:5]],
                      "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def _run_child(url: str, csv_path: Path) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", url, str(csv_path)], capture_output=True, text=True, cwd=ROOT)
    if out.returncode != 0:
        raise SystemExit(f"import child failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _check(url: str, expected: int) -> tuple[int, int, list[str]]:
    from app.db import Session, make_engine
    from app.models import PhoneNumber
    from app.models.realtime import REALTIME_TABLES
    from app.projection import drift
    from app.projection.names import RT_NUMBER

    engine = make_engine(url)
    Session.configure(bind=engine)
    session = Session()
    numbers = session.scalar(select(func.count()).select_from(PhoneNumber))
    ext = REALTIME_TABLES["extensions"]
    rows = session.scalar(select(func.count()).select_from(ext).where(ext.c.context == RT_NUMBER))
    lines = drift(session)
    Session.remove()
    engine.dispose()
    return numbers, rows, lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--url", default=os.environ.get("BENCH_MARIADB_URL", "mysql+mysqldb://root@127.0.0.1:3306"))
    parser.add_argument("--keep", action="store_true", help="Keep the scratch database.")
    parser.add_argument("--child", nargs=2, metavar=("URL", "CSV"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(*args.child)
        return
    os.environ.setdefault("IMPORT_MAX_ROWS", str(max(args.rows, 500_000)))
    from app.migrations import upgrade

    name, url = create_scratch_db(args.url, "trunkline_bench")
    try:
        upgrade(url)
        e164s = _numbers(args.rows)
        with tempfile.TemporaryDirectory() as tmp:
            platform = _platform(url, Path(tmp), args.clients)
            csv_path = Path(tmp) / "numbers.csv"
            rows = _write_csv(csv_path, e164s, args.clients)
            size_mb = csv_path.stat().st_size / 1e6
            baseline = _baseline(url, e164s, rows)
            first = _run_child(url, csv_path)
            again = _run_child(url, csv_path)
            changed_path = Path(tmp) / "numbers-changed.csv"
            _write_changed(changed_path, rows)
            changed = _run_child(url, changed_path)
        numbers, rt_rows, drift_lines = _check(url, args.rows)
        expected_rt = sum(1 for r in rows if r["client"])
        ratio = first["seconds"] / baseline
        print(f"rows: {args.rows} numbers ({size_mb:.1f} MB CSV), {args.clients} clients x 2 trunks, MariaDB scratch database {name}")
        print(f"baseline plain executemany INSERT : {baseline:6.2f} s")
        print(f"import (projection included)      : {first['seconds']:6.2f} s  = {ratio:.2f}x baseline, "
              f"peak RSS {first['peak_rss_mb']:.0f} MB  [{first['summary']}]")
        print(f"re-import of the unchanged file   : {again['seconds']:6.2f} s  peak RSS {again['peak_rss_mb']:.0f} MB  [{again['summary']}]")
        print(f"re-import, every number changed   : {changed['seconds']:6.2f} s  peak RSS {changed['peak_rss_mb']:.0f} MB  "
              f"[{changed['summary']}]  (no target; for information)")
        print("platform CSVs (per-row path, through the services, no target): "
              + ", ".join(f"{kind} {count} rows {seconds:.2f} s" for kind, count, seconds in platform))
        print(f"check: {numbers} numbers stored, {rt_rows} tl-num realtime rows (expected {expected_rt}), drift: {len(drift_lines)} line(s)")
        failed = [what for what, bad in (
            ("import failed", not first["ok"]), ("re-import changed something", "nothing changed" not in again["summary"]),
            ("import over 30 s", first["seconds"] >= 30), ("import over 3x baseline", ratio > 3),
            ("re-import over 15 s", again["seconds"] >= 15), ("peak RSS over 300 MB", max(first["peak_rss_mb"], again["peak_rss_mb"]) >= 300),
            ("numbers missing", numbers != args.rows), ("realtime rows missing", rt_rows != expected_rt), ("drift", bool(drift_lines)),
        ) if bad]
        print("targets: " + ("all met" if not failed else "MISSED: " + ", ".join(failed)))
        if not first["ok"]:
            print("\n".join(first["errors"]))
    finally:
        if not args.keep:
            drop_scratch_db(args.url, name)
    raise SystemExit(1 if failed else 0)


if __name__ == "__main__":
    main()
