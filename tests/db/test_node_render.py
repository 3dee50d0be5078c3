"""`flask node render`: every file a node needs, from the database, nothing node-specific hard-coded."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest
from flask import Flask
from sqlalchemy import select, text

from app.cli import node as node_cli
from app.models import Node
from app.nodeconf import FILES, NodeSettings, pool_size, render_node, write_node

IN_CI = os.environ.get("CI", "").lower() == "true"
SETTINGS = dict(db_host="10.9.8.7", db_port=3307, db_name="tl", db_user="ast", db_password="s3cret")


def render(session, name, **extra):
    return render_node(session, name, NodeSettings(**SETTINGS, admin_networks=["10.50.0.0/16"], **extra))


def nft_check(text, tmp_path):
    if shutil.which("nft") is None:
        if IN_CI:
            pytest.fail("nft missing: scripts/test_prereqs.d/asterisk.sh installs nftables")
        pytest.skip("nft not installed")
    path = tmp_path / "rules.nft"
    path.write_text(text)
    result = subprocess.run(["nft", "-c", "-f", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_client_node_files(seeded, tmp_path):
    files = render(seeded, "cl-ovh-bhs7")
    local = [n for n in files if n.startswith("trunkline-local-")]
    assert set(files) == {name for name, _ in FILES} | set(local) and len(local) == 1
    pjsip = files["pjsip.conf"]
    assert re.findall(r"^bind = (\S+)$", pjsip, re.M) == ["192.0.2.21:5060", "192.0.2.21:5060"]
    assert re.findall(r"^type = (\w+)$", pjsip, re.M) == ["global", "system", "transport", "transport"]
    ext = files["extensions.conf"]
    assert "TL_ACCOUNT = ACME" in ext and "TL_SELF = node-cl-ovh-bhs7" in ext
    for context in ("tl-num", "tl-route", "tl-e911"):
        assert f"[{context}]\nswitch => Realtime/@extensions" in ext
    assert "[tl-911]" in ext and "[tl-out]" in ext and "[tl-inbound]" not in ext
    assert "registration = " not in files["sorcery.conf"] and "ps_registrations" not in files["extconfig.conf"]
    assert "noload => res_pjsip_outbound_registration.so" in files["modules.conf"]
    assert "identify/cache = memory_cache,name=identify,full_backend_cache=yes" in files["sorcery.conf"]
    assert f"max_connections => {pool_size(30)}" in files["res_odbc.conf"]  # ACME: 30 channels
    assert "username => ast" in files["res_odbc.conf"] and "password => s3cret" in files["res_odbc.conf"]
    assert "Server = 10.9.8.7" in files["odbc.ini"] and "Port = 3307" in files["odbc.ini"]
    assert "table = cdr" in files["cdr_adaptive_odbc.conf"]


def test_client_node_firewall_whitelists_its_own_trunks_and_the_carrier_nodes(seeded, tmp_path):
    nft = render(seeded, "cl-ovh-bhs7")["nftables.conf"]
    sip = re.search(r"set sip_v4 \{.*?elements = \{ (.*?) \}", nft, re.S).group(1).split(", ")
    assert sip == ["192.0.2.11/32", "192.0.2.12/32", "198.18.10.5/32"]  # carrier nodes + ACME/main
    assert "198.18.20.0/29" not in nft  # GLOBEX's PBX is not ACME's
    assert "meter sip_flood" in nft  # ACME/branch registers with credentials from anywhere, rate-limited
    assert "elements = { 10.50.0.0/16 }" in nft and "policy drop" in nft
    nft_check(nft, tmp_path)


def test_carrier_node_files_and_firewall(seeded, tmp_path):
    files = render(seeded, "cn-ovh-bhs1")
    assert "bind = 192.0.2.11:5060" in files["pjsip.conf"]
    ext = files["extensions.conf"]
    assert "[tl-inbound]" in ext and "[tl-outbound]" in ext and "[tl-911]" not in ext
    assert "TL_ACCOUNT = \n" in ext
    assert "registration = realtime,ps_registrations" in files["sorcery.conf"]
    nft = files["nftables.conf"]
    sip = re.search(r"set sip_v4 \{.*?elements = \{ (.*?) \}", nft, re.S).group(1).split(", ")
    assert sip == ["192.0.2.21/32", "192.0.2.22/32", "192.0.2.23/32", "198.51.100.10/32", "198.51.100.11/32",
                   "198.51.100.20/32", "198.51.100.64/28", "203.0.113.50/32"]
    assert "meter" not in nft
    nft_check(nft, tmp_path)


def test_nothing_node_specific_is_hard_coded(seeded):
    a, b = render(seeded, "cl-ovh-bhs7"), render(seeded, "cl-vultr-tor3")
    assert "bind = 192.0.2.22:5060" in b["pjsip.conf"] and "TL_ACCOUNT = GLOBEX" in b["extensions.conf"]
    for name in ("pjsip.conf", "extensions.conf", "nftables.conf"):
        assert a[name] != b[name]
        assert "192.0.2.21" not in b[name] and "ACME" not in b[name]


def test_paths_and_lifetimes_follow_the_settings(seeded):
    files = render(seeded, "cn-ovh-bhs1", etc_dir="/srv/n1/etc", state_dir="/srv/n1/state", cache_stale=3, cache_max=9,
                   rtp_start=30000, rtp_end=30999, pool=7)
    assert "astetcdir => /srv/n1/etc" in files["asterisk.conf"] and "astrundir => /srv/n1/state/run" in files["asterisk.conf"]
    assert "object_lifetime_stale=3,object_lifetime_maximum=9" in files["sorcery.conf"]
    assert "rtpstart = 30000" in files["rtp.conf"] and "udp dport 30000-30999" in files["nftables.conf"]
    assert "max_connections => 7" in files["res_odbc.conf"]


def test_pool_size_bounds():
    assert (pool_size(0), pool_size(30), pool_size(200), pool_size(10_000)) == (2, 2, 4, 16)


def _cli(seeded):
    app = Flask("node-render-test")
    app.config["DATABASE_URL"] = "sqlite:///unused.db"
    node_cli.register(app)
    return app.test_cli_runner()


@pytest.fixture
def node_password(seeded, tmp_path):
    """The password file of node cl-ovh-bhs7's own account (created on MariaDB, dropped afterwards;
    SQLite has no accounts, so any password is written for the account it will have)."""
    from app.services import node_accounts
    from app.services.audit import Actor

    path = tmp_path / "cl.password"
    created = None
    if node_accounts.supported(seeded):
        node = seeded.scalar(select(Node).where(Node.name == "cl-ovh-bhs7"))
        created, password = node_accounts.ensure(seeded, node, Actor("test", "test"), host="127.0.0.%")
        created = (created.db_user, created.host)
    else:
        password = "Demo-Password-Not-Used"
    path.write_text(password + "\n")
    path.chmod(0o600)
    yield path
    if created:
        with seeded.get_bind().engine.connect() as conn:
            conn.execute(text(f"DROP USER IF EXISTS '{created[0]}'@'{created[1]}'"))


def test_cli_writes_the_files_for_the_nodes_own_account_with_secrets_private(seeded, tmp_path, node_password):
    out = tmp_path / "cl"
    result = _cli(seeded).invoke(args=["node", "render", "cl-ovh-bhs7", "--out", str(out), "--db-url",
                                       "mysql+mysqldb://ast:pw@127.0.0.1:3306/trunkline", "--admin-net", "10.0.0.0/8",
                                       "--db-password-file", str(node_password)])
    assert result.exit_code == 0, result.output
    local = [p.name for p in out.iterdir() if p.name.startswith("trunkline-local-")]
    assert len(local) == 1 and sorted(p.name for p in out.iterdir()) == sorted([name for name, _ in FILES] + local)
    assert oct((out / "res_odbc.conf").stat().st_mode & 0o777) == "0o600"
    assert oct((out / local[0]).stat().st_mode & 0o777) == "0o600"  # trunk auth passwords
    assert oct((out / "pjsip.conf").stat().st_mode & 0o777) == "0o644"
    odbc_ini = (out / "odbc.ini").read_text()
    assert "Database = trunkline" in odbc_ini
    password = node_password.read_text().strip()
    db = seeded.execute(text("SELECT DATABASE()")).scalar() if seeded.get_bind().dialect.name != "sqlite" else "trunkline"
    user = f"{db}.cl-ovh-bhs7"  # the node's own account, never the user or password of --db-url
    assert f"User = {user}" in odbc_ini and f"Password = {password}" in odbc_ini
    assert f"username => {user}" in (out / "res_odbc.conf").read_text()
    holding = sorted(p.name for p in out.iterdir() if password.encode() in p.read_bytes())
    assert holding == ["odbc.ini", "res_odbc.conf"]  # both 0600
    assert "ast" not in re.findall(r"^User = (.*)$", odbc_ini, re.M) and "Password = pw" not in odbc_ini


def test_cli_takes_the_password_from_the_environment(seeded, tmp_path, node_password):
    out = tmp_path / "cl"
    result = _cli(seeded).invoke(args=["node", "render", "cl-ovh-bhs7", "--out", str(out), "--db-url", "mysql+mysqldb://a@h/db"],
                                 env={"TRUNKLINE_NODE_DB_PASSWORD": "From-The-Environment-1", "TRUNKLINE_ADMIN_NETWORKS": "10.0.0.0/8"})
    assert result.exit_code == 0, result.output
    assert "password => From-The-Environment-1" in (out / "res_odbc.conf").read_text()


@pytest.mark.parametrize("args, message", [
    (["nope", "--db-url", "mysql+mysqldb://a@h/db"], "no node nope"),
    (["cl-ovh-bhs7"], "is not MariaDB"),  # the app's own database here is SQLite
    (["cl-ovh-bhs7", "--db-url", "mysql+mysqldb://a@h/db", "--rtp", "5-10"], "not within 1024-65535"),
    (["cl-ovh-bhs7", "--db-url", "mysql+mysqldb://a@h/db", "--admin-net", "bogus"], "not an IP network"),
    (["cl-ovh-bhs7", "--db-url", "mysql+mysqldb://a@h/db", "--db-password-file", "/nonexistent/pw"], "No such file"),
    # no --admin-net: the firewall would let nobody reach SSH or the manager interface (a new user's trial)
    (["cl-ovh-bhs7", "--db-url", "mysql+mysqldb://a@h/db"], "--admin-net is needed (or TRUNKLINE_ADMIN_NETWORKS)"),
])
def test_cli_errors_are_one_plain_line(seeded, tmp_path, args, message, node_password):
    result = _cli(seeded).invoke(args=["node", "render", *args[:1], "--out", str(tmp_path / "x"), *args[1:]],
                                 env={"TRUNKLINE_NODE_DB_PASSWORD": "x"})
    assert result.exit_code == 1
    assert message in result.output and "Traceback" not in result.output


def test_cli_needs_the_password(seeded, tmp_path, node_password, monkeypatch):
    monkeypatch.delenv("TRUNKLINE_NODE_DB_PASSWORD", raising=False)
    result = _cli(seeded).invoke(args=["node", "render", "cl-ovh-bhs7", "--out", str(tmp_path / "x"), "--db-url",
                                       "mysql+mysqldb://root:adminpw@h/db"])
    assert result.exit_code == 1
    assert "password is needed" in result.output and not (tmp_path / "x").exists()


def test_cli_refuses_a_node_without_its_account_on_mariadb(seeded, tmp_path):
    if seeded.get_bind().dialect.name == "sqlite":
        # SQLite has no accounts: render names the account the node will have (tested above); asking for one says why not.
        result = _cli(seeded).invoke(args=["node", "account", "cn-ovh-bhs1"])
        assert result.exit_code == 1 and "SQLite has no database accounts" in result.output
        return
    result = _cli(seeded).invoke(args=["node", "render", "cn-ovh-bhs1", "--out", str(tmp_path / "x"), "--db-url",
                                       "mysql+mysqldb://a@h/db"], env={"TRUNKLINE_NODE_DB_PASSWORD": "x"})
    assert result.exit_code == 1
    assert "has no database account" in result.output


def test_lookup_modes(seeded):
    assert NodeSettings().lookup == "odbc"  # the default: one query per key, meets the throughput target
    switch = render(seeded, "cl-ovh-bhs7", lookup="switch")
    ext = switch["extensions.conf"]
    assert "exten => s,1,GotoIf(${DIALPLAN_EXISTS(${ARG1},${ARG2},1)}?hit)" in ext
    # A miss is confirmed by one func_odbc read (pbx_realtime cannot tell a miss from a failed query): ODBCROWS -1
    # goes to the same 503 / local copy / 911 handling as the odbc mode; so func_odbc is loaded in both modes.
    lookup = ext[ext.index("[tl-lookup]"):ext.index("[tl-e164]")]
    miss = lookup.index(" same => n,Set(ODBCROWS=)\n same => n,Set(LOCAL(value)=${ODBC_TL_LOOKUP(${ARG1},${ARG2})})")
    assert lookup.index('GotoIf($["${ODBCROWS}" = "-1" | "${ODBCROWS}" = ""]?down)') > miss
    assert lookup.index("(hit),Gosub(${ARG1},${ARG2},1)") > miss
    assert "(down),GotoIf(${DIALPLAN_EXISTS(tl-local-${ARG1},${ARG2},1)}?local)" in lookup
    assert "answering 503)\n same => n,Goto(tl-end,unavailable,1)" in lookup
    assert "noload => func_odbc.so" not in switch["modules.conf"]
    assert "readhandle = trunkline\n" in switch["func_odbc.conf"]
    odbc = render(seeded, "cl-ovh-bhs7", lookup="odbc")
    assert "exten => s,1,Set(ODBCROWS=)\n same => n,Set(LOCAL(value)=${ODBC_TL_LOOKUP(${ARG1},${ARG2})})" in odbc["extensions.conf"]
    assert "noload => func_odbc.so" not in odbc["modules.conf"]
    assert "readhandle = trunkline\n" in odbc["func_odbc.conf"] and "FROM node_extensions WHERE context=" in odbc["func_odbc.conf"]
    with pytest.raises(ValueError, match="lookup must be one of"):
        NodeSettings(lookup="carrier-pigeon")


@pytest.mark.parametrize("node", ["cl-ovh-bhs7", "cn-ovh-bhs1"])
@pytest.mark.parametrize("lookup", ["switch", "odbc"])
def test_dialplan_lines_carry_no_semicolon(seeded, node, lookup):
    """';' starts a comment in extensions.conf: one inside a dialplan line would silently cut it."""
    ext = render(seeded, node, lookup=lookup)["extensions.conf"]
    lines = [line for line in ext.splitlines() if line.startswith(("exten", " same"))]
    assert len(lines) > 20 and [line for line in lines if ";" in line] == []


def test_manager_interface_is_off_without_a_secret(seeded):
    files = render(seeded, "cl-ovh-bhs7")
    assert "enabled = no" in files["manager.conf"] and "secret" not in files["manager.conf"].split("[general]")[1]
    assert "tcp dport { 22 }" in files["nftables.conf"]


def test_manager_interface_for_the_admin_networks_only_when_a_secret_is_set(seeded, tmp_path):
    files = render(seeded, "cl-ovh-bhs7", ami_secret="p4ss", ami_port=5039)
    manager = files["manager.conf"]
    assert "enabled = yes" in manager and "port = 5039" in manager
    assert "bindaddr = 192.0.2.21" in manager
    assert "[trunkline]" in manager and "secret = p4ss" in manager
    assert "deny = 0.0.0.0/0.0.0.0" in manager and "permit = 10.50.0.0/16" in manager
    # command: the retrier's database probe (a client node with a local realtime copy; app/node_push.py DB_PROBE).
    assert "read = system,user\n" in manager and "write = system,config,command\n" in manager
    carrier = render(seeded, "cn-ovh-bhs1", ami_secret="p4ss")["manager.conf"]
    assert "write = system,config\n" in carrier
    # config (UpdateConfig: any file of the node's configuration directory) only from the admin networks.
    account = manager.split("[trunkline]")[1]
    assert [line for line in account.splitlines() if line.startswith(("permit", "deny"))] == [
        "deny = 0.0.0.0/0.0.0.0", "permit = 10.50.0.0/16"]
    assert "tcp dport { 22, 5039 }" in files["nftables.conf"]
    nft_check(files["nftables.conf"], tmp_path)
    written = {p.name: p for p in write_node(files, tmp_path / "out")}
    assert written["manager.conf"].stat().st_mode & 0o777 == 0o600


def _cli_with(seeded, **config):
    app = Flask("node-render-test")
    app.config["DATABASE_URL"] = "sqlite:///unused.db"
    app.config.update(config)
    node_cli.register(app)
    return app.test_cli_runner()


def _warnings(result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("warning: ")]


def test_cli_warns_when_the_manager_interface_will_be_off(seeded, tmp_path, node_password, monkeypatch):
    monkeypatch.delenv("TRUNKLINE_AMI_SECRET", raising=False)
    args = ["node", "render", "cl-ovh-bhs7", "--out", str(tmp_path / "off"), "--db-url", "mysql+mysqldb://a@10.9.8.7/db",
            "--admin-net", "10.0.0.0/8", "--db-password-file", str(node_password)]
    result = _cli(seeded).invoke(args=args)
    assert result.exit_code == 0, result.output
    assert "enabled = no" in (tmp_path / "off" / "manager.conf").read_text()
    assert _warnings(result) == [
        "warning: manager.conf is written with enabled = no (no AMI secret: TRUNKLINE_AMI_SECRET is not set here, nor "
        "--ami-secret): the admin cannot expire node cl-ovh-bhs7's cached objects after a change, show its live state or "
        "receive its 911 call events; set TRUNKLINE_AMI_SECRET to the admin's AMI secret and render again"]
    args[4] = str(tmp_path / "on")
    result = _cli(seeded).invoke(args=args, env={"TRUNKLINE_AMI_SECRET": "Ami-Secret-1"})
    assert result.exit_code == 0, result.output
    assert "enabled = yes" in (tmp_path / "on" / "manager.conf").read_text() and _warnings(result) == []


def test_cli_warns_when_the_node_would_look_for_its_database_on_itself(seeded, tmp_path, node_password, monkeypatch):
    """The admin's DATABASE_URL on 127.0.0.1 (its own MariaDB) is no address for a node at 192.0.2.21."""
    from app.services import db_servers
    from app.services.audit import Actor

    monkeypatch.setenv("TRUNKLINE_AMI_SECRET", "Ami-Secret-1")
    monkeypatch.delenv("TRUNKLINE_NODE_DB_URL", raising=False)
    common = ["--admin-net", "10.0.0.0/8", "--db-password-file", str(node_password)]
    admin = _cli_with(seeded, DATABASE_URL="mysql+mysqldb://admin:Admin-Pw-9@127.0.0.1:3306/trunkline")
    result = admin.invoke(args=["node", "render", "cl-ovh-bhs7", "--out", str(tmp_path / "a"), *common])
    assert result.exit_code == 0, result.output
    assert "Server = 127.0.0.1" in (tmp_path / "a" / "odbc.ini").read_text()
    assert _warnings(result) == [
        "warning: odbc.ini and res_odbc.conf point node cl-ovh-bhs7 (192.0.2.21) at the database on 127.0.0.1:3306, its own "
        "loopback, where no MariaDB of the platform runs: the address comes from the admin's own DATABASE_URL: give the "
        "address the node reaches with --db-url mysql+mysqldb://DBHOST:3306/DATABASE (or TRUNKLINE_NODE_DB_URL)"]
    assert "Admin-Pw-9" not in result.output
    given = admin.invoke(args=["node", "render", "cl-ovh-bhs7", "--out", str(tmp_path / "b"), "--db-url",
                               "mysql+mysqldb://localhost/trunkline", *common])
    assert [w.split(": ", 3)[-1] for w in _warnings(given)] == [
        "give the address the node reaches in --db-url mysql+mysqldb://DBHOST:3306/DATABASE (or TRUNKLINE_NODE_DB_URL)"]
    right = admin.invoke(args=["node", "render", "cl-ovh-bhs7", "--out", str(tmp_path / "c"), "--db-url",
                               "mysql+mysqldb://10.9.8.7/trunkline", *common])
    assert right.exit_code == 0 and _warnings(right) == [] and "Server = 10.9.8.7" in (tmp_path / "c" / "odbc.ini").read_text()
    # A recorded server on loopback: the recorded address is the one to fix.
    db_servers.save(seeded, {"name": "db-primary", "host": "127.0.0.1", "role": "primary", "hosting_provider": "OVHcloud"},
                    Actor("test", "cli"))
    recorded = admin.invoke(args=["node", "render", "cl-ovh-bhs7", "--out", str(tmp_path / "d"), "--db-url",
                                  "mysql+mysqldb://10.9.8.7/trunkline", *common])
    assert any("database server db-primary is recorded at 127.0.0.1: record the address nodes reach for it" in w
               for w in _warnings(recorded)), recorded.output


def test_cli_other_mistakes_are_one_line(seeded, tmp_path, node_password):
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    binary = tmp_path / "binary"
    binary.write_bytes(b"\xff\xfe\x00\x81")
    base = ["--db-url", "mysql+mysqldb://a@10.9.8.7/db", "--admin-net", "10.0.0.0/8", "--db-password-file", str(node_password)]
    for out, extra, message in (
        (a_file / "sub", [], f"--out {a_file / 'sub'}: Not a directory"),
        (tmp_path / "x", ["--pool", "0"], "--pool must be at least 1"),
        (tmp_path / "x", ["--admin-port", "70000"], "--admin-port 70000 is not a TCP port (1-65535)"),
        (tmp_path / "x", ["--db-url", "mysql+mysqldb://u:Url-Secret-7@h:port/db"], "the database URL cannot be read as one"),
        (tmp_path / "x", ["--db-password-file", str(binary)], "not a text file"),
    ):
        result = _cli(seeded).invoke(args=["node", "render", "cl-ovh-bhs7", "--out", str(out), *base, *extra])
        assert result.exit_code == 1, result.output
        errors = [line for line in result.output.splitlines() if not line.startswith("warning: ")]
        assert len(errors) == 1 and message in errors[0] and "Traceback" not in result.output, result.output
        assert "Url-Secret-7" not in result.output


def test_cli_refuses_a_retired_node_and_warns_about_a_lost_account(seeded, tmp_path, node_password, monkeypatch):
    from app.services import nodes
    from app.services.audit import Actor

    monkeypatch.setenv("TRUNKLINE_AMI_SECRET", "Ami-Secret-1")
    common = ["--db-url", "mysql+mysqldb://a@10.9.8.7/db", "--admin-net", "10.0.0.0/8", "--db-password-file", str(node_password)]
    retired = seeded.scalar(select(Node).where(Node.name == "cn-vultr-tor1"))
    nodes.save(seeded, {"state": "retired"}, Actor("test", "cli"), retired)
    result = _cli(seeded).invoke(args=["node", "render", "cn-vultr-tor1", "--out", str(tmp_path / "r"), *common])
    assert result.exit_code == 1 and not (tmp_path / "r").exists()
    assert result.output.strip() == ("Error: node cn-vultr-tor1 is retired: it has no database account and reads nothing, "
                                     "so nothing was rendered")
    if seeded.get_bind().dialect.name == "sqlite":
        return  # no accounts to lose
    account = seeded.scalar(select(Node).where(Node.name == "cl-ovh-bhs7")).account
    with seeded.get_bind().engine.connect() as conn:
        conn.execute(text(f"DROP USER '{account.db_user}'@'{account.host}'"))  # behind the platform's back
    result = _cli(seeded).invoke(args=["node", "render", "cl-ovh-bhs7", "--out", str(tmp_path / "m"), *common])
    assert result.exit_code == 0, result.output
    assert _warnings(result) == [
        f"warning: database account {account} is recorded, but MariaDB has no such account: the node cannot connect with "
        "these files; recreate it with `flask --app wsgi node account cl-ovh-bhs7 --rotate` and render again with the new "
        "password"]


def _local_db(files, tmp_path):
    import sqlite3

    (name,) = [n for n in files if n.startswith("trunkline-local-")]
    path = tmp_path / name
    path.write_bytes(files[name])
    conn = sqlite3.connect(path)
    tables = {}
    for (table,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'"):
        cols = [d[1] for d in conn.execute(f'PRAGMA table_info("{table}")')]
        tables[table] = [dict(zip(cols, row, strict=True)) for row in conn.execute(f'SELECT * FROM "{table}"')]
    conn.close()
    return name, tables


def test_client_node_keeps_the_pjsip_rows_its_account_reads_as_a_last_resort_source(seeded, tmp_path):
    """The local realtime copy: exactly what the node's scoped views show its account (its own client's trunks and
    the carrier nodes' endpoints; no carrier, no other client), mapped after every database server."""
    files = render(seeded, "cl-ovh-bhs7", etc_dir="/srv/cl/etc")
    name, tables = _local_db(files, tmp_path)
    assert set(tables) == {"ps_endpoints", "ps_aors", "ps_auths", "ps_endpoint_id_ips", "ps_domain_aliases"}
    endpoints = {r["id"] for r in tables["ps_endpoints"]}
    assert endpoints and all(e.startswith(("trunk-ACME-", "node-cn-")) for e in endpoints), endpoints
    assert any(e.startswith("node-cn-") for e in endpoints) and any(e.startswith("trunk-ACME-") for e in endpoints)
    projected = {r[0] for r in seeded.execute(text("SELECT id FROM ps_endpoints WHERE tl_kind IN ('trunk', 'carrier-node') "
                                                   "AND (tl_kind = 'carrier-node' OR tl_client = 'ACME')"))}
    assert endpoints == projected
    auths = {r["id"]: r for r in tables["ps_auths"]}
    assert auths and all(a.startswith(("trunk-ACME-", "node-cn-")) for a in auths)
    identify = tables["ps_endpoint_id_ips"]
    assert identify and all(r["endpoint"] in endpoints for r in identify)
    for rows in tables.values():  # no column left that is NULL in every row (a multi-row read would hand it over as "")
        for column in (rows[0] if rows else {}):
            assert column == "id" or any(r[column] is not None for r in rows), column
    # extconfig: every family once per server, then the copy at the next priority; no extensions from the copy.
    ext = files["extconfig.conf"]
    for family in tables:
        assert re.findall(rf"^{family} => (\w+),\S+?,\S+?,(\d+)$", ext, re.M) == [("odbc", "1"), ("sqlite3", "2")]
    assert "extensions => sqlite3" not in ext
    assert f"dbfile => /srv/cl/etc/{name}" in files["res_config_sqlite3.conf"]
    assert "[trunkline_local]" in files["res_config_sqlite3.conf"] and "batch = 0" in files["res_config_sqlite3.conf"]
    assert "noload => res_config_sqlite3.so" not in files["modules.conf"]


def test_a_change_gives_the_copy_a_new_name_and_a_deleted_trunk_leaves_it(seeded, tmp_path):
    from app.models import Client, Trunk
    from app.projection import apply_pending
    from app.services import trunks
    from app.services.audit import Actor

    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    before, tables = _local_db(render(seeded, "cl-ovh-bhs7"), tmp_path)
    assert _local_db(render(seeded, "cl-ovh-bhs7"), tmp_path / "a")[0] == before  # same rows, same name
    trunk = seeded.scalar(select(Trunk).join(Trunk.client).where(Client.account_code == "ACME", Trunk.name == "main"))
    assert "trunk-ACME-main" in {r["id"] for r in tables["ps_endpoints"]}
    trunks.delete(seeded, trunk, Actor("test", "cli"), release_numbers=True)
    apply_pending(seeded)
    after, tables = _local_db(render(seeded, "cl-ovh-bhs7"), tmp_path / "b")
    assert after != before and "trunk-ACME-main" not in {r["id"] for r in tables["ps_endpoints"]}


def test_carrier_node_has_no_local_realtime_copy(seeded):
    files = render(seeded, "cn-ovh-bhs1")
    assert not [n for n in files if n.startswith("trunkline-local-")]
    assert "sqlite3" not in files["extconfig.conf"].split("[settings]")[1]
    assert "noload => res_config_sqlite3.so" in files["modules.conf"]
