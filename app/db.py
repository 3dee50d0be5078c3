"""Database engine and session handling shared by the web app, CLI, imports and tests."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import MetaData, create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, scoped_session, sessionmaker

# Stable constraint names so Alembic migrations are the same on MariaDB and SQLite.
NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utc_now() -> datetime:
    """Now in UTC, without tzinfo (how every timestamp column stores it)."""
    return datetime.now(UTC).replace(tzinfo=None)


class Base(DeclarativeBase):
    """Declarative base for the domain and realtime tables."""

    metadata = MetaData(naming_convention=NAMING)


Session = scoped_session(sessionmaker(expire_on_commit=False))


def make_engine(url: str, **kwargs) -> Engine:
    """Create an engine; SQLite gets foreign keys switched on, MariaDB strict mode and utf8mb4."""
    if url.startswith("sqlite"):
        engine = create_engine(url, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):
            # pysqlite's own transaction handling defers BEGIN to the first write, which breaks
            # SAVEPOINTs nested in a transaction; SQLAlchemy's recipe: autocommit driver, our BEGIN.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn):
            conn.exec_driver_sql("BEGIN")

        return engine
    kwargs.setdefault("pool_pre_ping", True)
    kwargs.setdefault("pool_recycle", 3600)
    if url.startswith("mysql"):
        # Timeouts (seconds) so a frozen or unreachable server answers "unreachable" instead of hanging a request
        # (app.dbdown): connect 3 s; a read or write waits at most 30 s (a full realtime rebuild takes about 3 s).
        kwargs.setdefault("connect_args", {"charset": "utf8mb4", "init_command": "SET sql_mode='STRICT_TRANS_TABLES,NO_ENGINE_SUBSTITUTION'",
                                           "connect_timeout": 3, "read_timeout": 30, "write_timeout": 30})
    return create_engine(url, **kwargs)


def bind_session(engine: Engine) -> None:
    """Point the shared scoped session at an engine (or a connection, in tests)."""
    Session.remove()
    Session.configure(bind=engine)
