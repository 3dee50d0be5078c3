"""What a sysadmin sees and does: field-level errors, secrets, refusals, E911 preview, client page, dashboard, porting."""

from __future__ import annotations

import html as html_module
import json
import re
from datetime import datetime, timedelta

from sqlalchemy import func, insert, select, update

from app import calls
from app.models import AuditEntry, Carrier, Client, Node, NodeAccount, PhoneNumber, PortOrder, Trunk
from app.models.realtime import REALTIME_TABLES
from app.projection.names import RT_E911
from app.services import carriers, clients, nodes, numbers, trunks
from app.services.audit import SYSTEM
from tests.web.scenarios import CARRIER_FORM, NUMBER_FORM, TRUNK_FORM, audit_count, last_audit


def field_errors(html: str, field: str) -> str:
    """The text of the form group of one field (its input and its error messages)."""
    match = re.search(rf'<div class="form-group[^"]*">(?:(?!<div class="form-group).)*?name="{field}".*?(?=<div class="form-group|<hr)', html, re.S)
    assert match, f"no field {field} in the page"
    return html_module.unescape(re.sub(r"\s+", " ", match.group(0)))


def test_invalid_carrier_shows_plain_errors_at_each_field(as_role, web):
    b = as_role("operator")
    before = audit_count(web)
    page = b.refused("/admin/carrier/new/", {**CARRIER_FORM, "name": "New Tel!", "signalling_addresses": "203.0.113.7/24", "port": "99999"})
    assert page.status_code == 200
    assert "is not allowed: use 1-32 lowercase letters" in field_errors(page.text, "name")
    assert "has host bits set: did you mean 203.0.113.0/24?" in field_errors(page.text, "signalling_addresses")
    assert "99999 is out of range (1 to 65535)" in field_errors(page.text, "port")
    assert "Nothing was saved" in page.text
    assert audit_count(web) == before
    page = b.post("/admin/carrier/new/", CARRIER_FORM)
    assert page.status_code == 302
    entry = last_audit(web)
    assert (entry.action, entry.entity, entry.entity_key, entry.channel, entry.actor) == ("create", "carrier", "newtel", "form",
                                                                                         "operator@example.test")
    assert json.loads(entry.after)["signalling_addresses"] == "203.0.113.77"


def test_number_errors_say_why(as_role, web):
    b = as_role("operator")
    page = b.refused("/admin/number/new/", {**NUMBER_FORM, "number": "204-411-1234"})
    assert "N11 code" in field_errors(page.text, "number")
    page = b.refused("/admin/number/new/", {**NUMBER_FORM, "number": "44 20 7946 0000"})
    assert "NANP" in field_errors(page.text, "number") or "digits" in field_errors(page.text, "number")
    page = b.refused("/admin/number/new/", {**NUMBER_FORM, "number": "416 555 2301"})
    assert "already exists (client GLOBEX)" in field_errors(page.text, "number")
    page = b.refused("/admin/number/new/", {**NUMBER_FORM, "trunk": "pbx"})
    assert "client ACME has no trunk named 'pbx'" in field_errors(page.text, "trunk")
    page = b.refused("/admin/number/new/", {**NUMBER_FORM, "e911_registered": "y", "carrier": "telus", "e911_address": ""})
    assert "the service address registered for 911 is required" in field_errors(page.text, "e911_address")
    assert web.scalar(select(func.count()).select_from(PhoneNumber).where(PhoneNumber.e164 == "+12045551299")) == 0


def test_credentials_trunk_password_is_shown_once_then_only_by_audited_reveal(as_role, web, accounts):
    b = as_role("operator")
    posted = b.post("/admin/trunk/new/", TRUNK_FORM)
    assert posted.status_code == 303 and posted.headers["Location"] == "/admin/shown-once/"  # redirect after POST
    page = b.get("/admin/shown-once/")
    trunk = trunks.get(web, "GLOBEX", "fax")
    assert "shown only now" in page.text and "PBX" in page.text
    assert trunk.password in page.text and len(trunk.password) >= 16
    # A refresh shows the page again without the password (and creates nothing twice).
    again = b.get("/admin/shown-once/")
    assert again.status_code == 200 and trunk.password not in again.text and "no longer shown" in again.text
    assert "Show the SIP password" in again.text
    assert trunk.password not in json.dumps([e.after for e in web.scalars(select(AuditEntry))])
    details = b.get(f"/admin/trunk/details/?id={trunk.id}").text
    assert trunk.password not in details
    assert trunk.password not in b.get(f"/admin/trunk/edit/?id={trunk.id}").text
    assert trunk.password not in b.get("/admin/trunk/export/csv/").text
    assert trunk.password not in b.get("/admin/trunk/").text
    posted = b.post("/admin/trunk/reveal/", {"id": str(trunk.id)})
    assert posted.status_code == 303
    revealed = b.get(posted.headers["Location"])
    assert trunk.password in revealed.text
    entry = last_audit(web)
    assert (entry.action, entry.entity, entry.entity_key, entry.actor) == ("reveal", "trunk", "GLOBEX/fax", accounts["operator"])
    reveals = audit_count(web)
    assert trunk.password not in b.get(posted.headers["Location"]).text  # a refresh neither shows it again nor re-audits
    assert audit_count(web) == reveals


def test_switching_a_trunk_to_credentials_shows_the_generated_password_once(as_role, web):
    trunk = trunks.get(web, "INITECH", "hq")
    form = {**TRUNK_FORM, "client": "INITECH", "name": "hq", "source_addresses": "198.18.30.7"}
    b = as_role("operator")
    posted = b.post(f"/admin/trunk/edit/?id={trunk.id}", form)
    assert posted.status_code == 303
    page = b.get(posted.headers["Location"])
    web.expire_all()
    trunk = trunks.get(web, "INITECH", "hq")
    assert trunk.auth_mode == "credentials" and len(trunk.password) >= 16
    assert page.status_code == 200 and "shown only now" in page.text and trunk.password in page.text


def test_edit_with_empty_password_keeps_it(as_role, web):
    trunk = trunks.get(web, "ACME", "branch")
    old = trunk.password
    form = {**TRUNK_FORM, "client": "ACME", "name": "branch", "username": "acme_branch", "codecs": "ulaw,alaw", "max_channels": "11"}
    assert as_role("operator").post(f"/admin/trunk/edit/?id={trunk.id}", form).status_code == 302
    web.expire_all()
    trunk = trunks.get(web, "ACME", "branch")
    assert trunk.password == old and trunk.max_channels == 11


def test_deleting_a_carrier_that_holds_numbers_is_refused_with_the_reason(as_role, web):
    carrier = carriers.get(web, "telus")
    page = as_role("operator").post("/admin/carrier/delete/", {"id": str(carrier.id)}, follow_redirects=True)
    assert "Not deleted: carrier telus holds or is porting" in page.text
    assert web.get(Carrier, carrier.id) is not None


def test_deleting_a_trunk_with_numbers_asks_for_the_explicit_cascade(as_role, web):
    trunk = trunks.get(web, "ACME", "main")
    b = as_role("operator")
    page = b.post("/admin/trunk/delete/", {"id": str(trunk.id)}, follow_redirects=True)
    assert "rings 2 number(s)" in page.text
    assert web.get(Trunk, trunk.id) is not None
    assert "release its 2 number(s)" in b.get(f"/admin/trunk/details/?id={trunk.id}").text


def test_deleting_the_node_of_an_active_client_is_refused(as_role, web):
    node = web.scalar(select(Node).where(Node.name == "cl-ovh-bhs7"))
    page = as_role("operator").post("/admin/node/delete/", {"id": str(node.id)}, follow_redirects=True)
    assert "serves client ACME" in page.text
    assert web.get(Node, node.id) is not None


def test_bulk_delete_is_all_or_nothing(as_role, web):
    spare, _ = carriers.save(web, {"name": "spare", "signalling_addresses": "203.0.113.99"}, SYSTEM)
    web.commit()
    telus = carriers.get(web, "telus")
    b = as_role("operator")
    page = b.client.post("/admin/carrier/action/", data={"action": "delete", "rowid": [str(spare.id), str(telus.id)],
                                                         "csrf_token": b.token}, follow_redirects=True)
    assert "Nothing was deleted" in page.text
    assert web.get(Carrier, spare.id) is not None


def test_trunk_page_shows_numbers_e911_preview_and_registration(as_role, web):
    trunk = trunks.get(web, "ACME", "branch")
    # A stale row in ps_contacts is not what the page shows: registrations are read from the node (app.node_state).
    contacts = REALTIME_TABLES["ps_contacts"]
    expiry = int((datetime.now() + timedelta(minutes=5)).timestamp())
    web.execute(insert(contacts).values(id=f"{trunk.endpoint_id};@abc", endpoint=trunk.endpoint_id, uri="sip:acme@198.18.10.9:5060",
                                        user_agent="Yealink W60B", expiration_time=expiry, via_addr="198.18.10.9", via_port=5060))
    web.commit()
    b = as_role("viewer")
    page = b.get(f"/admin/trunk/details/?id={trunk.id}&caller_id=204-555-1204").text
    text = re.sub(r"\s+", " ", page)
    assert ("A 911 call from this trunk with caller ID 204-555-1204 leaves through carrier bell as 12045551203, "
            "from the trunk-level registration (+12045551203)") in text
    assert "(204) 555-1203" in text and "(204) 555-1204" in text
    assert "Yealink W60B" not in text and "ps_contacts" not in text
    assert "Live state of node cl-ovh-bhs7 is not asked: live state is off: no AMI secret (TRUNKLINE_AMI_SECRET)" in text
    page = re.sub(r"\s+", " ", b.get(f"/admin/trunk/details/?id={trunk.id}&caller_id=204-555-1201").text)
    assert "leaves through carrier telus as 2045551201, from the caller's own registration (+12045551201)" in html_module.unescape(page)


def test_e911_preview_is_red_when_the_trunk_cannot_call_at_all(as_role, web):
    """A suspended client's trunk, or one whose node is retired, resolves a 911 number but places no call:
    the preview said "leaves through carrier telus" in green (new-user trial)."""
    trunk = trunks.get(web, "ACME", "main")
    url = f"/admin/trunk/details/?id={trunk.id}&caller_id=204-555-1201"
    page = re.sub(r"\s+", " ", html_module.unescape(as_role("viewer").get(url).text))
    assert 'tl-ok">A 911 call from this trunk with caller ID 204-555-1201 leaves through carrier telus' in page
    clients.save(web, {"status": "suspended"}, SYSTEM, clients.get(web, "ACME"))
    web.commit()
    page = re.sub(r"\s+", " ", html_module.unescape(as_role("viewer").get(url).text))
    assert ('tl-bad tl-bad-box">This trunk cannot place calls now, 911 included: client ACME: the client is suspended: '
            'its trunks and numbers carry no calls. Once it can: A 911 call from this trunk with caller ID 204-555-1201 '
            'leaves through carrier telus') in page


def test_trunk_page_shows_an_unresolved_911_path_in_red(as_role, web):
    nodes.save(web, {"name": "cl-nine", "role": "client", "public_ip": "192.0.2.97", "hosting_provider": "Vultr"}, SYSTEM)
    client, _ = clients.save(web, {"name": "Nine", "account_code": "NINE", "node": "cl-nine"}, SYSTEM)
    trunk, _ = trunks.save(web, {"client": "NINE", "name": "main", "source_addresses": "198.18.99.1"},
                           SYSTEM)
    web.commit()
    page = as_role("viewer").get(f"/admin/trunk/details/?id={trunk.id}").text
    assert 'tl-bad tl-bad-box">A 911 call from this trunk does not resolve' in page
    dashboard = as_role("viewer").get("/admin/").text
    assert "trunk NINE/main" in dashboard and "client NINE" in dashboard
    assert "tl-bad-box" in dashboard


def test_client_page_shows_node_dns_trunks_numbers_and_coverage(as_role, web):
    client = clients.get(web, "ACME")
    page = re.sub(r"\s+", " ", as_role("viewer").get(f"/admin/client/details/?id={client.id}").text)
    assert "cl-ovh-bhs7</a> — 192.0.2.21" in page and f'href="/admin/node/details/?id={client.node_id}"' in page
    assert "acme.trunk.example.net" in page
    assert "every trunk resolves" in page
    assert "main" in page and "branch" in page
    assert "(204) 555-1201" in page and "(204) 555-1204" in page


def test_dashboard_counts_coverage_providers_and_calls(as_role, web):
    cdr = REALTIME_TABLES["cdr"]
    today = datetime.now().replace(hour=10, minute=0, second=0, microsecond=0)
    rows = [dict(accountcode="ACME", start=today - timedelta(days=d), channel=f"PJSIP/trunk-ACME-main-0000000{i}",
                 dstchannel=f"PJSIP/carrier-telus-0000001{i}", disposition="ANSWERED", duration=60, billsec=55,
                 linkedid=f"cl1-1700000000.{i}") for i, d in enumerate((0, 0, 1))]
    rows.append(dict(accountcode="GLOBEX", start=today, channel="PJSIP/trunk-GLOBEX-pbx-00000001",
                     dstchannel="PJSIP/carrier-bell-00000003", disposition="ANSWERED", duration=30, billsec=20,
                     linkedid="cl2-1700000000.1"))
    web.execute(insert(cdr), rows)
    web.commit()
    b = as_role("viewer")
    # The dashboard reads the call rollup: records not counted yet are announced, not guessed at.
    waiting = re.sub(r"\s+", " ", b.get("/admin/").text)
    assert "Calls per day (last 30 days): 0" in waiting and "4 newer call record(s) not yet counted" in waiting
    calls.refresh(web)
    web.commit()
    page = b.get("/admin/").text
    assert "newer call record(s) not yet counted" not in page and "Counted up to " in page
    assert "Calls per day (last 30 days): 4" in page
    assert f"{today.date().isoformat()}: 3 call(s)" in page
    assert "Every active client and every trunk resolves" in page
    assert "Calls per day (last 30 days, client ACME): 3" in b.get("/admin/?client=ACME").text
    assert "Calls per day (last 30 days, carrier bell): 1" in b.get("/admin/?carrier=bell").text
    assert "tl-provider-warning" not in page
    by_client = re.sub(r"\s+", " ", page.split('id="tl-calls-by-client"')[1].split("</table>")[0])
    assert re.search(r">ACME</a></td><td[^>]*>3<", by_client) and re.search(r">GLOBEX</a></td><td[^>]*>1<", by_client)
    by_carrier = re.sub(r"\s+", " ", page.split('id="tl-calls-by-carrier"')[1].split("</table>")[0])
    assert re.search(r">bell</a></td><td[^>]*>1<", by_carrier) and re.search(r">telus</a></td><td[^>]*>3<", by_carrier)
    vultr = web.scalar(select(Node).where(Node.name == "cn-vultr-tor1"))
    vultr.state = "retired"
    web.commit()
    assert "The only carrier-facing node is hosted by OVHcloud" in b.get("/admin/").text


def test_numbers_search_by_prefix_filters_and_export(as_role, web):
    b = as_role("viewer")
    page = b.get("/admin/number/?search=1-204-555").text
    assert "(204) 555-1201" in page and "(416) 555-2301" not in page
    page = b.get("/admin/number/?search=(416)").text
    assert "(416) 555-2301" in page and "(204) 555-1201" not in page
    csv = b.get("/admin/number/export/csv/").text
    assert "+16045553403" in csv and "+12045551201" in csv
    assert "ACME" in csv


def test_port_order_completion_moves_all_numbers_and_e911_follows(as_role, web):
    b = as_role("operator")
    form = {"from_carrier": "telus", "to_carrier": "bell", "due_date": "2026-12-01", "numbers": "204-555-1201\n416-555-2301"}
    page = b.refused("/admin/port_order/new/", form)
    assert "+14165552301 is held by carrier bell, not telus" in field_errors(page.text, "numbers")
    form["numbers"] = "204-555-1201\n(204) 555-1202"
    page = b.post("/admin/port_order/new/", form)
    assert page.status_code == 302
    order = web.scalar(select(PortOrder))
    assert numbers.get(web, "2045551201").port_status == "port_in_pending"
    e911 = REALTIME_TABLES["extensions"]
    acme_main = trunks.get(web, "ACME", "main")
    row = web.execute(select(e911.c.appdata).where(e911.c.context == RT_E911, e911.c.exten == f"{acme_main.id}*default")).scalar()
    assert "carrier-telus" in row
    page = b.post("/admin/port_order/complete/", {"id": str(order.id)}, follow_redirects=True)
    assert "2 number(s) now held by bell" in page.text
    web.expire_all()
    assert {numbers.get(web, n).carrier.name for n in ("2045551201", "2045551202")} == {"bell"}
    assert numbers.get(web, "2045551201").port_status == "active"
    row = web.execute(select(e911.c.appdata).where(e911.c.context == RT_E911, e911.c.exten == f"{acme_main.id}*default")).scalar()
    assert "carrier-bell" in row and "12045551201" in row
    assert web.get(PortOrder, order.id).status == "completed"
    assert last_audit(web).action == "complete"


def test_port_order_that_cannot_complete_moves_nothing(as_role, web):
    b = as_role("operator")
    carriers.save(web, {"name": "no911", "signalling_addresses": "203.0.113.80"}, SYSTEM)
    web.commit()
    page = b.post("/admin/port_order/new/", {"from_carrier": "telus", "to_carrier": "no911", "due_date": "2026-12-01",
                                              "numbers": "204-555-1201, 204-555-1202"})
    assert page.status_code == 302
    order = web.scalar(select(PortOrder))
    page = b.post("/admin/port_order/complete/", {"id": str(order.id)}, follow_redirects=True)
    assert "does not provide 911" in page.text and "no number moved" in page.text
    web.expire_all()
    assert {numbers.get(web, n).carrier.name for n in ("2045551201", "2045551202")} == {"telus"}
    assert web.get(PortOrder, order.id).status == "pending"


def _drop_mariadb_user(session, user, host):
    from sqlalchemy import text

    with session.get_bind().engine.connect() as conn:
        conn.execute(text(f"DROP USER IF EXISTS '{user}'@'{host}'"))


def test_node_page_says_whether_the_database_account_exists_and_when_it_was_rotated(as_role, web):
    from app.services import node_accounts
    from app.services.audit import SYSTEM

    node = web.scalar(select(Node).where(Node.name == "cl-ovh-bhs7"))
    b = as_role("viewer")
    if not node_accounts.supported(web):
        page = re.sub(r"\s+", " ", b.get(f"/admin/node/details/?id={node.id}").text)
        assert "Database account" in page and "none (SQLite has no database accounts)" in page
        return
    page = re.sub(r"\s+", " ", b.get(f"/admin/node/details/?id={node.id}").text)
    assert "none: create it with `flask --app wsgi node account cl-ovh-bhs7`" in page
    account, _password = node_accounts.ensure(web, node, SYSTEM, host="127.0.0.%")
    web.commit()

    def rotated_cell():
        page = b.get(f"/admin/node/details/?id={node.id}").text
        return html_module.unescape(re.search(r'id="tl-node-db-rotated">(.*?)</td>', page, re.S).group(1))
    try:
        page = re.sub(r"\s+", " ", b.get(f"/admin/node/details/?id={node.id}").text)
        assert f"exists: {account.db_user}@127.0.0.%" in page
        # Never rotated: not the creation time passed off as a rotation.
        assert rotated_cell() == f"never rotated (created {account.created_at:%Y-%m-%d %H:%M} UTC)"
        assert f"exists: {account.db_user}@127.0.0.%" in b.get("/admin/node/").text
        web.execute(update(NodeAccount).where(NodeAccount.id == account.id).values(created_at=datetime(2026, 11, 1, 8, 5)))
        node_accounts.ensure(web, node, SYSTEM, rotate=True)
        web.commit()
        web.refresh(account)
        assert rotated_cell() == f"last rotated {account.rotated_at:%Y-%m-%d %H:%M} UTC" and account.rotated_at > account.created_at
        _drop_mariadb_user(web, account.db_user, "127.0.0.%")  # gone behind the platform's back
        page = html_module.unescape(re.sub(r"\s+", " ", b.get(f"/admin/node/details/?id={node.id}").text))
        assert (f"MISSING: {account.db_user}@127.0.0.% is recorded, but MariaDB has no such account (the node cannot connect): "
                "recreate it with `flask --app wsgi node account cl-ovh-bhs7 --rotate`") in page
        # The command the page names repairs it.
        done = node_accounts.provide(web, node, SYSTEM, rotate=True)
        web.commit()
        assert done.action == "recreate"
        page = re.sub(r"\s+", " ", b.get(f"/admin/node/details/?id={node.id}").text)
        assert f"exists: {account.db_user}@127.0.0.%" in page and "MISSING" not in page
    finally:
        _drop_mariadb_user(web, account.db_user, "127.0.0.%")


def test_node_page_render_hint_is_a_command_that_works(as_role, web, tmp_path):
    """The page's `node render` command, with its placeholders filled in, renders the node (SQLite demo: it needs
    --db-url, which the page includes); it says where the password and the AMI secret come from."""
    from flask import Flask

    from app.cli import node as node_cli
    from app.services import node_accounts
    from app.services.audit import SYSTEM

    node = web.scalar(select(Node).where(Node.name == "cl-ovh-bhs7"))
    password = tmp_path / "pw"
    if node_accounts.supported(web):
        account, secret = node_accounts.ensure(web, node, SYSTEM, host="127.0.0.%")
        web.commit()
    else:
        account, secret = None, "Demo-Password-Not-Used"
    password.write_text(secret)
    try:
        page = as_role("viewer").get(f"/admin/node/details/?id={node.id}").text
        cell = html_module.unescape(re.sub(r"\s+", " ", re.search(r'id="tl-node-render">(.*?)</td>', page, re.S).group(1)))
        command = re.search(r"<code>(.*?)</code>", cell).group(1)
        assert command.startswith("flask --app wsgi node render cl-ovh-bhs7 --out DIR --db-url mysql+mysqldb://DBHOST:3306/")
        assert "--db-password-file FILE --admin-net YOUR_ADMIN_NETWORK" in command
        assert "FILE holds the password `flask --app wsgi node account cl-ovh-bhs7` printed" in cell
        assert "run it where TRUNKLINE_AMI_SECRET is set" in cell
        words = command.split()[3:]  # after `flask --app wsgi`
        fill = {"DIR": str(tmp_path / "out"), "FILE": str(password), "YOUR_ADMIN_NETWORK": "10.0.0.0/8"}
        words = [fill.get(w, w.replace("DBHOST", "10.9.8.7")) for w in words]
        app = Flask("hint-test")
        app.config["DATABASE_URL"] = str(web.get_bind().engine.url)
        node_cli.register(app)
        result = app.test_cli_runner().invoke(args=words, env={"TRUNKLINE_AMI_SECRET": "Ami-Secret-1"})
        assert result.exit_code == 0, result.output
        assert result.stderr == "" and "Server = 10.9.8.7" in (tmp_path / "out" / "odbc.ini").read_text()
    finally:
        if account is not None:
            _drop_mariadb_user(web, account.db_user, "127.0.0.%")


def test_node_replacement_moves_the_client_and_says_what_to_do(as_role, web):
    client = clients.get(web, "ACME")
    b = as_role("operator")
    page = b.refused(f"/admin/client/replace-node/?id={client.id}", {"name": "cl-new", "public_ip": "192.0.2.21"})
    assert "is the address of the node being replaced (192.0.2.21)" in field_errors(page.text, "public_ip")
    page = b.refused(f"/admin/client/replace-node/?id={client.id}", {"name": "cl-vultr-tor3", "public_ip": "192.0.2.31"})
    assert "node cl-vultr-tor3 already has this name" in field_errors(page.text, "name")
    assert clients.get(web, "ACME").node.name == "cl-ovh-bhs7"
    form_page = b.get(f"/admin/client/replace-node/?id={client.id}").text
    assert 'id="tl-replace-submit"' in form_page and "Replace node cl-ovh-bhs7 now" in form_page
    assert 'value="Save"' not in form_page
    posted = b.post(f"/admin/client/replace-node/?id={client.id}", {"name": "cl-vultr-tor9", "public_ip": "192.0.2.31",
                                                                    "hosting_provider": "Vultr"})
    assert posted.status_code == 303  # redirect after POST: a refresh shows the checklist, it does not re-post
    checklist_url = posted.headers["Location"]
    if web.get_bind().dialect.name != "sqlite":  # the new node's own database account: its password shown once first
        user = web.execute(select(func.database())).scalar() + ".cl-vultr-tor9"
        _drop_mariadb_user(web, user, "192.0.2.31")
        once = b.get(checklist_url).text
        assert f'id="tl-secret-username">{user}<' in once and 'id="tl-secret-password">' in once
        assert "tl-secret-password" not in b.get(checklist_url).text  # shown once only
        checklist_url = html_module.unescape(re.search(r'href="([^"]*/replacement/[^"]*)"', once).group(1))
    for _ in range(2):  # the page, then a refresh of it
        page = b.get(checklist_url)
        text = re.sub(r"\s+", " ", page.text)
        assert "change the A record of acme.trunk.example.net from 192.0.2.21 to 192.0.2.31" in text
        assert "<code>flask --app wsgi node render cl-vultr-tor9 --out DIR" in text and "`" not in text.split("tl-replacement-steps")[1]
        assert "must now admit 192.0.2.31: cn-ovh-bhs1, cn-vultr-tor1" in text
    # Reachable later from the client page and from both nodes' pages.
    assert checklist_url in b.get(f"/admin/client/details/?id={client.id}").text
    for name in ("cl-vultr-tor9", "cl-ovh-bhs7"):
        node_id = web.scalar(select(Node.id).where(Node.name == name))
        assert checklist_url in b.get(f"/admin/node/details/?id={node_id}").text
    web.expire_all()
    client = clients.get(web, "ACME")
    assert client.node.name == "cl-vultr-tor9" and client.node.dns_name == "acme.trunk.example.net"
    old = web.scalar(select(Node).where(Node.name == "cl-ovh-bhs7"))
    assert old.state == "draining" and old.dns_name is None
    addresses = {a.node_id for t in client.trunks for a in t.addresses}
    assert addresses == {client.node_id}
    assert web.scalar(select(func.count()).select_from(Client).where(Client.node_id == old.id)) == 0


def test_numbers_list_pages_and_sorts(as_role, web):
    from app.services.audit import SYSTEM

    for i in range(25):
        numbers.save(web, {"number": f"204-556-{1000 + i}", "carrier": "bell" if i % 2 else "telus"}, SYSTEM)
    web.commit()
    b = as_role("viewer")
    first = re.findall(r"\(\d{3}\) \d{3}-\d{4}", b.get("/admin/number/?search=204556").text)
    second = re.findall(r"\(\d{3}\) \d{3}-\d{4}", b.get("/admin/number/?search=204556&page=1").text)
    assert first == [f"(204) 556-{1000 + i}" for i in range(20)]
    assert second == [f"(204) 556-{1000 + i}" for i in range(20, 25)]
    descending = re.findall(r"\(\d{3}\) \d{3}-\d{4}", b.get("/admin/number/?search=204556&sort=0&desc=1").text)
    assert descending[:3] == ["(204) 556-1024", "(204) 556-1023", "(204) 556-1022"]
    by_carrier = b.get("/admin/number/?search=204556&flt1_0=bell").text
    assert "(204) 556-1001" in by_carrier and "(204) 556-1000" not in by_carrier


def test_carrier_form_sets_the_privacy_mode_and_refuses_an_unknown_one(as_role, web):
    b = as_role("operator")
    page = b.get("/admin/carrier/new/").text
    assert "Caller-ID privacy" in page and "Remote-Party-ID" in page and "911 calls ignore privacy" in page
    page = b.refused("/admin/carrier/new/", {**CARRIER_FORM, "privacy_mode": "isup"})
    assert page.status_code == 200 and "Not a valid choice" in field_errors(page.text, "privacy_mode")
    assert web.scalar(select(Carrier).where(Carrier.name == "newtel")) is None
    assert b.post("/admin/carrier/new/", {**CARRIER_FORM, "privacy_mode": "rpid"}).status_code == 302
    web.expire_all()
    assert web.scalar(select(Carrier.privacy_mode).where(Carrier.name == "newtel")) == "rpid"
    endpoint = REALTIME_TABLES["ps_endpoints"]
    assert web.execute(select(endpoint.c.send_rpid).where(endpoint.c.id == "carrier-newtel")).scalar() == "yes"
    assert b.post("/admin/carrier/new/", {**CARRIER_FORM, "name": "othertel"}).status_code == 302  # no field: default
    web.expire_all()
    assert web.scalar(select(Carrier.privacy_mode).where(Carrier.name == "othertel")) == "pai"


def test_dashboard_lists_911_calls_that_left_unresolved(as_role, web):
    cdr = REALTIME_TABLES["cdr"]
    now = datetime.now().replace(microsecond=0)
    web.execute(insert(cdr), [
        dict(accountcode="ACME", start=now, channel="PJSIP/trunk-ACME-main-0000002a", dstchannel="PJSIP/node-cn1-0000002b",
             src="2045551201", dst="911", disposition="ANSWERED", duration=5, billsec=4, userfield="e911-unresolved"),
        dict(accountcode="ACME", start=now, channel="PJSIP/trunk-ACME-main-0000002c", dstchannel="PJSIP/node-cn1-0000002d",
             src="2045551203", dst="911", disposition="ANSWERED", duration=5, billsec=4, userfield=""),
    ])
    web.commit()
    page = re.sub(r"\s+", " ", as_role("viewer").get("/admin/").text)
    box = page.split('id="tl-e911-unresolved-calls"')[1].split("</div>")[0]
    assert "1 911 call(s) in the last 30 days left without a registered E911 number" in box
    assert f"{now} UTC, client ACME, trunk-ACME-main, caller ID 2045551201" in box
    assert "2045551203" not in box


def test_usage_page_per_client_and_carrier_with_csv_export(as_role, web):
    cdr = REALTIME_TABLES["cdr"]
    start = datetime(2026, 10, 14, 9, 30)
    blank = dict.fromkeys(("dcontext", "lastdata", "call_id"))  # executemany takes every row's keys from the first
    web.execute(insert(cdr), [{**blank, **row} for row in [
        dict(accountcode="ACME", start=start, channel="PJSIP/trunk-ACME-main-00000001", dstchannel="PJSIP/node-cn1-00000002",
             disposition="ANSWERED", billsec=125, linkedid="cl1-1700000000.1"),
        dict(accountcode="ACME", start=start, channel="PJSIP/node-cl1-00000001", dstchannel="PJSIP/carrier-telus-00000002",
             disposition="ANSWERED", billsec=125, linkedid="cn1-1700000000.1", call_id="cl1-1700000000.1"),
        dict(accountcode="ACME", start=start, channel="PJSIP/trunk-ACME-main-00000003", dstchannel="PJSIP/node-cn1-00000004",
             dcontext="tl-911", lastdata="PJSIP/911@node-cn1", disposition="ANSWERED", billsec=10, linkedid="cl1-1700000000.3"),
    ]])
    calls.refresh(web)
    web.commit()
    b = as_role("viewer")
    page = re.sub(r"\s+", " ", b.get("/admin/usage/?month=2026-10").text)
    assert "Usage in October 2026 (UTC)" in page
    clients_table = page.split('id="tl-usage-client"')[1].split("</table>")[0]
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", clients_table)
    assert cells == ["ACME", "2", "0", "2", "2", "4", "1"], clients_table  # calls, in, out, answered, minutes, 911
    export = b.get("/admin/usage/?month=2026-10&by=carrier&format=csv")
    assert export.headers["Content-Disposition"] == 'attachment; filename="usage-carrier-2026-10.csv"'
    lines = export.data.decode("utf-8-sig").splitlines()
    assert lines[0] == "carrier,month,calls,inbound,outbound,answered,billed_minutes,e911_calls"
    assert "telus,2026-10,1,0,1,1,3,0" in lines and "(none),2026-10,1,0,1,1,1,1" in lines
    assert "No calls in September 2026" in b.get("/admin/usage/?month=2026-09").text
    assert "is not a month as YYYY-MM" in b.get("/admin/usage/?month=octobre").text
    assert export.headers["Content-Type"] == "text/csv; charset=utf-8"
    wrong = b.get("/admin/usage/?month=abc&by=client&format=csv")  # never a file of another month under that name
    assert wrong.status_code == 400 and "'abc' is not a month as YYYY-MM" in wrong.text


def test_911_calls_on_the_dashboard_in_red_and_listed_with_export(as_role, web):
    from app.alerts import record_call

    clients.save(web, {"alert_emails": "noc@acme.example"}, SYSTEM, clients.get(web, "ACME"))
    call = record_call(web, {"CallId": "cl1-1796055432.9", "Trunk": "trunk-ACME-main", "Account": "ACME",
                             "Presented": "2045551202", "Level": "number", "Number": "+12045551202",
                             "Carrier": "carrier-telus", "Sent": "2045551202", "Node": "cl1"})
    call.deliveries[0].status, call.deliveries[0].last_error = "retrying", "16:20:01 UTC, attempt 1: connection refused"
    web.commit()
    b = as_role("viewer")
    page = re.sub(r"\s+", " ", b.get("/admin/").text)
    panel = page.split('id="tl-e911-calls"')[1].split("</div>")[0]
    assert "911 calls in the last 24 hours: 1" in panel and "tl-bad" in panel
    assert "ACME, trunk-ACME-main" in panel and "+12045551202 (100 Main St, Suite 200" in panel
    assert "1 of 1 alert(s) not delivered" in panel
    listing = re.sub(r"\s+", " ", b.get("/admin/e911_call/").text)
    assert ">ACME/main</a>" in listing and "the caller&#39;s own registered number" in listing
    assert "email noc@acme.example: retrying" in listing and "connection refused" in listing
    export = b.get("/admin/e911_call/export/csv/").data.decode()
    assert "cl1-1796055432.9" in export and "number" in export and "100 Main St, Suite 200" in export
    details = b.get(f"/admin/e911_call/details/?id={call.id}").text
    assert "cl1-1796055432.9" in details
    assert b.get("/admin/e911_call/new/").status_code in (302, 403, 404)  # read only
