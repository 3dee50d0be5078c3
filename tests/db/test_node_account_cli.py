"""`flask node account NODE [--rotate] [--host PATTERN] [--json]`: one-line errors (MariaDB's refusals too, never a
password), the exact JSON keys, a lost account recreated by --rotate, audited."""

from __future__ import annotations

import json
from contextlib import contextmanager
from urllib.parse import quote

import pytest
from flask import Flask
from sqlalchemy import create_engine, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session as OrmSession

from app.cli import node as node_cli
from app.db import Session
from app.migrations import upgrade
from app.models import AuditEntry, Node, NodeAccount
from app.services import node_accounts
from tests.conftest import scratch_mariadb


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
    assert set(first) == {"user", "host", "password"} and first["user"] == user and len(first["password"]) >= 24
    assert first["host"] == "127.0.0.%"  # what the text output prints too
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
        (["cn-ovh-bhs1", "--host", "999.1.1.1"], "'999.1.1.1' is not an IPv4 address or pattern"),
    ):
        bad = _cli().invoke(args=["node", "account", *args])
        assert bad.exit_code == 1 and message in bad.output and "Traceback" not in bad.output, bad.output
    # Default host: the node's public address.
    made = _cli().invoke(args=["node", "account", "cn-ovh-bhs1", "--json"])
    mariadb_users.append((json.loads(made.stdout)["user"], "192.0.2.11"))
    assert seeded.scalar(select(NodeAccount).join(Node).where(Node.name == "cn-ovh-bhs1")).host == "192.0.2.11"


KNOWN_PASSWORD = "Known-Generated-Password-0123456789"


def _lines(result) -> list[str]:
    return [line for line in result.output.splitlines() if line.strip()]


def test_rotate_recreates_an_account_mariadb_lost(seeded, mariadb_users, monkeypatch):
    """Dropped by hand (or lost with a restored server): without --rotate the error names the repair; --rotate recreates
    it with its grants (audited `recreate`), the node can log in with the new password, nothing shows a password."""
    if seeded.get_bind().dialect.name == "sqlite":
        return  # no accounts (test_sqlite_has_no_accounts)
    db = seeded.execute(text("SELECT DATABASE()")).scalar()
    user = f"{db}.cl-ovh-bhs7"
    mariadb_users += [(user, "127.0.0.%"), (user, "127.0.0.1")]
    made = _cli().invoke(args=["node", "account", "cl-ovh-bhs7", "--host", "127.0.0.%", "--json"])
    assert made.exit_code == 0, made.output
    with seeded.get_bind().engine.connect() as conn:
        conn.execute(text(f"DROP USER '{user}'@'127.0.0.%'"))  # behind the platform's back
    stuck = _cli().invoke(args=["node", "account", "cl-ovh-bhs7"])
    assert stuck.exit_code == 1 and len(_lines(stuck)) == 1, stuck.output
    assert "is recorded, but MariaDB has no such account" in stuck.output
    assert "recreate it with `flask --app wsgi node account cl-ovh-bhs7 --rotate`" in stuck.output
    monkeypatch.setattr(node_accounts.secrets, "token_urlsafe", lambda n: KNOWN_PASSWORD)
    fixed = _cli().invoke(args=["node", "account", "cl-ovh-bhs7", "--rotate", "--json"])
    assert fixed.exit_code == 0, fixed.output
    assert "Traceback" not in fixed.output and "1396" not in fixed.output
    assert f"MariaDB had no account {user}" in fixed.stderr and f"recreated {user}@127.0.0.% with its grants" in fixed.stderr
    assert json.loads(fixed.stdout) == {"user": user, "host": "127.0.0.%", "password": KNOWN_PASSWORD}
    # The node can log in again and read its views (the grants are back), and nothing else.
    node_engine = create_engine(f"mysql+mysqldb://{quote(user, safe='')}:{KNOWN_PASSWORD}@127.0.0.1:3306/{db}")
    try:
        with node_engine.connect() as conn:
            conn.execute(text("SELECT COUNT(*) FROM node_ps_endpoints")).scalar_one()
            with pytest.raises(DBAPIError):
                conn.execute(text("SELECT COUNT(*) FROM ps_auths"))
    finally:
        node_engine.dispose()
    account = seeded.scalar(select(NodeAccount).join(Node).where(Node.name == "cl-ovh-bhs7"))
    assert account.host == "127.0.0.%" and account.rotated_at == account.created_at  # a new account: never rotated
    entry = seeded.scalars(select(AuditEntry).where(AuditEntry.entity == "node_account", AuditEntry.entity_key == "cl-ovh-bhs7")
                           .order_by(AuditEntry.id.desc())).first()
    assert entry.action == "recreate" and "recreated: MariaDB had no such account" in entry.summary
    assert json.loads(entry.after) == {"user": user, "host": "127.0.0.%"} and KNOWN_PASSWORD not in repr(entry.__dict__)
    # Lost again, and moved while recreating: the account is made at the new host.
    with seeded.get_bind().engine.connect() as conn:
        conn.execute(text(f"DROP USER '{user}'@'127.0.0.%'"))
    moved = _cli().invoke(args=["node", "account", "cl-ovh-bhs7", "--rotate", "--host", "127.0.0.1"])
    assert moved.exit_code == 0, moved.output
    with seeded.get_bind().engine.connect() as conn:
        assert conn.execute(text("SELECT Host FROM mysql.user WHERE User = :u"), {"u": user}).scalars().all() == ["127.0.0.1"]


# --- The admin's login lacking a privilege: a scratch database with committed demo data, and logins that lack one each.

LOGINS = {
    # ALL on the database, no CREATE USER.
    "nocu": ["GRANT ALL ON `{db}`.* TO {who}"],
    # CREATE USER, but may not hand on the node's privileges (no GRANT OPTION).
    "nogo": ["GRANT CREATE USER ON *.* TO {who}", "GRANT SELECT, INSERT, UPDATE, DELETE ON `{db}`.* TO {who}"],
    # Everything the docs ask for, but no read access to mysql.user (the optional one).
    "full": ["GRANT CREATE USER ON *.* TO {who}", "GRANT ALL ON `{db}`.* TO {who} WITH GRANT OPTION"],
    # Nothing on the database at all.
    "none": [],
}


@pytest.fixture(scope="module")
def privilege_db():
    from app.projection import apply_pending
    from seeds.demo import load

    with scratch_mariadb("trunkline_acctpriv") as url:
        upgrade(url)
        root = create_engine(url)
        db = url.rsplit("/", 1)[1]
        logins = {}
        try:
            with OrmSession(root) as session:
                load(session)
                apply_pending(session)
                session.commit()
            with root.connect() as conn:
                for kind, grants in LOGINS.items():
                    login = (f"tlp{db[-10:]}{kind}", f"pw-{kind}-{db[-10:]}")
                    who = f"'{login[0]}'@'127.0.0.%'"
                    conn.execute(text(f"CREATE USER {who} IDENTIFIED BY '{login[1]}'"))
                    for grant in grants:
                        conn.execute(text(grant.format(db=db, who=who)))
                    logins[kind] = login
            yield url, root, logins
        finally:
            with root.connect() as conn:
                for user, _ in logins.values():
                    conn.execute(text(f"DROP USER IF EXISTS '{user}'@'127.0.0.%'"))
                for user, host in conn.execute(text("SELECT User, Host FROM mysql.user WHERE User LIKE :p"), {"p": db + ".%"}).all():
                    conn.execute(text(f"DROP USER IF EXISTS '{user}'@'{host}'"))
            root.dispose()


@contextmanager
def bound_as(url, login=None):
    """The CLI's Session on its own engine: as login (user, password), or as the admin (root) when None."""
    if login is not None:
        base, db = url.rsplit("/", 1)
        url = f"mysql+mysqldb://{login[0]}:{login[1]}@{base.split('@', 1)[1]}/{db}"
    engine = create_engine(url)
    Session.remove()
    Session.configure(bind=engine)
    try:
        yield
    finally:
        Session.remove()
        Session.configure(bind=None, join_transaction_mode="conditional_savepoint")
        engine.dispose()


def _accounts_in_mariadb(root, db):
    with root.connect() as conn:
        return sorted(conn.execute(text("SELECT User, Host FROM mysql.user WHERE User LIKE :p"), {"p": db + ".%"}).all())


@pytest.mark.mariadb
def test_what_mariadb_refuses_is_one_line_naming_the_privilege_never_the_password(privilege_db, monkeypatch):
    url, root, logins = privilege_db
    db = url.rsplit("/", 1)[1]
    monkeypatch.setattr(node_accounts.secrets, "token_urlsafe", lambda n: KNOWN_PASSWORD)
    with bound_as(url, logins["nocu"]):
        refused = _cli().invoke(args=["node", "account", "cn-ovh-bhs1", "--host", "127.0.0.%"])
    assert refused.exit_code == 1 and len(_lines(refused)) == 1, refused.output
    line = refused.output.strip()
    assert line.startswith(f"Error: cannot create database account {db}.cn-ovh-bhs1@127.0.0.%: ")
    assert f"the admin's database login '{logins['nocu'][0]}'@'127.0.0.%' lacks the CREATE USER privilege" in line
    assert f"GRANT CREATE USER ON *.* TO '{logins['nocu'][0]}'@'127.0.0.%'" in line and "docs/nodes.md" in line
    for leak in (KNOWN_PASSWORD, "[SQL", "[parameters", "IDENTIFIED BY", "Traceback"):
        assert leak not in refused.output
    with bound_as(url, logins["nogo"]):
        refused = _cli().invoke(args=["node", "account", "cn-ovh-bhs1", "--host", "127.0.0.%"])
    assert refused.exit_code == 1 and len(_lines(refused)) == 1, refused.output
    assert "may not grant a node its privileges" in refused.output and "WITH GRANT OPTION" in refused.output
    assert f"GRANT ALL ON `{db}`.* TO '{logins['nogo'][0]}'@'127.0.0.%' WITH GRANT OPTION" in refused.output
    assert KNOWN_PASSWORD not in refused.output and "Traceback" not in refused.output
    assert _accounts_in_mariadb(root, db) == []  # the half-made account (created, grant refused) was dropped again
    # The account the admin made; a rotation by the login without CREATE USER is refused the same way (ALTER USER).
    with bound_as(url):
        assert _cli().invoke(args=["node", "account", "cn-ovh-bhs1", "--host", "127.0.0.%"]).exit_code == 0
    with bound_as(url, logins["nocu"]):
        refused = _cli().invoke(args=["node", "account", "cn-ovh-bhs1", "--rotate"])
    assert refused.exit_code == 1 and len(_lines(refused)) == 1, refused.output
    assert "cannot rotate the password of database account" in refused.output and "lacks the CREATE USER privilege" in refused.output
    assert KNOWN_PASSWORD not in refused.output and "[parameters" not in refused.output


@pytest.mark.mariadb
def test_a_login_that_cannot_read_mysql_user_still_recreates_a_lost_account(privilege_db):
    url, root, logins = privilege_db
    db = url.rsplit("/", 1)[1]
    with bound_as(url):
        assert _cli().invoke(args=["node", "account", "cl-vultr-tor3", "--host", "127.0.0.%"]).exit_code == 0
    with root.connect() as conn:
        conn.execute(text(f"DROP USER '{db}.cl-vultr-tor3'@'127.0.0.%'"))
    with bound_as(url, logins["full"]):
        # It cannot tell the account is gone before trying: ALTER USER's 1396 tells it.
        fixed = _cli().invoke(args=["node", "account", "cl-vultr-tor3", "--rotate"])
    assert fixed.exit_code == 0, fixed.output
    assert "recreated" in fixed.stderr and (f"{db}.cl-vultr-tor3", "127.0.0.%") in _accounts_in_mariadb(root, db)
    with OrmSession(root) as session:
        actions = session.scalars(select(AuditEntry.action).where(
            AuditEntry.entity == "node_account", AuditEntry.entity_key == "cl-vultr-tor3").order_by(AuditEntry.id)).all()
    assert actions == ["create", "recreate"]


@pytest.mark.mariadb
def test_other_database_errors_of_account_and_render_are_one_line(privilege_db, tmp_path):
    url, _root, logins = privilege_db
    db = url.rsplit("/", 1)[1]
    user = logins["none"][0]
    for args in (["node", "account", "cl-vultr-tor3", "--rotate"],
                 ["node", "render", "cl-vultr-tor3", "--out", str(tmp_path / "x"), "--db-url", "mysql+mysqldb://10.9.8.7/db",
                  "--admin-net", "10.0.0.0/8"]):
        app = Flask("node-account-test")
        base, _ = url.rsplit("/", 1)
        app.config["DATABASE_URL"] = f"mysql+mysqldb://{user}:{logins['none'][1]}@{base.split('@', 1)[1]}/{db}"
        node_cli.register(app)
        with bound_as(url, logins["none"]):
            result = app.test_cli_runner().invoke(args=args, env={"TRUNKLINE_NODE_DB_PASSWORD": "x"})
        assert result.exit_code == 1 and len(_lines(result)) == 1, result.output
        assert f"does not let {user} use database {db}" in result.output and "Traceback" not in result.output
        assert logins["none"][1] not in result.output
