"""`flask schema ...`: database migrations (Alembic, scripts in schema/)."""

from __future__ import annotations

import click
from flask import Flask, current_app

from app.cli import setup_command
from app.migrations import current_revision, upgrade


def register(app: Flask) -> None:
    """Attach the schema group."""

    @app.cli.group("schema")
    def schema_group():
        """Create or upgrade the database schema (DATABASE_URL)."""

    @schema_group.command("upgrade")
    @click.option("--sql", is_flag=True, help="Print the SQL (MariaDB/MySQL DDL) instead of running it.")
    @click.option("--revision", default="head", show_default=True, help="Target revision.")
    @setup_command
    def upgrade_cmd(sql: bool, revision: str):
        """Apply the migrations to DATABASE_URL (or print their SQL with --sql)."""
        url = current_app.config["DATABASE_URL"]
        upgrade(url, revision, sql=sql)
        if not sql:
            click.echo(f"schema at {current_revision(url)} on {_safe(url)}")

    @schema_group.command("current")
    @setup_command
    def current_cmd():
        """Print the schema revision of DATABASE_URL."""
        click.echo(current_revision(current_app.config["DATABASE_URL"]) or "empty")


def _safe(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
