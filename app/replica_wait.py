"""Before a node is told to expire a cached object, make sure the server it reads has the change.

Nodes read a replica first (app.dbtopology.read_order) and keep what they read until told otherwise
(sorcery.conf: no lifetime). Told too early, a node would re-read the old row from a replica that has
not applied the commit yet, and keep it. So after a commit the admin takes the primary's binary log
position (@@gtid_binlog_pos, which includes the commit) and, for each node whose first server is a
replica, waits with MASTER_GTID_WAIT on that replica (MariaDB KB "MASTER_GTID_WAIT") before the push.
"""

from __future__ import annotations

import logging

from sqlalchemy import Engine, select, text

from app.dbtopology import read_order
from app.models import DbServer

WAIT_SECONDS = 10  # longest wait for one replica; past it the node is told anyway and the lag is logged
log = logging.getLogger(__name__)


def commit_position(engine: Engine) -> str | None:
    """The primary's GTID position after the commit (None: not MariaDB, or no binary log)."""
    if engine.dialect.name not in ("mysql", "mariadb"):
        return None
    try:
        with engine.connect() as conn:
            return conn.execute(text("SELECT @@GLOBAL.gtid_binlog_pos")).scalar() or None
    except Exception:  # noqa: BLE001 - best effort: without a position the push goes out at once
        return None


def read_servers(engine: Engine, nodes: list) -> dict[str, DbServer | None]:
    """{node name: the replica it reads first, or None when it reads the primary (or there is no topology)}."""
    try:
        with engine.connect() as conn:
            servers = [DbServer(**row._mapping) for row in conn.execute(select(*DbServer.__table__.c))]
    except Exception:  # noqa: BLE001 - no topology table yet: everyone reads the primary
        return {}
    out = {}
    for node in nodes:
        order = read_order(servers, node.hosting_provider, node.id)
        out[node.name] = order[0] if order and order[0].role == "replica" else None
    return out


def wait_applied(engine: Engine, server: DbServer, position: str, timeout: float = WAIT_SECONDS) -> bool:
    """True once server has applied position (MASTER_GTID_WAIT); False on timeout or when it does not answer."""
    import MySQLdb

    url = engine.url
    try:
        conn = MySQLdb.connect(host=server.host, port=server.port, user=url.username or "", passwd=url.password or "",
                               connect_timeout=2, read_timeout=int(timeout) + 5)
    except MySQLdb.Error as exc:
        log.warning("replica %s did not answer (%s): nodes reading it fall back to the next server", server.name, exc)
        return False
    try:
        cur = conn.cursor()
        cur.execute("SELECT MASTER_GTID_WAIT(%s, %s)", (position, timeout))
        applied = cur.fetchone()[0] == 0
        if not applied:
            log.warning("replica %s has not applied %s after %s s: its nodes are told anyway", server.name, position, timeout)
        return applied
    except MySQLdb.Error as exc:
        log.warning("replica %s: MASTER_GTID_WAIT failed (%s)", server.name, exc)
        return False
    finally:
        conn.close()
