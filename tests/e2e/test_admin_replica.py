"""The admin while the primary is down, on a real GTID primary + replica on loopback (scripts/db_loopback.py).

Killed (SIGKILL) and frozen (SIGSTOP) primary: the dashboard, a list, a detail page and a CSV export answer 200
from the replica with the banner (which replica, its lag, changes refused) and the replica's data; a change is
refused with the one message and nothing changes; a new sign-in is refused; read-only CLI commands read the
replica; once the primary is back the pages come from it again (no banner)."""

from __future__ import annotations

import json
import os
import signal
import time

import pytest
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError

from app.dbdown import UNREACHABLE_MESSAGE, error_code, is_unreachable
from tests.e2e.dbcluster import IN_CI, available, flask, loopback, loopback_net
from tests.web.conftest import PASSWORD, Browser, csrf_token
from tests.web.scenarios import CARRIER_FORM

BANNER = 'id="tl-replica-banner"'


def _url(inst):
    return f"mysql+mysqldb://root@{inst.host}:{inst.port}/trunkline"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A primary p (Vultr), replicas r (OVHcloud) and a-vultr (Vultr), with the schema, the demo data, an operator and the
    servers. The admin is at OVHcloud: r comes first in its read order although a-vultr sorts first by name."""
    reason = available()
    if reason:
        if IN_CI:
            pytest.fail(f"loopback MariaDB cluster required when CI=true: {reason}", pytrace=False)
        pytest.skip(reason)
    base = tmp_path_factory.mktemp("admin-replica")
    net = loopback_net()
    p, r, rv = loopback.start_cluster(str(base / "dbs"), [("p", f"{net}.1", 3306), ("r", f"{net}.2", 3306),
                                                          ("a-vultr", f"{net}.3", 3306)])
    try:
        p.sql("CREATE DATABASE trunkline CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
        for args in (("schema", "upgrade"), ("seed",), ("users", "create", "op@example.test", "--role", "operator",
                                                         "--password", PASSWORD),
                     ("db", "server", "add", "p", "--host", p.host, "--port", "3306", "--role", "primary",
                      "--hosting-provider", "Vultr"),
                     ("db", "server", "add", "r", "--host", r.host, "--port", "3306", "--role", "replica",
                      "--hosting-provider", "OVHcloud"),
                     ("db", "server", "add", "a-vultr", "--host", rv.host, "--port", "3306", "--role", "replica",
                      "--hosting-provider", "Vultr")):
            done = flask(_url(p), *args)
            assert done.returncode == 0, done.stderr
        loopback.wait_caught_up(r, p)
        loopback.wait_caught_up(rv, p)
        yield p, r, rv
    finally:
        for inst in (p, r, rv):
            loopback.stop(inst, signal.SIGKILL)


@pytest.fixture
def admin(cluster, tmp_path):
    """The admin app on the primary (its own engine and watcher), and a signed-in operator."""
    from app import create_app
    from app.db import Session

    p, r, _rv = cluster
    app = create_app({"DATABASE_URL": _url(p), "SECRET_KEY": "test", "TESTING": True, "ADMIN_HOSTING_PROVIDER": "OVHcloud",
                      "DB_SERVERS_FILE": str(tmp_path / "db_servers.json"), "IMPORT_UPLOAD_DIR": str(tmp_path / "up"),
                      "ONCE_DIR": str(tmp_path / "once")})
    reads = app.extensions["trunkline_replicas"]
    b = Browser(app.test_client())
    assert b.sign_in("op@example.test").status_code == 302
    deadline = time.monotonic() + 10
    while not (tmp_path / "db_servers.json").exists():  # the watcher remembers the servers read from the primary
        assert time.monotonic() < deadline, "the server list was never remembered"
        time.sleep(0.1)
    yield app, reads, b, tmp_path / "db_servers.json"
    reads.stop()
    Session.remove()
    app.extensions["trunkline_engine"].dispose()


def _carrier_count(inst, name):
    return inst.sql(f"SELECT COUNT(*) AS n FROM trunkline.carriers WHERE name = '{name}'")[0]["n"]


def _reads_from_replica(b: Browser, carrier_id: int) -> dict[str, float]:
    """Dashboard, carrier list, a carrier's page and the carrier CSV export: 200 from replica r with the banner.
    Returns the seconds each took."""
    took = {}
    for name, url in (("dashboard", "/admin/"), ("list", "/admin/carrier/"), ("detail", f"/admin/carrier/details/?id={carrier_id}"),
                      ("export", "/admin/carrier/export/csv/")):
        started = time.monotonic()
        page = b.get(url)
        took[name] = round(time.monotonic() - started, 2)
        assert page.status_code == 200, (url, page.status_code, page.text[:500])
        assert page.headers["X-Trunkline-Database"].startswith("replica r ("), url
        if name == "export":
            assert "replica-era" in page.text and "telus" in page.text.lower()
        else:
            assert BANNER in page.text, url
            assert "this page comes from replica r" in page.text and "Changes are refused until the primary is back" in page.text
            assert "Seconds_Behind_Master" in page.text
        if name in ("list", "detail"):
            assert "replica-era" in page.text  # a carrier written through the admin before the fault: the replica has it
        if name == "list":
            assert "/admin/carrier/new/" not in page.text  # no button that would change data
    return took


def _write_refused(b: Browser, replica) -> None:
    before = replica.sql("SELECT COUNT(*) AS n FROM trunkline.audit_log")[0]["n"]
    started = time.monotonic()
    page = b.post("/admin/carrier/new/", {**CARRIER_FORM, "name": "while-down"})
    assert time.monotonic() - started < 2, "a refused write must not wait for the primary"
    assert page.status_code == 503 and UNREACHABLE_MESSAGE[1:] in page.text and "Traceback" not in page.text
    assert _carrier_count(replica, "while-down") == 0
    assert replica.sql("SELECT COUNT(*) AS n FROM trunkline.audit_log")[0]["n"] == before


def _from_primary_again(reads, b: Browser, carrier_id: int, timeout: float = 20) -> float:
    """Seconds until the watcher saw the primary answer; then pages carry no banner and a write goes through."""
    started = time.monotonic()
    while reads.down:
        assert time.monotonic() - started < timeout, "the admin never noticed the primary was back"
        b.get("/admin/")  # requests keep the watcher running
        time.sleep(0.2)
    took = round(time.monotonic() - started, 1)
    for url in ("/admin/", "/admin/carrier/", f"/admin/carrier/details/?id={carrier_id}", "/admin/carrier/export/csv/"):
        page = b.get(url)
        assert page.status_code == 200 and BANNER not in page.text and "X-Trunkline-Database" not in page.headers, url
        if url == "/admin/carrier/":
            assert "/admin/carrier/new/" in page.text
    return took


def test_killed_then_frozen_primary_reads_from_the_replica_and_refuses_writes(cluster, admin):
    p, r, rv = cluster
    app, reads, b, servers_file = admin
    from app.db import Session
    from app.models import Carrier

    remembered = {s["name"]: s["role"] for s in json.loads(servers_file.read_text())["servers"]}
    assert remembered == {"p": "primary", "r": "replica", "a-vultr": "replica"}
    assert b.post("/admin/carrier/new/", {**CARRIER_FORM, "name": "replica-era"}).status_code == 302
    page = b.get("/admin/")
    assert page.status_code == 200 and BANNER not in page.text and "X-Trunkline-Database" not in page.headers
    with app.app_context():
        carrier_id = Session().scalar(select(Carrier.id).where(Carrier.name == "replica-era"))
        Session.remove()
    loopback.wait_caught_up(r, p)

    leaving = Browser(app.test_client())
    assert leaving.sign_in("op@example.test").status_code == 302

    # 1. Killed, the watcher paused: the first request finds the primary gone itself, marks it down and is run again
    #    from the replica (the person gets the page, not an error).
    reads.stopped = True
    reads._thread.join(timeout=10)
    loopback.stop(p, signal.SIGKILL)
    assert not reads.down
    took = _reads_from_replica(b, carrier_id)
    print(f"\nkilled primary: seconds per page from the replica {took}")
    assert reads.down and reads.reason, reads.reason
    reads.stopped = False  # the next request starts the watcher again
    _write_refused(b, r)
    # The replica's connections refuse writes themselves, even for root (whom MariaDB's read_only lets write): a write
    # that slipped past the web's refusal gets error 1792, which the admin answers with the one message.
    replica = reads.pick()
    with pytest.raises(DBAPIError) as refused_here, replica.engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO audit_log (at, actor, channel, action, entity) VALUES (NOW(), 't', 'cli', 'x', 'probe')")
    assert error_code(refused_here.value) == 1792 and is_unreachable(refused_here.value)
    assert r.sql("SELECT COUNT(*) AS n FROM trunkline.audit_log WHERE entity = 'probe'")[0]["n"] == 0
    # A new sign-in is refused with a plain sentence; signing out still clears this browser's session.
    other = Browser(app.test_client())
    login = other.get("/login")
    assert login.status_code == 200 and "signing in is refused until it is back" in login.text
    refused = other.client.post("/login", data={"email": "op@example.test", "password": PASSWORD,
                                                "csrf_token": csrf_token(login.text)})
    assert refused.status_code == 503 and "signing in is refused" in refused.text and "Traceback" not in refused.text
    out = leaving.post("/logout")  # signing out clears this browser's session (the others wait for the primary)
    assert out.status_code == 302 and out.location.endswith("/login")
    assert "sessions elsewhere could not be ended" in leaving.get("/login").text
    assert leaving.get("/admin/").status_code == 302

    # Read-only CLI commands read the replica (the servers remembered by the admin), writes get the one message.
    env_file = {"TRUNKLINE_DB_SERVERS_FILE": str(servers_file), "TRUNKLINE_ADMIN_HOSTING_PROVIDER": "OVHcloud"}
    os.environ.update(env_file)
    try:
        listed = flask(_url(p), "db", "server", "list", "--json")
        assert listed.returncode == 0, listed.stderr
        assert {s["name"] for s in json.loads(listed.stdout)} == {"p", "r", "a-vultr"}
        assert "reading from replica r" in listed.stderr
        summary = flask(_url(p), "calls", "summary", "--json")
        assert summary.returncode == 0 and "reading from replica r" in summary.stderr and "counts as of the last rollup" in summary.stderr
        exported = flask(_url(p), "export", "carriers")
        assert exported.returncode == 0 and "replica-era" in exported.stdout
        assert flask(_url(p), "realtime", "verify").stdout.strip() == "realtime: no drift"
        resolved = flask(_url(p), "e911", "resolve", "--trunk", "ACME/main", "--json")
        assert resolved.returncode == 0 and json.loads(resolved.stdout)["number"], resolved.stderr
        # Nothing remembered: DATABASE_REPLICA_URLS alone says where to read.
        os.environ.update({"TRUNKLINE_DB_SERVERS_FILE": str(servers_file) + ".none", "DATABASE_REPLICA_URLS": _url(rv)})
        listed = flask(_url(p), "db", "server", "list")
        assert listed.returncode == 0 and f"reading from replica {rv.host}:3306" in listed.stderr, listed.stderr
        os.environ.pop("DATABASE_REPLICA_URLS")
        nothing = flask(_url(p), "db", "server", "list")
        assert nothing.returncode == 1 and "no replica answered" in nothing.stderr and "Traceback" not in nothing.stderr
        os.environ["TRUNKLINE_DB_SERVERS_FILE"] = str(servers_file)
        added = flask(_url(p), "db", "server", "add", "x", "--host", "10.9.9.9", "--role", "replica", "--hosting-provider", "X")
        assert added.returncode == 1 and added.stderr.strip() == f"Error: {UNREACHABLE_MESSAGE}"
    finally:
        for key in (*env_file, "DATABASE_REPLICA_URLS"):
            os.environ.pop(key, None)

    # 2. Back: pages from the primary again, no banner; a write goes through.
    loopback.restart(p, replica=False)
    print(f"primary restarted: pages from it again after {_from_primary_again(reads, b, carrier_id)} s")
    assert b.post("/admin/carrier/new/", {**CARRIER_FORM, "name": "after-kill"}).status_code == 302
    loopback.wait_caught_up(r, p)

    # 3. Frozen: the watcher's fresh connection gives up after its 3 s connect timeout. A request that arrives while
    #    that probe is in flight waits for its verdict (not for a pooled connection's 30 s read timeout), and no page
    #    waits for anything after that.
    os.kill(p.pid, signal.SIGSTOP)
    started = time.monotonic()
    try:
        while reads._probe_started is None or time.monotonic() - reads._probe_started < 0.6:
            assert time.monotonic() - started < 10, "no probe of the frozen primary"
            time.sleep(0.05)
        first = time.monotonic()
        page = b.get("/admin/carrier/")
        first = time.monotonic() - first
        assert page.status_code == 200 and BANNER in page.text and reads.down
        print(f"frozen primary: noticed after {time.monotonic() - started:.1f} s; the request that waited for the probe took {first:.1f} s")
        assert first < 4
        took = _reads_from_replica(b, carrier_id)
        print(f"frozen primary: seconds per page from the replica {took}")
        assert max(took.values()) < 3
        _write_refused(b, r)
    finally:
        os.kill(p.pid, signal.SIGCONT)
    print(f"primary resumed: pages from it again after {_from_primary_again(reads, b, carrier_id)} s")
    assert _carrier_count(p, "while-down") == 0 and _carrier_count(p, "after-kill") == 1

    # 4. The primary killed again, then its replica at the admin's provider: the other replica serves the pages;
    #    then no server answers at all: a page says so in one sentence, a change gets the one message.
    loopback.stop(p, signal.SIGKILL)
    assert b.get("/admin/carrier/").headers["X-Trunkline-Database"].startswith("replica r (")
    loopback.stop(r, signal.SIGKILL)
    page = b.get("/admin/carrier/")
    assert page.status_code == 200 and page.headers["X-Trunkline-Database"].startswith("replica a-vultr (")
    assert "this page comes from replica a-vultr" in page.text and "after-kill" in page.text
    _write_refused(b, rv)
    loopback.stop(rv, signal.SIGKILL)
    page = b.get("/admin/carrier/")
    assert page.status_code == 503 and "no replica answered" in page.text and "Traceback" not in page.text
    page = b.post("/admin/carrier/new/", {**CARRIER_FORM, "name": "nothing-up"})
    assert page.status_code == 503 and UNREACHABLE_MESSAGE[1:] in page.text
