"""The admin while the primary database is down: reads from a replica, every write refused (issue 13).

Pieces (docs/databases.md, "The admin while the primary is down"):
- which servers: `DATABASE_REPLICA_URLS` (comma-separated SQLAlchemy URLs, the admin's own credentials), then the
  replicas of the db_servers table as last read from the primary, remembered in `instance/db_servers.json`
  (refreshed by the watcher at most every REMEMBER_EVERY s while the primary answers) and reached with
  DATABASE_URL's account, database and options on their host and port (accounts replicate). The remembered ones
  are tried in the read order of app.dbtopology for the admin's hosting provider (`ADMIN_HOSTING_PROVIDER`): a
  replica there first, then the others.
- whether the primary is down: a watcher thread (one per admin process, started by the first request, stopped
  after IDLE_STOP s without one) opens a fresh connection to the primary every CHECK_EVERY s with PROBE_TIMEOUT s
  connect/read timeouts. A request never waits for it: it reads the remembered answer. A request that meets an
  unreachable primary itself (killed between two probes) marks it down at once and is served again from a
  replica (app.web: one retry of a GET). Pooled connections are not trusted to notice: on a frozen server
  (SIGSTOP) SQLAlchemy's pre-ping waits for the 30 s read timeout and then the 3 s connect timeout (measured
  33 s on loopback); a fresh connection gives up after the 3 s connect timeout.
- nothing is written to a replica: its connections run `SET SESSION TRANSACTION READ ONLY`, so even an account
  with SUPER (which MariaDB's `read_only` lets write) gets error 1792, which app.dbdown counts as "unreachable"
  and the admin answers with the one message. The web refuses every POST before it runs while reading from a
  replica; code that writes during a GET (dashboard rollup, node_last_seen) skips its write (`serving_replica`).
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import event, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from app.db import make_engine, utc_now
from app.dbdown import is_unreachable
from app.dbtopology import read_order

log = logging.getLogger(__name__)

CHECK_EVERY = 2.0  # seconds between two probes of the primary
PROBE_TIMEOUT = 3  # seconds: connect and read timeout of a probe (the admin engine's own connect timeout)
SLOW_PROBE = 0.5  # seconds: a probe still waiting this long means the primary stopped answering (requests wait for it)
IDLE_STOP = 60.0  # the watcher stops after this long without a request (the next request starts it again)
REPLICA_SKIP = 10.0  # seconds a replica that did not answer is skipped before it is tried again
REMEMBER_EVERY = 60.0  # seconds between two rewrites of the remembered server list while the primary answers
REPLICA_CONNECT_ARGS = {"charset": "utf8mb4", "init_command": "SET sql_mode='STRICT_TRANS_TABLES,NO_ENGINE_SUBSTITUTION'",
                        "connect_timeout": PROBE_TIMEOUT, "read_timeout": 30, "write_timeout": 30}


@dataclass
class Server:
    """A database server as remembered from the db_servers table."""

    name: str
    host: str
    port: int
    role: str
    hosting_provider: str


@dataclass
class Replica:
    """Where a request or command reads while the primary is down, and how far behind that server may be.

    lag: Seconds_Behind_Master of SHOW SLAVE STATUS (None when MariaDB gives NULL: the replica lost its primary,
    which is the usual case here); words: the banner's sentence about its state.
    """

    name: str
    address: str  # host:port
    lag: int | None
    words: str
    engine: Engine

    def banner(self, down_since: datetime | None) -> str:
        since = f" since {down_since:%H:%M:%S} UTC" if down_since else ""
        return (f"The primary database is unreachable{since}: this page comes from replica {self.name} ({self.address}), "
                f"{self.words}. Changes are refused until the primary is back.")

    def header(self) -> str:
        """The X-Trunkline-Database header value: ASCII, one line."""
        lag = "unknown" if self.lag is None else f"{self.lag} s"
        return f"replica {self.name} ({self.address}); lag {lag}; read-only"


# ---------------------------------------------------------------- the remembered server list
def _source(primary_url: str | None) -> str | None:
    """host:port/database of a primary URL: which cluster a remembered list belongs to (no user, no password)."""
    if not primary_url:
        return None
    url = make_url(primary_url)
    return f"{url.host or 'localhost'}:{url.port or 3306}/{url.database or ''}"


def remember_servers(path: Path, servers: list[Server], primary_url: str | None = None) -> None:
    """Write the server list atomically (no credentials in it: replicas are reached with DATABASE_URL's account),
    marked with the primary it was read from."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps({"read_from_primary_at": utc_now().isoformat(timespec="seconds"),
                               "primary": _source(primary_url), "servers": [asdict(s) for s in servers]}, indent=1))
    os.replace(tmp, path)


def remembered_servers(path: Path, primary_url: str | None = None) -> list[Server]:
    """The list last read from the primary ([] when none was remembered, the file is unreadable, or it was read from
    another primary: one checkout used with two databases must not read the other cluster's replicas)."""
    try:
        data = json.loads(path.read_text())
        if primary_url and data.get("primary") and data["primary"] != _source(primary_url):
            return []
        return [Server(str(s["name"]), str(s["host"]), int(s["port"]), str(s["role"]), str(s["hosting_provider"]))
                for s in data.get("servers", [])]
    except (OSError, ValueError, KeyError, TypeError):
        return []


def read_servers(conn) -> list[Server]:
    """The db_servers table through an open SQLAlchemy connection ([] before the table exists)."""
    try:
        rows = conn.execute(text("SELECT name, host, port, role, hosting_provider FROM db_servers")).all()
    except DBAPIError as exc:
        if is_unreachable(exc):
            raise
        return []
    return [Server(r.name, r.host, int(r.port), r.role, r.hosting_provider) for r in rows]


def replica_urls(primary_url: str, configured: list[str], remembered: list[Server], provider: str | None) -> list[tuple[str, str]]:
    """[(name, SQLAlchemy URL)] to try, in order: the configured URLs, then the remembered replicas in the read order
    of app.dbtopology for the admin's hosting provider; never the primary itself, each host:port once."""
    base = make_url(primary_url)
    seen = {(base.host, base.port or 3306)}
    out: list[tuple[str, str]] = []
    for raw in configured:
        url = make_url(raw)
        key = (url.host, url.port or 3306)
        if key not in seen:
            seen.add(key)
            out.append((f"{url.host}:{url.port or 3306}", raw))
    replicas = [s for s in remembered if s.role == "replica"]
    for server in read_order(replicas, provider or "", 0):
        key = (server.host, server.port)
        if key not in seen:
            seen.add(key)
            out.append((server.name, base.set(host=server.host, port=server.port).render_as_string(hide_password=False)))
    return out


def replica_engine(url: str) -> Engine:
    """An engine whose every connection is read-only (error 1792 on any write, whatever the account's privileges)."""
    engine = make_engine(url, connect_args=dict(REPLICA_CONNECT_ARGS))

    @event.listens_for(engine, "connect")
    def _read_only(dbapi_conn, _record):
        cur = dbapi_conn.cursor()
        cur.execute("SET SESSION TRANSACTION READ ONLY")
        cur.close()

    return engine


def status_words(status: dict | None, applied: str | None) -> tuple[int | None, str]:
    """(lag in seconds or None, the banner's sentence) from SHOW SLAVE STATUS and @@gtid_slave_pos."""
    from app.dbpromote import covers

    if status is None:
        return None, "which replicates from no server (it may have been promoted: point DATABASE_URL at it)"
    lag = status.get("Seconds_Behind_Master")
    if lag is not None:
        return int(lag), f"replication lag {int(lag)} s (Seconds_Behind_Master)"
    received = status.get("Gtid_IO_Pos") or ""
    caught_up = covers(applied, received)
    state = (f"it has applied everything it received (GTID {applied or 'none'})" if caught_up
             else f"it has received up to GTID {received} but applied only {applied or 'none'}")
    return None, (f"replication lag unknown (Seconds_Behind_Master is NULL: the replica is not connected to the primary, "
                  f"Slave_IO_Running: {status.get('Slave_IO_Running')}); {state}")


# ---------------------------------------------------------------- primary watcher and replica choice
class ReplicaReads:
    """Per admin process: whether the primary answers, and the replica to read from while it does not."""

    def __init__(self, primary_url: str, servers_file: Path, configured: list[str], provider: str | None):
        self.primary_url = primary_url
        self.servers_file = servers_file
        self.configured = configured
        self.provider = provider
        self._lock = threading.Lock()
        self._down_since: datetime | None = None
        self.reason = ""
        self._thread: threading.Thread | None = None
        self._last_request = 0.0
        self._remembered_at = float("-inf")
        self._skip: dict[str, float] = {}  # replica name -> monotonic time until which it is skipped
        self._engines: dict[str, Engine] = {}
        self._probe_engine: Engine | None = None
        self.stopped = False
        self._surprise = ""  # the last unexpected probe error (logged once)
        self._probe_started: float | None = None  # monotonic start of the probe in flight
        self._probe_done = threading.Event()

    # -- the primary
    @property
    def down(self) -> bool:
        return self._down_since is not None

    @property
    def down_since(self) -> datetime | None:
        return self._down_since

    def mark_down(self, reason: str) -> None:
        with self._lock:
            if self._down_since is None:
                self._down_since = utc_now()
                log.error("the primary database is unreachable (%s): the admin reads from a replica, writes are refused", reason)
            self.reason = reason

    def mark_up(self) -> None:
        with self._lock:
            if self._down_since is not None:
                log.warning("the primary database answers again (down since %s UTC)", f"{self._down_since:%H:%M:%S}")
            self._down_since = None
            self.reason = ""

    def probe(self, remember: bool = True) -> bool:
        """Ask the primary on a fresh connection (PROBE_TIMEOUT s at most); True when it answers. Remembers the server
        list read from it (at most every REMEMBER_EVERY s) and updates `down`."""
        if self._probe_engine is None:
            self._probe_engine = make_engine(self.primary_url, poolclass=NullPool,
                                             connect_args={**REPLICA_CONNECT_ARGS, "read_timeout": PROBE_TIMEOUT,
                                                           "write_timeout": PROBE_TIMEOUT})
        try:
            with self._probe_engine.connect() as conn:
                conn.execute(text("SELECT 1"))
                if remember and time.monotonic() - self._remembered_at >= REMEMBER_EVERY:
                    servers = read_servers(conn)
                    if servers:
                        try:
                            remember_servers(self.servers_file, servers, self.primary_url)
                        except OSError:
                            log.warning("could not write %s", self.servers_file, exc_info=True)
                    self._remembered_at = time.monotonic()
        except DBAPIError as exc:
            if not is_unreachable(exc):
                raise
            self.mark_down(str(exc.orig).splitlines()[0][:200] if exc.orig else str(exc)[:200])
            return False
        self.mark_up()
        return True

    def touch(self) -> None:
        """A request arrived: make sure the watcher runs."""
        self._last_request = time.monotonic()
        if self.stopped:
            return
        thread = self._thread
        if thread is None or not thread.is_alive():
            with self._lock:
                if self._thread is None or not self._thread.is_alive():
                    self._thread = threading.Thread(target=self._watch, daemon=True, name="primary-watch")
                    self._thread.start()

    def wait_if_slow_probe(self) -> float:
        """A probe that has not answered within SLOW_PROBE s is a primary that stopped answering (a healthy one answers
        in milliseconds): wait for its verdict (PROBE_TIMEOUT s at most) rather than let the request reach a pooled
        connection, whose check waits for the 30 s read timeout. Returns the seconds waited."""
        started_at = self._probe_started
        if started_at is None or self.down or time.monotonic() - started_at < SLOW_PROBE:
            return 0.0
        begun = time.monotonic()
        self._probe_done.wait(timeout=max(0.0, started_at + PROBE_TIMEOUT + 0.5 - begun))
        return time.monotonic() - begun

    def _watch(self) -> None:
        while not self.stopped and time.monotonic() - self._last_request < IDLE_STOP:
            started = time.monotonic()
            self._probe_done.clear()
            self._probe_started = started
            try:
                self.probe()
                self._surprise = ""
            except Exception as exc:  # noqa: BLE001 - the watcher must outlive any surprise; logged once, not every probe
                words = str(exc).splitlines()[0][:300]
                if words != self._surprise:
                    log.warning("probing the primary database: %s (not counted as unreachable)", words)
                    self._surprise = words
            finally:
                self._probe_started = None
                self._probe_done.set()
            time.sleep(max(0.0, CHECK_EVERY - (time.monotonic() - started)))

    def stop(self) -> None:
        """Stop the watcher and close every engine (tests; a process exiting needs nothing)."""
        self.stopped = True
        if self._thread is not None:
            self._thread.join(timeout=PROBE_TIMEOUT + CHECK_EVERY + 1)
        for engine in [*self._engines.values(), *([self._probe_engine] if self._probe_engine else [])]:
            engine.dispose()

    # -- replicas
    def candidates(self) -> list[tuple[str, str]]:
        return replica_urls(self.primary_url, self.configured, remembered_servers(self.servers_file, self.primary_url), self.provider)

    def skip(self, name: str) -> None:
        """Skip this replica for REPLICA_SKIP s (it failed a request)."""
        self._skip[name] = time.monotonic() + REPLICA_SKIP

    def pick(self) -> Replica | None:
        """The first replica in read order that answers, with its replication state; None when none does."""
        now = time.monotonic()
        for name, url in self.candidates():
            if self._skip.get(name, 0) > now:
                continue
            with self._lock:
                engine = self._engines.get(url)
                if engine is None:
                    engine = self._engines[url] = replica_engine(url)
            try:
                with engine.connect() as conn:
                    status, applied = None, None
                    try:
                        status = conn.exec_driver_sql("SHOW SLAVE STATUS").mappings().first()
                        applied = conn.exec_driver_sql("SELECT @@GLOBAL.gtid_slave_pos").scalar()
                        lag, words = status_words(dict(status) if status is not None else None, applied)
                    except DBAPIError as exc:
                        if is_unreachable(exc):
                            raise
                        # 1227: the admin's account may not run SHOW SLAVE STATUS (needs SLAVE MONITOR or SUPER)
                        lag, words = None, "replication lag unknown (the admin's account may not run SHOW SLAVE STATUS: grant it SLAVE MONITOR)"
            except DBAPIError as exc:
                if not is_unreachable(exc):
                    raise
                log.warning("replica %s did not answer: %s", name, str(exc.orig or exc).splitlines()[0][:200])
                self.skip(name)
                continue
            address = f"{engine.url.host}:{engine.url.port or 3306}"
            return Replica(name, address, lag, words, engine)
        return None


def setup(app) -> ReplicaReads | None:
    """The app's ReplicaReads (stored in app.extensions), or None when there is nothing to fall back on: SQLite, or a
    test app bound to its own connection."""
    url = app.config.get("DATABASE_URL", "")
    if app.config.get("_ENGINE_BOUND"):
        return None
    if not url.startswith("mysql"):
        return None
    configured = [u.strip() for u in (app.config.get("DATABASE_REPLICA_URLS") or "").split(",") if u.strip()]
    path = Path(app.config.get("DB_SERVERS_FILE") or Path(app.instance_path) / "db_servers.json")
    reads = ReplicaReads(url, path, configured, app.config.get("ADMIN_HOSTING_PROVIDER") or None)
    app.extensions["trunkline_replicas"] = reads
    return reads


def serving_replica() -> bool:
    """True while this request or command reads from a replica (then nothing may be written)."""
    from flask import g, has_app_context

    return has_app_context() and g.get("tl_replica") is not None


def bind_replica(replica: Replica) -> None:
    """Point this thread's scoped Session at the replica (for this request or command only)."""
    from flask import g

    from app.db import Session

    Session.remove()
    Session.registry.set(Session.session_factory(bind=replica.engine))
    g.tl_replica = replica
