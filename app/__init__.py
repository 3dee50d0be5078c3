"""Trunkline: provisioning backend for a SIP trunking platform (app factory)."""

from __future__ import annotations

import contextlib
import importlib.util
import secrets

from flask import Flask

from app.errors import ConfigError

# Read the settings now, as always (the environment at import time). A bad one is raised again by create_app: a
# module that failed to import is not kept, so its import there fails with the same one-line error.
with contextlib.suppress(ConfigError):
    from app import config as _config  # noqa: F401


def create_app(config: type | dict | None = None) -> Flask:
    """Build the Flask app: config, database session, CLI commands and (when present) the admin.

    Raises app.errors.ConfigError (one line naming the setting) for an environment setting that cannot work (the
    package's import swallows it, so callers such as wsgi.py can import `app.errors` and catch it here)."""
    from app.config import INSTANCE_DIR, Config
    from app.db import Session, bind_session, make_engine

    app = Flask(__name__, instance_path=str(INSTANCE_DIR))
    app.config.from_object(Config)
    if isinstance(config, dict):
        app.config.update(config)
    elif config is not None:
        app.config.from_object(config)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _instance_secret(app)
    if app.config["DATABASE_URL"].startswith("sqlite:///"):
        INSTANCE_DIR.mkdir(parents=True, exist_ok=True)
    if not app.config.get("_ENGINE_BOUND"):
        check_database_url(app.config["DATABASE_URL"])
        app.extensions["trunkline_engine"] = make_engine(app.config["DATABASE_URL"])
        bind_session(app.extensions["trunkline_engine"])
    from app import dbreplica

    dbreplica.setup(app)  # reads from a replica while the primary is unreachable (MariaDB only)

    @app.teardown_appcontext
    def _remove_session(_exc):
        Session.remove()

    from app import node_push  # noqa: F401 - registers the after-commit push of cache expiries to the nodes
    from app.cli import register_cli

    register_cli(app)
    if importlib.util.find_spec("app.web") is not None:
        from app.web import init_web

        init_web(app)
    return app


SUPPORTED_BACKENDS = ("sqlite", "mysql", "mariadb")


def check_database_url(url: str) -> None:
    """Raise ConfigError (one line) for a DATABASE_URL this project cannot use: unparsable, or not SQLite (the
    embedded demo) or MariaDB/MySQL (`mysql+mysqldb://USER:PASSWORD@HOST:PORT/DATABASE`)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    from app.errors import ConfigError

    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigError(f"DATABASE_URL {url!r} is not a database URL: use sqlite:///PATH for the demo or "
                          "mysql+mysqldb://USER:PASSWORD@HOST:3306/DATABASE for MariaDB") from None
    if parsed.get_backend_name() not in SUPPORTED_BACKENDS:
        raise ConfigError(f"DATABASE_URL {parsed.render_as_string(hide_password=True)}: Trunkline runs on SQLite (the demo) "
                          "or MariaDB (mysql+mysqldb://USER:PASSWORD@HOST:3306/DATABASE), "
                          f"not {parsed.get_backend_name()}")


def _instance_secret(app: Flask) -> str:
    """A per-installation secret kept in instance/, so sessions survive restarts."""
    from app.config import INSTANCE_DIR

    path = INSTANCE_DIR / "secret_key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        INSTANCE_DIR.mkdir(parents=True, exist_ok=True)
        key = secrets.token_hex(32)
        path.write_text(key)
        path.chmod(0o600)
        return key
