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
from pathlib import Path

import jinja2
from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

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
    ("odbc.ini", "odbc.ini.j2"),
    ("odbcinst.ini", "odbcinst.ini.j2"),
    ("nftables.conf", "nftables.conf.j2"),
    ("manager.conf", "manager.conf.j2"),
)
LOOKUPS = ("switch", "odbc")
SECRET_FILES = ("res_odbc.conf", "odbc.ini", "manager.conf")  # written 0600: they hold the database and AMI passwords

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
    cache_stale: int = 10  # seconds before a cached endpoint/AOR/auth/identify is refreshed in the background
    cache_max: int = 60  # seconds after which it is dropped and read again (worst-case lifetime of a change)
    realtime_cache: int = 1  # pbx_realtime keeps an exact dialplan hit this long (built in to Asterisk)
    verbose_log: bool = False
    # How the static dialplan reads a realtime key: "odbc" (func_odbc: one SELECT of the row per look-up,
    # hit or miss; meets the 100 calls/s target) or "switch" (the realtime switch: DIALPLAN_EXISTS, then
    # Gosub into the row; 4 SELECTs per look-up on Asterisk 22.10, half the throughput).
    lookup: str = "odbc"
    # The manager interface (AMI) the admin uses to expire cached objects right after a commit
    # (app.node_push): listening on the node's address, for the admin networks only. Empty: disabled.
    ami_secret: str = ""
    ami_port: int = 5038

    @classmethod
    def from_database_url(cls, url: str, **overrides) -> NodeSettings:
        """Database settings taken from a SQLAlchemy MariaDB URL, the rest from overrides."""
        parsed = make_url(url)
        if not parsed.drivername.startswith(("mysql", "mariadb")):
            raise ValueError(f"nodes read MariaDB through ODBC; {parsed.drivername} is not MariaDB")
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


def pool_size(concurrent_calls: int) -> int:
    """ODBC connections for a node: a lookup holds one for about a millisecond, so one per 8 calls, 4..64."""
    return max(4, min(64, math.ceil(concurrent_calls / 8)))


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
        concurrent = client.max_channels if client else 10
        if client is not None:
            for trunk in client.trunks:
                if trunk.auth_mode == "credentials":
                    sip_open = True  # a registering PBX may come from any address: its password is the gate
                sources += trunk.address_list
        sources += [n.public_ip for n in other_nodes if n.role == "carrier"]
    else:
        carriers = list(session.scalars(select(Carrier).where(Carrier.enabled.is_(True)).order_by(Carrier.name)))
        concurrent = sum(c.max_channels or 100 for c in carriers) or 100
        for carrier in carriers:
            sources += carrier.address_list
        sources += [n.public_ip for n in other_nodes if n.role == "client"]
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


def render_node(session: Session, node_name: str, settings: NodeSettings) -> dict[str, str]:
    """File name -> contents of every static file of one node."""
    context = node_context(session, node_name, settings)
    env = _environment()
    return {name: env.get_template(template).render(**context) for name, template in FILES}


def write_node(files: dict[str, str], out: Path) -> list[Path]:
    """Write rendered files into out (created); secrets get mode 0600. Returns the paths written."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in files.items():
        path = out / name
        path.write_text(text)
        path.chmod(0o600 if name in SECRET_FILES else 0o644)
        written.append(path)
    return written
