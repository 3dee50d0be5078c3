"""Live state from the nodes (app.node_state) on the dashboard, node list, node, carrier and trunk pages, with
nodes that cannot be reached: real sockets on loopback (a closed port refuses; a full accept queue drops the SYN,
like a firewall that blackholes the admin). A node that cannot be asked is shown as unreachable, never as
"not registered". The answers of a real Asterisk node are tested in tests/e2e/test_live_state.py."""

from __future__ import annotations

import html
import re
import socket
import time
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from app import node_state
from app.db import utc_now
from app.models import Carrier, Node, NodeLastSeen
from app.services import trunks


def text_of(page) -> str:
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page.text)))


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def unreachable_nodes(app, web):
    """Every demo node on its own loopback address with nothing listening on the AMI port."""
    port = closed_port()
    app.config.update(AMI_SECRET="s3cret", AMI_PORT=port)
    for i, node in enumerate(web.scalars(select(Node).order_by(Node.id)), start=1):
        web.execute(update(Node).where(Node.id == node.id).values(public_ip=f"127.0.0.{100 + i}"))
    web.commit()
    node_state.clear_cache()
    yield port
    node_state.clear_cache()


def test_unreachable_nodes_are_red_on_the_dashboard_with_last_seen(as_role, web, unreachable_nodes):
    node = web.scalar(select(Node).where(Node.name == "cl-ovh-bhs7"))
    seen = (utc_now() - timedelta(minutes=7)).replace(microsecond=0)
    web.add(NodeLastSeen(node_id=node.id, seen_at=seen, checked_at=seen))
    web.commit()
    page = as_role("viewer").get("/admin/")
    panel = re.search(r'<table class="table table-sm" id="tl-nodes-live">.*?</table>', page.text, re.S).group(0)
    words = html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", panel)))
    for name in ("cn-ovh-bhs1", "cn-vultr-tor1", "cl-ovh-bhs7", "cl-vultr-tor3", "cl-ovh-bhs9"):
        assert re.search(rf"{name} \w+ unreachable: nothing listens on 127\.0\.0\.\d+:{unreachable_nodes} \(connection refused\)",
                         words), words
    assert words.count("tl-bad") == 0 and panel.count('class="tl-bad"') >= 10  # row and link of each node in red
    assert "cl-ovh-bhs7 client unreachable" in words
    assert f"last seen {seen:%Y-%m-%d %H:%M:%S} UTC (7 min ago)" in words
    assert words.count("never seen") == 4
    # The failure is kept: a restarted admin still knows when each node was last seen and why it failed since.
    row = web.get(NodeLastSeen, node.id)
    web.refresh(row)
    assert row.seen_at == seen and "connection refused" in row.error


def test_trunk_page_of_an_unreachable_node_says_unknown_never_not_registered(as_role, web, unreachable_nodes):
    trunk = trunks.get(web, "ACME", "branch")  # a credentials trunk: the page would say whether it is registered
    trunk_id, node_name = trunk.id, trunk.client.node.name
    page = text_of(as_role("viewer").get(f"/admin/trunk/details/?id={trunk_id}"))
    section = page[page.index("Registration state"):page.index("Numbers (")]
    assert f"Unknown: node {node_name} (127.0.0.1" in section
    assert "is unreachable, so this page cannot tell whether the trunk is registered" in section
    assert "not registered" not in section.lower()
    assert "ps_contacts" not in page


def test_ip_trunk_page_of_an_unreachable_node_speaks_of_reachability_not_registration(as_role, web, unreachable_nodes):
    trunk = trunks.get(web, "ACME", "main")  # authenticated by source address: its PBX never registers
    page = text_of(as_role("viewer").get(f"/admin/trunk/details/?id={trunk.id}"))
    section = page[page.index("Registration state"):page.index("Numbers (")]
    assert "an IP trunk's PBX does not register" in section
    assert "cannot tell whether the trunk's PBX is reachable" in section and "is registered" not in section


def test_node_list_node_page_and_carrier_page_say_unreachable(as_role, web, unreachable_nodes):
    b = as_role("viewer")
    listing = b.get("/admin/node/")
    assert listing.text.count('<span class="tl-bad">unreachable: nothing listens on') == 5
    node = web.scalar(select(Node).where(Node.name == "cn-ovh-bhs1"))
    page = text_of(b.get(f"/admin/node/details/?id={node.id}"))
    assert "Live state Unreachable: nothing listens on" in page and "never seen" in page
    carrier = web.scalar(select(Carrier).where(Carrier.name == "telus"))
    page = text_of(b.get(f"/admin/carrier/details/?id={carrier.id}"))
    assert "Live state on the carrier nodes cn-ovh-bhs1 Unknown: node unreachable" in page
    assert "cn-vultr-tor1 Unknown: node unreachable" in page


def test_without_an_ami_secret_nothing_is_asked_and_the_page_says_so(as_role, web):
    node_state.clear_cache()
    trunk = trunks.get(web, "ACME", "branch")
    page = text_of(as_role("viewer").get(f"/admin/trunk/details/?id={trunk.id}"))
    assert "is not asked: live state is off: no AMI secret (TRUNKLINE_AMI_SECRET)" in page
    assert web.scalar(select(NodeLastSeen).limit(1)) is None


def test_a_blackholed_node_costs_a_page_the_short_wait_once_then_nothing(app, web, as_role):
    """A listener whose accept queue is full: the kernel drops the SYNs, as a firewall dropping the admin would."""
    hole = socket.socket()
    hole.bind(("127.0.0.1", 0))
    hole.listen(0)
    port = hole.getsockname()[1]
    fillers = []
    for _ in range(3):  # fill the accept queue (never accepted)
        f = socket.socket()
        f.setblocking(False)
        f.connect_ex(("127.0.0.1", port))
        fillers.append(f)
    time.sleep(0.1)
    try:
        app.config.update(AMI_SECRET="s3cret", AMI_PORT=port)
        web.execute(update(Node).values(state="retired"))
        web.execute(update(Node).where(Node.name == "cn-ovh-bhs1").values(state="active", public_ip="127.0.0.1"))
        web.commit()
        b = as_role("viewer")  # signing in shows the dashboard once: forget what it asked
        node_state.clear_cache()
        started = time.monotonic()
        first = text_of(b.get("/admin/"))
        panel = first[first.index(" Nodes cn-"):first.index(" Counts ")]
        assert "cn-ovh-bhs1 carrier not answering: no answer within 0.25 s" in panel, panel
        assert time.monotonic() - started < node_state.CONNECT_TIMEOUT  # the page did not wait for the timeout
        time.sleep(node_state.CONNECT_TIMEOUT + 0.3)  # the background question times out: unreachable, remembered
        second = text_of(b.get("/admin/"))
        assert "cn-ovh-bhs1 carrier unreachable: no answer from 127.0.0.1" in second
        # Another worker, or this one after a restart: nothing in memory, but node_last_seen says the node was found
        # unreachable a moment ago, so no page waits for it again (it is asked again in the background).
        node_state.clear_cache()
        third = text_of(b.get("/admin/"))
        panel = third[third.index(" Nodes cn-"):third.index(" Counts ")]
        assert "cn-ovh-bhs1 carrier unreachable: no answer from 127.0.0.1" in panel and "ago; asking again)" in panel, panel
        listed = text_of(b.get("/admin/node/"))
        assert "ago; asking again)" in listed or "no answer from 127.0.0.1" in listed, listed
    finally:
        for f in fillers:
            f.close()
        hole.close()
        node_state.clear_cache()


def test_changes_a_node_has_not_acknowledged_are_red_on_the_node_page_and_the_dashboard(as_role, web, backend):
    """node_push_pending rows (written with each change, app.node_push) in words: how many, since when, the failure."""
    from app.models import NodePushPending

    node = web.scalar(select(Node).where(Node.name == "cl-ovh-bhs7"))
    page = as_role("viewer").get(f"/admin/node/details/?id={node.id}")
    cell = re.search(r'<td id="tl-node-push-pending">(.*?)</td>', page.text, re.S).group(1)
    if backend == "sqlite":
        assert "not tracked" in cell  # no node reads a SQLite database
        return
    assert "every change has reached it" in cell and "tl-ok" in cell
    since = (utc_now() - timedelta(minutes=3)).replace(microsecond=0)
    for i in range(2):
        web.add(NodePushPending(node_id=node.id, batch=f"b{i}", objects='{"endpoint":["trunk-ACME-main"]}',
                                created_at=since + timedelta(seconds=i), attempts=3 - i, last_attempt_at=since + timedelta(minutes=1),
                                last_error="timed out"))
    web.commit()
    page = as_role("viewer").get(f"/admin/node/details/?id={node.id}")
    cell = re.search(r'<td id="tl-node-push-pending">(.*?)</td>', page.text, re.S).group(1)
    words = html.unescape(re.sub(r"<[^>]+>", "", cell))
    assert 'class="tl-bad"' in cell
    assert f"2 changes not yet on this node since {since:%Y-%m-%d %H:%M} UTC (3 failed attempts, last: timed out)" in words
    assert "node push-retry cl-ovh-bhs7" in words
    dash = as_role("viewer").get("/admin/")
    panel = re.search(r'<table class="table table-sm" id="tl-nodes-live">.*?</table>', dash.text, re.S).group(0)
    row = re.search(r"<tr[^>]*>(?:(?!</tr>).)*cl-ovh-bhs7(?:(?!</tr>).)*</tr>", panel, re.S).group(0)
    assert 'class="tl-bad"' in row and "tl-push-pending" in row
    assert f"2 changes not yet on this node since {since:%Y-%m-%d %H:%M} UTC" in html.unescape(row)
    other = re.search(r"<tr[^>]*>(?:(?!</tr>).)*cl-vultr-tor3(?:(?!</tr>).)*</tr>", panel, re.S).group(0)
    assert "not yet on this node" not in other
