"""One valid write per write route of the admin, with what it must have changed (used by the role matrix)."""

from __future__ import annotations

import io
import re
from pathlib import Path

from sqlalchemy import func, select

from app.models import AuditEntry, Carrier, Client, DbServer, Node, PhoneNumber, PortOrder, Trunk, User
from app.services import carriers, clients, db_servers, nodes, numbers, porting, trunks
from app.services.audit import Actor

SETUP = Actor("test-setup", "cli")

CARRIER_FORM = {"name": "newtel", "tier": "1", "auth_mode": "ip", "signalling_addresses": "203.0.113.77", "port": "5060",
                "username": "", "password": "", "callerid_format": "e164", "e911_callerid_format": "e164", "dial_format": "e164",
                "provides_911": "y", "priority": "40", "max_channels": "0", "enabled": "y"}
NODE_FORM = {"name": "cl-new-1", "role": "client", "public_ip": "192.0.2.77", "sip_port": "5060", "hosting_provider": "Hetzner",
             "region": "Falkenstein", "dns_name": "new.trunk.example.net", "state": "active"}
# Suspended: an active client needs a node (CLIENT_FORM creates one before its node exists).
CLIENT_FORM = {"name": "Umbrella Corp", "account_code": "UMBRELLA", "status": "suspended", "max_channels": "5", "node": "",
               "e911_number": "", "main_number": ""}
TRUNK_FORM = {"client": "GLOBEX", "name": "fax", "auth_mode": "credentials", "source_addresses": "", "pbx_port": "5060",
              "username": "", "password": "", "e911_number": "", "codecs": "ulaw", "max_channels": "2", "did_format": "e164"}
NUMBER_FORM = {"number": "(204) 555-1299", "carrier": "telus", "client": "ACME", "trunk": "main", "e911_address": "",
               "port_status": "active", "port_target_carrier": ""}


def last_audit(db) -> AuditEntry:
    return db.scalar(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(1))


def audit_count(db) -> int:
    return db.scalar(select(func.count()).select_from(AuditEntry))


def _spare_carrier(db) -> Carrier:
    carrier, _ = carriers.save(db, {"name": "spare", "signalling_addresses": "203.0.113.99"}, SETUP)
    db.commit()
    return carrier


def _spare_node(db) -> Node:
    node, _ = nodes.save(db, {"name": "cl-spare", "role": "client", "public_ip": "192.0.2.99", "hosting_provider": "Vultr"}, SETUP)
    db.commit()
    return node


def _spare_client(db) -> Client:
    client, _ = clients.save(db, {"name": "Spare", "account_code": "SPARE", "status": "suspended"}, SETUP)
    db.commit()
    return client


def _spare_trunk(db) -> Trunk:
    trunk, _ = trunks.save(db, {"client": "INITECH", "name": "spare", "auth_mode": "ip", "source_addresses": "198.18.30.99"}, SETUP)
    db.commit()
    return trunk


def _spare_number(db) -> PhoneNumber:
    number, _ = numbers.save(db, {"number": "204-555-1298", "carrier": "telus"}, SETUP)
    db.commit()
    return number


def _port_order(db) -> PortOrder:
    order = porting.create(db, {"from_carrier": "telus", "to_carrier": "bell", "due_date": "2026-12-01",
                                "numbers": "204-555-1201\n204-555-1202"}, SETUP)
    db.commit()
    return order


# Each scenario: (prepare(db) -> dict of ids, request(browser, ids) -> response, check(db, ids, email)).
def _spare_db_server(db) -> DbServer:
    server, _ = db_servers.save(db, {"name": "db-spare", "host": "10.9.0.99", "port": "3306", "role": "replica",
                                     "hosting_provider": "Vultr"}, SETUP)
    db.commit()
    return server


DB_SERVER_FORM = {"name": "db-new-1", "host": "10.9.0.5", "port": "3306", "role": "replica", "hosting_provider": "OVHcloud",
                  "max_connections": "151"}


def _db_server_create():
    return (lambda db: {}, lambda b, i: b.post("/admin/db_server/new/", DB_SERVER_FORM),
            lambda db, i, who: db.scalar(select(DbServer).where(DbServer.name == "db-new-1")) is not None)


def _db_server_edit():
    def prep(db):
        return {"id": _spare_db_server(db).id}
    form = {**DB_SERVER_FORM, "name": "db-spare", "host": "10.9.0.99", "hosting_provider": "Vultr", "max_connections": "300"}
    return (prep, lambda b, i: b.post(f"/admin/db_server/edit/?id={i['id']}", form),
            lambda db, i, who: db.get(DbServer, i["id"]).max_connections == 300)


def _carrier_create():
    return (lambda db: {}, lambda b, i: b.post("/admin/carrier/new/", CARRIER_FORM),
            lambda db, i, who: db.scalar(select(Carrier).where(Carrier.name == "newtel")) is not None)


def _carrier_edit():
    def prep(db):
        return {"id": carriers.get(db, "bell").id}

    def req(b, i):
        form = {**CARRIER_FORM, "name": "bell", "signalling_addresses": "198.51.100.20 198.51.100.64/28", "priority": "25",
                "callerid_format": "nanp11", "e911_callerid_format": "nanp11", "dial_format": "nanp11"}
        return b.post(f"/admin/carrier/edit/?id={i['id']}", form)
    return prep, req, lambda db, i, who: db.get(Carrier, i["id"]).priority == 25


def _delete(model, spare, endpoint):
    return (lambda db: {"id": spare(db).id}, lambda b, i: b.post(f"/admin/{endpoint}/delete/", {"id": str(i["id"])}),
            lambda db, i, who: db.get(model, i["id"]) is None)


def _action(model, spare, endpoint):
    return (lambda db: {"id": spare(db).id},
            lambda b, i: b.post(f"/admin/{endpoint}/action/", {"action": "delete", "rowid": str(i["id"])}),
            lambda db, i, who: db.get(model, i["id"]) is None and last_audit(db).channel == "action")


def _carrier_reveal():
    def prep(db):
        return {"id": carriers.get(db, "thinq").id}

    def check(db, i, who):
        entry = last_audit(db)
        return entry.action == "reveal" and entry.actor == who
    return prep, lambda b, i: b.post("/admin/carrier/reveal/", {"id": str(i["id"])}), check


def _node_create():
    return (lambda db: {}, lambda b, i: b.post("/admin/node/new/", NODE_FORM),
            lambda db, i, who: db.scalar(select(Node).where(Node.name == "cl-new-1")) is not None)


def _node_edit():
    def prep(db):
        return {"id": nodes.get(db, "cn-vultr-tor1").id}
    form = {"name": "cn-vultr-tor1", "role": "carrier", "public_ip": "192.0.2.12", "sip_port": "5060", "hosting_provider": "Vultr",
            "region": "Toronto East", "dns_name": "cn2.trunk.example.net", "state": "active"}
    return prep, lambda b, i: b.post(f"/admin/node/edit/?id={i['id']}", form), lambda db, i, who: db.get(Node, i["id"]).region == "Toronto East"


def _client_create():
    return (lambda db: {}, lambda b, i: b.post("/admin/client/new/", CLIENT_FORM),
            lambda db, i, who: db.scalar(select(Client).where(Client.account_code == "UMBRELLA")) is not None)


def _client_edit():
    def prep(db):
        return {"id": clients.get(db, "INITECH").id}
    form = {"name": "Initech Software Inc", "account_code": "INITECH", "status": "active", "max_channels": "12", "node": "cl-ovh-bhs9",
            "e911_number": "6045553401", "main_number": "6045553401"}
    return prep, lambda b, i: b.post(f"/admin/client/edit/?id={i['id']}", form), lambda db, i, who: db.get(Client, i["id"]).max_channels == 12


def _client_replace_node():
    def prep(db):
        return {"id": clients.get(db, "GLOBEX").id}

    def check(db, i, who):
        client = db.get(Client, i["id"])
        return client.node.name == "cl-new-9" and client.node.dns_name == "globex.trunk.example.net"
    return (prep, lambda b, i: b.post(f"/admin/client/replace-node/?id={i['id']}", {"name": "cl-new-9", "public_ip": "192.0.2.79",
                                                                                     "hosting_provider": "Hetzner"}), check)


def _trunk_create():
    return (lambda db: {}, lambda b, i: b.post("/admin/trunk/new/", TRUNK_FORM),
            lambda db, i, who: db.scalar(select(Trunk).where(Trunk.name == "fax")) is not None)


def _trunk_edit():
    def prep(db):
        return {"id": trunks.get(db, "GLOBEX", "pbx").id}
    form = {"client": "GLOBEX", "name": "pbx", "auth_mode": "ip", "source_addresses": "198.18.20.2 198.18.20.0/29", "pbx_port": "5060",
            "username": "", "password": "", "e911_number": "", "codecs": "ulaw,g722", "max_channels": "0", "did_format": "nanp11"}
    return prep, lambda b, i: b.post(f"/admin/trunk/edit/?id={i['id']}", form), lambda db, i, who: db.get(Trunk, i["id"]).codecs == "ulaw,g722"


def _trunk_reveal():
    def prep(db):
        return {"id": trunks.get(db, "ACME", "branch").id}
    return (prep, lambda b, i: b.post("/admin/trunk/reveal/", {"id": str(i["id"])}),
            lambda db, i, who: last_audit(db).action == "reveal" and last_audit(db).actor == who)


def _trunk_delete_release():
    def prep(db):
        trunk = _spare_trunk(db)
        numbers.save(db, {"client": "INITECH", "trunk": "spare"}, SETUP, numbers.get(db, "6045553401"))
        db.commit()
        return {"id": trunk.id}

    def check(db, i, who):
        return db.get(Trunk, i["id"]) is None and numbers.get(db, "6045553401").trunk_id is None
    return prep, lambda b, i: b.post("/admin/trunk/delete-release/", {"id": str(i["id"])}), check


def _number_create():
    return (lambda db: {}, lambda b, i: b.post("/admin/number/new/", NUMBER_FORM),
            lambda db, i, who: db.scalar(select(PhoneNumber).where(PhoneNumber.e164 == "+12045551299")) is not None)


def _number_edit():
    def prep(db):
        return {"id": numbers.get(db, "6045553403").id}
    form = {"number": "6045553403", "carrier": "thinq", "client": "INITECH", "trunk": "hq", "e911_address": "", "port_status": "active",
            "port_target_carrier": ""}
    return (prep, lambda b, i: b.post(f"/admin/number/edit/?id={i['id']}", form),
            lambda db, i, who: db.get(PhoneNumber, i["id"]).trunk is not None)


def _port_create():
    form = {"from_carrier": "thinq", "to_carrier": "telus", "due_date": "2026-12-15", "numbers": "604-555-3403", "note": ""}
    return (lambda db: {}, lambda b, i: b.post("/admin/port_order/new/", form),
            lambda db, i, who: db.scalar(select(func.count()).select_from(PortOrder)) == 1)


def _port_complete():
    return (lambda db: {"id": _port_order(db).id}, lambda b, i: b.post("/admin/port_order/complete/", {"id": str(i["id"])}),
            lambda db, i, who: db.get(PortOrder, i["id"]).status == "completed" and numbers.get(db, "2045551201").carrier.name == "bell")


def _port_cancel():
    return (lambda db: {"id": _port_order(db).id}, lambda b, i: b.post("/admin/port_order/cancel/", {"id": str(i["id"])}),
            lambda db, i, who: db.get(PortOrder, i["id"]).status == "cancelled")


def _user_create():
    form = {"email": "new@example.test", "role": "viewer", "active": "y", "password": "a-long-enough-password"}
    return (lambda db: {}, lambda b, i: b.post("/admin/user/new/", form),
            lambda db, i, who: db.scalar(select(User).where(User.email == "new@example.test")) is not None)


def _user_edit():
    def prep(db):
        return {"id": db.scalar(select(User).where(User.email == "viewer@example.test")).id}
    form = {"email": "viewer@example.test", "role": "operator", "active": "y", "password": ""}
    return prep, lambda b, i: b.post(f"/admin/user/edit/?id={i['id']}", form), lambda db, i, who: db.get(User, i["id"]).role == "operator"


CSV_NUMBERS = b"number,carrier,port_status\n(204) 555-1296,telus,active\n204.555.1295,bell,active\n"
_PREVIEW_TOKEN = re.compile(r'name="token" value="([0-9a-f]{32})"')


def csv_upload(b, kind: str = "numbers", content: bytes = CSV_NUMBERS, filename: str = "numbers.csv", **kw):
    """POST a file to the import preview (and follow to its job page)."""
    kw.setdefault("follow_redirects", True)
    return b.post("/admin/csv/preview/", {"kind": kind, "file": (io.BytesIO(content), filename)}, **kw)


def preview_token(html: str) -> str | None:
    match = _PREVIEW_TOKEN.search(html)
    return match.group(1) if match else None


def _csv_import():
    """Upload + preview, then confirm the previewed file (the preview alone writes nothing: see test_csv_page.py)."""
    def req(b, i):
        response = csv_upload(b)
        token = preview_token(response.text) if response.status_code == 200 else None
        if token is None:
            return response
        return b.post("/admin/csv/confirm/", {"token": token}, follow_redirects=True)

    def check(db, i, who):
        entry = last_audit(db)
        return (db.scalar(select(func.count()).select_from(PhoneNumber).where(PhoneNumber.e164.in_(["+12045551296", "+12045551295"]))) == 2
                and entry.channel == "csv" and entry.action == "import" and entry.actor == who)
    return lambda db: {}, req, check


def _csv_discard():
    """Upload + preview, then discard: the stored file and its status are gone (no audit entry: nothing was written)."""
    def req(b, i):
        response = csv_upload(b)
        token = preview_token(response.text) if response.status_code == 200 else None
        if token is None:
            return response
        i["folder"], i["token"] = Path(b.client.application.config["IMPORT_UPLOAD_DIR"]), token
        return b.post("/admin/csv/discard/", {"token": token}, follow_redirects=True)

    def check(db, i, who):
        return "token" in i and not list(i["folder"].glob(f"{i['token']}*"))
    return lambda db: {}, req, check


WRITE_SCENARIOS = {
    "carrier.create_view": _carrier_create(),
    "carrier.edit_view": _carrier_edit(),
    "carrier.delete_view": _delete(Carrier, _spare_carrier, "carrier"),
    "carrier.action_view": _action(Carrier, _spare_carrier, "carrier"),
    "carrier.reveal_view": _carrier_reveal(),
    "db_server.create_view": _db_server_create(),
    "db_server.edit_view": _db_server_edit(),
    "db_server.delete_view": _delete(DbServer, _spare_db_server, "db_server"),
    "db_server.action_view": _action(DbServer, _spare_db_server, "db_server"),
    "node.create_view": _node_create(),
    "node.edit_view": _node_edit(),
    "node.delete_view": _delete(Node, _spare_node, "node"),
    "node.action_view": _action(Node, _spare_node, "node"),
    "client.create_view": _client_create(),
    "client.edit_view": _client_edit(),
    "client.delete_view": _delete(Client, _spare_client, "client"),
    "client.action_view": _action(Client, _spare_client, "client"),
    "client.replace_node_view": _client_replace_node(),
    "trunk.create_view": _trunk_create(),
    "trunk.edit_view": _trunk_edit(),
    "trunk.delete_view": _delete(Trunk, _spare_trunk, "trunk"),
    "trunk.action_view": _action(Trunk, _spare_trunk, "trunk"),
    "trunk.reveal_view": _trunk_reveal(),
    "trunk.delete_release_view": _trunk_delete_release(),
    "number.create_view": _number_create(),
    "number.edit_view": _number_edit(),
    "number.delete_view": _delete(PhoneNumber, _spare_number, "number"),
    "number.action_view": _action(PhoneNumber, _spare_number, "number"),
    "port_order.create_view": _port_create(),
    "port_order.complete_view": _port_complete(),
    "port_order.cancel_view": _port_cancel(),
    "csv.preview_view": _csv_import(),
    "csv.confirm_view": _csv_import(),
    "csv.discard_view": _csv_discard(),
    "user.create_view": _user_create(),
    "user.edit_view": _user_edit(),
}
ADMIN_ONLY = {"user.create_view", "user.edit_view"}
NO_AUDIT = {"csv.discard_view"}  # writes that change no data, so they leave no audit entry
# POST routes that exist (Flask-Admin adds them to every view) but change nothing for anyone.
DISABLED = {"audit.create_view", "audit.edit_view", "audit.delete_view", "audit.action_view", "port_order.edit_view",
            "port_order.delete_view", "port_order.action_view", "user.delete_view", "user.action_view",
            "e911_call.create_view", "e911_call.edit_view", "e911_call.delete_view", "e911_call.action_view"} | {
    f"{v}.ajax_update" for v in ("audit", "carrier", "node", "client", "trunk", "number", "port_order", "user", "e911_call",
                                 "db_server")}
DISABLED_URLS = {"audit.create_view": "/admin/audit/new/", "audit.edit_view": "/admin/audit/edit/?id=1",
                 "audit.delete_view": "/admin/audit/delete/", "audit.action_view": "/admin/audit/action/",
                 "port_order.edit_view": "/admin/port_order/edit/?id=1", "port_order.delete_view": "/admin/port_order/delete/",
                 "port_order.action_view": "/admin/port_order/action/", "user.delete_view": "/admin/user/delete/",
                 "user.action_view": "/admin/user/action/", "e911_call.create_view": "/admin/e911_call/new/",
                 "e911_call.edit_view": "/admin/e911_call/edit/?id=1", "e911_call.delete_view": "/admin/e911_call/delete/",
                 "e911_call.action_view": "/admin/e911_call/action/"}
