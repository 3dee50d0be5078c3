"""Benchmark: the admin with 100,000 numbers in MariaDB (server time of the numbers list, a prefix search, a trunk page).

Usage:  python bench/bench_admin.py [--numbers 100000] [--cdr 200000] [--url mysql+mysqldb://root@127.0.0.1:3306]
                                    [--runs 30] [--keep]

Creates a scratch database trunkline_bench_admin_<hex> (dropped at the end unless --keep), migrates it, loads the
demo platform through the services, then bulk-inserts the numbers (Core INSERTs, 10,000 of them on one trunk so that
its page is the heaviest), the realtime rows of the projection and --cdr call records over 60 days (dashboard).
Each page is requested in-process through the Flask test client as a signed-in admin: the time measured is the
server's (routing, queries, rendering), with no network. After one warm-up request per page it prints
min / median / p95 / max over --runs requests, and exits 1 when a median is over the 200 ms budget.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from scratch import create_scratch_db, drop_scratch_db  # noqa: E402
from sqlalchemy import func, insert, select, text  # noqa: E402
from sqlalchemy.orm import Session as OrmSession  # noqa: E402

BUDGET_MS = 200.0
EXCHANGES = [f"{n}" for n in range(220, 300)]  # NXX 220..299: none is an N11 code or 555
NPAS = ("204", "416", "604", "514", "403", "613")
HEAVY = 10_000  # numbers on the one trunk whose page is measured


def _load_cdr(db, count: int, carrier_names: list[str], trunks) -> None:
    """Call records spread over the last 60 days, for the dashboard's charts."""
    from datetime import datetime, timedelta

    from app.models.realtime import REALTIME_TABLES

    cdr = REALTIME_TABLES["cdr"]
    now = datetime.now().replace(microsecond=0)
    rows = []
    for i in range(count):
        trunk = trunks[i % len(trunks)]
        carrier = carrier_names[i % len(carrier_names)]
        rows.append({"accountcode": trunk.client.account_code, "start": now - timedelta(seconds=(i * 5184000) // max(count, 1)),
                     "channel": f"PJSIP/{trunk.endpoint_id}-{i:08x}", "dstchannel": f"PJSIP/carrier-{carrier}-{i:08x}",
                     "disposition": "ANSWERED", "duration": 60, "billsec": 50, "uniqueid": f"bench-{i}"})
        if len(rows) == 5000:
            db.execute(insert(cdr), rows)
            rows = []
    if rows:
        db.execute(insert(cdr), rows)


def _load(url: str, count: int, cdr_rows: int) -> dict:
    from app.db import make_engine
    from app.models import Carrier, Client, PhoneNumber, Trunk
    from app.projection import apply_pending, rebuild
    from app.services import users
    from app.services.audit import Actor
    from seeds.demo import load

    engine = make_engine(url)
    with OrmSession(engine) as db:
        load(db)
        apply_pending(db)
        users.create(db, "bench@example.test", "admin", "bench-admin-password", Actor("bench", "cli"))
        db.commit()
        carriers = list(db.scalars(select(Carrier).order_by(Carrier.id)))
        trunks = list(db.scalars(select(Trunk).order_by(Trunk.id)))
        heavy = db.scalar(select(Trunk).join(Client).where(Client.account_code == "ACME", Trunk.name == "main"))
        others = [t for t in trunks if t.id != heavy.id]
        t0 = time.perf_counter()
        rows = []
        for i in range(count):
            # Mixed radix: area code, then exchange, then line, so every area code and exchange is used.
            npa, rest = NPAS[i % len(NPAS)], i // len(NPAS)
            nxx, line = EXCHANGES[rest % len(EXCHANGES)], (rest // len(EXCHANGES)) * 7
            trunk = heavy if i < HEAVY else others[i % len(others)]
            rows.append({"e164": f"+1{npa}{nxx}{line:04d}", "carrier_id": carriers[i % len(carriers)].id,
                         "client_id": trunk.client_id, "trunk_id": trunk.id, "e911_registered": False, "port_status": "active"})
        existing = set(db.scalars(select(PhoneNumber.e164)))
        rows = [r for r in rows if r["e164"] not in existing]
        for start in range(0, len(rows), 5000):
            db.execute(insert(PhoneNumber), rows[start:start + 5000])
        db.commit()
        loaded = time.perf_counter() - t0
        t0 = time.perf_counter()
        rebuild(db)
        db.commit()
        projected = time.perf_counter() - t0
        t0 = time.perf_counter()
        _load_cdr(db, cdr_rows, [c.name for c in carriers], trunks)
        db.commit()
        cdr_s = time.perf_counter() - t0
        total = db.scalar(select(func.count()).select_from(PhoneNumber))
        on_heavy = db.scalar(select(func.count()).select_from(PhoneNumber).where(PhoneNumber.trunk_id == heavy.id))
        db.execute(text("ANALYZE TABLE phone_numbers, trunks, clients, carriers"))
        info = {"numbers": total, "heavy_trunk_id": heavy.id, "heavy_trunk_numbers": on_heavy, "insert_s": loaded,
                "projection_s": projected, "cdr_rows": cdr_rows, "cdr_s": cdr_s}
    engine.dispose()
    return info


def _measure(url: str, info: dict, runs: int) -> list[tuple[str, str, list[float]]]:
    import re

    from app import create_app

    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench", "TESTING": False})
    client = app.test_client()
    page = client.get("/login")
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.text).group(1)
    signed = client.post("/login", data={"email": "bench@example.test", "password": "bench-admin-password", "csrf_token": token})
    assert signed.status_code == 302, signed.text
    # (label, path, held to the 200 ms budget?)
    pages = [
        ("numbers list (page 1 of all, sorted by number)", "/admin/number/", True),
        ("numbers list, page 2000 (offset 40,000)", "/admin/number/?page=1999", True),
        ("search by part of a number 416-25 (anywhere in it)", "/admin/number/?search=416-25", True),
        ("search by the last four digits 0007", "/admin/number/?search=0007", True),
        ("search by a full number", "/admin/number/?search=(604)%20250-0007", True),
        (f"trunk page ({info['heavy_trunk_numbers']} numbers)", f"/admin/trunk/details/?id={info['heavy_trunk_id']}&caller_id=2045551204",
         True),
        ("dashboard (calls per day/month, by client, by carrier)", "/admin/", False),
        ("dashboard for one client", "/admin/?client=GLOBEX", False),
    ]
    results = []
    for label, url_path, budgeted in pages:
        response = client.get(url_path)
        assert response.status_code == 200, (url_path, response.status_code, response.text[:500])
        times = []
        for _ in range(runs):
            t0 = time.perf_counter()
            response = client.get(url_path)
            times.append((time.perf_counter() - t0) * 1000)
            assert response.status_code == 200
        results.append((label, budgeted, times))
    assert "(416) 25" in client.get("/admin/number/?search=416-25").text, "the part search found nothing"
    assert "-0007" in client.get("/admin/number/?search=0007").text, "the last-four-digits search found nothing"
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--numbers", type=int, default=100_000)
    parser.add_argument("--url", default="mysql+mysqldb://root@127.0.0.1:3306", help="MariaDB server URL (no database)")
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--cdr", type=int, default=200_000, help="call records to load for the dashboard")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    args = parser.parse_args()

    from app.migrations import upgrade

    name, url = create_scratch_db(args.url, "trunkline_bench_admin")
    try:
        upgrade(url)
        info = _load(url, args.numbers, args.cdr)
        print(f"database {name}: {info['numbers']} numbers ({info['heavy_trunk_numbers']} on one trunk), {info['cdr_rows']} call "
              f"records over 60 days; bulk insert {info['insert_s']:.1f} s, realtime projection rebuild {info['projection_s']:.1f} s, "
              f"call records {info['cdr_s']:.1f} s")
        results = _measure(url, info, args.runs)
        print(f"\nserver time per request over {args.runs} runs (ms); budget {BUDGET_MS:.0f} ms at the median for the pages marked *:")
        print(f"{'page':60} {'min':>7} {'median':>7} {'p95':>7} {'max':>7}")
        over = False
        for label, budgeted, times in results:
            times.sort()
            p95 = times[min(len(times) - 1, int(round(0.95 * (len(times) - 1))))]
            median = statistics.median(times)
            flag = "  OVER BUDGET" if budgeted and median > BUDGET_MS else ""
            over |= bool(flag)
            print(f"{('* ' if budgeted else '  ') + label:60} {times[0]:7.1f} {median:7.1f} {p95:7.1f} {times[-1]:7.1f}{flag}")
        return 1 if over else 0
    finally:
        if args.keep:
            print(f"kept database {name}")
        else:
            drop_scratch_db(args.url, name)


if __name__ == "__main__":
    raise SystemExit(main())
