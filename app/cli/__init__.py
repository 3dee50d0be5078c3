"""Command-line interface: `flask --app wsgi GROUP COMMAND`; every group is a thin caller of the services."""

from __future__ import annotations

import functools
import getpass

import click
from flask import Flask
from sqlalchemy.exc import DBAPIError

from app.db import Session
from app.dbdown import UNREACHABLE_MESSAGE, is_unreachable
from app.errors import DomainError
from app.services.audit import Actor


def cli_actor() -> Actor:
    """The audit identity of the person running the CLI."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return Actor(f"cli:{user}", "cli")


def fail(message: str, code: int = 1):
    """Print one error line to stderr and exit non-zero."""
    click.echo(f"Error: {message}", err=True)
    raise SystemExit(code)


def domain_command(func):
    """Turn domain errors into one plain line and a non-zero exit; roll back on any error."""
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except DomainError as exc:
            Session.rollback()
            fail(str(exc))
        except DBAPIError as exc:
            if not is_unreachable(exc):
                raise
            Session.rollback()
            fail(UNREACHABLE_MESSAGE)
    return wrapper


SETUP_HINTS = {
    1049: "database {database} does not exist on {server}: create it first, e.g. "
          "mysql -h {host} -P {port} -u root -e 'CREATE DATABASE `{database}` CHARACTER SET utf8mb4'",
    1045: "the database server {server} refused the login of {user} (wrong user or password in DATABASE_URL)",
    1044: "the database server {server} does not let {user} use database {database}: GRANT ALL ON `{database}`.* TO it",
}


def setup_error(exc: DBAPIError, url: str) -> str | None:
    """One line for the errors of a database that is not set up yet (missing, wrong login, unreachable server),
    naming the server; None for any other error."""
    from sqlalchemy.engine import make_url

    from app.dbdown import error_code

    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return None
    host, port = parsed.host or "localhost", parsed.port or 3306
    words = {"server": f"{host}:{port}", "host": host, "port": port, "database": parsed.database or "",
             "user": parsed.username or ""}
    code = error_code(exc)
    if code in SETUP_HINTS:
        return SETUP_HINTS[code].format(**words)
    if is_unreachable(exc):
        reason = str(getattr(exc, "orig", exc)).split("\n")[0]
        return f"cannot reach the database server {host}:{port} ({reason}): is MariaDB running there, and is DATABASE_URL right?"
    return None


def setup_command(func):
    """A command that may be the first to touch a new database (schema, seed): a database that does not exist, a
    refused login or an unreachable server is one line naming the server, exit 1; other errors as domain_command."""
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        from flask import current_app

        try:
            return func(*args, **kwargs)
        except DBAPIError as exc:
            line = setup_error(exc, current_app.config["DATABASE_URL"])
            if line is None:
                raise
            Session.rollback()
            fail(line)
    return wrapper


def read_command(func):
    """A command that only reads: when the primary does not answer (a fresh connection, 3 s at most), it reads from
    the first replica that does (app.dbreplica) and says so on stderr; no replica either: one line, exit 1.
    Goes inside domain_command (which turns a later failure into one line)."""
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        from flask import current_app

        from app import dbreplica

        reads = current_app.extensions.get("trunkline_replicas")
        if reads is not None and not reads.probe():
            replica = reads.pick()
            if replica is None:
                fail("the primary database is unreachable and no replica answered (DATABASE_REPLICA_URLS, or the "
                     f"servers remembered in {reads.servers_file}); nothing was read")
            dbreplica.bind_replica(replica)
            click.echo(f"note: the primary database is unreachable: reading from replica {replica.name} ({replica.address}), "
                       f"{replica.words}; changes are refused until the primary is back", err=True)
        return func(*args, **kwargs)
    return wrapper


def register_cli(app: Flask) -> None:
    """Attach every command group: each module of this package with a register(app) function."""
    import importlib
    import pkgutil

    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        if hasattr(module, "register"):
            module.register(app)
