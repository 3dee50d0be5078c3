"""Promote a MariaDB replica to primary when the primary is gone for good (GTID replication).

What it does, in order (MariaDB Knowledge Base, "Global Transaction ID": CHANGE MASTER TO
MASTER_USE_GTID=slave_pos, MASTER_GTID_WAIT; "Changing a Replica to Become the Primary"):
1. checks the candidate: it replicates, its SQL thread has no error, and it has applied every
   transaction it received (`Gtid_IO_Pos` covered by `@@gtid_slave_pos`, waiting up to `wait` seconds
   with MASTER_GTID_WAIT); otherwise refuses with the reason, unless forced (then what it received
   but did not apply is lost);
2. checks the old primary does not answer any more (a primary still taking writes next to a new one
   would split the data), unless forced;
3. on the candidate: STOP SLAVE, RESET SLAVE ALL, read_only OFF;
4. repoints every other replica: CHANGE MASTER TO the candidate with MASTER_USE_GTID=slave_pos (the
   replication account and password are kept: accounts replicate, and CHANGE MASTER keeps options not
   given); a replica that does not answer is listed, to be repointed when it is back;
5. records the roles (audited) in the database, written on the new primary.
The replicas must run with log_slave_updates=ON (scripts/db_loopback.py, docs/databases.md) so the
new primary's binary log holds the transactions the others still need.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import MySQLdb
import MySQLdb.cursors

from app.errors import DomainError


class PromotionRefused(DomainError):
    """The promotion would lose data or split the database; str() says why and what to do."""


@dataclass
class Endpoint:
    """How to reach one server with an account allowed to manage replication."""

    name: str
    host: str
    port: int
    user: str
    password: str


@dataclass
class PromotionReport:
    """What a promotion did."""

    new_primary: str
    repointed: list[str] = field(default_factory=list)
    unreachable: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def connect(ep: Endpoint, timeout: int = 3):
    """A MySQLdb connection with connect/read/write timeouts (seconds), autocommit on."""
    conn = MySQLdb.connect(host=ep.host, port=ep.port, user=ep.user, passwd=ep.password, connect_timeout=timeout,
                           read_timeout=max(timeout, 10), write_timeout=max(timeout, 10),
                           cursorclass=MySQLdb.cursors.DictCursor)
    conn.autocommit(True)
    return conn


def parse_gtids(text: str | None) -> dict[int, int]:
    """'0-1-100,1-2-7' -> {domain: sequence number} (the server id does not order GTIDs)."""
    out: dict[int, int] = {}
    for item in filter(None, (part.strip() for part in (text or "").split(","))):
        domain, _server, seq = item.split("-")
        out[int(domain)] = max(out.get(int(domain), 0), int(seq))
    return out


def covers(applied: str | None, received: str | None) -> bool:
    """True when the applied GTID position includes every transaction of the received one."""
    have = parse_gtids(applied)
    return all(have.get(domain, 0) >= seq for domain, seq in parse_gtids(received).items())


def replica_status(conn) -> dict | None:
    """SHOW SLAVE STATUS as a dict (None: the server replicates from nobody)."""
    with conn.cursor() as cur:
        cur.execute("SHOW SLAVE STATUS")
        return cur.fetchone()


def applied_position(conn) -> str:
    """@@gtid_slave_pos: the last transaction applied from each replication domain."""
    with conn.cursor() as cur:
        cur.execute("SELECT @@GLOBAL.gtid_slave_pos AS pos")
        return cur.fetchone()["pos"]


def check_candidate(conn, name: str, wait: float) -> list[str]:
    """Reasons the candidate is not safe to promote (empty: safe)."""
    status = replica_status(conn)
    if status is None:
        return [f"{name} does not replicate from any server (SHOW SLAVE STATUS is empty): it may lack the primary's data"]
    reasons = []
    if status.get("Last_SQL_Error"):
        reasons.append(f"{name}'s SQL thread stopped on an error: {status['Last_SQL_Error']}")
    received = status.get("Gtid_IO_Pos") or ""
    applied = applied_position(conn)
    if not covers(applied, received) and status.get("Slave_SQL_Running") == "Yes" and wait > 0:
        with conn.cursor() as cur:
            cur.execute("SELECT MASTER_GTID_WAIT(%s, %s) AS r", (received, wait))
            cur.fetchone()
        applied = applied_position(conn)
    if not covers(applied, received):
        reasons.append(f"{name} has received transactions up to {received} but applied only {applied or 'none'} "
                       f"(SQL thread running: {status.get('Slave_SQL_Running')}); promoting it now would lose the rest")
    return reasons


def answers(ep: Endpoint, timeout: int = 2) -> bool:
    """True when the server accepts a connection and a query within timeout seconds."""
    try:
        conn = connect(ep, timeout)
    except MySQLdb.Error:
        return False
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT 1")
        return True
    except MySQLdb.Error:
        return False
    finally:
        conn.close()


def promote(candidate: Endpoint, old_primary: Endpoint | None, replicas: list[Endpoint], *, force: bool = False,
            wait: float = 5.0) -> PromotionReport:
    """Make candidate the primary and repoint replicas to it (PromotionRefused: nothing was changed)."""
    try:
        conn = connect(candidate)
    except MySQLdb.Error as exc:
        raise PromotionRefused(f"cannot reach {candidate.name} ({candidate.host}:{candidate.port}): {exc.args[-1]}") from None
    report = PromotionReport(candidate.name)
    try:
        reasons = check_candidate(conn, candidate.name, wait)
        if old_primary is not None and answers(old_primary):
            reasons.append(f"the primary {old_primary.name} ({old_primary.host}:{old_primary.port}) still answers: stop it "
                           "first, a primary still taking writes next to a new one would split the data")
        if reasons and not force:
            raise PromotionRefused("; ".join(reasons) + "; nothing was changed (--force promotes anyway)")
        report.notes += [f"forced past: {r}" for r in reasons]
        with conn.cursor() as cur:
            cur.execute("STOP SLAVE")
            cur.execute("RESET SLAVE ALL")
            cur.execute("SET GLOBAL read_only = OFF")
    finally:
        conn.close()
    for ep in replicas:
        try:
            rconn = connect(ep)
        except MySQLdb.Error:
            report.unreachable.append(ep.name)
            continue
        try:
            with rconn.cursor() as cur:
                cur.execute("STOP SLAVE")
                cur.execute("CHANGE MASTER TO MASTER_HOST=%s, MASTER_PORT=%s, MASTER_USE_GTID=slave_pos",
                            (candidate.host, candidate.port))
                cur.execute("START SLAVE")
            report.repointed.append(ep.name)
        except MySQLdb.Error as exc:
            report.notes.append(f"{ep.name} could not be repointed: {exc.args[-1]}")
            report.unreachable.append(ep.name)
        finally:
            rconn.close()
    return report
