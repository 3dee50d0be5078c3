"""What cannot place or receive calls, in plain words: the dashboard and the client page show it in red.

Each rule mirrors why the realtime projection or a node would leave a call with nowhere to go
(app/projection/rows.py): a trunk is projected only for an active client on a live node, calls are
sent to the first single address of a carrier's or an IP trunk's list (its AOR contact), a disabled
carrier has no endpoint, and outbound calls leave through an active carrier-facing node.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload

from app.models import Carrier, Client, Node, PhoneNumber
from app.projection.rows import LIVE_NODE_STATES
from app.services.fields import is_host


@dataclass(frozen=True)
class CallProblem:
    """One thing that cannot place or receive calls: what (kind and id, for a link), and why."""

    kind: str  # "client", "trunk", "carrier" or "node" (the admin endpoint of its page), "" for the platform
    id: int | None
    what: str  # "client ACME", "trunk ACME/main", "carrier bell"
    reason: str

    def __str__(self) -> str:
        return f"{self.what}: {self.reason}"


def _has_host(addresses: str | None) -> bool:
    return any(is_host(a) for a in (addresses or "").split())


def call_problems(session: Session, client: Client | None = None) -> list[CallProblem]:
    """Every reason calls cannot be placed or received, for the whole platform or one client.

    With `client`, only what concerns that client: itself (its status too), its node, its trunks, the
    carriers holding its numbers, and platform-wide problems. Returns [] when everything can call.
    """
    problems: list[CallProblem] = []
    if not session.scalar(select(func.count()).select_from(Node).where(Node.role == "carrier", Node.state == "active")):
        problems.append(CallProblem("", None, "the platform", "no carrier-facing node is active: no call can reach a carrier"))
    query = select(Client).options(joinedload(Client.node), joinedload(Client.trunks)).order_by(Client.account_code)
    query = query.where(Client.id == client.id) if client is not None else query.where(Client.status == "active")
    for c in session.scalars(query).unique():
        what = f"client {c.account_code}"
        if c.status != "active":
            problems.append(CallProblem("client", c.id, what, f"the client is {c.status}: its trunks and numbers carry no calls"))
            continue
        if c.node is None:
            problems.append(CallProblem("client", c.id, what, "active without a client-facing node: its trunks and numbers "
                                                              "cannot place or receive calls; give it a node"))
        elif c.node.state not in LIVE_NODE_STATES:
            problems.append(CallProblem("node", c.node.id, f"node {c.node.name}", f"serves client {c.account_code} but is "
                                        f"{c.node.state}: the client's calls have no node; replace the node"))
        if not c.trunks:
            problems.append(CallProblem("client", c.id, what, "has no trunk: its numbers ring nowhere and it cannot place calls"))
        for trunk in c.trunks:
            if trunk.auth_mode == "ip" and not _has_host(trunk.source_addresses):
                problems.append(CallProblem("trunk", trunk.id, f"trunk {trunk}", "lists only networks: calls to the PBX have "
                                            "no address to be sent to; add the PBX's own IP address"))
    carriers = select(Carrier).order_by(Carrier.name)
    if client is not None:
        carriers = carriers.where(Carrier.id.in_(select(PhoneNumber.carrier_id).where(PhoneNumber.client_id == client.id)))
    for carrier in session.scalars(carriers):
        what = f"carrier {carrier.name}"
        if carrier.enabled and not _has_host(carrier.signalling_addresses):
            problems.append(CallProblem("carrier", carrier.id, what, "lists only networks: calls to it have no address "
                                        "to be sent to; add the host that receives calls"))
        if not carrier.enabled:
            held = select(func.count()).select_from(PhoneNumber).where(
                PhoneNumber.carrier_id == carrier.id, PhoneNumber.port_status != "ported_out")
            if client is not None:
                held = held.where(PhoneNumber.client_id == client.id)
            count = session.scalar(held)
            if count:
                problems.append(CallProblem("carrier", carrier.id, what, f"is disabled: the {count} number(s) it holds "
                                            "cannot receive calls; enable it or port the numbers"))
    return problems


__all__ = ["CallProblem", "call_problems"]
