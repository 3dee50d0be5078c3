"""Benchmark: realtime projection at scale on MariaDB.

Creates a scratch database, loads the demo data plus N numbers (domain rows inserted in bulk),
then times: a full `rebuild`, a full `verify` (drift), and single changes through the services
(reassign a number, change a trunk, change a carrier), which must stay scoped to what they touch.
Prints the figures; run: .venv/bin/python bench/bench_projection.py [--numbers 100000]
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scratch import create_scratch_db, drop_scratch_db  # noqa: E402
from sqlalchemy import insert, select  # noqa: E402

from app.db import Session, bind_session, make_engine  # noqa: E402
from app.migrations import upgrade  # noqa: E402
from app.models import Carrier, Client, PhoneNumber, Trunk  # noqa: E402
from app.projection import apply_pending, drift, rebuild  # noqa: E402
from app.services import carriers, numbers, trunks  # noqa: E402
from app.services.audit import Actor  # noqa: E402
from seeds.demo import load  # noqa: E402

ACTOR = Actor("bench", "cli")


def timed(label: str, fn):
    start = time.perf_counter()
    result = fn()
    print(f"{label:<48} {time.perf_counter() - start:8.3f} s")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--numbers", type=int, default=100_000)
    parser.add_argument("--server", default="mysql+mysqldb://root@127.0.0.1:3306")
    args = parser.parse_args()
    name, url = create_scratch_db(args.server, "trunkline_bench_projection")
    try:
        upgrade(url)
        engine = make_engine(url)
        bind_session(engine)
        s = Session()
        load(s)
        s.commit()
        acme = s.scalar(select(Client).where(Client.account_code == "ACME"))
        main_trunk = s.scalar(select(Trunk).where(Trunk.client_id == acme.id, Trunk.name == "main"))
        carrier_ids = [c.id for c in s.scalars(select(Carrier))]
        rows = [{"e164": f"+1613{2000000 + i:07d}", "carrier_id": carrier_ids[i % len(carrier_ids)], "client_id": acme.id,
                 "trunk_id": main_trunk.id, "e911_registered": False, "port_status": "active"} for i in range(args.numbers)]
        timed(f"bulk insert {args.numbers} domain rows", lambda: (s.execute(insert(PhoneNumber), rows), s.commit()))
        counts = timed("realtime rebuild (all rows)", lambda: rebuild(s))
        s.commit()
        print(f"  rebuild wrote {counts}")
        lines = timed("realtime verify (full drift check)", lambda: drift(s))
        print(f"  drift lines: {len(lines)}")
        n = numbers.get(s, "+16132000001")
        timed("reassign one number (service + projection)",
              lambda: (numbers.save(s, {"trunk": "branch"}, ACTOR, n), apply_pending(s), s.commit()))
        timed("change one trunk with all its numbers",
              lambda: (trunks.save(s, {"did_format": "nanp11"}, ACTOR, trunks.get(s, "ACME", "main")), apply_pending(s), s.commit()))
        timed("change one carrier's caller-ID format",
              lambda: (carriers.save(s, {"callerid_format": "e164"}, ACTOR, carriers.get(s, "bell")), apply_pending(s), s.commit()))
        print(f"  drift after changes: {len(drift(s))}")
        print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
        Session.remove()
        engine.dispose()
    finally:
        drop_scratch_db(args.server, name)


if __name__ == "__main__":
    main()
