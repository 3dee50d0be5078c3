"""Configuration, read from the environment with safe defaults for the embedded demo."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

INSTANCE_DIR = Path(os.environ.get("TRUNKLINE_INSTANCE", Path(__file__).resolve().parents[1] / "instance"))


def int_setting(name: str, default: int, low: int = 0, high: int | None = None) -> int:
    """The whole number in environment variable `name` (default when unset or empty); raises ConfigError, one line
    naming the variable, for anything else or a value outside low..high."""
    from app.errors import ConfigError

    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        raise ConfigError(f"{name}={text!r} is not a whole number (default {default})") from None
    if value < low or (high is not None and value > high):
        raise ConfigError(f"{name}={value} is outside {low}..{high if high is not None else 'any'} (default {default})")
    return value


class Config:
    """Settings; every one can be overridden by an environment variable of the same name."""

    DATABASE_URL = os.environ.get("DATABASE_URL", f"sqlite:///{INSTANCE_DIR / 'trunkline.db'}")
    # While the primary is unreachable the admin reads from a replica (app.dbreplica): these URLs first (comma-separated,
    # the admin's own credentials), then the replicas last read from the primary's db_servers table (DB_SERVERS_FILE,
    # default instance/db_servers.json), a replica at ADMIN_HOSTING_PROVIDER first.
    DATABASE_REPLICA_URLS = os.environ.get("DATABASE_REPLICA_URLS", "")
    ADMIN_HOSTING_PROVIDER = os.environ.get("TRUNKLINE_ADMIN_HOSTING_PROVIDER", "")
    DB_SERVERS_FILE = os.environ.get("TRUNKLINE_DB_SERVERS_FILE")
    SECRET_KEY = os.environ.get("SECRET_KEY")
    SESSION_COOKIE_NAME = "trunkline_session"
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = os.environ.get("SESSION_COOKIE_SECURE", "0") == "1"
    # A signed-in session ends after this long without a request (Flask's own default is 31 days).
    PERMANENT_SESSION_LIFETIME = timedelta(hours=int_setting("SESSION_HOURS", 12, 1))
    IMPORT_MAX_ROWS = int_setting("IMPORT_MAX_ROWS", 500000, 1)
    # Largest request body (CSV uploads in the admin); bigger uploads get a plain 413 page.
    MAX_CONTENT_LENGTH = int_setting("MAX_UPLOAD_MB", 64, 1) * 1024 * 1024
    IMPORT_UPLOAD_DIR = os.environ.get("IMPORT_UPLOAD_DIR")  # previews waiting for confirm; default instance/uploads
    ONCE_DIR = os.environ.get("ONCE_DIR")  # generated passwords waiting for their show-once page; default instance/once
    # Nodes' manager interface (AMI): after a commit the admin tells live nodes to expire cached
    # endpoints at once (app.node_push); `flask node render` writes the matching manager.conf. Empty: off.
    AMI_SECRET = os.environ.get("TRUNKLINE_AMI_SECRET", "")
    AMI_PORT = int_setting("TRUNKLINE_AMI_PORT", 5038, 1, 65535)
    # 911 call alerts (app.alerts, `flask alerts watch`): the SMTP server that carries the alert emails. Kept as
    # written here and checked where they are used (app.alerts.deliver.SmtpSettings.from_config): a wrong value is one
    # line naming the variable for the alerts commands, and never stops the admin web or another command starting.
    ALERT_SMTP_HOST = os.environ.get("ALERT_SMTP_HOST", "localhost")
    ALERT_SMTP_PORT = os.environ.get("ALERT_SMTP_PORT", "25")
    ALERT_FROM = os.environ.get("ALERT_FROM", "trunkline@localhost")
    ALERT_SMTP_USER = os.environ.get("ALERT_SMTP_USER", "")
    ALERT_SMTP_PASSWORD = os.environ.get("ALERT_SMTP_PASSWORD", "")
    ALERT_SMTP_STARTTLS = os.environ.get("ALERT_SMTP_STARTTLS", "0")
    TESTING = False
