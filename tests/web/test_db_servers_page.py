"""Database servers in the admin (list, form, audit, the pools column) and the admin while the primary is down:
one clear message, nothing saved, no traceback."""

from __future__ import annotations

import re
from contextlib import contextmanager

from sqlalchemy import func, select

from app.db import Session, make_engine
from app.dbdown import UNREACHABLE_MESSAGE
from app.models import Carrier, DbServer
from tests.web.scenarios import CARRIER_FORM, last_audit

SERVER_FORM = {"name": "db-ovh-r1", "host": "10.0.0.11", "port": "3306", "role": "replica", "hosting_provider": "OVHcloud",
               "max_connections": "151"}


def test_operator_adds_a_replica_and_the_list_shows_the_pools(as_role, web):
    b = as_role("operator")
    page = b.post("/admin/db_server/new/", {**SERVER_FORM, "name": "db-primary", "host": "10.0.0.10", "role": "primary"})
    assert page.status_code == 302, page.text
    assert b.post("/admin/db_server/new/", SERVER_FORM).status_code == 302
    entry = last_audit(web)
    assert (entry.action, entry.entity, entry.entity_key, entry.channel) == ("create", "db_server", "db-ovh-r1", "form")
    listing = b.get("/admin/db_server/").text
    assert "db-ovh-r1" in listing and "10.0.0.11" in listing
    # The demo's 5 live nodes: the OVHcloud ones read db-ovh-r1 first; every node may fall back on each server.
    assert "normally" in listing and "at worst (5 nodes)" in listing
    again = b.refused("/admin/db_server/new/", {**SERVER_FORM, "name": "db-second", "host": "10.0.0.12", "role": "primary"})
    assert again.status_code == 200 and "db-primary is already the primary" in again.text
    server = web.scalar(select(DbServer).where(DbServer.name == "db-ovh-r1"))
    edit = b.refused(f"/admin/db_server/edit/?id={server.id}", {**SERVER_FORM, "role": "primary"})
    assert "roles change only by promoting a replica" in edit.text
    page = b.get(f"/admin/db_server/edit/?id={server.id}").text
    assert re.search(r'<select[^>]*disabled[^>]*name="role"|<select[^>]*name="role"[^>]*disabled', page), "the role is not offered"
    without_role = {k: v for k, v in SERVER_FORM.items() if k != "role"}  # what a browser posts: disabled fields are not
    moved = b.post(f"/admin/db_server/edit/?id={server.id}", {**without_role, "host": "10.0.0.21"}, follow_redirects=True)
    assert "Next: flask --app wsgi db push-nodes" in moved.text and "still read db-ovh-r1 at 10.0.0.11:3306" in moved.text
    web.refresh(server)
    assert (server.host, server.role) == ("10.0.0.21", "replica")


def test_viewer_cannot_add_a_server(as_role, web):
    page = as_role("viewer").post("/admin/db_server/new/", SERVER_FORM)
    assert page.status_code in (302, 403)
    assert web.scalar(select(func.count()).select_from(DbServer)) == 0


@contextmanager
def primary_down():
    """The admin's session bound to a MariaDB address nothing answers on (a real connection failure)."""
    bind = Session().get_bind()
    dead = make_engine("mysql+mysqldb://root@127.0.0.1:1/trunkline")
    Session.remove()
    Session.configure(bind=dead)
    try:
        yield
    finally:
        Session.remove()
        Session.configure(bind=bind, join_transaction_mode="create_savepoint")
        dead.dispose()


def test_a_write_while_the_primary_is_down_is_refused_with_one_message(as_role, web):
    b = as_role("operator")
    b.refresh_token()
    with primary_down():
        page = b.post("/admin/carrier/new/", CARRIER_FORM)
        read = b.get("/admin/carrier/")
    assert page.status_code == 503
    assert UNREACHABLE_MESSAGE[1:] in page.text and "Traceback" not in page.text
    assert read.status_code == 503 and "cannot be shown until it is back" in read.text
    assert Session().scalar(select(Carrier).where(Carrier.name == "newtel")) is None
    assert b.post("/admin/carrier/new/", CARRIER_FORM).status_code == 302  # back up: the same form goes through


def test_node_page_shows_the_local_911_copy_and_the_read_order(as_role, web):
    from app.db import utc_now
    from app.models import Node
    from app.nodeconf import local_copy, record_local_copy
    from app.services import db_servers
    from app.services.audit import SYSTEM

    node = web.scalar(select(Node).where(Node.name == "cl-ovh-bhs7"))
    b = as_role("viewer")
    page = b.get(f"/admin/node/details/?id={node.id}").text
    assert "none: render this node" in page and "DATABASE_URL's server only" in page
    db_servers.save(web, {"name": "db-primary", "host": "10.0.0.10", "role": "primary", "hosting_provider": "Vultr"}, SYSTEM)
    db_servers.save(web, {"name": "db-ovh-r1", "host": "10.0.0.11", "role": "replica", "hosting_provider": "OVHcloud"}, SYSTEM)
    record_local_copy(web, node, local_copy(web, node), utc_now())
    web.commit()
    page = b.get(f"/admin/node/details/?id={node.id}").text
    assert "db-ovh-r1 (replica), db-primary (primary), in this order" in page
    assert ": current" in page and "out of date" not in page
