"""EXPLAIN of the per-call queries a node runs through its scoped views (issue 11), on MariaDB, and the
time one such look-up takes through the view and on the bare table (same connection, interleaved).

Builds a scratch database with the demo data, then, for one client node and one carrier node, runs
EXPLAIN as an account that the views resolve to that node (EXPLAIN of a view needs SHOW VIEW and
SELECT on the tables under it, which a node account rightly lacks: this account has them, and is
mapped to the node in node_accounts exactly as the node's own account is). Prints each plan.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
import uuid
from pathlib import Path

from sqlalchemy import create_engine, select, text
from sqlalchemy.orm import Session

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.migrations import upgrade  # noqa: E402
from app.models import Node, NodeAccount  # noqa: E402
from app.projection.visibility import refresh_accounts  # noqa: E402
from tests.e2e.harness import MARIADB_URL  # noqa: E402

QUERIES = {
    "client": [
        # func_odbc (node render --lookup odbc): one per key
        "SELECT appdata FROM node_extensions WHERE context='tl-num' AND exten='+12045551201' AND priority=1",
        "SELECT appdata FROM node_extensions WHERE context='tl-route' AND exten='nodes' AND priority=1",
        # pbx_realtime (--lookup switch)
        "SELECT * FROM node_extensions WHERE exten = '+12045551201' AND context = 'tl-num' AND priority = 1",
        # sorcery realtime (endpoint, AOR, auth by id; identify rows all at once, cached)
        "SELECT * FROM node_ps_endpoints WHERE id = 'trunk-ACME-main'",
        "SELECT * FROM node_ps_aors WHERE id = 'node-cn-ovh-bhs1'",
        "SELECT * FROM node_ps_endpoint_id_ips WHERE id LIKE '%'",
    ],
    "carrier": [
        "SELECT appdata FROM node_extensions WHERE context='tl-num' AND exten='+12045551201' AND priority=1",
        "SELECT * FROM node_ps_endpoints WHERE id = 'carrier-telus'",
    ],
}


def timing(conn, role: str, rounds: int = 20, per_round: int = 500) -> None:
    """Median microseconds per func_odbc look-up: through node_extensions vs the extensions table."""
    cursor = conn.connection.dbapi_connection.cursor()
    sql = "SELECT appdata FROM {} WHERE context='tl-num' AND exten='+12045551201' AND priority=1"
    samples: dict[str, list[float]] = {"node_extensions": [], "extensions": []}
    for _ in range(rounds):
        for table in samples:  # interleaved: machine load hits both alike
            start = time.perf_counter()
            for _ in range(per_round):
                cursor.execute(sql.format(table))
                cursor.fetchall()
            samples[table].append((time.perf_counter() - start) / per_round * 1e6)
    view, table = statistics.median(samples["node_extensions"]), statistics.median(samples["extensions"])
    print(f"\n[{role} node] one tl-num look-up, median of {rounds} x {per_round}: through the view {view:.0f} us, "
          f"bare table {table:.0f} us (ratio {table / view:.2f}); load average {os.getloadavg()[0]:.1f}")


def main() -> int:
    from seeds.demo import load

    name = f"trunkline_explain_{uuid.uuid4().hex[:8]}"
    admin = create_engine(MARIADB_URL)
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    user = f"explain_{uuid.uuid4().hex[:6]}"
    try:
        url = f"{MARIADB_URL}/{name}"
        upgrade(url)
        engine = create_engine(url)
        with Session(engine) as session:
            load(session)
            session.commit()
        with engine.connect() as conn:
            conn.execute(text(f"CREATE USER '{user}'@'127.0.0.%'"))
            conn.execute(text(f"GRANT SELECT, SHOW VIEW ON `{name}`.* TO '{user}'@'127.0.0.%'"))
            conn.commit()
        for role, node_name in (("client", "cl-ovh-bhs7"), ("carrier", "cn-ovh-bhs1")):
            with Session(engine) as session:
                session.query(NodeAccount).delete()
                node = session.scalar(select(Node).where(Node.name == node_name))
                session.add(NodeAccount(node_id=node.id, db_user=user, host="127.0.0.%"))
                session.flush()
                refresh_accounts(session)  # its role and client, as the projection keeps them
                session.commit()
            node_engine = create_engine(f"mysql+mysqldb://{user}@127.0.0.1:3306/{name}")
            with node_engine.connect() as conn:
                for query in QUERIES[role]:
                    print(f"\n[{role} node {node_name}] EXPLAIN {query}")
                    result = conn.execute(text("EXPLAIN " + query))
                    cols = list(result.keys())
                    wanted = ["table", "type", "key", "ref", "rows", "Extra"]
                    print("  " + " | ".join(wanted))
                    for row in result:
                        values = dict(zip(cols, row, strict=True))
                        print("  " + " | ".join(str(values[c]) for c in wanted))
                    print("  rows returned:", len(conn.execute(text(query)).all()))
                timing(conn, role)
            node_engine.dispose()
        engine.dispose()
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP USER IF EXISTS '{user}'@'127.0.0.%'"))
            conn.execute(text(f"DROP DATABASE IF EXISTS {name}"))
        admin.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
