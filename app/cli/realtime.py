"""`flask realtime ...`: check or regenerate the rows Asterisk reads."""

from __future__ import annotations

import click
from flask import Flask

from app.cli import domain_command, read_command
from app.db import Session
from app.projection import drift, rebuild


def register(app: Flask) -> None:
    """Attach the realtime group."""

    @app.cli.group("realtime")
    def realtime_group():
        """Asterisk realtime projection (ps_* tables and the extensions dialplan)."""

    @realtime_group.command("verify")
    @click.option("--limit", default=50, show_default=True, help="Lines of drift to print at most.")
    @domain_command
    @read_command
    def verify_cmd(limit: int):
        """Report every difference between the domain and the realtime rows; exit 1 on drift."""
        lines = drift(Session())
        if not lines:
            click.echo("realtime: no drift")
            return
        for line in lines[:limit]:
            click.echo(line)
        if len(lines) > limit:
            click.echo(f"... and {len(lines) - limit} more")
        click.echo(f"realtime: {len(lines)} difference(s); run `flask --app wsgi realtime rebuild` to repair", err=True)
        raise SystemExit(1)

    @realtime_group.command("rebuild")
    def rebuild_cmd():
        """Regenerate every realtime row from the domain (one transaction)."""
        counts = rebuild(Session())
        Session.commit()
        click.echo("realtime rebuilt: {inserted} inserted, {updated} updated, {deleted} deleted".format(**counts))
