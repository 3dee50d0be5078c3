"""After a commit, tell every live node to drop its cached copies of the realtime objects the commit changed.

Nodes cache endpoints, AORs, auths and identify rows in memory (sorcery memory cache) with no lifetime: a
lifetime would drop them while no database answers (sorcery.conf), so this push is how a change reaches a node. The projection records which cached
objects it rewrote (projection.sync, `changed_objects`); once the transaction has committed (never
before: a rolled-back change must not be announced) each live node gets, over AMI,
SorceryMemoryCacheExpireObject for every changed endpoint, AOR and auth, and SorceryMemoryCacheExpire
for the identify cache (it is held whole), once the database server the node reads first has applied the
commit (app.replica_wait). It runs in a background thread with short timeouts; a node that cannot be reached
is retried every RETRY_SECONDS and, once it answers, expires all its caches.

Enabled when TRUNKLINE_AMI_SECRET is set; `flask node render` then writes the matching manager.conf.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import Engine, event, select
from sqlalchemy.orm import Session

from app import replica_wait
from app.models import Node
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
        answer.setdefault(key.strip(), value.strip())


def push(engine: Engine, objects: dict[str, set[str]], secret: str, port: int) -> None:
    """Send the expiries to every live node (PARALLEL_NODES at a time); failures are logged, never raised."""
    actions = actions_for(objects)
    if not actions:
        return
    try:
        with engine.connect() as conn:
            nodes = list(conn.execute(select(Node.id, Node.name, Node.public_ip, Node.hosting_provider)
                                      .where(Node.state.in_(LIVE_NODE_STATES))))
    except Exception:  # noqa: BLE001 - best effort: the node is retried (_retry_later)
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

    def one(name: str, host: str) -> None:
        if reads.get(name) is not None:
            caught_up(reads[name])
        try:
            send_actions(host, port, secret, actions)
        except (OSError, AmiError) as exc:
            log.warning("node %s (%s:%s) not told to expire its cache (%s); retried every %s s until it answers",
                        name, host, port, exc, RETRY_SECONDS)
            _retry_later(name, host, port, secret, engine)

    # A bounded number of nodes at a time: a platform of a thousand client nodes must not start a thousand threads.
    with ThreadPoolExecutor(max_workers=PARALLEL_NODES, thread_name_prefix="ami") as pool:
        for node in nodes:
            pool.submit(one, node.name, node.public_ip)


# Nodes that could not be told: once they answer again they expire every cache (they may have missed several
# changes), so they are brought up to date when they come back. Kept in this process's memory: after an admin
# restart, `flask --app wsgi node expire-caches` does the same for every live node.
RETRY_SECONDS = 15
EXPIRE_ALL = [{"Action": "SorceryMemoryCacheExpire", "Cache": c} for c in ("endpoint", "aor", "auth", "identify")]
_pending: dict[str, tuple[str, int, str, Engine]] = {}
_pending_lock = threading.Lock()
_retrier: threading.Thread | None = None


def _retry_later(name: str, host: str, port: int, secret: str, engine: Engine) -> None:
    global _retrier
    if engine.dialect.name not in ("mysql", "mariadb"):  # nodes read MariaDB; a SQLite demo has no live node to retry
        return
    with _pending_lock:
        _pending[name] = (host, port, secret, engine)
        if _retrier is None or not _retrier.is_alive():
            _retrier = threading.Thread(target=_retry_loop, name="node-push-retry", daemon=True)
            _retrier.start()


def _retry_loop() -> None:
    import time

    while True:
        time.sleep(RETRY_SECONDS)
        with _pending_lock:
            todo = dict(_pending)
        if not todo:
            return
        for name, (host, port, secret, engine) in todo.items():
            # Expiring every cache of a node that cannot read a database would leave it with nothing: only while
            # the database answers the admin (the node falls back on the primary at worst).
            if not _database_answers(engine):
                continue
            try:
                send_actions(host, port, secret, EXPIRE_ALL)
            except (OSError, AmiError):
                continue
            log.info("node %s answers again: every cache expired", name)
            with _pending_lock:
                _pending.pop(name, None)


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    objects = changed_objects(session)
    if not objects:
        return
    secret, port = ami_settings()
    bind = session.get_bind()
    if not secret or not isinstance(bind, Engine):
        return
    # Not a daemon: a CLI command that just committed still gets its nodes told before the process ends.
    thread = threading.Thread(target=push, args=(bind, objects, secret, port), name="node-push")
    thread.start()
    _threads.append(thread)
    _threads[:] = [t for t in _threads if t.is_alive()]


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    if not session.in_transaction():  # the whole transaction is gone (not just a savepoint): nothing to announce
        changed_objects(session)


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


def pending_nodes() -> list[str]:
    """Nodes the admin could not tell and keeps retrying (they expire every cache once they answer)."""
    with _pending_lock:
        return sorted(_pending)
