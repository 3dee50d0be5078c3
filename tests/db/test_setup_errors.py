"""A first set-up on MariaDB as a new user does it: a database not created yet, a wrong port, a wrong password, a
database URL of another kind. Each is one line naming the server (and the fix), exit 1, never a traceback; run as
the README says (`flask --app wsgi ...` in a fresh process)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, make_url, text

from tests.conftest import MARIADB_URL, scratch_mariadb

ROOT = Path(__file__).resolve().parents[2]


def flask(url: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": url}
    return subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)


def one_line_error(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 1, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    return lines[0]


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_database_not_created_yet_says_how_to_create_it():
    with scratch_mariadb("tl_setup"):  # MariaDB reachable (else skip, or fail with CI=true)
        pass
    name = f"tl_missing_{uuid.uuid4().hex[:8]}"
    line = one_line_error(flask(f"{MARIADB_URL}/{name}", "schema", "upgrade"))
    server = make_url(MARIADB_URL)
    assert f"database {name} does not exist on {server.host}:{server.port or 3306}" in line
    assert f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4" in line
    assert "does not exist" in one_line_error(flask(f"{MARIADB_URL}/{name}", "seed"))


def test_a_server_that_does_not_answer_is_named():
    port = closed_port()
    line = one_line_error(flask(f"mysql+mysqldb://root@127.0.0.1:{port}/trunkline", "schema", "upgrade"))
    assert f"cannot reach the database server 127.0.0.1:{port}" in line and "is MariaDB running there" in line
    assert f"127.0.0.1:{port}" in one_line_error(flask(f"mysql+mysqldb://root@127.0.0.1:{port}/trunkline", "schema", "current"))


def test_a_refused_login_names_the_user_and_never_the_password():
    with scratch_mariadb("tl_setup") as url:
        parsed = make_url(url)
        bad = parsed.set(username="tl_nobody_here", password="s3cret-typo").render_as_string(hide_password=False)
        line = one_line_error(flask(bad, "schema", "upgrade"))
        assert "refused the login of tl_nobody_here" in line and "s3cret-typo" not in line


def test_a_database_the_login_may_not_use():
    with scratch_mariadb("tl_setup") as url:
        parsed = make_url(url)
        user, password = f"tl_limited_{uuid.uuid4().hex[:6]}", "limited-pw"
        admin = create_engine(MARIADB_URL)
        with admin.connect() as conn:
            conn.execute(text(f"CREATE USER '{user}'@'%' IDENTIFIED BY '{password}'"))
        try:
            limited = parsed.set(username=user, password=password).render_as_string(hide_password=False)
            line = one_line_error(flask(limited, "schema", "upgrade"))
            assert f"does not let {user} use database {parsed.database}" in line and "GRANT ALL" in line
        finally:
            with admin.connect() as conn:
                conn.execute(text(f"DROP USER IF EXISTS '{user}'@'%'"))
            admin.dispose()


@pytest.mark.parametrize("url, words", [
    ("postgresql://trunkline@db.example/trunkline", "Trunkline runs on SQLite (the demo) or MariaDB"),
    ("not a url at all", "is not a database URL"),
])
def test_a_database_url_of_another_kind(url, words):
    line = one_line_error(flask(url, "schema", "upgrade"))
    assert words in line
