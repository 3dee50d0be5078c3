"""The alert watcher: one AMI connection per live client node, listening for the TrunklineE911 UserEvent.

`flask --app wsgi alerts watch` runs it as a service of its own (docs/alerts.md has the systemd unit). Each node
has a listener thread that logs in with `Events: user` (the node's manager.conf lets the trunkline account read
the user class), reconnects on any failure (1, 2, 5, then every 10 s) and pings an idle connection so a dead
node is noticed. Events go through one queue to the main loop, which records the call and sends its alerts at
once; the same loop retries failed alerts when due and, every RECONCILE_EVERY seconds, records the 911 calls
that the call records show and no event announced.

Being the long-lived service next to the admin, it also runs the retrier of node cache expiries
(app.node_push.run_retrier, in a thread of its own): every live node, carrier nodes too, that has not acknowledged a
change recorded in node_push_pending is told once it answers, even when no admin web process is running.
"""

from __future__ import annotations

import logging
import queue
import socket
import threading
import time
from collections.abc import Callable

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from app import node_push
from app.alerts import EVENT, reconcile_from_cdr, record_call
from app.alerts.deliver import SmtpSettings, deliver_due
from app.models import Node
from app.node_push import AMI_USER

log = logging.getLogger(__name__)
IDLE = 15.0  # seconds without a word from the node before we ping it
RECONNECT = (1, 2, 5, 10)
NODE_REFRESH = 30.0  # seconds between two looks at which client nodes are live
RECONCILE_EVERY = 60.0


class NodeListener(threading.Thread):
    """Keeps one node's AMI connection and hands each TrunklineE911 event (its fields) to on_event."""

    def __init__(self, name: str, host: str, port: int, secret: str, on_event: Callable[[str, dict], None]):
        super().__init__(name=f"e911-ami-{name}", daemon=True)
        self.node, self.host, self.port, self.secret, self.on_event = name, host, port, secret, on_event
        self.stopping = threading.Event()
        self.connected = False

    def stop(self) -> None:
        self.stopping.set()

    def run(self) -> None:
        failures = 0
        while not self.stopping.is_set():
            try:
                self._session()
                failures = 0
            except (OSError, ConnectionError) as exc:
                self.connected = False
                wait = RECONNECT[min(failures, len(RECONNECT) - 1)]
                failures += 1
                if failures in (1, 10) or failures % 60 == 0:
                    log.warning("node %s (%s:%s): AMI connection lost or refused (%s); retrying every %s s",
                                self.node, self.host, self.port, exc, wait)
                self.stopping.wait(wait)
        self.connected = False

    def _session(self) -> None:
        with socket.create_connection((self.host, self.port), timeout=5) as sock:
            sock.settimeout(IDLE)
            buffer = b""
            blocks = self._blocks(sock, buffer)
            next(blocks)  # the greeting line
            sock.sendall(_action({"Action": "Login", "Username": AMI_USER, "Secret": self.secret, "Events": "user"}))
            answer = next(blocks)
            if answer.get("Response") != "Success":
                raise ConnectionError(f"login refused: {answer.get('Message', answer)}")
            self.connected = True
            log.info("node %s: listening for 911 calls", self.node)
            pinged = False
            while not self.stopping.is_set():
                try:
                    block = next(blocks)
                except TimeoutError:
                    if pinged:
                        raise ConnectionError("no answer to a ping") from None
                    sock.sendall(_action({"Action": "Ping"}))
                    pinged = True
                    continue
                pinged = False
                if block.get("Event") == "UserEvent" and block.get("UserEvent") == EVENT:
                    self.on_event(self.node, block)

    def _blocks(self, sock: socket.socket, buffer: bytes):
        """Yield the greeting line, then one dict per AMI message (blank-line separated)."""
        while b"\r\n" not in buffer:
            buffer += self._recv(sock)
        _greeting, buffer = buffer.split(b"\r\n", 1)
        yield {}
        while True:
            while b"\r\n\r\n" not in buffer:
                buffer += self._recv(sock)
            raw, buffer = buffer.split(b"\r\n\r\n", 1)
            fields: dict[str, str] = {}
            for line in raw.decode("utf-8", "replace").split("\r\n"):
                key, sep, value = line.partition(":")
                if sep:
                    fields.setdefault(key.strip(), value.strip())
            if fields:
                yield fields

    @staticmethod
    def _recv(sock: socket.socket) -> bytes:
        data = sock.recv(65536)
        if not data:
            raise ConnectionError("the node closed the connection")
        return data


def _action(fields: dict[str, str]) -> bytes:
    return "".join(f"{k}: {v}\r\n" for k, v in fields.items()).encode() + b"\r\n"


class Watcher:
    """Listens to every live client node, records 911 calls, delivers and retries their alerts."""

    def __init__(self, engine: Engine, secret: str, port: int, smtp: SmtpSettings):
        self.engine, self.secret, self.port, self.smtp = engine, secret, port, smtp
        self.events: queue.Queue[tuple[str, dict, float]] = queue.Queue()
        self.listeners: dict[str, NodeListener] = {}

    def _on_event(self, node: str, fields: dict) -> None:
        self.events.put((node, fields, time.time()))

    def refresh_nodes(self, session: Session) -> None:
        """Start a listener for each live client node, stop those of nodes no longer live or moved."""
        live = {name: host for name, host in session.execute(
            select(Node.name, Node.public_ip).where(Node.role == "client", Node.state.in_(("active", "draining"))))}
        session.commit()
        for name in list(self.listeners):
            if live.get(name) != self.listeners[name].host:
                self.listeners.pop(name).stop()
        for name, host in live.items():
            if name not in self.listeners:
                listener = NodeListener(name, host, self.port, self.secret, self._on_event)
                self.listeners[name] = listener
                listener.start()

    def handle(self, session: Session, node: str, fields: dict) -> None:
        call = record_call(session, {**fields, "Node": fields.get("Node") or node}, source="node")
        session.commit()
        if call is not None:
            log.warning("911 call %s from %s (%s) recorded; %d alert(s) to send", call.call_id, call.trunk,
                        call.account_code, len(call.deliveries))
            deliver_due(session, self.smtp)

    def run(self, stop: threading.Event, seconds: float | None = None) -> None:
        """Run until `stop` is set (or `seconds` have passed)."""
        end = time.monotonic() + seconds if seconds else None
        next_nodes = next_reconcile = 0.0
        retry_stop = threading.Event()
        retrier = threading.Thread(target=self._retry_pushes, args=(retry_stop,), name="node-push-retry", daemon=True)
        retrier.start()
        with Session(self.engine) as session:
            while not stop.is_set() and (end is None or time.monotonic() < end):
                now = time.monotonic()
                try:
                    if now >= next_nodes:
                        self.refresh_nodes(session)
                        next_nodes = now + NODE_REFRESH
                    if now >= next_reconcile:
                        for call in reconcile_from_cdr(session):
                            log.warning("911 call %s from %s found in the call records (no event was heard); alerting",
                                        call.call_id, call.trunk)
                        session.commit()
                        next_reconcile = now + RECONCILE_EVERY
                    try:
                        item = self.events.get(timeout=1.0)
                    except queue.Empty:
                        item = None
                    if item is not None:
                        try:
                            self.handle(session, item[0], item[1])
                        except Exception:
                            self.events.put(item)  # not recorded: keep it for the next try
                            raise
                    deliver_due(session, self.smtp)
                except Exception:  # noqa: BLE001 - the watcher must outlive a database outage; it retries
                    log.exception("alert watcher: database or delivery error; retrying in 2 s")
                    session.rollback()
                    stop.wait(2)
        for listener in self.listeners.values():
            listener.stop()
        retry_stop.set()
        retrier.join(node_push.TIMEOUT * 2)

    def _retry_pushes(self, stop: threading.Event) -> None:
        """Tell nodes the changes they missed: one pass at once, then every node_push.RETRY_SECONDS."""
        try:
            node_push.retry_pending(self.engine, self.secret, self.port)
        except Exception:  # noqa: BLE001 - the next turn tries again
            log.warning("node push retry: first pass failed", exc_info=True)
        node_push.run_retrier(self.engine, self.secret, self.port, stop)
