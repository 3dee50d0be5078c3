#!/usr/bin/env python3
"""Several MariaDB servers on one machine for tests: a GTID primary and its replicas on loopback.

Each instance has its own datadir, socket, port, server_id and 127.0.0.x address, a small buffer
pool, binary log with log_slave_updates (so any replica can be promoted), and the heartbeat settings
that notice a frozen primary in about 3 s (master_heartbeat_period=1, slave_net_timeout=3; defaults 60 s).
Every instance gets the same two accounts, created with sql_log_bin=0 so they do not replicate:
root@'127.%' (no password, like the test server on :3306) and repl@'127.%' for replication.

    scripts/db_loopback.py up --dir /tmp/dbs --server primary=127.0.0.21:3307 --server replica1=127.0.0.22:3308
    scripts/db_loopback.py status --dir /tmp/dbs
    scripts/db_loopback.py down --dir /tmp/dbs

The first --server is the primary; the others replicate from it. Production: docs/databases.md.
Tests import this file (tests/e2e/dbcluster.py) and use Instance/start_cluster directly.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

REPL_USER = "repl"
REPL_PASSWORD = "repl-loopback"  # loopback test clusters only
HEARTBEAT_PERIOD = 1  # seconds between heartbeats from the primary when it has nothing to send
NET_TIMEOUT = 3  # a replica reconnects after this many seconds without data or heartbeat

CONFIG = """[mariadbd]
datadir = {datadir}
socket = {socket}
pid-file = {pidfile}
port = {port}
bind-address = {host}
server_id = {server_id}
skip-name-resolve
log_bin = {datadir}/binlog
binlog_format = ROW
log_slave_updates = ON
gtid_strict_mode = ON
gtid_domain_id = 0
slave_net_timeout = {net_timeout}
read_only = {read_only}
innodb_buffer_pool_size = 64M
innodb_log_file_size = 32M
innodb_flush_log_at_trx_commit = 2
sync_binlog = 0
max_connections = {max_connections}
character-set-server = utf8mb4
collation-server = utf8mb4_unicode_ci
log_error = {datadir}/error.log
"""


@dataclass
class Instance:
    """One mariadbd on loopback."""

    name: str
    host: str
    port: int
    server_id: int
    base: str  # folder holding datadir, socket, config
    max_connections: int = 151
    pid: int | None = None

    @property
    def datadir(self) -> str:
        return f"{self.base}/{self.name}/data"

    @property
    def socket(self) -> str:
        return f"{self.base}/{self.name}/mariadbd.sock"

    @property
    def config(self) -> str:
        return f"{self.base}/{self.name}/my.cnf"

    @property
    def url(self) -> str:
        return f"mysql+mysqldb://root@{self.host}:{self.port}"

    def connect(self, timeout: int = 5, **kw):
        import MySQLdb
        import MySQLdb.cursors

        conn = MySQLdb.connect(host=self.host, port=self.port, user="root", connect_timeout=timeout,
                               read_timeout=kw.pop("read_timeout", 30), cursorclass=MySQLdb.cursors.DictCursor, **kw)
        conn.autocommit(True)
        return conn

    def sql(self, *statements: str, timeout: int = 5) -> list:
        """Run statements; the rows of the last one."""
        conn = self.connect(timeout)
        try:
            rows = []
            with conn.cursor() as cur:
                for stmt in statements:
                    cur.execute(stmt)
                    rows = cur.fetchall() if cur.description else []
            return list(rows)
        finally:
            conn.close()


def _port_open(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.3)
        return s.connect_ex((host, port)) == 0


def start(inst: Instance, *, replica: bool, fresh: bool = True) -> Instance:
    """Create (fresh: wipe first) and start one instance; waits until it accepts root over TCP (about 5 s)."""
    home = Path(inst.base) / inst.name
    if fresh and home.exists():
        shutil.rmtree(home)
    home.mkdir(parents=True, exist_ok=True)
    Path(inst.config).write_text(CONFIG.format(datadir=inst.datadir, socket=inst.socket, pidfile=f"{home}/mariadbd.pid",
                                               port=inst.port, host=inst.host, server_id=inst.server_id,
                                               net_timeout=NET_TIMEOUT, read_only="ON" if replica else "OFF",
                                               max_connections=inst.max_connections))
    as_root = ["--user=root"] if os.geteuid() == 0 else []
    if not Path(inst.datadir, "mysql").exists():
        subprocess.run(["mariadb-install-db", f"--defaults-file={inst.config}", *as_root, "--skip-test-db",
                        "--auth-root-authentication-method=normal"], check=True, capture_output=True)
    proc = subprocess.Popen(["mariadbd", f"--defaults-file={inst.config}", *as_root], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    inst.pid = proc.pid
    deadline = time.monotonic() + 60
    while not Path(inst.socket).exists() or not _port_open(inst.host, inst.port):
        if proc.poll() is not None:
            raise RuntimeError(f"mariadbd {inst.name} exited: see {inst.datadir}/error.log")
        if time.monotonic() > deadline:
            raise RuntimeError(f"mariadbd {inst.name} did not start in 60 s: see {inst.datadir}/error.log")
        time.sleep(0.2)
    import MySQLdb

    conn = MySQLdb.connect(unix_socket=inst.socket, user="root")
    try:
        cur = conn.cursor()
        for stmt in ("SET sql_log_bin = 0",
                     "CREATE USER IF NOT EXISTS 'root'@'127.%' IDENTIFIED BY ''",
                     "GRANT ALL ON *.* TO 'root'@'127.%' WITH GRANT OPTION",
                     f"CREATE USER IF NOT EXISTS '{REPL_USER}'@'127.%' IDENTIFIED BY '{REPL_PASSWORD}'",
                     f"GRANT REPLICATION SLAVE, REPLICATION SLAVE ADMIN ON *.* TO '{REPL_USER}'@'127.%'"):
            cur.execute(stmt)
    finally:
        conn.close()
    return inst


def replicate(replica: Instance, primary: Instance) -> None:
    """Start GTID replication of replica from primary, with the fast heartbeat."""
    replica.sql("STOP SLAVE", "RESET SLAVE ALL", "SET GLOBAL gtid_slave_pos = ''",
                f"CHANGE MASTER TO MASTER_HOST='{primary.host}', MASTER_PORT={primary.port}, MASTER_USER='{REPL_USER}', "
                f"MASTER_PASSWORD='{REPL_PASSWORD}', MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1, "
                f"MASTER_HEARTBEAT_PERIOD={HEARTBEAT_PERIOD}",
                "START SLAVE")


def wait_caught_up(replica: Instance, primary: Instance, timeout: float = 30) -> None:
    """Block until replica has applied everything primary has committed (MASTER_GTID_WAIT)."""
    pos = primary.sql("SELECT @@GLOBAL.gtid_binlog_pos AS p")[0]["p"]
    got = replica.sql(f"SELECT MASTER_GTID_WAIT('{pos}', {timeout}) AS r", timeout=int(timeout) + 5)[0]["r"]
    if got != 0:
        raise RuntimeError(f"{replica.name} did not apply {pos} within {timeout} s")


def stop(inst: Instance, sig: int = signal.SIGTERM, timeout: float = 30) -> None:
    """Stop an instance (SIGTERM: clean shutdown; SIGKILL: a crash) and wait for it to go."""
    if inst.pid is None:
        return
    try:
        os.kill(inst.pid, signal.SIGCONT)
        os.kill(inst.pid, sig)
    except ProcessLookupError:
        inst.pid = None
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            done, _ = os.waitpid(inst.pid, os.WNOHANG)
        except ChildProcessError:  # not our child (started by another process): poll its existence
            done = 0 if _alive(inst.pid) else inst.pid
        if done:
            break
        time.sleep(0.1)
    else:
        os.kill(inst.pid, signal.SIGKILL)
    inst.pid = None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}").exists() and "Z" not in Path(f"/proc/{pid}/stat").read_text().split()[2]


def restart(inst: Instance, *, replica: bool) -> Instance:
    """Start an instance again on its existing datadir (after a kill or a stop)."""
    return start(inst, replica=replica, fresh=False)


def start_cluster(base: str, servers: list[tuple[str, str, int]], max_connections: int = 151) -> list[Instance]:
    """Start servers [(name, host, port), ...]: the first is the primary, the others replicate from it."""
    out = []
    for i, (name, host, port) in enumerate(servers):
        out.append(start(Instance(name, host, port, server_id=i + 1, base=base, max_connections=max_connections),
                         replica=i > 0))
    for replica in out[1:]:
        replicate(replica, out[0])
    return out


def _state_file(base: str) -> Path:
    return Path(base) / "cluster.json"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog="example: .venv/bin/python "
                                     "scripts/db_loopback.py up --dir /tmp/tl-dbs --server p=127.0.0.41:3306 "
                                     "--server r=127.0.0.42:3306; then status --dir /tmp/tl-dbs; down --dir /tmp/tl-dbs")
    sub = parser.add_subparsers(dest="cmd", required=True)
    up = sub.add_parser("up", help="start a primary and replicas")
    up.add_argument("--dir", required=True)
    up.add_argument("--server", action="append", required=True, metavar="NAME=HOST:PORT",
                    help="repeat; the first is the primary")
    up.add_argument("--max-connections", type=int, default=151)
    for name in ("down", "status"):
        sub.add_parser(name, help="stop the servers started in --dir" if name == "down" else "show them").add_argument(
            "--dir", required=True)
    args = parser.parse_args(argv)
    if args.cmd == "up":
        try:  # checked before any server starts: a failure later would leave a mariadbd that `down` does not know
            import MySQLdb  # noqa: F401
        except ImportError:
            print("db_loopback.py: needs mysqlclient (MySQLdb): run it with the project's interpreter, "
                  ".venv/bin/python scripts/db_loopback.py ...", file=sys.stderr)
            return 1
        servers = []
        for item in args.server:
            try:
                name, addr = item.split("=", 1)
                host, port = addr.rsplit(":", 1)
                servers.append((name, host, int(port)))
            except ValueError:
                parser.error(f"--server must be NAME=HOST:PORT, not {item!r}")
        cluster = start_cluster(args.dir, servers, args.max_connections)
        _state_file(args.dir).write_text(json.dumps([asdict(i) for i in cluster], indent=2))
        for inst in cluster:
            print(f"{inst.name} {'primary' if inst is cluster[0] else 'replica'} {inst.host}:{inst.port} pid {inst.pid}")
        return 0
    state = _state_file(args.dir)
    if not state.exists():
        print(f"no cluster in {args.dir}", file=sys.stderr)
        return 1
    cluster = [Instance(**d) for d in json.loads(state.read_text())]
    if args.cmd == "down":
        for inst in cluster:
            stop(inst)
        state.unlink()
        return 0
    for inst in cluster:
        try:
            rows = inst.sql("SHOW SLAVE STATUS")
            pos = inst.sql("SELECT @@GLOBAL.gtid_current_pos AS p")[0]["p"]
            src = f"replica of {rows[0]['Master_Host']}:{rows[0]['Master_Port']} IO {rows[0]['Slave_IO_Running']} " \
                  f"SQL {rows[0]['Slave_SQL_Running']}" if rows else "primary"
            print(f"{inst.name} {inst.host}:{inst.port} {src} gtid {pos}")
        except Exception as exc:  # noqa: BLE001 - report any failure as "down"
            print(f"{inst.name} {inst.host}:{inst.port} down ({exc})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
