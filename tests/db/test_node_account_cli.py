"""`flask node account NODE [--rotate] [--host PATTERN] [--json]`: one-line errors, the exact JSON keys, audited."""

from __future__ import annotations

import json

import pytest
from flask import Flask
from sqlalchemy import select, text

from app.cli import node as node_cli
from app.models import AuditEntry, Node, NodeAccount


def _cli():
    app = Flask("node-account-test")
    app.config["DATABASE_URL"] = "sqlite:///unused.db"
    node_cli.register(app)
    return app.test_cli_runner()


@pytest.fixture
def mariadb_users(seeded):
    """MariaDB users made by the test, dropped afterwards (accounts belong to the server, not the rolled-back transaction)."""
    made = []
    yield made
    with seeded.get_bind().engine.connect() as conn:
        for user, host in made:
            conn.execute(text(f"DROP USER IF EXISTS '{user}'@'{host}'"))


def test_sqlite_has_no_accounts(seeded):
    if seeded.get_bind().dialect.name != "sqlite":
        return  # MariaDB: the next tests
    result = _cli().invoke(args=["node", "account", "cl-ovh-bhs7", "--json"])
    assert result.exit_code == 1
    assert result.output.strip() == "Error: SQLite has no database accounts: per-node accounts need MariaDB (DATABASE_URL=mysql+mysqldb://...)"


def test_create_rotate_and_errors(seeded, mariadb_users):
    if seeded.get_bind().dialect.name == "sqlite":
        assert _cli().invoke(args=["node", "account", "cl-ovh-bhs7"]).exit_code == 1
        return
    db = seeded.execute(text("SELECT DATABASE()")).scalar()
    user = f"{db}.cl-ovh-bhs7"
    mariadb_users += [(user, "127.0.0.%"), (user, "10.1.2.%"), (user, "192.0.2.21")]
    result = _cli().invoke(args=["node", "account", "cl-ovh-bhs7", "--host", "127.0.0.%", "--json"])
    assert result.exit_code == 0, result.output
    first = json.loads(result.stdout)
    assert set(first) == {"user", "password"} and first["user"] == user and len(first["password"]) >= 24
    again = _cli().invoke(args=["node", "account", "cl-ovh-bhs7"])
    assert again.exit_code == 1 and "already has database account" in again.output and "--rotate" in again.output
    rotated = _cli().invoke(args=["node", "account", "cl-ovh-bhs7", "--rotate", "--host", "10.1.2.%"])
    assert rotated.exit_code == 0, rotated.output
    assert f"user:     {user}" in rotated.stdout and "host:     10.1.2.%" in rotated.stdout
    new_password = [line.split()[-1] for line in rotated.stdout.splitlines() if line.startswith("password:")][0]
    assert new_password != first["password"]
    with seeded.get_bind().engine.connect() as conn:
        hosts = conn.execute(text("SELECT Host FROM mysql.user WHERE User = :u"), {"u": user}).scalars().all()
    assert hosts == ["10.1.2.%"]  # moved, not copied
    account = seeded.scalar(select(NodeAccount).join(Node).where(Node.name == "cl-ovh-bhs7"))
    assert account.host == "10.1.2.%" and account.rotated_at >= account.created_at
    audit = seeded.execute(select(AuditEntry.action, AuditEntry.before, AuditEntry.after).where(
        AuditEntry.entity == "node_account", AuditEntry.entity_key == "cl-ovh-bhs7").order_by(AuditEntry.id)).all()
    assert [a for a, _b, _c in audit] == ["create", "rotate"]
    assert first["password"] not in repr(audit) and new_password not in repr(audit)
    for args, message in (
        (["nope"], "no node nope"),
        (["cn-ovh-bhs1", "--rotate"], "has no database account to rotate"),
        (["cn-ovh-bhs1", "--host", "10.0.0.1' IDENTIFIED BY 'x"], "is not a host MariaDB accepts"),
    ):
        bad = _cli().invoke(args=["node", "account", *args])
        assert bad.exit_code == 1 and message in bad.output and "Traceback" not in bad.output, bad.output
    # Default host: the node's public address.
    made = _cli().invoke(args=["node", "account", "cn-ovh-bhs1", "--json"])
    mariadb_users.append((json.loads(made.stdout)["user"], "192.0.2.11"))
    assert seeded.scalar(select(NodeAccount).join(Node).where(Node.name == "cn-ovh-bhs1")).host == "192.0.2.11"
