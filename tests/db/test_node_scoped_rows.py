"""Each node's own MariaDB account reads exactly its rows through the scoped views, and nothing else.

The expected rows are computed from the domain (which endpoints, numbers and trunks a node of each
role needs), not from app.projection.visibility; the accounts are made by the service the CLI uses,
and every query below runs as the node's account, over its own connection, on committed data.
"""

from __future__ import annotations

from urllib.parse import quote

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlalchemy.orm import Session as OrmSession

from app.migrations import upgrade
from app.models import AuditEntry, Carrier, Client, Node, NodeAccount, PhoneNumber, Trunk
from app.models.realtime import PROJECTED_TABLES, REALTIME_TABLE_NAMES, asterisk_columns
from app.projection import drift
from app.projection.rows import LIVE_NODE_STATES
from app.projection.visibility import SCOPED
from app.services import node_accounts, nodes
from app.services.audit import Actor
from app.services.node_replacement import replace_node
from tests.conftest import scratch_mariadb

pytestmark = pytest.mark.mariadb
ACTOR = Actor("test", "test")
HOST = "127.0.0.%"  # the tests connect from 127.0.0.1


@pytest.fixture(scope="module")
def platform_db():
    """A fresh MariaDB database with the demo data committed and an account for every live node."""
    from seeds.demo import load

    with scratch_mariadb("trunkline_scoped") as url:
        upgrade(url)
        engine = create_engine(url)
        passwords = {}
        try:
            with OrmSession(engine) as session:
                load(session)
                session.commit()
                for node in session.scalars(select(Node).where(Node.state.in_(LIVE_NODE_STATES))):
                    account, password = node_accounts.ensure(session, node, ACTOR, host=HOST)
                    passwords[node.name] = (account.db_user, password)
                session.commit()
            yield engine, url, passwords
        finally:
            with engine.connect() as conn:
                for user, _ in passwords.values():
                    conn.execute(text(f"DROP USER IF EXISTS '{user}'@'{HOST}'"))
                users = conn.execute(text("SELECT User, Host FROM mysql.user WHERE User LIKE :p"),
                                     {"p": url.rsplit("/", 1)[1] + ".%"}).all()
                for user, host in users:  # left by a test below (replacement)
                    conn.execute(text(f"DROP USER IF EXISTS '{user}'@'{host}'"))
            engine.dispose()


def node_engine(url: str, user: str, password: str):
    base, db = url.rsplit("/", 1)
    host = base.split("@", 1)[1]
    return create_engine(f"mysql+mysqldb://{quote(user, safe='')}:{quote(password, safe='')}@{host}/{db}")


def read_as(url, account, table):
    """Every row of a scoped view as the node account sees it: {key: row dict}."""
    engine = node_engine(url, *account)
    try:
        with engine.connect() as conn:
            rows = [dict(r) for r in conn.execute(text(f"SELECT * FROM {SCOPED[table]}")).mappings()]
    finally:
        engine.dispose()
    return {_key(table, r): r for r in rows}


def full_rows(engine, table, keep):
    """The admin's rows of the full table that keep(row) accepts, with Asterisk's columns only."""
    cols = asterisk_columns(table)
    with engine.connect() as conn:
        rows = [dict(r) for r in conn.execute(text(f"SELECT {', '.join(f'`{c}`' for c in cols)} FROM {table}")).mappings()]
    return {_key(table, r): r for r in rows if keep(r)}


def _key(table, row):
    return (row["context"], row["exten"]) if table == "extensions" else row["id"]


def expected_client_node(session, node):
    """What a client node needs, from the domain: its client's trunks, numbers and 911 rows, the carrier nodes, the routes."""
    client = session.scalar(select(Client).where(Client.node_id == node.id))
    trunks = list(client.trunks) if client is not None and client.status == "active" else []
    carrier_nodes = {n.endpoint_id for n in session.scalars(
        select(Node).where(Node.role == "carrier", Node.state.in_(LIVE_NODE_STATES)))}
    endpoints = {t.endpoint_id for t in trunks} | carrier_nodes
    aors = {(t.username if t.auth_mode == "credentials" else t.endpoint_id) for t in trunks} | carrier_nodes
    auths = {f"{t.endpoint_id}-auth" for t in trunks if t.auth_mode == "credentials"}
    numbers = set()
    if trunks:
        numbers = set(session.scalars(select(PhoneNumber.e164).where(
            PhoneNumber.client_id == client.id, PhoneNumber.port_status != "ported_out")))
    trunk_ids = {str(t.id) for t in trunks}

    def ext(row):
        if row["context"] == "tl-num":
            return row["exten"] in numbers
        if row["context"] == "tl-e911":
            return row["exten"].split("*")[0] in trunk_ids
        return row["context"] == "tl-route"
    return {"ps_endpoints": lambda r: r["id"] in endpoints, "ps_aors": lambda r: r["id"] in aors,
            "ps_auths": lambda r: r["id"] in auths, "ps_endpoint_id_ips": lambda r: r["endpoint"] in endpoints,
            "ps_registrations": lambda r: False, "ps_domain_aliases": lambda r: False, "extensions": ext}


def expected_carrier_node(session, node):
    """What a carrier node needs, from the domain: the enabled carriers, the client nodes, every routable number."""
    carriers = {c.endpoint_id for c in session.scalars(select(Carrier).where(Carrier.enabled.is_(True)))}
    client_nodes = {n.endpoint_id for n in session.scalars(
        select(Node).where(Node.role == "client", Node.state.in_(LIVE_NODE_STATES)))}
    endpoints = carriers | client_nodes
    auths = {f"{c.endpoint_id}-auth" for c in session.scalars(select(Carrier).where(
        Carrier.enabled.is_(True), Carrier.auth_mode == "register"))}
    numbers = set(session.scalars(select(PhoneNumber.e164).join(Client, PhoneNumber.client_id == Client.id).where(
        Client.status == "active", PhoneNumber.port_status != "ported_out")))
    return {"ps_endpoints": lambda r: r["id"] in endpoints, "ps_aors": lambda r: r["id"] in endpoints,
            "ps_auths": lambda r: r["id"] in auths, "ps_endpoint_id_ips": lambda r: r["endpoint"] in endpoints,
            "ps_registrations": lambda r: r["endpoint"] in carriers, "ps_domain_aliases": lambda r: False,
            "extensions": lambda r: r["context"] == "tl-num" and r["exten"] in numbers}


def test_the_database_under_test_has_no_drift(platform_db):
    engine, _url, _ = platform_db
    with OrmSession(engine) as session:
        assert drift(session) == []


def test_every_projected_table_has_a_scoped_view_with_asterisks_columns(platform_db):
    engine, _url, _ = platform_db
    with engine.connect() as conn:
        views = {name for (name,) in conn.execute(text(
            "SELECT TABLE_NAME FROM information_schema.VIEWS WHERE TABLE_SCHEMA = DATABASE() AND SECURITY_TYPE = 'DEFINER'"))}
        for table in PROJECTED_TABLES:
            assert SCOPED[table] in views, f"{table} has no scoped view"
            columns = [c for (c,) in conn.execute(text(
                "SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = :t "
                "ORDER BY ORDINAL_POSITION"), {"t": SCOPED[table]})]
            assert columns == asterisk_columns(table), f"{SCOPED[table]} is not column-compatible with Asterisk's {table}"


@pytest.mark.parametrize("node_name", ["cl-ovh-bhs7", "cl-vultr-tor3", "cl-ovh-bhs9"])
def test_client_node_reads_exactly_its_clients_rows(platform_db, node_name):
    engine, url, passwords = platform_db
    with OrmSession(engine) as session:
        node = session.scalar(select(Node).where(Node.name == node_name))
        expected = expected_client_node(session, node)
        account_code = session.scalar(select(Client.account_code).where(Client.node_id == node.id))
        others = set(session.scalars(select(Client.account_code).where(Client.account_code != account_code)))
    seen_any = 0
    for table in PROJECTED_TABLES:
        got = read_as(url, passwords[node_name], table)
        assert got == full_rows(engine, table, expected[table]), f"{node_name} {table}"
        seen_any += len(got)
        text_seen = repr(got)
        assert not any(f"trunk-{other}-" in text_seen for other in others), f"another client's rows in {table}"
        assert "carrier-" not in repr(sorted(k for k in got if table != "extensions")), "a carrier object on a client node"
    assert seen_any > 5
    auths = read_as(url, passwords[node_name], "ps_auths")
    assert all(k.startswith(f"trunk-{account_code}-") for k in auths)  # no carrier credentials
    assert read_as(url, passwords[node_name], "ps_registrations") == {}


@pytest.mark.parametrize("node_name", ["cn-ovh-bhs1", "cn-vultr-tor1"])
def test_carrier_node_reads_exactly_the_carrier_rows(platform_db, node_name):
    engine, url, passwords = platform_db
    with OrmSession(engine) as session:
        node = session.scalar(select(Node).where(Node.name == node_name))
        expected = expected_carrier_node(session, node)
    for table in PROJECTED_TABLES:
        got = read_as(url, passwords[node_name], table)
        assert got == full_rows(engine, table, expected[table]), f"{node_name} {table}"
    auths = read_as(url, passwords[node_name], "ps_auths")
    assert auths and not [k for k in auths if k.startswith("trunk-")]  # carrier credentials only, no trunk auth
    assert not [k for k in read_as(url, passwords[node_name], "ps_endpoints") if k.startswith("trunk-")]
    assert read_as(url, passwords[node_name], "ps_registrations")


@pytest.mark.parametrize("node_name", ["cl-ovh-bhs7", "cn-ovh-bhs1"])
def test_every_underlying_table_is_out_of_reach(platform_db, node_name):
    engine, url, passwords = platform_db
    with engine.connect() as conn:
        tables = [t for (t,) in conn.execute(text(
            "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE = 'BASE TABLE'"))]
    assert set(REALTIME_TABLE_NAMES) | {"nodes", "clients", "trunks", "carriers", "node_accounts", "users"} <= set(tables)
    node = node_engine(url, *passwords[node_name])
    try:
        for table in tables:
            with node.connect() as conn, pytest.raises((OperationalError, ProgrammingError), match="denied"):
                conn.execute(text(f"SELECT * FROM `{table}` LIMIT 1"))
        writes = [f"INSERT INTO {SCOPED['ps_endpoints']} (id) VALUES ('x')", f"UPDATE {SCOPED['extensions']} SET appdata = 'x'",
                  f"DELETE FROM {SCOPED['ps_auths']}", "UPDATE cdr SET tl_node = 'x'", "DELETE FROM cdr",
                  "INSERT INTO ps_contacts (id) VALUES ('x')", "CREATE TABLE evil (id int)"]
        for statement in writes:
            with node.connect() as conn, pytest.raises((OperationalError, ProgrammingError), match="denied"):
                conn.execute(text(statement))
        with node.connect() as conn:
            grants = [g for (g,) in conn.execute(text("SHOW GRANTS"))]
        privileges = sorted(g.split(" ON ")[0].removeprefix("GRANT ") + " " + g.split(" ON ")[1].split(" TO ")[0].split(".")[-1]
                            for g in grants)
        assert privileges == sorted(["USAGE *"] + [f"SELECT `{v}`" for v in SCOPED.values()] + ["INSERT `cdr`"])
    finally:
        node.dispose()


def test_a_forged_cdr_node_is_overwritten(platform_db):
    engine, url, passwords = platform_db
    node = node_engine(url, *passwords["cl-ovh-bhs7"])
    try:
        with node.connect() as conn:
            conn.execute(text("INSERT INTO cdr (accountcode, src, dst, start, uniqueid, tl_node) "
                              "VALUES ('ACME', '2045551201', '3125550100', NOW(), 'forged-1', 'cl-vultr-tor3')"))
            conn.commit()
    finally:
        node.dispose()
    with engine.connect() as conn:
        assert conn.execute(text("SELECT tl_node FROM cdr WHERE uniqueid = 'forged-1'")).scalar_one() == "cl-ovh-bhs7"
        conn.execute(text("INSERT INTO cdr (uniqueid, tl_node) VALUES ('admin-1', 'cl-ovh-bhs7')"))
        conn.commit()
        assert conn.execute(text("SELECT tl_node FROM cdr WHERE uniqueid = 'admin-1'")).scalar_one() is None  # not a node


def _mysql_users(engine, user):
    with engine.connect() as conn:
        return conn.execute(text("SELECT Host FROM mysql.user WHERE User = :u"), {"u": user}).scalars().all()


def test_rotate_and_host_and_the_old_password_stops_working(platform_db):
    engine, url, passwords = platform_db
    user, old = passwords["cl-ovh-bhs9"]
    with OrmSession(engine) as session:
        node = session.scalar(select(Node).where(Node.name == "cl-ovh-bhs9"))
        before = session.scalar(select(NodeAccount.rotated_at).where(NodeAccount.node_id == node.id))
        with pytest.raises(Exception, match="already has database account"):
            node_accounts.ensure(session, node, ACTOR, host=HOST)
        account, new = node_accounts.ensure(session, node, ACTOR, rotate=True)
        session.commit()
        assert account.rotated_at >= before and account.host == HOST and new != old
        with pytest.raises(Exception, match="not a host MariaDB accepts"):
            node_accounts.ensure(session, node, ACTOR, rotate=True, host="10.0.0.1'; DROP USER root; --")
        session.rollback()
    passwords["cl-ovh-bhs9"] = (user, new)
    assert read_as(url, (user, new), "ps_endpoints")
    with pytest.raises(OperationalError, match="Access denied"):
        read_as(url, (user, old), "ps_endpoints")


def test_retire_delete_and_replace_handle_the_accounts_audited(platform_db):
    engine, url, passwords = platform_db
    with OrmSession(engine) as session:
        # Replacement: the new node gets its account (host: its public address), shown once.
        client = session.scalar(select(Client).where(Client.account_code == "INITECH"))
        old = client.node
        result = replace_node(session, client, {"name": "cl-new-9", "public_ip": "192.0.2.99"}, ACTOR)
        session.commit()
        assert result.db_user == f"{url.rsplit('/', 1)[1]}.cl-new-9" and len(result.db_password) >= 24
        # The new node reads INITECH's rows at once; the drained node none of them any more.
        new_account = (result.db_user, result.db_password)
        with engine.connect() as conn:
            conn.execute(text(f"RENAME USER '{result.db_user}'@'192.0.2.99' TO '{result.db_user}'@'{HOST}'"))  # to connect from here
        assert any(k.startswith("trunk-INITECH-") for k in read_as(url, new_account, "ps_endpoints"))
        assert not any(k.startswith("trunk-INITECH-") for k in read_as(url, passwords[old.name], "ps_endpoints"))
        assert any(k.startswith("node-cn-") for k in read_as(url, passwords[old.name], "ps_endpoints"))
        with engine.connect() as conn:
            conn.execute(text(f"RENAME USER '{result.db_user}'@'{HOST}' TO '{result.db_user}'@'192.0.2.99'"))
        assert drift(session) == []
        assert _mysql_users(engine, result.db_user) == ["192.0.2.99"]
        assert session.scalar(select(NodeAccount).where(NodeAccount.db_user == result.db_user)).host == "192.0.2.99"
        # Retiring the drained node drops its account, after the commit.
        old_user = passwords[old.name][0]
        nodes.save(session, {"state": "retired"}, ACTOR, old)
        assert _mysql_users(engine, old_user) == [HOST]  # not before the commit
        session.commit()
        assert _mysql_users(engine, old_user) == []
        assert session.scalar(select(NodeAccount).where(NodeAccount.db_user == old_user)) is None
        # A retirement rolled back keeps the account.
        spare = session.scalar(select(Node).where(Node.name == "cn-vultr-tor1"))
        nodes.save(session, {"state": "retired"}, ACTOR, spare)
        session.rollback()
        assert _mysql_users(engine, passwords["cn-vultr-tor1"][0]) == [HOST]
        # Deleting a node drops its account.
        nodes.delete(session, session.get(Node, old.id), ACTOR)
        session.commit()
        actions = session.execute(select(AuditEntry.action, AuditEntry.entity_key).where(
            AuditEntry.entity == "node_account").order_by(AuditEntry.id)).all()
        assert ("create", "cl-new-9") in actions and ("delete", old.name) in actions
        assert "password" not in repr(session.scalars(select(AuditEntry.after).where(AuditEntry.entity == "node_account")).all())
        # A replacement rolled back leaves no account behind.
        globex = session.scalar(select(Client).where(Client.account_code == "GLOBEX"))
        rolled = replace_node(session, globex, {"name": "cl-gone", "public_ip": "192.0.2.98"}, ACTOR)
        assert _mysql_users(engine, rolled.db_user) == ["192.0.2.98"]
        session.rollback()
        assert _mysql_users(engine, rolled.db_user) == []
        trunk = session.scalar(select(Trunk).join(Client).where(Client.account_code == "INITECH"))
        assert trunk is not None


def test_a_savepoint_rolled_back_undoes_only_its_own_account_statements(platform_db):
    """A savepoint (as a per-row CSV import or a caller's own begin_nested uses) that creates or drops an account
    and rolls back, inside a transaction that then commits."""
    engine, url, passwords = platform_db
    with OrmSession(engine) as session:
        globex = session.scalar(select(Client).where(Client.account_code == "GLOBEX"))
        savepoint = session.begin_nested()
        rolled = replace_node(session, globex, {"name": "cl-savepoint", "public_ip": "192.0.2.97"}, ACTOR)
        assert _mysql_users(engine, rolled.db_user) == ["192.0.2.97"]
        savepoint.rollback()
        assert _mysql_users(engine, rolled.db_user) == []  # created in the savepoint: dropped with it
        spare = session.scalar(select(Node).where(Node.name == "cn-vultr-tor1"))
        savepoint = session.begin_nested()
        nodes.save(session, {"state": "retired"}, ACTOR, spare)
        savepoint.rollback()
        session.commit()
        assert _mysql_users(engine, passwords["cn-vultr-tor1"][0]) == [HOST]  # its retirement was undone: kept
        assert session.scalar(select(Node).where(Node.name == "cl-savepoint")) is None
    assert read_as(url, passwords["cn-vultr-tor1"], "ps_endpoints")


def test_an_accounts_role_and_client_are_derived_and_checked_by_verify(platform_db):
    engine, url, passwords = platform_db
    user = passwords["cl-vultr-tor3"][0]
    with OrmSession(engine) as session:
        account = session.scalar(select(NodeAccount).where(NodeAccount.db_user == user))
        assert (account.role, account.client) == ("client", "GLOBEX")
        account.client = "ACME"  # as if someone edited the row by hand
        session.commit()
        assert f"node_accounts {user}: differs: role='client', client='ACME' (expected 'client', 'GLOBEX')" in drift(session)
        assert not any(k.startswith("trunk-GLOBEX-") for k in read_as(url, passwords["cl-vultr-tor3"], "ps_endpoints"))
        from app.projection import rebuild

        rebuild(session)
        session.commit()
        assert drift(session) == []
    assert any(k.startswith("trunk-GLOBEX-") for k in read_as(url, passwords["cl-vultr-tor3"], "ps_endpoints"))


def test_retiring_a_node_by_csv_import_drops_its_account(platform_db):
    from tests.db.csv_support import run_import

    engine, url, passwords = platform_db
    user = passwords["cn-vultr-tor1"][0]
    csv_text = "name,role,public_ip,hosting_provider,state\ncn-vultr-tor1,carrier,192.0.2.12,Vultr,retired\n"
    with OrmSession(engine) as session:
        run_import(session, "nodes", csv_text, dry_run=True)
        session.rollback()
        assert _mysql_users(engine, user) == [HOST]  # a dry run changes nothing
        run_import(session, "nodes", csv_text)
        session.commit()
        assert session.scalar(select(NodeAccount).where(NodeAccount.db_user == user)) is None
        assert ("delete", "cn-vultr-tor1") in session.execute(select(AuditEntry.action, AuditEntry.entity_key).where(
            AuditEntry.entity == "node_account")).all()
    assert _mysql_users(engine, user) == []
