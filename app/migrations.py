"""Run the Alembic migrations in schema/ programmatically (CLI, tests, set-up script)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine

SCHEMA_DIR = Path(__file__).resolve().parents[1] / "schema"
VERSION_TABLE = "trunkline_schema_version"


def alembic_config(url: str) -> AlembicConfig:
    """An Alembic config pointing at schema/ and the given database."""
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(SCHEMA_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head", *, sql: bool = False) -> None:
    """Upgrade the database at url (or print the SQL when sql=True, for MariaDB/MySQL by default)."""
    if sql and url.startswith("sqlite"):
        url = "mysql+mysqldb://user@host/trunkline"
    command.upgrade(alembic_config(url), revision, sql=sql)


def current_revision(url: str) -> str | None:
    """The revision the database is at, or None when empty."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE}).get_current_revision()
    finally:
        engine.dispose()
