"""After a commit, tell every live node to drop its cached copies of the realtime objects the commit changed.

Nodes cache endpoints, AORs, auths and identify rows in memory (sorcery memory cache) with no lifetime: a
lifetime would drop them while no database answers (sorcery.conf), so this push is how a change reaches a node. The projection records which cached
objects it rewrote (projection.sync, `changed_objects`); once the transaction has committed (never
before: a rolled-back change must not be announced) each live node gets, over AMI,
SorceryMemoryCacheExpireObject for every changed endpoint, AOR and auth, and SorceryMemoryCacheExpire
for the identify cache (it is held whole), once the database server the node reads first has applied the
commit (app.replica_wait). It runs in a background thread with short timeouts.

What each live node has to be told is written, in the same transaction as the change, to node_push_pending
(_record_pending); the push deletes a node's row once the node answered. A node that could not be told keeps its
rows, so it is told by whichever retrier runs next, in any process: this process's background thread (every
RETRY_SECONDS), `flask alerts watch` (a service of its own), `flask node push-retry` (once). An admin restart or a
change made by a short CLI process therefore loses nothing; `flask node push-pending` lists what is waiting, and the
node page and the dashboard show it in red.

Enabled when TRUNKLINE_AMI_SECRET is set; `flask node render` then writes the matching manager.conf.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import Engine, delete, event, insert, inspect, literal, select, update
from sqlalchemy.orm import Session

from app import replica_wait
from app.db import utc_now
from app.models import Node, NodePushPending
from app.projection.rows import LIVE_NODE_STATES
from app.projection.sync import changed_objects

AMI_USER = "trunkline"
TIMEOUT = 2.0  # seconds for connecting to and answering from one node
PARALLEL_NODES = 16
log = logging.getLogger(__name__)
_threads: list[threading.Thread] = []


class AmiError(RuntimeError):
    """A node's manager interface refused or did not answer."""


def ami_settings() -> tuple[str, int]:
    """(secret, port) of the nodes' manager interface; an empty secret means pushing is off."""
    try:
        from flask import current_app

        config = current_app.config
    except RuntimeError:  # outside an app (scripts, tests): the environment alone
        config = {}
    secret = config.get("AMI_SECRET") or os.environ.get("TRUNKLINE_AMI_SECRET", "")
    return secret, int(config.get("AMI_PORT") or os.environ.get("TRUNKLINE_AMI_PORT", "5038"))


def actions_for(objects: dict[str, set[str]]) -> list[dict[str, str]]:
    """The AMI actions that expire these cached objects ({cache: ids}; identify: the whole cache)."""
    actions = []
    for cache in ("endpoint", "aor", "auth"):
        actions += [{"Action": "SorceryMemoryCacheExpireObject", "Cache": cache, "Object": oid} for oid in sorted(objects.get(cache, ()))]
    if objects.get("identify"):
        actions.append({"Action": "SorceryMemoryCacheExpire", "Cache": "identify"})
    return actions


class AmiSession:
    """One logged-in manager (AMI) connection to a node, used as a context manager.

    `timeout` (seconds) bounds the connection and every single read; `deadline` (a time.monotonic() value, optional)
    bounds the whole session: once passed, the next request raises AmiError. Raises OSError when the node cannot be
    reached and AmiError when it refuses the login, closes the connection or answers too late. The session logs in
    with `Events: off`: only answers to our own actions arrive (so the account's `read` class is never used)."""

    def __init__(self, host: str, port: int, secret: str, timeout: float = TIMEOUT, deadline: float | None = None):
        self.host, self.port, self.secret, self.timeout, self.deadline = host, port, secret, timeout, deadline
        self.sock: socket.socket | None = None
        self.reader = None
        self.banner = ""
        self._ids = 0

    def __enter__(self) -> AmiSession:
        self.sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
        try:
            self.reader = self.sock.makefile("r", encoding="utf-8", errors="replace", newline="\r\n")
            self.banner = self.reader.readline().strip()  # "Asterisk Call Manager/x.y.z"
            answer = self.request({"Action": "Login", "Username": AMI_USER, "Secret": self.secret, "Events": "off"})
            if answer.get("Response") != "Success":
                raise AmiError(f"{self.host}:{self.port} refused the AMI login")
        except BaseException:
            self.sock.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        try:
            if exc[0] is None:
                self.request({"Action": "Logoff"})
        except (OSError, AmiError):
            pass
        finally:
            self.sock.close()

    def _check_deadline(self) -> None:
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise AmiError(f"{self.host}:{self.port} did not answer in time")

    def request(self, fields: dict[str, str]) -> dict[str, str]:
        """Send one action, return its answer ({header: value}; a repeated header keeps its first value)."""
        self._check_deadline()
        return _request(self.sock, self.reader, fields)

    def command(self, cli: str) -> list[str] | None:
        """Run one CLI command (action Command, write class `command`); its output lines (the Output headers).
        None: the account may not (a node rendered before its manager.conf gave `command`)."""
        self._check_deadline()
        self.sock.sendall(f"Action: Command\r\nCommand: {cli}\r\n\r\n".encode())
        pairs = _read_pairs(self.reader)
        if ("Response", "Error") in pairs:
            return None
        return [v for k, v in pairs if k == "Output"]

    def request_list(self, fields: dict[str, str]) -> tuple[dict[str, str], list[dict[str, str]]]:
        """Send an action that answers with a list of events (`EventList: start` ... `EventList: Complete`);
        returns (the answer, the events before the closing one). An error answer comes back with no events."""
        self._ids += 1
        action_id = f"tl{self._ids}"
        answer = self.request({**fields, "ActionID": action_id})
        events: list[dict[str, str]] = []
        if answer.get("Response") != "Success" or answer.get("EventList", "").lower() != "start":
            return answer, events
        while True:
            self._check_deadline()
            message = _read_message(self.reader)
            if message.get("ActionID") != action_id:
                continue  # not ours (events are off, but never mix another action's answers in)
            if message.get("EventList", "").lower() == "complete":
                return answer, events
            events.append(message)


def send_actions(host: str, port: int, secret: str, actions: Iterable[dict[str, str]], timeout: float = TIMEOUT) -> int:
    """Log in to one node's AMI, run the actions, log off; returns how many succeeded (raises AmiError on login)."""
    done = 0
    with AmiSession(host, port, secret, timeout) as ami:
        for action in actions:
            answer = ami.request(action)
            if answer.get("Response") == "Success":
                done += 1
            else:
                log.warning("node %s: %s %s answered %s", host, action["Action"], action.get("Object", action.get("Cache")),
                            answer.get("Message", answer))
    return done


def _request(sock: socket.socket, reader, fields: dict[str, str]) -> dict[str, str]:
    sock.sendall("".join(f"{k}: {v}\r\n" for k, v in fields.items()).encode() + b"\r\n")
    return _read_message(reader)


def _read_message(reader) -> dict[str, str]:
    """The next message (header lines up to a blank line) the node sends."""
    answer: dict[str, str] = {}
    for key, value in _read_pairs(reader):
        answer.setdefault(key, value)
    return answer


def _read_pairs(reader) -> list[tuple[str, str]]:
    """The next message as (header, value) pairs in order, repeated headers kept (a Command's Output lines)."""
    answer: list[tuple[str, str]] = []
    while True:
        try:
            line = reader.readline()
        except TimeoutError as exc:
            raise AmiError("the node did not answer in time") from exc
        if not line:
            raise AmiError("the node closed the AMI connection")
        line = line.rstrip("\r\n")
        if not line:
            if answer:
                return answer
            continue
        key, _, value = line.partition(":")
        answer.append((key.strip(), value.strip()))


def warm_node(host: str, port: int, secret: str, endpoints: Iterable[str] | None = None,
              timeout: float = TIMEOUT) -> int:
    """Have one node read endpoints and their AORs and auths into its caches now; returns how many it found.

    endpoints: ids to read (one it does not see answers an error and costs one look-up); None: every endpoint the
    node sees (PJSIPShowEndpoints: its realtime backend, i.e. its scoped view, read whole; nothing is cached by
    that list itself). Each PJSIPShowEndpoint retrieves the endpoint, every AOR it names and its inbound and
    outbound auths by id (res_pjsip/pjsip_configuration.c ami_show_endpoint; location.c ast_sip_for_each_aor;
    config_auth.c ast_sip_for_each_auth), and a retrieval by id that misses the memory cache is stored in it
    (main/sorcery.c ast_sorcery_retrieve_by_id, sorcery_cache_create). So objects the node never used are
    cached too, each on its own: a later change still expires just that object. Raises OSError/AmiError as
    AmiSession does."""
    with AmiSession(host, port, secret, timeout) as ami:
        if endpoints is None:
            _answer, events = ami.request_list({"Action": "PJSIPShowEndpoints"})
            endpoints = [e["ObjectName"] for e in events if e.get("Event") == "EndpointList" and e.get("ObjectName")]
        found = 0
        for endpoint in endpoints:
            answer, _events = ami.request_list({"Action": "PJSIPShowEndpoint", "Endpoint": endpoint})
            found += answer.get("Response") == "Success"
    return found


def endpoints_to_warm(objects: dict[str, set[str]]) -> list[str] | None:
    """The endpoints whose reading brings the changed objects back into a node's caches (None: all of them).

    The projection names an IP endpoint's AOR after the endpoint and an endpoint's auth ENDPOINT-auth
    (app.projection.rows). A registering trunk's AOR is named after its username: when only that AOR changed, its
    id is asked for as an endpoint, answers "unable to retrieve", and the AOR is read on its next use instead."""
    if "all" in objects:
        return None
    ids = set(objects.get("endpoint", ())) | set(objects.get("aor", ()))
    ids |= {a.removesuffix("-auth") for a in objects.get("auth", ())}
    return sorted(ids)


def push(engine: Engine, objects: dict[str, set[str]], secret: str, port: int, batch: str | None = None) -> None:
    """Send the expiries to every live node (PARALLEL_NODES at a time); failures are logged, never raised.

    batch: the token of the node_push_pending rows the commit wrote (_record_pending); a node that answered has its
    row of that batch deleted, one that did not has it marked (attempts, last_error) and is left to the retriers."""
    actions = actions_for(objects)
    if not actions:
        return
    try:
        with engine.connect() as conn:
            nodes = list(conn.execute(select(Node.id, Node.name, Node.public_ip, Node.hosting_provider)
                                      .where(Node.state.in_(LIVE_NODE_STATES))))
    except Exception:  # noqa: BLE001 - best effort: the rows written with the commit keep the nodes to tell
        log.exception("could not list the nodes to tell about a change")
        return
    # Each node is told only once the server it reads first has the change (app.replica_wait).
    position = replica_wait.commit_position(engine)
    reads = replica_wait.read_servers(engine, nodes) if position else {}
    waited: dict[str, threading.Event] = {}
    wait_lock = threading.Lock()

    def caught_up(server) -> None:
        with wait_lock:
            event = waited.get(server.name)
            first = event is None
            if first:
                event = waited[server.name] = threading.Event()
        if first:
            replica_wait.wait_applied(engine, server, position)
            event.set()
        event.wait()

    def one(node_id: int, name: str, host: str) -> None:
        if reads.get(name) is not None:
            caught_up(reads[name])
        try:
            send_actions(host, port, secret, actions)
            _warm_quietly(name, host, port, secret, endpoints_to_warm(objects))
        except (OSError, AmiError) as exc:
            log.warning("node %s (%s:%s) not told to expire its cache (%s); retried every %s s until it answers",
                        name, host, port, exc, RETRY_SECONDS)
            if batch is not None:
                _note_failure(engine, node_id, NodePushPending.batch == batch, exc)
                _start_background_retry(engine)
            return
        if batch is not None:
            _acknowledged(engine, node_id, delete(NodePushPending).where(NodePushPending.batch == batch))

    # A bounded number of nodes at a time: a platform of a thousand client nodes must not start a thousand threads.
    with ThreadPoolExecutor(max_workers=PARALLEL_NODES, thread_name_prefix="ami") as pool:
        for node in nodes:
            pool.submit(one, node.id, node.name, node.public_ip)


# ---- the durable list of what each node has still to be told (node_push_pending) ----
#
# Written in the same transaction as the change (before_commit), not after it: a process that dies between the
# commit and the push (an admin restart, a CLI command killed, a lost connection), or a primary that stops answering
# right after the commit, would otherwise commit a change that no node is ever told about, and a node that was down
# would keep its stale cached objects (no lifetime: sorcery.conf) for ever. The price is one INSERT ... SELECT per
# committing transaction that changed cached objects (one row per live node) and one DELETE per node told.
RETRY_SECONDS = 15
MAX_IDS = 500  # more changed objects than this in one commit: the row says "all" (every cache of the node)
EXPIRE_ALL = [{"Action": "SorceryMemoryCacheExpire", "Cache": c} for c in ("endpoint", "aor", "auth", "identify")]
_BATCH = "tl_push_batch"
_retrier: tuple[str, threading.Thread, threading.Event] | None = None  # (database URL, thread, its stop event)
_retrier_lock = threading.Lock()
retry_paused = threading.Event()  # set: this process's background retrier skips its passes (tests)


def _mariadb(engine) -> bool:
    """True when the engine is MariaDB/MySQL (the only database nodes read)."""
    # Nodes read MariaDB only (ODBC): a SQLite database (the demo) is read by no node, so there is nothing to tell.
    return engine.dialect.name in ("mysql", "mariadb")


def encode_objects(objects: dict[str, set[str]]) -> str:
    """The objects column: JSON {cache: sorted ids} (identify: ["*"], the whole cache), or "all" past MAX_IDS."""
    if objects.get("all") or sum(len(v) for k, v in objects.items() if k != "identify") > MAX_IDS:
        return "all"
    out = {cache: sorted(objects[cache]) for cache in ("endpoint", "aor", "auth") if objects.get(cache)}
    if objects.get("identify"):
        out["identify"] = ["*"]
    return json.dumps(out, separators=(",", ":"))


def decode_objects(text: str) -> dict[str, set[str]]:
    """The inverse of encode_objects ({"all": {"*"}} for "all")."""
    if text == "all":
        return {"all": {"*"}}
    return {cache: set(ids) for cache, ids in json.loads(text).items()}


@event.listens_for(Session, "before_commit")
def _record_pending(session: Session) -> None:
    from app.projection import sync

    sync._project_before_commit(session)  # the projection first (idempotent), so every changed object is known
    objects = session.info.get(sync._CHANGED)
    bind = session.get_bind()
    if not objects or not any(objects.values()) or not isinstance(bind, Engine) or not _mariadb(bind):
        return
    if not ami_settings()[0]:  # pushing is off (no AMI secret): nothing would ever tell the nodes, nor clear the rows
        return
    if not _has_table(bind, session):
        return
    batch = uuid.uuid4().hex
    now = utc_now()
    live = select(Node.id, literal(batch), literal(encode_objects(objects)), literal(now), literal(0)) \
        .where(Node.state.in_(LIVE_NODE_STATES))
    session.execute(insert(NodePushPending).from_select(
        ["node_id", "batch", "objects", "created_at", "attempts"], live))
    session.info[_BATCH] = batch


_table_seen: set[str] = set()  # engines (by URL) whose database has the table: checked once each


def _has_table(engine: Engine, session: Session) -> bool:
    """Whether the database has node_push_pending yet (code running against a database not yet migrated past 0003i,
    e.g. the migrations' own data tests, must still commit: then nothing is recorded, as before 0003i)."""
    key = str(engine.url)
    if key not in _table_seen:
        if not inspect(session.connection()).has_table(NodePushPending.__tablename__):
            return False
        _table_seen.add(key)
    return True


def _acknowledged(engine: Engine, node_id: int, rows) -> None:
    """Delete the node's rows the node has now been told (rows: a DELETE statement on node_push_pending)."""
    try:
        with engine.begin() as conn:
            conn.execute(rows.where(NodePushPending.node_id == node_id))
    except Exception:  # noqa: BLE001 - the row stays: the node is told again later (an expiry is idempotent)
        log.warning("node %s told, but its pending row could not be cleared (told again later)", node_id, exc_info=True)


def _note_failure(engine: Engine, node_id: int, which, exc: BaseException) -> None:
    """Count a failed attempt on the node's rows (which: a condition on node_push_pending, e.g. its batch or ids)."""
    try:
        with engine.begin() as conn:
            conn.execute(update(NodePushPending).where(NodePushPending.node_id == node_id, which)
                         .values(attempts=NodePushPending.attempts + 1, last_attempt_at=utc_now(),
                                 last_error=(str(exc) or type(exc).__name__)[:255]))
    except Exception:  # noqa: BLE001 - only bookkeeping
        log.warning("could not record the failed push to node %s", node_id, exc_info=True)


def pending(session, node_ids: Iterable[int] | None = None) -> dict[int, dict]:
    """What live nodes have still to be told: {node_id: {"node", "changes", "since", "attempts", "last_attempt_at",
    "last_error", "objects"}}; changes: commits not yet acknowledged; since: the oldest one's time (UTC);
    attempts: the most failed attempts of one of them; objects: {cache: ids} merged ("all": every cache)."""
    query = (select(NodePushPending, Node.name).join(Node, Node.id == NodePushPending.node_id)
             .where(Node.state.in_(LIVE_NODE_STATES)).order_by(Node.name, NodePushPending.id))
    if node_ids is not None:
        query = query.where(NodePushPending.node_id.in_(list(node_ids)))
    out: dict[int, dict] = {}
    for row, name in session.execute(query):
        entry = out.setdefault(row.node_id, {"node": name, "changes": 0, "since": row.created_at, "attempts": 0,
                                             "last_attempt_at": None, "last_error": None, "objects": {}, "ids": []})
        entry["changes"] += 1
        entry["ids"].append(row.id)
        entry["since"] = min(entry["since"], row.created_at)
        entry["attempts"] = max(entry["attempts"], row.attempts or 0)
        if row.last_attempt_at and (entry["last_attempt_at"] is None or row.last_attempt_at >= entry["last_attempt_at"]):
            entry["last_attempt_at"], entry["last_error"] = row.last_attempt_at, row.last_error
        for cache, ids in decode_objects(row.objects).items():
            entry["objects"].setdefault(cache, set()).update(ids)
    return out


def pending_sentence(entry: dict | None) -> str:
    """"2 changes not yet on this node since 14:02 UTC (3 failed attempts, last: timed out)", or "" when none."""
    if not entry:
        return ""
    n = entry["changes"]
    text = f"{n} change{'s' if n != 1 else ''} not yet on this node since {entry['since']:%Y-%m-%d %H:%M} UTC"
    if entry["attempts"]:
        text += f" ({entry['attempts']} failed attempt{'s' if entry['attempts'] != 1 else ''}, last: {entry['last_error']})"
    return text


def retry_pending(engine: Engine, secret: str, port: int, names: Iterable[str] | None = None) -> list[dict]:
    """One pass over the durable list: tell each node what it missed; returns one dict per node with rows:
    {"node", "changes", "since", "told": bool, "error": str | None}. Never raises for a node that does not answer.

    A node gets its missed objects merged into one AMI session (every cache when a row says "all"); its rows are
    deleted once every action was answered (an object no longer cached answers "could not be expired": nothing
    stale is left, so it counts as told). Nothing is sent while the admin's own database does not answer: the
    node is likely unable to read too, and an expired object could not be read again (it would be lost until the
    database is back). Each node is told once the server it reads first has applied the primary's position at the
    start of the pass (app.replica_wait), as the push after a commit does."""
    wanted = set(names) if names is not None else None
    with Session(engine) as session:
        todo = pending(session)
        rows = list(session.execute(select(Node.id, Node.name, Node.public_ip, Node.hosting_provider)
                                    .where(Node.id.in_(list(todo))))) if todo else []
    todo = {k: v for k, v in todo.items() if wanted is None or v["node"] in wanted}
    if not todo:
        return []
    results: list[dict] = []
    if not _database_answers(engine):
        return [{"node": e["node"], "changes": e["changes"], "since": e["since"], "told": False,
                 "error": "the database does not answer: not sent (the node could not read the objects again)"}
                for e in todo.values()]
    hosts = {r.id: r.public_ip for r in rows}
    position = replica_wait.commit_position(engine)
    reads = replica_wait.read_servers(engine, [r for r in rows if r.id in todo]) if position else {}
    lock = threading.Lock()

    def one(node_id: int, entry: dict) -> None:
        server = reads.get(entry["node"])
        if server is not None:
            replica_wait.wait_applied(engine, server, position)
        objects = entry["objects"]
        actions = EXPIRE_ALL if "all" in objects else actions_for(objects)
        ids = entry["ids"]
        try:
            send_actions(hosts[node_id], port, secret, actions)
            _warm_quietly(entry["node"], hosts[node_id], port, secret, endpoints_to_warm(objects))
        except (OSError, AmiError) as exc:
            _note_failure(engine, node_id, NodePushPending.id.in_(ids), exc)
            result = {"told": False, "error": str(exc) or type(exc).__name__}
        else:
            _acknowledged(engine, node_id, delete(NodePushPending).where(NodePushPending.id.in_(ids)))
            log.info("node %s answers again: told %d missed change(s)", entry["node"], entry["changes"])
            result = {"told": True, "error": None}
        with lock:
            results.append({"node": entry["node"], "changes": entry["changes"], "since": entry["since"], **result})

    with ThreadPoolExecutor(max_workers=PARALLEL_NODES, thread_name_prefix="ami-retry") as pool:
        for node_id, entry in todo.items():
            pool.submit(one, node_id, entry)
    return sorted(results, key=lambda r: r["node"])


WARM_CHECK_SECONDS = 60  # how often a retrier asks every live node when it started (CoreStatus)


def _warm_quietly(name: str, host: str, port: int, secret: str, endpoints: list[str] | None) -> None:
    """warm_node after the expiries were acknowledged: a failure here is logged only (the node was told)."""
    try:
        found = warm_node(host, port, secret, endpoints)
        log.debug("node %s read %d endpoint(s) back into its caches", name, found)
    except (OSError, AmiError) as exc:
        log.warning("node %s told, but not made to read the objects back (%s): they are read on first use", name, exc)


# Whether a node reads a database server now: func_odbc's own CLI runs the route look-up on the node's read handles
# in order (funcs/func_odbc.c cli_odbc_read) and prints "Query executed on handle …" once a server answered (even
# with no row), "Failed to execute query." when none did. A client node's local realtime copy has no `extensions`
# (app/nodeconf/local_realtime.py), so this never reads it. Through AMI Command (write class `command`, which
# manager.conf gives the account on nodes with a local copy).
DB_PROBE = "odbc read ODBC_TL_LOOKUP tl-route,nodes exec"
DB_PROBE_OK = "Query executed on handle"


def warm_started_nodes(engine: Engine, secret: str, port: int, started: dict[str, str]) -> list[str]:
    """Warm (warm_node, every endpoint) each live node whose start time (AMI CoreStatus CoreStartupDate/Time) is
    not the one recorded in `started` ({node name: start time}, updated): a node that has just (re)started, and
    every node once per retrier process. Only while the admin's database answers; a node that found no endpoint
    (it may not reach a database) is not recorded, so it is warmed again at the next check. Returns the names of
    the nodes warmed.

    A client node is warmed only once it reads a database server (DB_PROBE answers), and its caches are emptied
    first (EXPIRE_ALL): while no server answered it may have read objects from its local realtime copy, as of its
    last render, and they would stay cached (no lifetime); its local copy would also make the warm "find"
    endpoints while it reads no server."""
    if not _database_answers(engine):
        return []
    with engine.connect() as conn:
        nodes = list(conn.execute(select(Node.name, Node.public_ip, Node.role).where(Node.state.in_(LIVE_NODE_STATES))))
    warmed: list[str] = []
    lock = threading.Lock()

    def one(name: str, host: str, role: str) -> None:
        try:
            with AmiSession(host, port, secret) as ami:
                status = ami.request({"Action": "CoreStatus"})
                start = f"{status.get('CoreStartupDate', '')} {status.get('CoreStartupTime', '')}"
                if started.get(name) == start:
                    return
                if role == "client":
                    answer = ami.command(DB_PROBE)
                    if answer is None:
                        pass  # rendered before the local copy (no `command` class): nothing from a copy to drop
                    elif not any(DB_PROBE_OK in line for line in answer):
                        log.info("node %s (started %s) reads no database server yet: warmed at a later check", name, start)
                        return
                    for action in EXPIRE_ALL:
                        ami.request(action)
            found = warm_node(host, port, secret)
        except (OSError, AmiError):
            return  # not reachable now: asked again at the next check
        if found:  # an empty answer may be a node that cannot read its database: try again next time
            with lock:
                started[name] = start
                warmed.append(name)
            log.info("node %s (started %s): %d endpoint(s) read into its caches with their AORs and auths", name, start, found)

    with ThreadPoolExecutor(max_workers=PARALLEL_NODES, thread_name_prefix="ami-warm") as pool:
        for node in nodes:
            pool.submit(one, node.name, node.public_ip, node.role)
    return sorted(warmed)


def run_retrier(engine: Engine, secret: str, port: int, stop: threading.Event, every: float = RETRY_SECONDS) -> None:
    """Retry the durable list every `every` seconds until `stop` is set (the admin web's background thread and
    `flask alerts watch` run this), and every WARM_CHECK_SECONDS warm the nodes that started since the last look
    (warm_started_nodes). A failed pass is logged and tried again at the next turn."""
    started: dict[str, str] = {}
    next_warm = 0.0
    while not stop.wait(every):
        if retry_paused.is_set():
            continue
        try:
            retry_pending(engine, secret, port)
            if time.monotonic() >= next_warm:
                next_warm = time.monotonic() + WARM_CHECK_SECONDS
                warm_started_nodes(engine, secret, port, started)
        except Exception:  # noqa: BLE001 - must outlive a database outage
            log.warning("node push retry: pass failed; trying again in %s s", every, exc_info=True)


def _start_background_retry(engine: Engine) -> None:
    """Start this process's retrier thread once (a daemon: a short CLI process leaves its rows to the others)."""
    global _retrier
    secret, port = ami_settings()
    if not secret or not _mariadb(engine):
        return
    url = engine.url.render_as_string(hide_password=False)
    with _retrier_lock:
        if _retrier is not None and _retrier[0] == url and _retrier[1].is_alive():
            return
        if _retrier is not None:  # another database than the running one's (a process that rebound its engine)
            _retrier[2].set()
        stop = threading.Event()
        thread = threading.Thread(target=run_retrier, args=(engine, secret, port, stop), name="node-push-retry", daemon=True)
        _retrier = (url, thread, stop)
        thread.start()


start_background_retry = _start_background_retry


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    objects = changed_objects(session)
    batch = session.info.pop(_BATCH, None)
    if not objects:
        return
    secret, port = ami_settings()
    bind = session.get_bind()
    if not secret or not isinstance(bind, Engine):
        return
    # Not a daemon: a CLI command that just committed still gets its nodes told before the process ends.
    thread = threading.Thread(target=push, args=(bind, objects, secret, port, batch), name="node-push")
    thread.start()
    _threads.append(thread)
    _threads[:] = [t for t in _threads if t.is_alive()]


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    if not session.in_transaction():  # the whole transaction is gone (not just a savepoint): nothing to announce
        changed_objects(session)
        session.info.pop(_BATCH, None)  # its rows went with it


def wait(timeout: float = 10) -> None:
    """Wait for the pushes started so far (tests, and commands that report when nodes were told)."""
    for thread in list(_threads):
        thread.join(timeout)


def _database_answers(engine: Engine) -> bool:
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
        return True
    except Exception:  # noqa: BLE001 - any failure: not now
        return False


def pending_nodes(engine: Engine) -> list[str]:
    """Live nodes that have not yet acknowledged every change (node_push_pending)."""
    with Session(engine) as session:
        return sorted(e["node"] for e in pending(session).values())
