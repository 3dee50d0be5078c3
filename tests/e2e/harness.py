"""End-to-end platform: a fresh MariaDB database filled through the services, two real Asterisk 22
nodes (carrier side and client side) started from configs rendered by `flask node render`, and
SIPp playing the carriers and the client's PBXs, all on distinct addresses of a loopback /24 (data.NET)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from flask import Flask
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session as OrmSession

from app.db import Session, bind_session, make_engine
from app.migrations import upgrade
from tests.e2e import data
from tests.e2e.sipp import Message, parse_messages, register_scenario, registrar_scenario, uac_scenario, uas_scenario

REPO = Path(__file__).resolve().parents[2]
ROOT_SCRIPT = REPO / "scripts" / "asterisk_root.sh"
MARIADB_URL = os.environ.get("TEST_MARIADB_URL", "mysql+mysqldb://root@127.0.0.1:3306")
SIP_PORT = 5060
UAC_PORT = 5070
NODE_NAMES = ("cn1", "cl1", "cl2")
RTP_RANGES = {"cn1": "20000-20999", "cl1": "21000-21999", "cl2": "22000-22999"}
NODE_DB_HOST = "127.0.0.%"  # where the nodes (in the chroot, sharing the host's network) connect from


class Unavailable(Exception):
    """The sandbox (root, SIPp, MariaDB) cannot be had on this machine."""


def run(cmd: list[str], timeout: float = 60, check: bool = True) -> subprocess.CompletedProcess:
    """Run a command, capturing its output."""
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    if check and result.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {result.returncode}: {result.stderr.strip() or result.stdout.strip()}")
    return result


def asterisk_root() -> Path:
    """Build (once) and return the Asterisk 22 root, via the project's script."""
    if os.geteuid() != 0:
        raise Unavailable("the Asterisk root needs root (chroot)")
    if shutil.which("sipp") is None or shutil.which("debootstrap") is None:
        raise Unavailable("sipp/debootstrap missing: run scripts/test_prereqs.d/asterisk.sh")
    result = subprocess.run(["bash", str(ROOT_SCRIPT), "build"], capture_output=True, text=True, timeout=1800,
                            stdin=subprocess.DEVNULL)
    if result.returncode != 0:
        raise Unavailable(f"asterisk_root.sh build failed: {result.stderr.strip().splitlines()[-1:]}")
    return Path(result.stdout.strip().splitlines()[-1])


def processes_in(root: Path) -> list[int]:
    """Pids of processes running inside the root (another test run or bench still using it)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if os.readlink(entry / "root") == str(root):
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


HOSTS_MARK = "# trunkline e2e: names Asterisk resolves on every call"


def pin_host_names(root: Path) -> None:
    """Answer from the root's /etc/hosts the two names Asterisk looks up for each RTP session it opens
    on a wildcard address (ast_find_ourip: this host's name, then A.ROOT-SERVERS.NET, only to pick a
    source address; no packet is sent to it). Otherwise every call sends DNS queries off the machine
    and, under load, blocks SIP threads for the resolver's 5 s timeout."""
    hosts = root / "etc" / "hosts"
    current = hosts.read_text() if hosts.exists() else ""
    if HOSTS_MARK in current:
        return
    hostname = os.uname().nodename
    hosts.write_text(current.rstrip("\n") + f"\n{HOSTS_MARK}\n127.0.1.1\t{hostname}\n198.41.0.4\tA.ROOT-SERVERS.NET a.root-servers.net\n")


@dataclass
class AsteriskNode:
    """One Asterisk process in the shared root, configured from its rendered folder."""

    name: str
    root: Path
    inner: str  # its folder as seen inside the root
    proc: subprocess.Popen | None = None

    @property
    def host_dir(self) -> Path:
        return self.root / self.inner.lstrip("/")

    @property
    def conf(self) -> str:
        return f"{self.inner}/etc/asterisk.conf"

    def start(self) -> None:
        for sub in ("state/lib", "state/spool", "state/run", "state/log", "state/log/cdr-custom"):
            (self.host_dir / sub).mkdir(parents=True, exist_ok=True)
        log = open(self.host_dir / "console.log", "ab")  # noqa: SIM115 - owned by the process
        self.proc = subprocess.Popen(
            ["chroot", str(self.root), "/usr/bin/env", f"ODBCSYSINI={self.inner}/etc", f"ODBCINI={self.inner}/etc/odbc.ini",
             "/usr/sbin/asterisk", "-C", self.conf, "-f", "-U", "root", "-G", "root"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()

    def cli(self, command: str, timeout: float = 30) -> str:
        """Run one Asterisk CLI command on this node; its output."""
        result = run(["chroot", str(self.root), "/usr/sbin/asterisk", "-C", self.conf, "-rx", command], timeout=timeout,
                     check=False)
        if result.returncode != 0:
            raise RuntimeError(f"asterisk {self.name} -rx {command!r}: {result.stderr.strip() or result.stdout.strip()}")
        return result.stdout

    def wait_booted(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"asterisk {self.name} exited {self.proc.returncode}: {self.console_tail()}")
            try:
                self.cli("core waitfullybooted", timeout=30)
                return
            except (RuntimeError, subprocess.TimeoutExpired):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"asterisk {self.name} did not boot: {self.console_tail()}") from None
                time.sleep(0.5)

    def console_tail(self, lines: int = 30) -> str:
        path = self.host_dir / "console.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    @property
    def cdr_spool(self) -> Path:
        """The node's local CDR copy (cdr_custom.conf), shipped by scripts/cdr_ship.py."""
        return self.host_dir / "state" / "log" / "cdr-custom" / "trunkline-cdr.json"

    def messages_log(self) -> str:
        path = self.host_dir / "state" / "log" / "messages.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            self.cli("core stop now", timeout=10)
            self.proc.wait(timeout=15)
        except (RuntimeError, subprocess.TimeoutExpired):
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)


@dataclass
class SippUas:
    """A long-running SIPp answering side with its message log."""

    label: str
    ip: str
    xml: Path
    log: Path
    media_port: int
    trace: bool = True
    proc: subprocess.Popen | None = None
    port: int = SIP_PORT

    def start(self) -> None:
        trace = ["-trace_msg", "-message_file", str(self.log), "-trace_err", "-error_file", str(self.log) + ".err"]
        self.proc = subprocess.Popen(
            ["sipp", "-sf", str(self.xml), "-i", self.ip, "-p", str(self.port), "-mp", str(self.media_port), "-aa",
             *(trace if self.trace else [])],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)

    def size(self) -> int:
        return self.log.stat().st_size if self.log.exists() else 0

    def messages_since(self, offset: int) -> list[Message]:
        if not self.log.exists():
            return []
        with self.log.open("rb") as fh:
            fh.seek(offset)
            return parse_messages(fh.read().decode(errors="replace"))

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)


@dataclass
class CallResult:
    """What the calling side saw, and what every answering side received meanwhile."""

    returncode: int
    sent: list[Message]
    received: list[Message]
    at: dict[str, list[Message]] = field(default_factory=dict)  # label -> messages that side received

    @property
    def final(self) -> int | None:
        """The final answer to the INVITE (or REGISTER) the caller received."""
        codes = [m.status for m in self.received if m.status and m.status >= 200]
        return codes[-1] if codes else None

    def invites(self, label: str) -> list[Message]:
        return [m for m in self.at.get(label, []) if m.direction == "received" and m.method == "INVITE"]


class Platform:
    """The whole sandbox; start() brings it up, stop() tears everything down."""

    def __init__(self, workdir: Path, *, trace: bool = True, verbose: bool = True, transform=None,
                 lookup: str | None = None, mariadb_url: str | None = None, prepare=None, render_args=(),
                 rtp_base: int = 20000):
        """trace: SIPp answering sides log every message; verbose: Asterisk logs every dialplan step;
        transform(platform, node_name, etc_dir): rewrites a node's rendered files before it starts;
        mariadb_url: the server the database is created on (default MARIADB_URL; a loopback primary in the
        failover tests); prepare(platform, session): runs after the data is loaded, before `node render`;
        render_args: extra `node render` options; rtp_base: first RTP port of cn1 (each next node the next 1000): Asterisk
        binds RTP on the wildcard address, so runs at the same time on one machine need distinct ranges."""
        self.rtp_base = rtp_base
        self.mariadb_url = mariadb_url or MARIADB_URL
        self.prepare = prepare
        self.render_args = tuple(render_args)
        self.workdir = workdir
        self.trace = trace
        self.verbose = verbose
        self.transform = transform
        self.lookup = lookup or os.environ.get("TRUNKLINE_E2E_LOOKUP", "odbc")
        self.run_id = uuid.uuid4().hex[:8]
        self.db_name = f"trunkline_e2e_{self.run_id}"
        self.db_url = f"{self.mariadb_url}/{self.db_name}"
        self.root: Path | None = None
        self.inner = f"/tmp/trunkline-e2e-{self.run_id}"
        self.engine = None
        self.nodes: dict[str, AsteriskNode] = {}
        self.uas: dict[str, SippUas] = {}
        self.calls = 0
        self._mounted_here = False
        self._db_created = False
        self.ami_secret = uuid.uuid4().hex
        self._ami_env = os.environ.get("TRUNKLINE_AMI_SECRET")
        self.node_accounts: dict[str, str] = {}  # node -> its own database user (made by `node account`)

    # ---- set-up ----
    def start(self) -> None:
        # Commits made by the tests push cache expiries to these nodes (app.node_push), as the admin's would.
        os.environ["TRUNKLINE_AMI_SECRET"] = self.ami_secret
        self.root = asterisk_root()
        pin_host_names(self.root)
        self._mounted_here = not os.path.ismount(self.root / "proc")
        run(["bash", str(ROOT_SCRIPT), "mount"], timeout=600)
        self._create_database()
        self._render()
        self._start_sipp()
        for name in NODE_NAMES:
            node = AsteriskNode(name, self.root, f"{self.inner}/{name}")
            self.nodes[name] = node
            node.start()
        for node in self.nodes.values():
            node.wait_booted()
        self.requalify()

    def _create_database(self) -> None:
        admin = create_engine(self.mariadb_url)
        try:
            with admin.connect() as conn:
                conn.execute(text(f"CREATE DATABASE {self.db_name} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"))
        except Exception as exc:  # noqa: BLE001 - any failure means MariaDB is not there
            raise Unavailable(f"MariaDB not reachable: {str(exc).splitlines()[0]}") from exc
        finally:
            admin.dispose()
        self._db_created = True
        upgrade(self.db_url)
        self.engine = make_engine(self.db_url)
        with OrmSession(self.engine) as session:
            data.load(session)
            session.commit()
            if self.prepare is not None:
                self.prepare(self, session)
                session.commit()

    def _render(self) -> None:
        """Render both nodes' files with the project's own `node render` command."""
        from app.cli import node as node_cli

        app = Flask("trunkline-e2e")
        app.config["DATABASE_URL"] = self.db_url
        node_cli.register(app)
        bind_session(self.engine)
        # tests/conftest.py leaves an invalid join_transaction_mode behind after a database test; reset it.
        Session.configure(join_transaction_mode="conditional_savepoint")
        try:
            runner = app.test_cli_runner()
            password_files = self._create_node_accounts(runner)
            for index, name in enumerate(NODE_NAMES):
                rtp = RTP_RANGES[name] if self.rtp_base == 20000 else \
                    f"{self.rtp_base + 1000 * index}-{self.rtp_base + 1000 * index + 999}"
                inner = f"{self.inner}/{name}"
                out = self.root / inner.lstrip("/") / "etc"
                result = runner.invoke(args=["node", "render", name, "--out", str(out), "--db-url", self.db_url,
                                             "--db-password-file", str(password_files[name]),
                                             "--etc-dir", f"{inner}/etc", "--state-dir", f"{inner}/state", "--rtp", rtp,
                                             "--admin-net", "127.0.0.0/8", "--lookup", self.lookup, "--ami-secret", self.ami_secret,
                                             *(["--verbose-log"] if self.verbose else []), *self.render_args])
                if result.exit_code != 0:
                    raise RuntimeError(f"node render {name} failed: {result.output}{result.exception!r}")
                if self.transform is not None:
                    self.transform(self, name, out)
        finally:
            Session.remove()
            Session.configure(bind=None, join_transaction_mode="conditional_savepoint")

    def _create_node_accounts(self, runner) -> dict[str, Path]:
        """Each node's own database account, made with `node account NODE --host ... --json` as a sysadmin
        would; its password goes to a 0600 file for `node render --db-password-file` and nowhere else."""
        import json

        secrets_dir = self.workdir / "node-secrets"
        secrets_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        files = {}
        for name in NODE_NAMES:
            result = runner.invoke(args=["node", "account", name, "--host", NODE_DB_HOST, "--json"])
            if result.exit_code != 0:
                raise RuntimeError(f"node account {name} failed: {result.output}{result.exception!r}")
            account = json.loads(result.stdout)
            self.node_accounts[name] = account["user"]
            path = secrets_dir / f"{name}.password"
            path.touch(mode=0o600)
            path.write_text(account["password"])
            files[name] = path
        return files

    def _drop_node_accounts(self) -> None:
        """Accounts belong to the server, not to the database: drop them with it."""
        if not self.node_accounts:
            return
        admin = create_engine(self.mariadb_url)
        with admin.connect() as conn:
            for user in self.node_accounts.values():
                conn.execute(text(f"DROP USER IF EXISTS '{user}'@'{NODE_DB_HOST}'"))
        admin.dispose()

    def _start_sipp(self) -> None:
        sipp_dir = self.workdir / "sipp"
        sipp_dir.mkdir(parents=True, exist_ok=True)
        sides = [(c["name"], data.CARRIER_IP[c["name"]], data.REJECT_503[c["name"]], data.REJECT_486[c["name"]])
                 for c in data.CARRIERS]
        sides += [("pbx-main", data.PBX["main"], None, None), ("pbx-alt", data.PBX["alt"], None, None)]
        for index, (label, ip, r503, r486) in enumerate(sides):
            xml = sipp_dir / f"uas-{label}.xml"
            xml.write_text(uas_scenario(r503, r486))
            uas = SippUas(label, ip, xml, sipp_dir / f"uas-{label}.log", 6000 + 10 * index, self.trace)
            uas.start()
            self.uas[label] = uas
        time.sleep(0.5)
        for uas in self.uas.values():
            if uas.proc.poll() is not None:
                raise RuntimeError(f"sipp {uas.label} on {uas.ip}:{SIP_PORT} exited {uas.proc.returncode}")

    def start_uas(self, label: str, ip: str, port: int, media_port: int) -> SippUas:
        """One more answering side, for a test (a registered PBX listening where its REGISTER came from)."""
        sipp_dir = self.workdir / "sipp"
        xml = sipp_dir / f"uas-{label}.xml"
        xml.write_text(uas_scenario())
        uas = SippUas(label, ip, xml, sipp_dir / f"uas-{label}.log", media_port, self.trace, port=port)
        uas.start()
        self.uas[label] = uas
        time.sleep(0.5)
        if uas.proc.poll() is not None:
            raise RuntimeError(f"sipp {label} on {ip}:{port} exited {uas.proc.returncode}")
        return uas

    def start_registrar(self, label: str, ip: str, media_port: int) -> SippUas:
        """A registration-based carrier's registrar on ip:5060 (challenges, then accepts), for a test."""
        xml = self.workdir / "sipp" / f"uas-{label}.xml"
        xml.write_text(registrar_scenario())
        uas = SippUas(label, ip, xml, self.workdir / "sipp" / f"uas-{label}.log", media_port, True)
        uas.start()
        self.uas[label] = uas
        time.sleep(0.5)
        if uas.proc.poll() is not None:
            raise RuntimeError(f"sipp {label} on {ip}:{SIP_PORT} exited {uas.proc.returncode}")
        return uas

    def stop_uas(self, label: str) -> None:
        """Stop and forget an answering side started by start_uas."""
        uas = self.uas.pop(label, None)
        if uas is not None:
            uas.stop()

    def requalify(self, timeout: float = 20) -> None:
        """Qualify every AOR now and wait until all are reachable; then once more after the 3 s qualify
        timeout, because a node's own start-up OPTIONS can still time out late (seen: an answer to the
        very first OPTIONS lost) and mark a contact unreachable until the next qualify, 30 s later."""
        self._qualify_all(timeout)
        time.sleep(3.5)
        self._qualify_all(timeout)

    def _qualify_all(self, timeout: float) -> None:
        expect = {"cn1": ["node-cl1", "node-cl2", "carrier-alpha", "carrier-bravo", "carrier-charlie"],
                  "cl1": ["node-cn1", "trunk-ACME-main", "trunk-ACME-alt"], "cl2": ["node-cn1", "trunk-BETA-main"]}
        deadline = time.monotonic() + timeout
        for name, endpoints in expect.items():
            for endpoint in endpoints:
                self.nodes[name].cli(f"pjsip qualify {endpoint}")
        while True:
            missing = []
            for name, endpoints in expect.items():
                contacts = self.nodes[name].cli("pjsip show contacts")
                missing += [f"{name}:{e}" for e in endpoints
                            if not any(line.split()[1].startswith(f"{e}/") and " Avail " in line
                                       for line in contacts.splitlines() if line.strip().startswith("Contact:"))]
            if not missing:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"contacts not reachable: {missing}\n{contacts}")
            time.sleep(0.5)

    # ---- calls ----
    def _sipp_once(self, xml_text: str, source_ip: str, target: str, tag: str, timeout: float = 20) -> CallResult:
        self.calls += 1
        base = self.workdir / "sipp" / f"call{self.calls:03d}-{tag}"
        xml = base.with_suffix(".xml")
        xml.write_text(xml_text)
        log = Path(f"{base}.log")
        marks = {label: uas.size() for label, uas in self.uas.items()}
        result = subprocess.run(
            ["sipp", "-sf", str(xml), "-i", source_ip, "-p", str(UAC_PORT), "-mp", "6500", "-m", "1",
             "-timeout", str(int(timeout)), "-timeout_error", "-recv_timeout", "15000",
             "-trace_msg", "-message_file", str(log), target],
            stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout + 15)
        time.sleep(0.3)  # let the answering sides write their last messages
        messages = parse_messages(log.read_text(errors="replace")) if log.exists() else []
        at = {label: uas.messages_since(marks[label]) for label, uas in self.uas.items()}
        return CallResult(result.returncode, [m for m in messages if m.direction == "sent"],
                          [m for m in messages if m.direction == "received"], at)

    def call(self, source_ip: str, node: str, dialled: str, caller: str, expect: int, tag: str = "call",
             **scenario) -> CallResult:
        """One INVITE from source_ip to a node; expect its final answer. scenario: uac_scenario's keywords
        (from_value, headers, auth, ...)."""
        target = f"{self._node_ip(node)}:{SIP_PORT}"
        return self._sipp_once(uac_scenario(dialled, caller, expect, **scenario), source_ip, target, tag)

    def hold_call(self, source_ip: str, node: str, dialled: str, caller: str, port: int, hold_ms: int = 60000,
                  tag: str = "hold") -> subprocess.Popen:
        """Start one call that stays answered for hold_ms (SIPp in the background, from source_ip:port);
        the caller waits for it or stops it (stop_held)."""
        self.calls += 1
        base = self.workdir / "sipp" / f"call{self.calls:03d}-{tag}"
        xml = base.with_suffix(".xml")
        xml.write_text(uac_scenario(dialled, caller, 200, hold_ms=hold_ms))
        target = f"{self._node_ip(node)}:{SIP_PORT}"
        return subprocess.Popen(
            ["sipp", "-sf", str(xml), "-i", source_ip, "-p", str(port), "-mp", str(7000 + 10 * (port % 100)), "-m", "1",
             "-timeout", str(hold_ms // 1000 + 30), "-timeout_error", "-trace_msg", "-message_file", f"{base}.log", target],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)

    def stop_held(self, procs: list[subprocess.Popen], timeout: float = 15) -> None:
        """End held calls: stop their SIPp, hang up every channel on both nodes, wait until none is left
        (so no held channel is still counted by a later test's caps)."""
        for proc in procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)
        deadline = time.monotonic() + timeout
        for node in self.nodes.values():
            while True:
                node.cli("channel request hangup all")
                if "0 active channels" in node.cli("core show channels count"):
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{node.name}: channels still up: {node.cli('core show channels')}")
                time.sleep(0.3)

    def register(self, source_ip: str, node: str, user: str, password: str, expect: tuple[int, ...],
                 user_agent: str | None = None) -> CallResult:
        target = f"{self._node_ip(node)}:{SIP_PORT}"
        return self._sipp_once(register_scenario(user, password, expect, user_agent), source_ip, target, "register")

    @staticmethod
    def _node_ip(node: str) -> str:
        return {"cn1": data.CARRIER_NODE["public_ip"], "cl1": data.CLIENT_NODE["public_ip"],
                "cl2": data.CLIENT_NODE2["public_ip"]}[node]

    def diagnostics(self, lines: int = 40) -> str:
        """The last lines of each node's log, for assertion messages."""
        out = []
        for name, node in self.nodes.items():
            tail = "\n".join(node.messages_log().splitlines()[-lines:])
            out.append(f"--- {name} messages.log ---\n{tail}")
        return "\n".join(out)

    def query(self, sql: str, **params) -> list:
        with self.engine.connect() as conn:
            return list(conn.execute(text(sql), params))

    # ---- tear-down ----
    def stop(self) -> None:
        from app import node_push

        node_push.wait()
        if self._ami_env is None:
            os.environ.pop("TRUNKLINE_AMI_SECRET", None)
        else:
            os.environ["TRUNKLINE_AMI_SECRET"] = self._ami_env
        for node in self.nodes.values():
            node.stop()
        for uas in self.uas.values():
            uas.stop()
        if self.engine is not None:
            self.engine.dispose()
        self._drop_node_accounts()
        if self._db_created:
            admin = create_engine(self.mariadb_url)
            with admin.connect() as conn:
                conn.execute(text(f"DROP DATABASE IF EXISTS {self.db_name}"))
            admin.dispose()
        if self.root is not None:
            keep = self.workdir / "nodes"
            src = self.root / self.inner.lstrip("/")
            if src.exists():
                shutil.copytree(src, keep, dirs_exist_ok=True,
                                ignore=shutil.ignore_patterns("*.ctl", "astdb.sqlite3*"))
                shutil.rmtree(src, ignore_errors=True)
            if self._mounted_here and not processes_in(self.root):
                run(["bash", str(ROOT_SCRIPT), "umount"], check=False)
