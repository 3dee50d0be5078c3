"""Live state read from the real nodes over AMI (app.node_state), shown by the admin web bound to the e2e database.

A PBX registers on the credentials trunk `branch`; its trunk page (rendered by the Flask test client) says it is
registered, from where, until when, with which user agent: read from the client node, not from ps_contacts
(which stays empty: the node keeps contacts in its own astdb). Then the client node is stopped: the dashboard,
its page and the trunk page say it is unreachable (never "not registered") within the cache time."""

from __future__ import annotations

import html
import re
import time

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session as OrmSession

from app import create_app, node_state
from app.db import Session
from app.models import Carrier, Node, User
from app.services import trunks, users
from tests.e2e import data
from tests.e2e.harness import UAC_PORT
from tests.web.conftest import Browser

pytestmark = pytest.mark.asterisk
PBX_AGENT = "FPBX-16.0.40.7(20.9.3)"  # what a FreePBX 16 on Asterisk 20 sends
EMAIL, PASSWORD = "noc@example.test", "correct-horse-battery-staple"


def words(response) -> str:
    assert response.status_code == 200, response.status_code
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.text)))


@pytest.fixture
def admin_web(platform):
    """The admin web app on the e2e database, with the nodes' AMI secret, and a signed-in viewer."""
    with OrmSession(platform.engine) as session:
        if session.scalar(select(User).where(User.email == EMAIL)) is None:  # one per platform (each has its database)
            users.create(session, EMAIL, "viewer", PASSWORD, data.ACTOR)
            session.commit()
    app = create_app({"TESTING": True, "DATABASE_URL": platform.db_url, "SECRET_KEY": "e2e", "AMI_SECRET": platform.ami_secret,
                      "AMI_PORT": 5038})
    node_state.clear_cache()
    browser = Browser(app.test_client())
    try:
        assert browser.sign_in(EMAIL, PASSWORD).status_code == 302
        yield browser
    finally:
        node_state.clear_cache()
        Session.remove()
        Session.configure(bind=None, join_transaction_mode="conditional_savepoint")
        app.extensions["trunkline_engine"].dispose()


def test_registered_pbx_shows_as_registered_on_its_trunk_page_read_from_the_node(platform, admin_web):
    good = platform.register(data.PBX["branch"], "cl1", data.BRANCH_USER, data.BRANCH_PASSWORD, (200,), user_agent=PBX_AGENT)
    assert good.final == 200, platform.diagnostics()
    assert platform.query("SELECT COUNT(*) FROM ps_contacts")[0][0] == 0  # the node keeps its contacts to itself
    with OrmSession(platform.engine) as session:
        branch_id = trunks.get(session, "ACME", "branch").id
        main_id = trunks.get(session, "ACME", "main").id
        cl1_id = session.scalar(select(Node.id).where(Node.name == "cl1"))
        cn1_id = session.scalar(select(Node.id).where(Node.name == "cn1"))
        alpha_id = session.scalar(select(Carrier.id).where(Carrier.name == "alpha"))
    node_state.clear_cache()
    started = time.monotonic()
    page = words(admin_web.get(f"/admin/trunk/details/?id={branch_id}"))
    print(f"trunk page with a live answer from cl1 (first view of that page): {(time.monotonic() - started) * 1000:.0f} ms")
    node_state.clear_cache()
    started = time.monotonic()
    admin_web.get(f"/admin/trunk/details/?id={branch_id}")
    print(f"trunk page with a live answer from cl1 (again, cache emptied): {(time.monotonic() - started) * 1000:.0f} ms")
    section = page[page.index("Registration state"):page.index("Numbers (")]
    assert re.search(rf"registered from {re.escape(data.PBX['branch'])}:{UAC_PORT}, expires in [45] min, "
                     rf"user agent {re.escape(PBX_AGENT)}", section), section
    assert f"(contact sip:{data.BRANCH_USER}@{data.PBX['branch']}:{UAC_PORT})" in section
    assert "Not registered" not in section and "ps_contacts" not in page
    # An IP trunk: its static contact, qualified by the node, with the round-trip time.
    section = words(admin_web.get(f"/admin/trunk/details/?id={main_id}"))
    assert re.search(rf"static contact sip:{re.escape(data.PBX['main'])}:5060, reachable \(round trip [\d.]+ ms\)", section), section
    # The client node's page: up, Asterisk 22, the trunk registered; the carrier node's: each carrier reachable.
    page = words(admin_web.get(f"/admin/node/details/?id={cl1_id}"))
    assert re.search(r"Live state up \d+ (s|min), Asterisk 22\.\d+\.\d+\S*, \d+ active calls?", page), page
    assert re.search(rf"trunk ACME/branch registered from {re.escape(data.PBX['branch'])}:{UAC_PORT}", page), page
    assert re.search(rf"carrier node cn1 static contact sip:{re.escape(data.CARRIER_NODE['public_ip'])}:5060, reachable", page), page
    page = words(admin_web.get(f"/admin/node/details/?id={cn1_id}"))
    for carrier in data.CARRIERS:
        assert re.search(rf"carrier {carrier['name']} static contact sip:{re.escape(carrier['signalling_addresses'])}:5060, "
                         r"reachable \(round trip [\d.]+ ms\)", page), page
    page = words(admin_web.get(f"/admin/carrier/details/?id={alpha_id}"))
    assert re.search(r"Live state on the carrier nodes cn1 static contact sip:\S+:5060, reachable \(round trip [\d.]+ ms\) "
                     r"\d+ active calls? through alpha on this node", page), page
    dashboard = words(admin_web.get("/admin/"))
    assert re.search(r"cl1 client up \d+ (s|min), Asterisk 22", dashboard) and re.search(r"cn1 carrier up \d+ (s|min), Asterisk 22",
                                                                                         dashboard), dashboard


def test_a_stopped_node_shows_as_unreachable_within_the_cache_time(platform, admin_web):
    with OrmSession(platform.engine) as session:
        branch_id = trunks.get(session, "ACME", "branch").id
        cl1_id = session.scalar(select(Node.id).where(Node.name == "cl1"))
    assert "cl1 client up" in words(admin_web.get("/admin/"))  # answered, and now cached
    node = platform.nodes["cl1"]
    node.stop()
    stopped = time.monotonic()
    try:
        while True:
            dashboard = words(admin_web.get("/admin/"))
            if "cl1 client unreachable" in dashboard:
                break
            assert "cl1 client up" in dashboard, dashboard  # the cached answer, until it expires
            assert time.monotonic() - stopped < node_state.TTL + 1, dashboard
            time.sleep(0.2)
        seen = time.monotonic() - stopped
        print(f"stopped node shown as unreachable on the dashboard {seen:.1f} s after it stopped (cache time {node_state.TTL:g} s)")
        assert seen <= node_state.TTL + 0.5
        assert re.search(r"cl1 client unreachable: nothing listens on \S+:5038 \(connection refused\): Asterisk is stopped or its "
                         r"manager interface is off; last seen \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC \(\d+ s ago\)", dashboard), dashboard
        assert "cn1 carrier up" in dashboard
        page = words(admin_web.get(f"/admin/node/details/?id={cl1_id}"))
        assert "Live state Unreachable: nothing listens on" in page and "last seen" in page
        page = words(admin_web.get(f"/admin/trunk/details/?id={branch_id}"))
        section = page[page.index("Registration state"):page.index("Numbers (")]
        assert "Unknown: node cl1" in section and "is unreachable, so this page cannot tell whether the trunk is registered" in section
        assert "not registered" not in section.lower()
    finally:
        node.start()
        node.wait_booted()
        platform.requalify()
