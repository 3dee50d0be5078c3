"""Which database servers a node reads, in which order, and whether the fleet's ODBC pools fit them.

Read order (issue 13): a replica at the node's own hosting provider, the other replicas, then the
primary. Within each group the list is rotated by the node's id, so nodes spread their load over
several replicas instead of all piling onto the first by name.

Connection budget: res_odbc keeps up to `max_connections` connections per DSN open once used; a node
normally uses only its first server, but when that one fails every node of the fleet may end up on
the same survivor. A server therefore has to accept the sum of the pools of every node that lists it
(the worst case), plus a reserve for the admin, replication and the DBA.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import DbServer, Node

RESERVE = 11  # connections kept free on each server: admin web + CLI (SQLAlchemy pool 5 + overflow), replication, a DBA


def _rotate(items: list, by: int) -> list:
    if not items:
        return items
    k = by % len(items)
    return items[k:] + items[:k]


def read_order(servers: list[DbServer], hosting_provider: str, node_id: int = 0) -> list[DbServer]:
    """Servers a node at hosting_provider reads, in order: local replicas, other replicas, the primary."""
    replicas = sorted((s for s in servers if s.role == "replica"), key=lambda s: s.name)
    # Provider names as people type them: "Vultr", "vultr" and " VULTR " are one provider.
    here = (hosting_provider or "").strip().casefold()
    local = [s for s in replicas if (s.hosting_provider or "").strip().casefold() == here]
    remote = [s for s in replicas if (s.hosting_provider or "").strip().casefold() != here]
    primaries = [s for s in servers if s.role == "primary"]
    return _rotate(local, node_id) + _rotate(remote, node_id) + primaries


@dataclass
class ServerLoad:
    """Connections a server may have to accept from the fleet's ODBC pools."""

    server: DbServer
    first_choice: int  # pools of nodes that read this server first (normal operation)
    worst_case: int  # pools of every node that lists it (all its other servers down)
    nodes: int  # nodes that list it

    @property
    def limit(self) -> int:
        """Connections the fleet may use on this server (max_connections minus the reserve)."""
        return max(0, self.server.max_connections - RESERVE)

    @property
    def warning(self) -> str | None:
        """A plain-words warning when the pools exceed the server's max_connections, else None."""
        if self.worst_case <= self.limit:
            return None
        return (f"database server {self.server.name}: the pools of the {self.nodes} nodes that may read it add up to "
                f"{self.worst_case} connections ({self.first_choice} in normal operation), more than its "
                f"max_connections {self.server.max_connections} minus {RESERVE} kept for the admin and replication: "
                f"raise max_connections on that server (and record it on the admin's Database servers page), or add replicas")


def fleet_budget(session: Session, pool_of) -> list[ServerLoad]:
    """Per server, the connections the live nodes' pools may open; pool_of(node) -> connections per DSN."""
    from app.projection.rows import LIVE_NODE_STATES

    servers = list(session.scalars(select(DbServer)))
    loads = {s.id: ServerLoad(s, 0, 0, 0) for s in servers}
    for node in session.scalars(select(Node).where(Node.state.in_(LIVE_NODE_STATES))):
        order = read_order(servers, node.hosting_provider, node.id)
        pool = pool_of(node)
        for position, server in enumerate(order):
            load = loads[server.id]
            load.worst_case += pool
            load.nodes += 1
            if position == 0:
                load.first_choice += pool
    return [loads[s.id] for s in sorted(servers, key=lambda s: (s.role != "primary", s.name))]


def fleet_warnings(session: Session, pool_of) -> list[str]:
    """Every server whose limit the fleet's pools exceed, in plain words."""
    return [w for w in (load.warning for load in fleet_budget(session, pool_of)) if w]
