"""Static Asterisk configuration of one node, rendered from the database.

Everything that changes while the platform runs (endpoints, numbers, routes, E911) is read by the
node through ODBC realtime; these files only carry what a node needs to start: its transports, the
ODBC pool, the sorcery/realtime mappings with their cache lifetimes, the static dialplan whose
helper contexts hold all the call logic, CDR storage and its firewall.
"""

from __future__ import annotations

import ipaddress
import math
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import jinja2
from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from app.db import utc_now
from app.errors import NotFound
from app.models import Carrier, Client, Node
from app.node_push import AMI_USER
from app.projection.names import (
    CTX_FROM_CARRIER,
    CTX_FROM_NODE,
    CTX_FROM_TRUNK,
    LIST_SEP,
    RT_E911,
    RT_NUMBER,
    RT_ROUTE,
    SEP,
)
from app.projection.rows import LIVE_NODE_STATES
from app.projection.visibility import SCOPED

TEMPLATES = Path(__file__).resolve().parents[2] / "asterisk_realtime" / "templates"

# Files written for every node; (name, template). odbc.ini/odbcinst.ini are examples for /etc.
FILES = (
    ("asterisk.conf", "asterisk.conf.j2"),
    ("modules.conf", "modules.conf.j2"),
    ("logger.conf", "logger.conf.j2"),
    ("res_odbc.conf", "res_odbc.conf.j2"),
    ("extconfig.conf", "extconfig.conf.j2"),
    ("sorcery.conf", "sorcery.conf.j2"),
    ("pjsip.conf", "pjsip.conf.j2"),
    ("rtp.conf", "rtp.conf.j2"),
    ("extensions.conf", "extensions.conf.j2"),
    ("func_odbc.conf", "func_odbc.conf.j2"),
    ("cdr.conf", "cdr.conf.j2"),
    ("cdr_adaptive_odbc.conf", "cdr_adaptive_odbc.conf.j2"),
    ("cdr_custom.conf", "cdr_custom.conf.j2"),
    ("odbc.ini", "odbc.ini.j2"),
    ("odbcinst.ini", "odbcinst.ini.j2"),
    ("nftables.conf", "nftables.conf.j2"),
    ("manager.conf", "manager.conf.j2"),
    ("res_config_sqlite3.conf", "res_config_sqlite3.conf.j2"),
)
LOOKUPS = ("switch", "odbc")
# Written 0600: they hold the database and AMI passwords, and the local copy (trunkline-local-*.sqlite3) the trunks'
# auth passwords (the same the node's account reads; deploy it owned by the asterisk user).
SECRET_FILES = ("res_odbc.conf", "odbc.ini", "manager.conf")
LOCAL_FILE_PREFIX = "trunkline-local-"

# Header the client node sets on calls to a carrier node: which carrier endpoint to use.
CARRIER_HEADER = "X-TL-Carrier"
ACCOUNT_HEADER = "X-TL-Account"
CALL_HEADER = "X-TL-Call"  # the call id between nodes (app/calls.py)
# Set by a client node on 911 and 988 calls: the carrier node neither refuses nor counts them against a cap.
UNCAPPED_HEADER = "X-TL-Uncapped"


@dataclass
class NodeSettings:
    """What a node's files need beyond the domain: database access, paths, lifetimes, admin networks."""

    db_host: str = "127.0.0.1"
    db_port: int = 3306
    db_name: str = "trunkline"
    db_user: str = "asterisk"
    db_password: str = ""
    dsn: str = "trunkline"
    odbc_driver: str = "/usr/lib/x86_64-linux-gnu/odbc/libmaodbc.so"
    etc_dir: str = "/etc/asterisk"
    state_dir: str | None = None  # None: Debian's own /var/lib, /var/spool, /var/run, /var/log layout
    modules_dir: str = "/usr/lib/x86_64-linux-gnu/asterisk/modules"
    admin_networks: list[str] = field(default_factory=list)
    admin_ports: list[int] = field(default_factory=lambda: [22])
    rtp_start: int = 10000
    rtp_end: int = 20000
    pool: int | None = None  # None: sized from the node's channel limits
    # Cached endpoints/AORs/auths/identify rows: seconds before a background refresh, and before they are dropped.
    # 0 (default): never; the admin's push after each commit expires exactly what changed (sorcery.conf explains why
    # an age limit empties caches while no database answers).
    cache_stale: int = 0
    cache_max: int = 0
    realtime_cache: int = 1  # pbx_realtime keeps an exact dialplan hit this long (built in to Asterisk)
    verbose_log: bool = False
    # How the static dialplan reads a realtime key: "odbc" (func_odbc: one SELECT of the row per look-up,
    # hit or miss; meets the 100 calls/s target) or "switch" (the realtime switch: DIALPLAN_EXISTS, then
    # Gosub into the row; 4 SELECTs per look-up on Asterisk 22.10, half the throughput; a miss is confirmed by one
    # func_odbc SELECT more, which tells a miss from "no database server answered": extensions.conf tl-lookup).
    lookup: str = "odbc"
    # The manager interface (AMI) the admin uses to expire cached objects right after a commit
    # (app.node_push): listening on the node's address, for the admin networks only. Empty: disabled.
    ami_secret: str = ""
    ami_port: int = 5038
    # Database servers in the order this node reads them [(name, host, port)]: a replica at its hosting provider,
    # the other replicas, the primary (app.dbtopology.read_order). Empty: db_host/db_port only (no topology).
    read_servers: list[tuple[str, str, int]] = field(default_factory=list)
    # Where CDRs are inserted (the primary: replicas are read-only). None: the first read server.
    write_server: tuple[str, str, int] | None = None
    # MariaDB Connector/ODBC timeouts in seconds (DSN keys CONN_TIMEOUT, READ_TIMEOUT, WRITE_TIMEOUT): how long a
    # look-up may wait on a server that does not answer before the next one is tried. res_odbc's own
    # connect_timeout covers the login only (asterisk-db-loss.md).
    db_timeout: int = 1
    rendered_at: datetime | None = None  # stamped into the node's local copy (None: now, UTC)
    cdr_spool: str = "trunkline-cdr.json"  # local CDR copy (cdr_custom, in astlogdir/cdr-custom), shipped by scripts/cdr_ship.py

    @classmethod
    def from_database_url(cls, url: str, **overrides) -> NodeSettings:
        """Database settings taken from a SQLAlchemy MariaDB URL, the rest from overrides."""
        from sqlalchemy.exc import ArgumentError

        try:
            parsed = make_url(url)
        except (ArgumentError, ValueError):
            # Not the URL itself in the message: it may hold the admin's password.
            raise ValueError("the database URL cannot be read as one: give --db-url mysql+mysqldb://HOST:3306/DATABASE") from None
        if not parsed.drivername.startswith(("mysql", "mariadb")):
            raise ValueError(f"nodes read MariaDB through ODBC; {parsed.drivername} is not MariaDB (the demo's database is "
                             "SQLite): give the MariaDB the nodes read with --db-url mysql+mysqldb://HOST:3306/DATABASE")
        values = dict(db_host=parsed.host or "127.0.0.1", db_port=parsed.port or 3306, db_name=parsed.database or "trunkline",
                      db_user=parsed.username or "asterisk", db_password=parsed.password or "")
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    def __post_init__(self) -> None:
        if self.lookup not in LOOKUPS:
            raise ValueError(f"lookup must be one of {', '.join(LOOKUPS)}, not {self.lookup!r}")

    def directories(self) -> dict[str, str]:
        """asterisk.conf [directories] (as seen by the Asterisk process)."""
        if self.state_dir:
            base = self.state_dir.rstrip("/")
            lib, spool, run, log = f"{base}/lib", f"{base}/spool", f"{base}/run", f"{base}/log"
        else:
            lib, spool, run, log = "/var/lib/asterisk", "/var/spool/asterisk", "/var/run/asterisk", "/var/log/asterisk"
        return {"astetcdir": self.etc_dir, "astmoddir": self.modules_dir, "astvarlibdir": lib, "astdbdir": lib,
                "astkeydir": lib, "astdatadir": "/usr/share/asterisk", "astagidir": "/usr/share/asterisk/agi-bin",
                "astspooldir": spool, "astrundir": run, "astlogdir": log, "astsbindir": "/usr/sbin"}


# ODBC connections per server a node may open. Measured (bench/bench_db_failover.py, `odbc show` after 95 s at
# 20 calls/s through both nodes, 2 runs on 2026-11-30): the carrier node opened 1-2 connections to its first server
# (pool 6), the client nodes 1-2 (pool 2; a look-up holds a connection about a millisecond, and res_odbc opens another
# only when all are busy). Each node gets room for CALLS_PER_CONNECTION concurrent calls per connection, at least
# POOL_MIN (a second connection while the first is re-established), at most POOL_MAX.
CALLS_PER_CONNECTION = 50
POOL_MIN = 2
POOL_MAX = 16


def pool_size(concurrent_calls: int) -> int:
    """ODBC connections per database server for a node handling concurrent_calls calls (POOL_MIN..POOL_MAX)."""
    return max(POOL_MIN, min(POOL_MAX, math.ceil(concurrent_calls / CALLS_PER_CONNECTION)))


def node_concurrency(session: Session, node: Node) -> int:
    """Calls a node may carry at once: its client's channel limit, or the enabled carriers' (100 each when unset)."""
    if node.role == "client":
        client = session.scalar(select(Client).where(Client.node_id == node.id))
        return client.max_channels if client else 10
    carriers = session.scalars(select(Carrier).where(Carrier.enabled.is_(True)))
    return sum(c.max_channels or 100 for c in carriers) or 100


def node_pool(node: Node, session: Session | None = None) -> int:
    """The ODBC pool `node render` gives this node per database server (the fleet budget uses it)."""
    from sqlalchemy.orm import object_session

    return pool_size(node_concurrency(session or object_session(node), node))


def _split_networks(addresses) -> tuple[list[str], list[str]]:
    v4, v6 = [], []
    for text in addresses:
        net = ipaddress.ip_network(text, strict=False)
        (v4 if net.version == 4 else v6).append(str(net))
    return sorted(set(v4), key=_net_key), sorted(set(v6), key=_net_key)


def _net_key(text: str):
    net = ipaddress.ip_network(text)
    return (int(net.network_address), net.prefixlen)


def node_context(session: Session, node_name: str, settings: NodeSettings) -> dict:
    """Everything the templates need for one node, read from the database."""
    node = session.scalar(select(Node).where(Node.name == node_name))
    if node is None:
        raise NotFound(f"no node {node_name}")
    other_nodes = list(session.scalars(select(Node).where(Node.state.in_(LIVE_NODE_STATES), Node.id != node.id)
                                       .order_by(Node.name)))
    client = None
    sources: list[str] = []
    sip_open = False
    if node.role == "client":
        client = session.scalar(select(Client).where(Client.node_id == node.id))
        if client is not None:
            for trunk in client.trunks:
                if trunk.auth_mode == "credentials":
                    sip_open = True  # a registering PBX may come from any address: its password is the gate
                sources += trunk.address_list
        sources += [n.public_ip for n in other_nodes if n.role == "carrier"]
    else:
        carriers = list(session.scalars(select(Carrier).where(Carrier.enabled.is_(True)).order_by(Carrier.name)))
        for carrier in carriers:
            sources += carrier.address_list
        sources += [n.public_ip for n in other_nodes if n.role == "client"]
    concurrent = node_concurrency(session, node)
    sip_v4, sip_v6 = _split_networks(sources)
    admin_v4, admin_v6 = _split_networks(settings.admin_networks)
    ipv6 = ":" in node.public_ip
    return {
        "node": node, "client": client, "settings": settings, "dirs": settings.directories(),
        "pool": settings.pool or pool_size(concurrent), "concurrent": concurrent,
        "bind": f"[{node.public_ip}]:{node.sip_port}" if ipv6 else f"{node.public_ip}:{node.sip_port}",
        "sip_v4": sip_v4, "sip_v6": sip_v6, "sip_open": sip_open, "admin_v4": admin_v4, "admin_v6": admin_v6,
        "ctx": {"from_carrier": CTX_FROM_CARRIER, "from_node": CTX_FROM_NODE, "from_trunk": CTX_FROM_TRUNK,
                "num": RT_NUMBER, "route": RT_ROUTE, "e911": RT_E911},
        "sep": SEP, "list_sep": LIST_SEP, "carrier_header": CARRIER_HEADER, "account_header": ACCOUNT_HEADER,
        "uncapped_header": UNCAPPED_HEADER, "call_header": CALL_HEADER,
        "self_endpoint": node.endpoint_id, "ami_user": AMI_USER, "scoped": SCOPED,
        "ami_permit": [str(ipaddress.ip_network(n)) for n in settings.admin_networks] or ["127.0.0.1/32"],
        "management_ports": sorted(set(settings.admin_ports) | ({settings.ami_port} if settings.ami_secret else set())),
    }


def _environment() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), undefined=jinja2.StrictUndefined,
                              keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True, autoescape=False)


def render_node(session: Session, node_name: str, settings: NodeSettings) -> dict[str, str | bytes]:
    """File name -> contents of every static file of one node (text; a client node's local realtime copy,
    trunkline-local-DIGEST.sqlite3, as bytes: app/nodeconf/local_realtime.py)."""
    from app.nodeconf import local_realtime

    context = node_context(session, node_name, settings)
    context.update(read_plan(session, context["node"], settings, context["pool"]))
    local = local_copy(session, context["node"])
    context["local"] = local
    context["local_as_of"] = settings.rendered_at or utc_now()
    tables = local["realtime"]
    context["local_db"] = None
    if tables:
        local_name = local_realtime.file_name(local_realtime.tables_digest(tables))
        context["local_db"] = {"name": LOCAL_DB_NAME, "file": f"{settings.etc_dir.rstrip('/')}/{local_name}",
                               "families": list(tables), "priority": len(context["dsns"]) + 1}
    env = _environment()
    files: dict[str, str | bytes] = {name: env.get_template(template).render(**context) for name, template in FILES}
    if tables:
        files[local_name] = local_realtime.sqlite_bytes(tables)
    return files


LOCAL_DB_NAME = "trunkline_local"  # res_config_sqlite3.conf section; extconfig.conf names it


def write_node(files: dict[str, str | bytes], out: Path) -> list[Path]:
    """Write rendered files into out (created); secrets (and the local realtime copy) get mode 0600. An older
    local copy in out is removed (the new one has another name). Returns the paths written."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, content in files.items():
        path = out / name
        if isinstance(content, bytes):
            for old in out.glob(f"{LOCAL_FILE_PREFIX}*.sqlite3"):
                if old.name != name:
                    old.unlink()
            tmp = out / f".{name}.tmp"
            tmp.write_bytes(content)
            tmp.chmod(0o600)
            tmp.replace(path)
        else:
            path.write_text(content)
            path.chmod(0o600 if name in SECRET_FILES else 0o644)
        written.append(path)
    return written


@dataclass
class Dsn:
    """One ODBC connection of a node: a res_odbc section (name: by position in the read order) and the odbc.ini
    DSN it opens (odbc: by server, `<dsn>-<server>`; without a topology the same name as the section).

    The sections are named by position so extconfig.conf, func_odbc.conf and cdr_adaptive_odbc.conf keep naming
    the same connections whatever the topology; the DSNs are named by server so that a promotion, which changes
    only the order, leaves odbc.ini as it is: odbc.ini usually lives in /etc, outside the directory the manager
    interface may write (main/manager.c is_restricted_file), and `db promote` rewrites the rest over AMI."""

    name: str
    server: str  # database server name ('' without a topology)
    host: str
    port: int
    pool: int
    priority: int  # 1 = read first
    odbc: str = ""

    def __post_init__(self) -> None:
        self.odbc = self.odbc or self.name


def database_servers(session: Session, node: Node, settings: NodeSettings) -> tuple[list[tuple[str, str, int]], tuple[str, str, int]]:
    """(the servers node reads in order, the server its CDRs go to), each (name, host, port): settings.read_servers,
    else the recorded database servers (app.dbtopology.read_order; name '' for none), else settings.db_host/db_port."""
    from app.dbtopology import read_order
    from app.models import DbServer

    servers = settings.read_servers
    write = settings.write_server
    if not servers:
        known = list(session.scalars(select(DbServer)))
        if known:
            servers = [(s.name, s.host, s.port) for s in read_order(known, node.hosting_provider, node.id)]
            primary = next((s for s in known if s.role == "primary"), None)
            write = write or ((primary.name, primary.host, primary.port) if primary else None)
    if not servers:
        servers = [("", settings.db_host, settings.db_port)]
    return list(servers), write or servers[0]


FUNC_ODBC_MAX_HANDLES = 5  # funcs/func_odbc.c: `readhandle` takes at most 5 connection names


def func_odbc_handles(names: list[str]) -> list[str]:
    """The read handles func_odbc gets from the read order (primary last): all of them up to Asterisk's 5, else the
    first 4 and the primary, so number look-ups can still reach the primary when every replica they list fails."""
    if len(names) <= FUNC_ODBC_MAX_HANDLES:
        return names
    return names[:FUNC_ODBC_MAX_HANDLES - 1] + names[-1:]


def read_plan(session: Session, node: Node, settings: NodeSettings, pool: int) -> dict:
    """The node's DSNs in read order, its CDR DSN, and fleet warnings (template context).

    The first DSN keeps the name settings.dsn, so a single-server platform renders as before.
    """
    servers, write = database_servers(session, node, settings)

    def odbc_name(server: str) -> str:
        return f"{settings.dsn}-{server}" if server else ""

    dsns = [Dsn(settings.dsn if i == 0 else f"{settings.dsn}_{i + 1}", name, host, port, pool, i + 1, odbc_name(name))
            for i, (name, host, port) in enumerate(servers)]
    cdr_dsn = next((d for d in dsns if (d.host, d.port) == (write[1], write[2])), None)
    if cdr_dsn is None:
        cdr_dsn = Dsn(f"{settings.dsn}_cdr", write[0], write[1], write[2], POOL_MIN, 0, odbc_name(write[0]))
        extra = [cdr_dsn]
    else:
        extra = []
    warnings = render_warnings(session, settings)
    return {"dsns": dsns, "all_dsns": dsns + extra, "read_dsns": func_odbc_handles([d.name for d in dsns]), "cdr_dsn": cdr_dsn,
            "db_warnings": warnings}


def render_warnings(session: Session, settings: NodeSettings) -> list[str]:
    """What `node render` and the node page warn about: servers the fleet's ODBC pools may overrun."""
    from app.dbtopology import fleet_warnings

    return fleet_warnings(session, lambda n: settings.pool or node_pool(n, session))


def is_loopback(host: str) -> bool:
    """Whether host (an address or name) is the machine itself: 127.0.0.0/8, ::1 or localhost."""
    if host.strip().lower() in ("localhost", "localhost.localdomain", "ip6-localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def settings_warnings(session: Session, node_name: str, settings: NodeSettings, *, db_url_given: bool = True) -> list[str]:
    """What `node render` warns about in its own settings: files that would be written but not work on the node.

    - no AMI secret: manager.conf gets `enabled = no`, so the admin cannot expire the node's caches after a change
      (app.node_push), read its live state (app.node_state) or receive its 911 call events (app.alerts);
    - a database server on loopback (127.0.0.0/8, ::1, localhost) for a node that is not itself on loopback: the
      node would look for MariaDB on itself. db_url_given: whether the address came from --db-url (else from the
      admin's own DATABASE_URL), to name the fix; servers recorded with `db server add` are named as such.
    """
    node = session.scalar(select(Node).where(Node.name == node_name))
    if node is None:
        raise NotFound(f"no node {node_name}")
    out = []
    if not settings.ami_secret:
        out.append(f"manager.conf is written with enabled = no (no AMI secret: TRUNKLINE_AMI_SECRET is not set here, nor "
                   f"--ami-secret): the admin cannot expire node {node.name}'s cached objects after a change, show its live "
                   "state or receive its 911 call events; set TRUNKLINE_AMI_SECRET to the admin's AMI secret and render again")
    servers, write = database_servers(session, node, settings)
    if len(servers) > FUNC_ODBC_MAX_HANDLES:
        kept = func_odbc_handles([name or f"{host}:{port}" for name, host, port in servers])
        out.append(f"node {node.name} reads {len(servers)} database servers, but func_odbc takes at most "
                   f"{FUNC_ODBC_MAX_HANDLES} (funcs/func_odbc.c): number, route and E911 look-ups read {', '.join(kept)}; "
                   "the realtime families (trunks, AORs, identify rows) read all of them")
    if is_loopback(node.public_ip):
        return out
    for name, host, port in dict.fromkeys([*servers, write]):
        if not is_loopback(host):
            continue
        if name:
            fix = (f"database server {name} is recorded at {host}: record the address nodes reach for it (admin: "
                   "Database servers)")
        elif db_url_given:
            fix = "give the address the node reaches in --db-url mysql+mysqldb://DBHOST:3306/DATABASE (or TRUNKLINE_NODE_DB_URL)"
        else:
            fix = ("the address comes from the admin's own DATABASE_URL: give the address the node reaches with "
                   "--db-url mysql+mysqldb://DBHOST:3306/DATABASE (or TRUNKLINE_NODE_DB_URL)")
        out.append(f"odbc.ini and res_odbc.conf point node {node.name} ({node.public_ip}) at the database on {host}:{port}, "
                   f"its own loopback, where no MariaDB of the platform runs: {fix}")
    return out


def local_copy(session: Session, node: Node) -> dict:
    """The rows a node keeps on its own disk for calls placed while no database answers.

    Client node: its client's E911 rows (tl-e911, every trunk: number and default levels, as resolve_e911 wrote
    them) and every route row (tl-route: carriers and carrier nodes), in its extensions.conf, so a 911 call gets
    the same cascade answer (number, carrier, digits) as with the database up, as of this render; and the pjsip
    rows its account reads (endpoints, AORs, auths, identify rows: app/nodeconf/local_realtime.py), read by
    Asterisk only when every database server fails, so a node restarted during an outage still knows its trunks.
    Carrier nodes keep nothing (their 911 path reads no key; docs/databases.md says why no pjsip copy).
    Returns {"rows": {context: [(key, value)]}, "realtime": {table: {"columns", "rows"}}, "digest": sha256 hex
    of both, "count": n rows in all}.
    """
    import hashlib

    from app.models import Trunk
    from app.models.realtime import REALTIME_TABLES
    from app.nodeconf.local_realtime import local_tables, tables_digest

    ext = REALTIME_TABLES["extensions"]
    rows: dict[str, list[tuple[str, str]]] = {RT_E911: [], RT_ROUTE: []}
    client = session.scalar(select(Client).where(Client.node_id == node.id)) if node.role == "client" else None
    if client is not None:
        trunk_ids = [str(t) for t in session.scalars(select(Trunk.id).where(Trunk.client_id == client.id))]
        query = select(ext.c.context, ext.c.exten, ext.c.appdata).where(ext.c.priority == 1, ext.c.context.in_((RT_E911, RT_ROUTE)))
        for context, exten, appdata in session.execute(query.order_by(ext.c.context, ext.c.exten)):
            if context == RT_ROUTE or exten.split("*", 1)[0] in trunk_ids:
                rows[context].append((exten, appdata or ""))
    tables = local_tables(session, node)
    text = repr(sorted((c, r) for c, items in rows.items() for r in items))
    if tables:
        text += tables_digest(tables)
    digest = hashlib.sha256(text.encode()).hexdigest()
    count = sum(len(v) for v in rows.values()) + sum(len(t["rows"]) for t in tables.values())
    return {"rows": rows, "realtime": tables, "digest": digest, "count": count}


def record_local_copy(session: Session, node: Node, copy: dict, when) -> None:
    """Remember what node render gave the node (shown on the node page, compared with the rows of now)."""
    from app.models import NodeLocalCopy

    entry = session.get(NodeLocalCopy, node.id) or NodeLocalCopy(node_id=node.id)
    entry.rendered_at, entry.digest, entry.rows = when, copy["digest"], copy["count"]
    session.add(entry)


def local_copy_state(session: Session, node: Node) -> dict:
    """For the node page: when its local 911 copy was written, and whether the database has changed since."""
    from app.models import NodeLocalCopy

    entry = session.get(NodeLocalCopy, node.id)
    if entry is None:
        return {"rendered_at": None, "current": False, "rows": 0}
    return {"rendered_at": entry.rendered_at, "current": entry.digest == local_copy(session, node)["digest"], "rows": entry.rows}


def render_command(session: Session, node: Node) -> tuple[str, str]:
    """(the `node render` command for this node with every option it needs here, a note on what it also needs).

    --db-url is added when rendering without it would fail or point the node at nothing: on SQLite (the demo; nodes
    read MariaDB) and when the admin's own database is on loopback with no database servers recorded (the node would
    look for MariaDB on itself). The AMI secret is read from the rendering shell's environment (never a command line)."""
    from sqlalchemy import func

    from app.models import DbServer

    bind = session.get_bind()
    url = (bind.engine if hasattr(bind, "engine") else bind).url
    command = f"flask --app wsgi node render {node.name} --out DIR"
    if url.get_backend_name() == "sqlite":
        command += " --db-url mysql+mysqldb://DBHOST:3306/trunkline"
        why = "this admin's database is SQLite (the demo), so --db-url names the MariaDB the node reads"
    elif not session.scalar(select(func.count()).select_from(DbServer)) and is_loopback(url.host or "localhost") \
            and not is_loopback(node.public_ip):
        command += f" --db-url mysql+mysqldb://DBHOST:{url.port or 3306}/{url.database}"
        why = f"this admin reaches MariaDB on its own loopback ({url.host}), so --db-url gives the address the node reaches"
    else:
        why = ""
    command += " --db-password-file FILE --admin-net YOUR_ADMIN_NETWORK"
    note = (f"FILE holds the password `flask --app wsgi node account {node.name}` printed; run it where TRUNKLINE_AMI_SECRET "
            "is set (else the node's manager interface is off: no cache pushes, live state or 911 alert events)")
    return command, (f"{why}; {note}" if why else note)
