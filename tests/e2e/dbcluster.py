"""Loopback MariaDB clusters for tests: scripts/db_loopback.py imported as a module, and a CLI runner."""

from __future__ import annotations

import importlib.util
import os
import random
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
IN_CI = os.environ.get("CI", "").lower() == "true"

_spec = importlib.util.spec_from_file_location("db_loopback", ROOT / "scripts" / "db_loopback.py")
loopback = importlib.util.module_from_spec(_spec)
sys.modules["db_loopback"] = loopback
_spec.loader.exec_module(loopback)


def available() -> str | None:
    """Why loopback clusters cannot run here (None: they can)."""
    for tool in ("mariadbd", "mariadb-install-db"):
        if shutil.which(tool) is None and not Path(f"/usr/sbin/{tool}").exists():
            return f"{tool} is not installed"
    return None


def loopback_net() -> str:
    """A 127.x.y prefix for one test run's servers (distinct addresses: no port clash with parallel runs)."""
    return f"127.{random.randint(90, 199)}.{random.randint(1, 254)}"


def flask(database_url: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run `flask --app wsgi ARGS` against database_url; output captured as text."""
    env = {**os.environ, "DATABASE_URL": database_url}
    # Read-only commands remember the servers they read (app.dbreplica): never in the checkout's instance/.
    env.setdefault("TRUNKLINE_DB_SERVERS_FILE", os.path.join(tempfile.gettempdir(), f"trunkline-test-db_servers-{os.getpid()}.json"))
    return subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)
