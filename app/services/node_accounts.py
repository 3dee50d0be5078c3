"""Per-node MariaDB accounts: created, rotated and dropped by the platform, audited.

A node connects as `<database>.<node name>`@`<host>` (the database's name in it: MariaDB accounts belong
to the server, and several Trunkline databases may share one; host: the node's public address unless given, a MariaDB
host pattern such as '10.0.0.%' allowed). The account may SELECT the scoped views and INSERT into cdr,
nothing else (app.projection.visibility.grant_objects). Its password is made here, returned once to
the caller and kept by MariaDB only (as its hash): never in a table, a log or the audit trail.

Account statements (CREATE USER, GRANT, DROP USER) commit implicitly in MariaDB, so they run on a
connection of their own: a new account is created before the caller's commit and dropped again if
the transaction rolls back; an account is dropped only after the commit that retires or deletes its
node. SQLite (the demo database) has no accounts: asking for one is a Conflict, and the other
node operations simply have no account to handle.

An account recorded in node_accounts but gone from MariaDB (dropped by hand, lost with a restored server) is
recreated by a rotation (CREATE USER and the grants, audited as `recreate`). Whatever MariaDB refuses (the admin's
login lacking CREATE USER or GRANT OPTION, ...) is an AccountRefused naming the missing privilege: one line,
never the statement or its parameters (a password).

The admin's own database login needs (MariaDB, https://mariadb.com/kb/en/create-user/, /grant/, /alter-user/):
CREATE USER (CREATE, ALTER, RENAME, DROP USER) and the privileges it hands on with GRANT OPTION (SELECT on the
node_* views, INSERT on cdr), e.g. `GRANT ALL ON db.* TO admin WITH GRANT OPTION; GRANT CREATE USER ON *.* TO admin`;
SELECT on mysql.user lets the node page tell whether an account exists (optional).
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import re
import secrets
from dataclasses import dataclass

from sqlalchemy import event, select, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from app.db import utc_now
from app.dbdown import error_code, is_unreachable
from app.errors import Conflict, DomainError, ValidationError
from app.models import Node, NodeAccount
from app.projection import visibility
from app.projection.visibility import grant_objects
from app.services.audit import Actor, record

log = logging.getLogger(__name__)

MAX_USER = 80  # MariaDB's limit on a user name
ENTITY = "node_account"
_HOST_RE = re.compile(r"^[A-Za-z0-9.:%_-]{1,255}$")  # an address, a name or a MariaDB host pattern (% and _ wildcards)
_IPV4_LIKE = re.compile(r"^[0-9%_]+(\.[0-9%_]+)+$")  # dotted digits (and wildcards): must be an IPv4 address or pattern
_AFTER_COMMIT = "tl_account_after_commit"
_ON_ROLLBACK = "tl_account_on_rollback"
REPAIR = "flask --app wsgi node account {node} --rotate"  # the command that recreates a missing account


class AccountRefused(DomainError):
    """MariaDB refused an account statement (CREATE/ALTER/RENAME/DROP USER, GRANT); str() is one line naming what
    the admin's database login lacks and how to give it, never the statement or its parameters; code: MariaDB's
    error number (None when unknown)."""

    def __init__(self, message: str, code: int | None = None):
        super().__init__(message)
        self.code = code


@dataclass
class Provided:
    """What ensure did: the account row, its new password (show it once), and action: create, rotate or recreate."""

    account: NodeAccount
    password: str
    action: str


def supported(session: Session) -> bool:
    """True when the database has accounts (MariaDB/MySQL)."""
    return session.get_bind().dialect.name in ("mysql", "mariadb")


def user_name(database: str, node_name: str) -> str:
    """The database user name of a node's account: `<database>.<node name>`."""
    return f"{database}.{node_name}"


def _engine(session: Session) -> Engine:
    bind = session.get_bind()
    return bind.engine if isinstance(bind, Connection) else bind


def _account(user: str, host: str) -> str:
    # Both parts come from checked values (node names: [a-z0-9_-]; hosts: _HOST_RE), quoted as MariaDB wants.
    return f"'{user}'@'{host}'"


def _run(engine: Engine, statements: list[tuple[str, dict]], doing: str = "") -> None:
    """Run account statements on a connection of their own; a refusal becomes AccountRefused (one line, no parameters).

    An unreachable server stays a DBAPIError (the callers' "database unreachable" handling)."""
    try:
        with engine.connect() as conn:
            for sql, params in statements:
                conn.execute(text(sql), params)
            conn.commit()
    except DBAPIError as exc:
        if is_unreachable(exc) or not doing:
            raise
        raise AccountRefused(_refusal(engine, exc, doing, [v for _sql, params in statements for v in params.values()]),
                             error_code(exc)) from None


def _login(engine: Engine) -> str:
    """The admin's login as MariaDB sees it ('user'@'host'), '' when it cannot be asked."""
    try:
        with engine.connect() as conn:
            user, _, host = conn.execute(text("SELECT CURRENT_USER()")).scalar_one().rpartition("@")
        return f"'{user}'@'{host}'"
    except DBAPIError:
        return ""


def _refusal(engine: Engine, exc: DBAPIError, doing: str, secrets_: list) -> str:
    """One line for a refused account statement: what the admin's login lacks and the GRANT that gives it.

    MariaDB errors (include/mysqld_error.h): 1227 ER_SPECIFIC_ACCESS_DENIED_ERROR names the missing global privilege,
    1142 ER_TABLEACCESS_DENIED_ERROR / 1044 ER_DBACCESS_DENIED_ERROR mean the login may not grant a node's privileges,
    1396 ER_CANNOT_USER an account that is not there (or already is). Only the server's message is shown, with any
    secret of the statement masked: a syntax error quotes the statement, password included."""
    code = error_code(exc)
    args = getattr(getattr(exc, "orig", None), "args", ())
    message = str(args[1]) if len(args) > 1 else str(getattr(exc, "orig", exc)).splitlines()[0]
    for value in secrets_:
        if value:
            message = message.replace(str(value), "********")
    login = _login(engine) or "the admin's login"
    database = engine.url.database or "DATABASE"
    said = f"MariaDB error {code}: {message}" if code else f"MariaDB: {message}"
    if code == 1227:
        found = re.search(r"the (.+?) privilege", message)
        privilege = found.group(1) if found else "CREATE USER"
        return (f"cannot {doing}: the admin's database login {login} lacks the {privilege} privilege ({said}); "
                f"give it with GRANT {privilege} ON *.* TO {login} (docs/nodes.md: privileges), then run the command again")
    if code in (1044, 1142):
        return (f"cannot {doing}: the admin's database login {login} may not grant a node its privileges (SELECT on the "
                f"node_* views, INSERT on cdr: GRANT OPTION) ({said}); give it with GRANT ALL ON `{database}`.* TO {login} "
                "WITH GRANT OPTION (docs/nodes.md: privileges), then run the command again")
    return f"cannot {doing}: {said}"


def _database(session: Session) -> str:
    return session.execute(text("SELECT DATABASE()")).scalar_one()


def check_host(host: str) -> str:
    """The host part of an account: an address, a name or a MariaDB pattern (% any characters, _ one character).

    MariaDB takes any string (999.1.1.1 is simply a host name that never resolves), so what looks like an IPv4
    address (dotted digits) must be one, or a pattern whose literal parts are octets (10.0.0.%, 192.168.1_.%); an
    IPv6 address without wildcards must be a valid one."""
    host = (host or "").strip()
    if not _HOST_RE.match(host):
        raise ValidationError(host=f"'{host}' is not a host MariaDB accepts: an address, a name or a pattern such as 10.0.0.%")
    if _IPV4_LIKE.match(host) and not _ipv4_or_pattern(host):
        raise ValidationError(host=f"'{host}' is not an IPv4 address or pattern: four numbers 0-255 (e.g. 192.0.2.10), "
                                   "or a pattern such as 10.0.0.%")
    if ":" in host and not any(c in host for c in "%_"):
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise ValidationError(host=f"'{host}' is not an IPv6 address") from None
    return host


def _ipv4_or_pattern(host: str) -> bool:
    parts = host.split(".")
    if not any(c in host for c in "%_"):
        try:
            ipaddress.IPv4Address(host)  # also refuses leading zeros, which MariaDB would compare as text
        except ValueError:
            return False
        return True
    if len(parts) > 4 or ("%" not in host and len(parts) != 4):
        return False
    for part in parts:
        if part == "%":
            continue
        if "%" in part or "_" in part:
            # A wildcard inside an octet: its digits must still fit one (at most 3 characters, or % for any number).
            if "%" not in part and len(part) > 3:
                return False
            if re.sub(r"[%_]", "", part) and int(re.sub(r"[%_]", "", part)) > 255:
                return False
            continue
        if int(part) > 255 or (len(part) > 1 and part[0] == "0"):
            return False
    return True


def ensure(session: Session, node: Node, actor: Actor, *, host: str | None = None, rotate: bool = False) -> tuple[NodeAccount, str]:
    """Create node's account (or, with rotate, give it a new password; a new host moves it there).

    Returns (the account row, the password: show it once). Errors: as provide()."""
    done = provide(session, node, actor, host=host, rotate=rotate)
    return done.account, done.password


def provide(session: Session, node: Node, actor: Actor, *, host: str | None = None, rotate: bool = False) -> Provided:
    """Create node's account; with rotate give it a new password (a new host moves it there), or recreate it when
    MariaDB no longer has it (action `recreate`: dropped by hand, lost with a restored server).

    Raises Conflict on SQLite, for a retired node, for an existing account without rotate (saying, when MariaDB
    lost it, that --rotate recreates it), or rotate without an account; ValidationError for a host MariaDB would
    refuse or that looks like an IPv4 address and is none; AccountRefused when MariaDB refuses a statement.
    """
    if not supported(session):
        raise Conflict("SQLite has no database accounts: per-node accounts need MariaDB (DATABASE_URL=mysql+mysqldb://...)")
    if node.state == "retired":
        raise Conflict(f"node {node.name} is retired: a retired node gets no database account")
    account = session.scalar(select(NodeAccount).where(NodeAccount.node_id == node.id))
    present = exists_in_database(session, account) if account is not None else None
    if account is not None and not rotate:
        if present is False:
            raise Conflict(f"node {node.name}'s database account {account} is recorded, but MariaDB has no such account "
                           f"(the node cannot connect): recreate it with `{REPAIR.format(node=node.name)}`")
        raise Conflict(f"node {node.name} already has database account {account.db_user}: use --rotate for a new password")
    if account is None and rotate:
        raise Conflict(f"node {node.name} has no database account to rotate: create it first (without --rotate)")
    host = check_host(host if host else (account.host if account is not None else node.public_ip))
    password = secrets.token_urlsafe(24)  # [A-Za-z0-9_-]: safe in odbc.ini and res_odbc.conf
    engine = _engine(session)
    if account is None:
        database = _database(session)
        user = user_name(database, node.name)
        if len(user) > MAX_USER:
            raise Conflict(f"database account name {user} is longer than MariaDB's {MAX_USER} characters: use a shorter database name")
        _create(engine, database, user, host, password, f"create database account {user}@{host}")
        _queue(session, _ON_ROLLBACK, engine, f"DROP USER IF EXISTS {_account(user, host)}")
        now = utc_now()
        account = NodeAccount(node_id=node.id, db_user=user, host=host, created_at=now, rotated_at=now)  # never rotated
        session.add(account)
        session.flush()
        visibility.refresh_accounts(session)  # its role and client, which the scoped views read
        record(session, actor, "create", ENTITY, node.name, None, {"user": user, "host": host},
               summary=f"database account {user}@{host} created for node {node.name}")
        session.flush()
        return Provided(account, password, "create")
    before = {"user": account.db_user, "host": account.host}
    if present is not False:
        statements = []
        if host != account.host:
            statements.append((f"RENAME USER {_account(account.db_user, account.host)} TO {_account(account.db_user, host)}", {}))
        statements.append((f"ALTER USER {_account(account.db_user, host)} IDENTIFIED BY :pw", {"pw": password}))
        try:
            _run(engine, statements, f"rotate the password of database account {account}")
        except AccountRefused as exc:
            # This login may not read mysql.user, so whether MariaDB had it was not known: 1396 (ER_CANNOT_USER) says not.
            if present is not None or exc.code != 1396:
                raise
        else:
            account.host, account.rotated_at = host, utc_now()
            record(session, actor, "rotate", ENTITY, node.name, before, {"user": account.db_user, "host": host},
                   summary=f"database account {account.db_user} of node {node.name}: new password")
            session.flush()
            return Provided(account, password, "rotate")
    # Recorded, but gone from MariaDB: the same statements as a creation, on the host asked for (or the recorded one).
    database = _database(session)
    _create(engine, database, account.db_user, host, password, f"recreate database account {account.db_user}@{host}",
            also_drop=account.host)
    _queue(session, _ON_ROLLBACK, engine, f"DROP USER IF EXISTS {_account(account.db_user, host)}")
    now = utc_now()
    account.host, account.created_at, account.rotated_at = host, now, now
    moved = f", moved from {before['host']}" if host != before["host"] else ""
    record(session, actor, "recreate", ENTITY, node.name, None, {"user": account.db_user, "host": host},
           summary=f"database account {account.db_user}@{host} of node {node.name} recreated: MariaDB had no such account "
                   f"(dropped by hand or lost with a restored server); new password{moved}")
    session.flush()
    return Provided(account, password, "recreate")


def _create(engine: Engine, database: str, user: str, host: str, password: str, doing: str, also_drop: str | None = None) -> None:
    """CREATE USER user@host with the node's grants; a leftover of the same name (a node deleted while MariaDB was
    unreachable; with also_drop, the account's former host) is replaced. A refused grant drops the half-made account."""
    who = _account(user, host)
    statements = [(f"DROP USER IF EXISTS {_account(user, old)}", {}) for old in {also_drop} - {None, host}]
    statements += [(f"DROP USER IF EXISTS {who}", {}), (f"CREATE USER {who} IDENTIFIED BY :pw", {"pw": password})]
    statements += [(f"GRANT {privilege} ON `{database}`.`{obj}` TO {who}", {}) for privilege, obj in grant_objects()]
    try:
        _run(engine, statements, doing)
    except AccountRefused:
        with contextlib.suppress(DBAPIError):  # the login may lack CREATE USER altogether: then nothing was created
            _run(engine, [(f"DROP USER IF EXISTS {who}", {})])
        raise


def drop(session: Session, node: Node, actor: Actor, reason: str) -> bool:
    """Forget node's account now and drop it from MariaDB after the commit; False when it had none."""
    account = session.scalar(select(NodeAccount).where(NodeAccount.node_id == node.id))
    if account is None:
        return False
    who = _account(account.db_user, account.host)
    _queue(session, _AFTER_COMMIT, _engine(session), f"DROP USER IF EXISTS {who}")
    record(session, actor, "delete", ENTITY, node.name, {"user": account.db_user, "host": account.host}, None,
           summary=f"database account {account.db_user}@{account.host} dropped: node {node.name} {reason}")
    session.delete(account)
    session.flush()
    return True


def exists_in_database(session: Session, account: NodeAccount) -> bool | None:
    """Whether MariaDB has the account (None when this connection may not read mysql.user)."""
    try:
        with _engine(session).connect() as conn:
            return bool(conn.execute(text("SELECT COUNT(*) FROM mysql.user WHERE User = :u AND Host = :h"),
                                     {"u": account.db_user, "h": account.host}).scalar_one())
    except Exception:  # noqa: BLE001 - no privilege on mysql.user: unknown, not an error for the page
        return None


def _queue(session: Session, key: str, engine: Engine, statement: str) -> None:
    """Keep a statement to run after the commit (or the rollback), with the savepoint it was queued in (None:
    the outer transaction), so that a savepoint rolled back undoes its own statements only."""
    session.info.setdefault(key, []).append((session.get_nested_transaction(), engine, statement))


def _queued_in(transaction, savepoint) -> bool:
    while transaction is not None:
        if transaction is savepoint:
            return True
        transaction = transaction.parent
    return False


def _run_pending(session: Session, key: str, only_in=None) -> None:
    """Run the statements queued under key (only those queued inside savepoint only_in, when given)."""
    pending = session.info.pop(key, [])
    if only_in is not None:
        session.info[key] = [entry for entry in pending if not _queued_in(entry[0], only_in)]
        pending = [entry for entry in pending if _queued_in(entry[0], only_in)]
    for _transaction, engine, statement in pending:
        try:
            _run(engine, [(statement, {})])
        except Exception:  # noqa: BLE001 - after the commit nothing can be undone; say so loudly
            log.exception("could not run %s; run it by hand", statement)


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    if session.in_nested_transaction():
        return  # SQLAlchemy calls this for a released savepoint too: the outer transaction may still roll back
    session.info.pop(_ON_ROLLBACK, None)
    _run_pending(session, _AFTER_COMMIT)


@event.listens_for(Session, "after_soft_rollback")
def _after_rollback(session: Session, previous_transaction) -> None:
    if previous_transaction.parent is not None:
        # A savepoint rolled back while the outer transaction may still commit: what it created goes now, what it
        # would have dropped after the commit stays (its node row is back).
        if previous_transaction.nested:
            _run_pending(session, _ON_ROLLBACK, only_in=previous_transaction)
            pending = session.info.get(_AFTER_COMMIT, [])
            session.info[_AFTER_COMMIT] = [entry for entry in pending if not _queued_in(entry[0], previous_transaction)]
        return
    session.info.pop(_AFTER_COMMIT, None)
    _run_pending(session, _ON_ROLLBACK)
