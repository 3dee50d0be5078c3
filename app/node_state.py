"""Live state read from the nodes themselves over their manager interface (AMI), cached for a few seconds.

What a sysadmin asks during an incident: is the node up (uptime, Asterisk version, active calls by client
and carrier)? Is this PBX registered (contact address, expiry, user agent, round-trip time)? Is the carrier
reachable, and is our registration to it up? None of it is in the database: a node keeps registered
contacts in its own local store (astdb), qualify results and outbound registration state in memory. So
each node is asked, with the same AMI account the admin uses to expire caches (app.node_push):

Actions (Asterisk 22) and the manager class each one needs (the class it is registered with):
- CoreSettings: AsteriskVersion, SystemName. system or reporting (main/manager.c).
- CoreStatus: CoreStartupDate/Time (the node's local time), CoreCurrentCalls. system or reporting (main/manager.c).
- CoreShowChannels: a CoreShowChannel event per channel (Channel, AccountCode, Linkedid). system or reporting
  (main/manager.c).
- PJSIPShowEndpoint Endpoint=X: a ContactStatusDetail event per contact of X's AORs (URI, UserAgent, RegExpire,
  ViaAddress, Status, RoundtripUsec). system (res/res_pjsip/pjsip_configuration.c, pjsip_options.c).
- PJSIPShowRegistrationsOutbound: an OutboundRegistrationDetail event per registration (Endpoint, ServerUri,
  Status, NextReg). system or reporting (res/res_pjsip_outbound_registration.c; carrier nodes only: client
  nodes do not load the module).

Manager.c runs an action when the session's *write* class shares a bit with the action's class
(`writeperm & authority`), and the answers and list events go straight to the asking session; the `read`
class only filters unsolicited events, which this session switches off (`Events: off`). So the rendered
account's `write = system` already allows all of these, and nothing needs widening.

Bounded: each page asks only the nodes it shows, all of them in parallel (node_push.PARALLEL_NODES
threads), with CONNECT_TIMEOUT to connect and NODE_DEADLINE for the whole exchange; an answer is reused
for TTL seconds (one request in flight per node, shared by concurrent pages). A page waits at most
PAGE_WAIT for the answers it needs; a node that has not answered by then is shown as "not answering"
(red), and the answer that arrives later serves the next page. A node whose last answer was "unreachable"
is not waited for: that answer is shown (it is at most TTL + NODE_DEADLINE old) while it is asked again. A node that cannot be reached is shown as
unreachable with the time it was last seen (table node_last_seen), never as "not registered".
"""

from __future__ import annotations

import logging
import re
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session as OrmSession

from app import node_push
from app.db import utc_now
from app.models import Carrier, Client, Node, NodeLastSeen
from app.projection.rows import LIVE_NODE_STATES

TTL = 5.0  # seconds an answer from a node is reused
CONNECT_TIMEOUT = 1.0  # seconds to open the TCP connection (a blackholed address costs this much, in the background)
NODE_DEADLINE = 2.0  # seconds for the whole exchange with one node
PAGE_WAIT = 0.25  # seconds a page waits for the nodes it shows (a node 20 ms away answers in ~150 ms: 7 round trips)
SEEN_WRITE_EVERY = timedelta(seconds=60)  # node_last_seen is rewritten at most this often per node (and on each flip)
KNOWN_DOWN_FOR = SEEN_WRITE_EVERY.total_seconds() + 30  # a node_last_seen error row younger than this: known down

log = logging.getLogger(__name__)
_CHANNEL_RE = re.compile(r"^PJSIP/(?P<endpoint>.+)-[0-9a-f]{8}$")
_pool = ThreadPoolExecutor(max_workers=node_push.PARALLEL_NODES, thread_name_prefix="node-state")
_lock = threading.RLock()  # re-entrant: a question answered at once runs its done-callback (_store) under it
_cache: dict[tuple, NodeState] = {}  # (node id, host, port, endpoints) -> last answer
_inflight: dict[tuple, Future] = {}
_generation = [0]  # bumped by clear_cache: answers to questions asked before it are not stored


@dataclass
class Contact:
    """One contact of an AOR as the node holds it (registered by a PBX, or a static contact it qualifies)."""

    endpoint: str
    aor: str
    uri: str
    user_agent: str
    source: str  # address:port the REGISTER came from (Via), "" for a static contact
    expires_at: int  # Unix time; 0 for a static contact
    status: str  # AMI's label (pjsip_options.c status_map): Reachable, Unreachable, NonQualified, Unknown, Removed
    rtt_ms: float | None  # round-trip time of the last qualify (OPTIONS), when Reachable

    @property
    def registered(self) -> bool:
        return self.expires_at > 0


@dataclass
class OutboundRegistration:
    """Our registration to a carrier (res_pjsip_outbound_registration)."""

    name: str
    endpoint: str
    server: str
    status: str  # Registered, Unregistered, Rejected, Stopping, Stopped
    next_in: int | None  # seconds until the next REGISTER


@dataclass
class NodeState:
    """What one node answered (or why it did not). state: 'up', 'unreachable', 'waiting' (no answer within the
    page's wait yet) or 'off' (no AMI secret configured: live state is not asked)."""

    node_id: int
    name: str
    host: str
    state: str
    checked_at: float = field(default_factory=time.time)  # Unix time of the answer (or failure)
    error: str = ""
    version: str = ""
    system_name: str = ""
    started_at: datetime | None = None  # UTC (the node's local time, nodes run in UTC)
    channels: list[dict] = field(default_factory=list)
    contacts: dict[str, list[Contact]] = field(default_factory=dict)  # endpoint -> contacts
    missing_endpoints: list[str] = field(default_factory=list)  # endpoints the node does not know
    registrations: list[OutboundRegistration] = field(default_factory=list)
    elapsed_ms: float = 0.0
    last_seen: datetime | None = None  # UTC, from node_last_seen when the node did not answer now
    recorded: bool = False  # not an answer of this process: node_last_seen's last failure (asked again meanwhile)

    @property
    def up(self) -> bool:
        return self.state == "up"

    @property
    def calls(self) -> list[dict]:
        """Active calls on this node: one per Linkedid, with the client (account code) and carrier it involves."""
        groups: dict[str, dict] = {}
        for chan in self.channels:
            call = groups.setdefault(chan.get("Linkedid") or chan.get("Uniqueid", ""), {"client": "", "carrier": "", "channels": 0})
            call["channels"] += 1
            call["client"] = call["client"] or chan.get("AccountCode", "")
            match = _CHANNEL_RE.match(chan.get("Channel", ""))
            if match and match["endpoint"].startswith("carrier-") and not call["carrier"]:
                call["carrier"] = match["endpoint"][len("carrier-"):]
        return list(groups.values())

    def calls_by(self, key: str) -> dict[str, int]:
        """{client account code or carrier name: active calls}; calls without one are not counted."""
        out: dict[str, int] = {}
        for call in self.calls:
            if call[key]:
                out[call[key]] = out.get(call[key], 0) + 1
        return dict(sorted(out.items()))


# ---------------------------------------------------------------- asking a node
def _query(node_id: int, name: str, host: str, port: int, secret: str, role: str, endpoints: tuple[str, ...]) -> NodeState:
    """Ask one node everything (one AMI session). Never raises: a failure is a NodeState 'unreachable'."""
    started = time.monotonic()
    state = NodeState(node_id, name, host, "up")
    try:
        with node_push.AmiSession(host, port, secret, timeout=CONNECT_TIMEOUT, deadline=started + NODE_DEADLINE) as ami:
            settings = ami.request({"Action": "CoreSettings"})
            state.version = settings.get("AsteriskVersion", "")
            state.system_name = settings.get("SystemName", "")
            status = ami.request({"Action": "CoreStatus"})
            state.started_at = _node_time(status.get("CoreStartupDate", ""), status.get("CoreStartupTime", ""))
            _, state.channels = ami.request_list({"Action": "CoreShowChannels"})
            for endpoint in endpoints:
                answer, events = ami.request_list({"Action": "PJSIPShowEndpoint", "Endpoint": endpoint})
                if answer.get("Response") != "Success":
                    state.missing_endpoints.append(endpoint)
                    continue
                state.contacts[endpoint] = [_contact(endpoint, e) for e in events if e.get("Event") == "ContactStatusDetail"]
            if role == "carrier":
                answer, events = ami.request_list({"Action": "PJSIPShowRegistrationsOutbound"})
                state.registrations = [_registration(e) for e in events if e.get("Event") == "OutboundRegistrationDetail"]
    except (OSError, node_push.AmiError) as exc:
        state = NodeState(node_id, name, host, "unreachable", error=_reason(exc, host, port))
    state.checked_at = time.time()
    state.elapsed_ms = (time.monotonic() - started) * 1000
    return state


def _reason(exc: Exception, host: str, port: int) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return f"nothing listens on {host}:{port} (connection refused): Asterisk is stopped or its manager interface is off"
    if isinstance(exc, TimeoutError):
        return f"no answer from {host}:{port} within {CONNECT_TIMEOUT:g} s (host down, or a firewall drops the admin)"
    if isinstance(exc, node_push.AmiError):
        return str(exc)
    return f"{host}:{port}: {exc.strerror or exc}" if isinstance(exc, OSError) else str(exc)


def _node_time(day: str, clock: str) -> datetime | None:
    try:
        return datetime.strptime(f"{day} {clock}", "%Y-%m-%d %H:%M:%S")
    except ValueError:
        return None


def _int(text: str | None) -> int:
    try:
        return int(text or 0)
    except ValueError:
        return 0


def _contact(endpoint: str, e: dict[str, str]) -> Contact:
    rtt = e.get("RoundtripUsec", "N/A")
    return Contact(endpoint=e.get("EndpointName") or endpoint, aor=e.get("AOR", ""), uri=e.get("URI", ""),
                   user_agent=e.get("UserAgent", ""), source=e.get("ViaAddress", ""), expires_at=_int(e.get("RegExpire")),
                   status=e.get("Status", "Unknown"), rtt_ms=round(int(rtt) / 1000, 1) if rtt.isdigit() else None)


def _registration(e: dict[str, str]) -> OutboundRegistration:
    return OutboundRegistration(name=e.get("ObjectName", ""), endpoint=e.get("Endpoint", ""), server=e.get("ServerUri", ""),
                                status=e.get("Status", "Unknown"), next_in=_int(e.get("NextReg")) if "NextReg" in e else None)


# ---------------------------------------------------------------- which nodes, which endpoints
def endpoints_of(session: OrmSession, node: Node) -> tuple[str, ...]:
    """The endpoints whose contacts a node's page shows: a client node's trunks and the carrier nodes it uses;
    a carrier node's enabled carriers."""
    if node.role == "client":
        client = session.scalar(select(Client).where(Client.node_id == node.id))
        trunks = sorted(t.endpoint_id for t in client.trunks) if client else []
        carrier_nodes = session.scalars(select(Node).where(Node.role == "carrier", Node.state.in_(LIVE_NODE_STATES))
                                        .order_by(Node.name))
        return tuple(trunks + [n.endpoint_id for n in carrier_nodes])
    return tuple(c.endpoint_id for c in session.scalars(select(Carrier).where(Carrier.enabled.is_(True)).order_by(Carrier.name)))


@dataclass
class Asked:
    """Questions sent to nodes by `ask`, answered by `collect`: a page sends them first and does its database work
    while the nodes answer, so the wait overlaps the page's own work."""

    nodes: list[Node]
    out: dict[int, NodeState]
    futures: dict[int, Future]
    known_down: dict[int, NodeState]
    seen_rows: dict[int, NodeLastSeen]
    started: float


def node_states(session: OrmSession, nodes: list[Node], wait_s: float = PAGE_WAIT) -> dict[int, NodeState]:
    """{node id: NodeState} for these nodes, asked in parallel, answers reused for TTL s, waiting at most wait_s.

    Retired nodes are not asked (state 'off'); without an AMI secret nothing is asked (state 'off')."""
    return collect(session, ask(session, nodes), wait_s)


def ask(session: OrmSession, nodes: list[Node]) -> Asked:
    """Send the questions for these nodes now (answers reused for TTL s); `collect` waits for them."""
    secret, port = node_push.ami_settings()
    out: dict[int, NodeState] = {}
    futures: dict[int, Future] = {}
    known_down: dict[int, NodeState] = {}  # the previous answer said unreachable: shown while it is asked again
    now = time.time()
    started = time.monotonic()
    for node in nodes:
        if not secret or node.state not in LIVE_NODE_STATES:
            out[node.id] = NodeState(node.id, node.name, node.public_ip, "off",
                                     error="retired: not asked" if secret else "live state is off: no AMI secret (TRUNKLINE_AMI_SECRET)")
            continue
        key = (node.id, node.public_ip, port, endpoints_of(session, node))
        with _lock:
            cached = _cache.get(key)
            if cached is not None and now - cached.checked_at < TTL:
                out[node.id] = cached
                continue
            if cached is not None and not cached.up:
                known_down[node.id] = cached
            future = _inflight.get(key)
            if future is None:
                future = _pool.submit(_query, node.id, node.name, node.public_ip, port, secret, node.role, key[3])
                _inflight[key] = future
                future.add_done_callback(lambda f, key=key, gen=_generation[0]: _store(key, f, gen))
        futures[node.id] = future
    by_id = {n.id: n for n in nodes}
    seen_rows = _seen_rows(session, [n.id for n in nodes if n.id in futures or (n.id in out and out[n.id].state != "off")])
    for node_id in futures:
        row = seen_rows.get(node_id)
        if node_id in known_down or row is None or row.error is None or row.checked_at is None:
            continue
        # Found unreachable by any admin process lately (this one restarted, another worker asked): not waited for
        # either. Such a row is rewritten at least every SEEN_WRITE_EVERY while the node stays down, and at once by
        # whoever sees the node answer again, so a recent error row is the last word on the node.
        checked = row.checked_at.replace(tzinfo=UTC).timestamp()
        if now - checked < KNOWN_DOWN_FOR:
            node = by_id[node_id]
            known_down[node_id] = NodeState(node.id, node.name, node.public_ip, "unreachable", checked_at=checked,
                                            error=f"{row.error} (checked {ago(now - checked)} ago; asking again)",
                                            recorded=True)
    return Asked(nodes, out, futures, known_down, seen_rows, started)


def collect(session: OrmSession, asked: Asked, wait_s: float = PAGE_WAIT) -> dict[int, NodeState]:
    """{node id: NodeState}: the answers to `ask`'s questions, waiting at most wait_s from when they were asked (a node
    known to be unreachable is not waited for: its last answer is shown while it is asked again)."""
    nodes, out, futures, known_down = asked.nodes, asked.out, asked.futures, asked.known_down
    waited_for = [f for node_id, f in futures.items() if node_id not in known_down]
    remaining = wait_s - (time.monotonic() - asked.started)
    if waited_for and remaining > 0:
        wait(waited_for, timeout=remaining)
    by_id = {n.id: n for n in nodes}
    for node_id, future in futures.items():
        if future.done() and future.exception() is None:
            out[node_id] = future.result()
        elif node_id in known_down:
            out[node_id] = known_down[node_id]
        else:
            node = by_id[node_id]
            out[node_id] = NodeState(node.id, node.name, node.public_ip, "waiting",
                                     error=f"no answer within {wait_s:g} s (still asking; the next page shows the answer)")
    _remember(session, out, asked.seen_rows)
    return out


def _seen_rows(session: OrmSession, node_ids: list[int]) -> dict[int, NodeLastSeen]:
    if not node_ids:
        return {}
    try:
        return {r.node_id: r for r in session.scalars(select(NodeLastSeen).where(NodeLastSeen.node_id.in_(node_ids)))}
    except SQLAlchemyError:  # best effort, as the writes: the page shows what the nodes say
        session.rollback()
        return {}


def _store(key: tuple, future: Future, generation: int) -> None:
    with _lock:
        if generation != _generation[0]:
            return
        _inflight.pop(key, None)
        if future.exception() is None:
            _cache[key] = future.result()


def clear_cache() -> None:
    """Forget every cached answer (tests; and `TTL` is short anyway)."""
    with _lock:
        _generation[0] += 1
        _cache.clear()
        _inflight.clear()  # questions still running are not waited for (their answers are still stored)


def _remember(session: OrmSession, states: dict[int, NodeState], rows: dict[int, NodeLastSeen]) -> None:
    """Keep node_last_seen: last answer time for nodes that answered, and the failure for those that did not; fills
    NodeState.last_seen for the ones that did not answer now. Best effort: a failed write never breaks the page; while
    the page comes from a replica (primary down, app.dbreplica) nothing is written.
    `rows`: the node_last_seen rows of these nodes, as `ask` read them."""
    from app.dbreplica import serving_replica

    asked = [s for s in states.values() if s.state in ("up", "unreachable", "waiting")]
    for state in asked:
        if state.recorded:
            state.last_seen = rows[state.node_id].seen_at
    asked = [s for s in asked if not s.recorded]  # node_last_seen already says so
    if not asked:
        return
    now = utc_now()
    dirty = False
    read_only = serving_replica()
    for state in asked:
        row = rows.get(state.node_id)
        checked = datetime.fromtimestamp(state.checked_at, UTC).replace(tzinfo=None)
        if state.up:
            state.last_seen = checked
            if read_only:
                continue
            if row is None or row.error is not None or row.seen_at is None or checked - row.seen_at >= SEEN_WRITE_EVERY:
                row = row or _new_row(session, state.node_id, checked)
                row.seen_at, row.checked_at, row.error = checked, checked, None
                dirty = True
        else:
            state.last_seen = row.seen_at if row is not None else None
            if not read_only and state.state == "unreachable" and (row is None or row.error != state.error[:255]
                                                 or now - row.checked_at >= SEEN_WRITE_EVERY):
                row = row or _new_row(session, state.node_id, checked)
                row.checked_at, row.error = checked, state.error[:255]
                dirty = True
    if dirty:
        try:
            session.commit()
        except SQLAlchemyError:  # two pages writing the same node at once: the other one's write is as good
            session.rollback()
            log.info("node_last_seen not updated (concurrent write)", exc_info=True)


def _new_row(session: OrmSession, node_id: int, checked: datetime) -> NodeLastSeen:
    row = NodeLastSeen(node_id=node_id, checked_at=checked)
    session.add(row)
    return row


# ---------------------------------------------------------------- plain words
def ago(seconds: float) -> str:
    """'12 s', '3 min', '2 h 5 min', '4 days' (rounded down)."""
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min"
    if seconds < 86400:
        hours, minutes = divmod(seconds // 60, 60)
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{seconds // 86400} day{'s' if seconds >= 172800 else ''}"


def _when(at: datetime | None) -> str:
    if at is None:
        return "never seen"
    return f"last seen {at:%Y-%m-%d %H:%M:%S} UTC ({ago((utc_now() - at).total_seconds())} ago)"


def node_summary(state: NodeState) -> str:
    """'up 3 h 12 min, Asterisk 22.5.1, 2 active call(s)' / 'UNREACHABLE: ...; last seen ...'."""
    if state.state == "off":
        return f"not asked ({state.error})"
    if state.state == "unreachable":
        return f"unreachable: {state.error}; {_when(state.last_seen)}"
    if state.state == "waiting":
        return f"not answering: {state.error}; {_when(state.last_seen)}"
    parts = []
    if state.started_at is not None:
        parts.append(f"up {ago((utc_now() - state.started_at).total_seconds())}")
    else:
        parts.append("up")
    if state.version:
        parts.append(f"Asterisk {state.version}")
    calls = len(state.calls)
    parts.append(f"{calls} active call{'' if calls == 1 else 's'}")
    return ", ".join(parts)


def contact_sentence(contact: Contact, now: float | None = None) -> str:
    """'registered from 198.51.100.7:5060, expires in 2 min, user agent Yealink W60B, reachable (round trip 12.5 ms)'."""
    now = time.time() if now is None else now
    if contact.registered:
        left = contact.expires_at - now
        where = contact.source or contact.uri
        words = [f"registered from {where}",
                 f"expires in {ago(left)}" if left > 0 else f"expired {ago(-left)} ago"]
        if contact.user_agent:
            words.append(f"user agent {contact.user_agent}")
    else:
        words = [f"static contact {contact.uri}"]
    words.append(reachability(contact))
    return ", ".join(words)


def reachability(contact: Contact) -> str:
    """The qualify result (OPTIONS pings) in words."""
    if contact.status == "Reachable":
        return f"reachable (round trip {contact.rtt_ms:g} ms)" if contact.rtt_ms is not None else "reachable"
    if contact.status == "Unreachable":
        return "NOT reachable: it does not answer the node's OPTIONS pings"
    if contact.status == "NonQualified":
        return "not checked (qualify off)"
    return "not checked yet"


def registration_sentence(reg: OutboundRegistration) -> str:
    """'registered to sip:203.0.113.5:5060, next REGISTER in 55 min' or 'NOT registered to ...: Rejected'."""
    if reg.status == "Registered":
        return f"registered to {reg.server}" + (f", next REGISTER in {ago(reg.next_in)}" if reg.next_in else "")
    return f"NOT registered to {reg.server}: {reg.status.lower()}"


# ---------------------------------------------------------------- what the pages show
def trunk_live(session: OrmSession, trunk) -> dict:
    """The trunk's registrations and reachability as its client node sees them:
    {"node": Node | None, "state": NodeState | None, "contacts": [(Contact, sentence, ok)], "known": bool}."""
    node = trunk.client.node if trunk.client else None
    if node is None:
        return {"node": None, "state": None, "contacts": [], "known": False}
    state = node_states(session, [node])[node.id]
    contacts = state.contacts.get(trunk.endpoint_id, []) if state.up else []
    if trunk.auth_mode == "credentials":
        contacts = [c for c in contacts if c.registered]
    now = time.time()
    rows = [(c, contact_sentence(c, now), c.status != "Unreachable" and
             (not c.registered or c.expires_at > now)) for c in contacts]
    return {"node": node, "state": state, "contacts": rows, "known": state.up, "age": int(max(0, now - state.checked_at)),
            "unknown_endpoint": state.up and trunk.endpoint_id in state.missing_endpoints}


def carrier_live(session: OrmSession, carrier) -> list[dict]:
    """Per live carrier node: {"node", "state", "contacts": [(Contact, sentence)], "registrations": [sentence, ok],
    "calls": active calls through this carrier}."""
    nodes = list(session.scalars(select(Node).where(Node.role == "carrier", Node.state.in_(LIVE_NODE_STATES)).order_by(Node.name)))
    states = node_states(session, nodes)
    out = []
    for node in nodes:
        state = states[node.id]
        row = {"node": node, "state": state, "summary": node_summary(state), "contacts": [], "registrations": [], "calls": 0}
        if state.up:
            row["contacts"] = [(c, contact_sentence(c)) for c in state.contacts.get(carrier.endpoint_id, [])]
            row["registrations"] = [(registration_sentence(r), r.status == "Registered") for r in state.registrations
                                    if r.endpoint == carrier.endpoint_id or r.name.startswith(f"{carrier.endpoint_id}-")]
            row["calls"] = state.calls_by("carrier").get(carrier.name, 0)
            row["unknown_endpoint"] = carrier.endpoint_id in state.missing_endpoints
        out.append(row)
    return out


def ask_dashboard_nodes(session: OrmSession) -> Asked:
    """Send the dashboard's questions (every live node) before the page's other work; `dashboard_nodes` collects."""
    return ask(session, list(session.scalars(select(Node).where(Node.state.in_(LIVE_NODE_STATES)).order_by(Node.role, Node.name))))


def dashboard_nodes(session: OrmSession, asked: Asked | None = None) -> list[dict]:
    """Every live node (active, draining) with its state in words and the changes it has not yet acknowledged
    (pending: a sentence, "" when none); unreachable ones first, then those with pending changes."""
    asked = asked or ask_dashboard_nodes(session)
    nodes = asked.nodes
    states = collect(session, asked)
    waiting = node_push.pending(session)  # changes not yet acknowledged (node_push_pending), shown in red too
    rows = [{"node": n, "state": states[n.id], "summary": node_summary(states[n.id]),
             "pending": node_push.pending_sentence(waiting.get(n.id))} for n in nodes]
    rows.sort(key=lambda r: (r["state"].up or r["state"].state == "off", not r["pending"], r["node"].role, r["node"].name))
    return rows


def node_live(session: OrmSession, node: Node, state: NodeState | None = None) -> dict:
    """A node's page: its state in words, and each endpoint it serves with its contacts in words."""
    state = state or node_states(session, [node])[node.id]
    labels, registering = {}, set()
    if node.role == "client":
        client = session.scalar(select(Client).where(Client.node_id == node.id))
        for trunk in (client.trunks if client else []):
            labels[trunk.endpoint_id] = f"trunk {trunk}"
            if trunk.auth_mode == "credentials":
                registering.add(trunk.endpoint_id)
        for other in session.scalars(select(Node).where(Node.role == "carrier")):
            labels[other.endpoint_id] = f"carrier node {other.name}"
    else:
        for carrier in session.scalars(select(Carrier)):
            labels[carrier.endpoint_id] = f"carrier {carrier.name}"
    endpoints = []
    if state.up:
        now = time.time()
        for endpoint, contacts in state.contacts.items():
            sentences = [(contact_sentence(c, now), c.status in ("Reachable", "NonQualified")) for c in contacts]
            if not sentences:
                sentences = [("not registered" if endpoint in registering else "no contact", False)]
            endpoints.append((labels.get(endpoint, endpoint), sentences))
        for endpoint in state.missing_endpoints:
            endpoints.append((labels.get(endpoint, endpoint), [("unknown to this node", False)]))
        for reg in state.registrations:
            endpoints.append((f"registration {reg.name}", [(registration_sentence(reg), reg.status == "Registered")]))
    return {"state": state, "summary": node_summary(state), "endpoints": endpoints}

