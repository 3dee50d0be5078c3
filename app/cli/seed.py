"""`flask seed`: load the demo data set."""

from __future__ import annotations

import click
from flask import Flask

from app.cli import domain_command, setup_command
from app.db import Session


def register(app: Flask) -> None:
    """Attach the seed command."""

    @app.cli.command("seed")
    @setup_command
    @domain_command
    def seed_cmd():
        """Load the demo data (3 carriers, 5 nodes on 2 providers, 3 clients, E911 at all levels); idempotent."""
        from seeds.demo import load

        counts = load(Session())
        Session.commit()
        click.echo("demo data: " + ", ".join(f"{n} {k}" for k, n in counts.items()))
