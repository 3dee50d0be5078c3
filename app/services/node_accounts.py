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
"""

from __future__ import annotations

import logging
import re
import secrets

from sqlalchemy import event, select, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session

from app.db import utc_now
from app.errors import Conflict, ValidationError
from app.models import Node, NodeAccount
from app.projection import visibility
from app.projection.visibility import grant_objects
from app.services.audit import Actor, record

log = logging.getLogger(__name__)

MAX_USER = 80  # MariaDB's limit on a user name
ENTITY = "node_account"
_HOST_RE = re.compile(r"^[A-Za-z0-9.:%_-]{1,255}$")  # an address, a name or a MariaDB host pattern (% and _ wildcards)
_AFTER_COMMIT = "tl_account_after_commit"
_ON_ROLLBACK = "tl_account_on_rollback"


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


def _run(engine: Engine, statements: list[tuple[str, dict]]) -> None:
    with engine.connect() as conn:
        for sql, params in statements:
            conn.execute(text(sql), params)
        conn.commit()


def _database(session: Session) -> str:
    return session.execute(text("SELECT DATABASE()")).scalar_one()


def _check_host(host: str) -> str:
    host = (host or "").strip()
    if not _HOST_RE.match(host):
        raise ValidationError(host=f"'{host}' is not a host MariaDB accepts: an address, a name or a pattern such as 10.0.0.%")
    return host


def ensure(session: Session, node: Node, actor: Actor, *, host: str | None = None, rotate: bool = False) -> tuple[NodeAccount, str]:
    """Create node's account (or, with rotate, give it a new password; a new host moves it there).

    Returns (the account row, the password: show it once). Raises Conflict on SQLite, for a retired
    node, for an existing account without rotate, or rotate without an account; ValidationError for a
    host MariaDB would refuse.
    """
    if not supported(session):
        raise Conflict("SQLite has no database accounts: per-node accounts need MariaDB (DATABASE_URL=mysql+mysqldb://...)")
    if node.state == "retired":
        raise Conflict(f"node {node.name} is retired: a retired node gets no database account")
    account = session.scalar(select(NodeAccount).where(NodeAccount.node_id == node.id))
    if account is not None and not rotate:
        raise Conflict(f"node {node.name} already has database account {account.db_user}: use --rotate for a new password")
    if account is None and rotate:
        raise Conflict(f"node {node.name} has no database account to rotate: create it first (without --rotate)")
    host = _check_host(host if host else (account.host if account is not None else node.public_ip))
    password = secrets.token_urlsafe(24)  # [A-Za-z0-9_-]: safe in odbc.ini and res_odbc.conf
    engine = _engine(session)
    if account is None:
        database = _database(session)
        user = user_name(database, node.name)
        if len(user) > MAX_USER:
            raise Conflict(f"database account name {user} is longer than MariaDB's {MAX_USER} characters: use a shorter database name")
        who = _account(user, host)
        # A leftover account of the same name (a node deleted while MariaDB was unreachable) is replaced.
        statements = [(f"DROP USER IF EXISTS {who}", {}), (f"CREATE USER {who} IDENTIFIED BY :pw", {"pw": password})]
        statements += [(f"GRANT {privilege} ON `{database}`.`{obj}` TO {who}", {}) for privilege, obj in grant_objects()]
        _run(engine, statements)
        _queue(session, _ON_ROLLBACK, engine, f"DROP USER IF EXISTS {who}")
        account = NodeAccount(node_id=node.id, db_user=user, host=host, created_at=utc_now(), rotated_at=utc_now())
        session.add(account)
        session.flush()
        visibility.refresh_accounts(session)  # its role and client, which the scoped views read
        record(session, actor, "create", ENTITY, node.name, None, {"user": user, "host": host},
               summary=f"database account {user}@{host} created for node {node.name}")
    else:
        statements = []
        if host != account.host:
            statements.append((f"RENAME USER {_account(account.db_user, account.host)} TO {_account(account.db_user, host)}", {}))
        statements.append((f"ALTER USER {_account(account.db_user, host)} IDENTIFIED BY :pw", {"pw": password}))
        _run(engine, statements)
        before = {"user": account.db_user, "host": account.host}
        account.host, account.rotated_at = host, utc_now()
        record(session, actor, "rotate", ENTITY, node.name, before, {"user": account.db_user, "host": host},
               summary=f"database account {account.db_user} of node {node.name}: new password")
    session.flush()
    return account, password


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
