"""Pages people can read: carrier and node pages, plain words for codes, the audit log, error pages, named confirmations,
number search by any part, filtered export, and the small things a new user noticed (issue 10)."""

from __future__ import annotations

import csv
import html as html_module
import io
import json
import re

import pytest
from sqlalchemy import insert, select

from app import calls
from app.models import AuditEntry, Carrier, Node, PhoneNumber, PortOrder, Trunk
from app.models.realtime import REALTIME_TABLES
from app.services import carriers, clients, nodes, numbers, porting, trunks
from app.services.audit import SYSTEM, Actor
from tests.web.scenarios import NUMBER_FORM


def plain(page) -> str:
    """The page's text without tags, entities decoded, spaces collapsed."""
    body = page.text if hasattr(page, "text") else page
    body = re.sub(r"<(script|style)\b.*?</\1>", " ", body, flags=re.S)
    return re.sub(r"\s+", " ", html_module.unescape(re.sub(r"<[^>]+>", " ", body)))


# --- carrier and node pages ------------------------------------------------------------------------------------------

def test_carrier_page_says_formats_and_live_facts_in_plain_words(as_role, web):
    cdr = REALTIME_TABLES["cdr"]
    from datetime import datetime, timedelta

    recent = datetime.utcnow() - timedelta(days=1)
    web.execute(insert(cdr), [{"start": recent, "channel": f"PJSIP/carrier-telus-0000000{i}",
                               "dstchannel": f"PJSIP/trunk-ACME-main-0000001{i}", "accountcode": "ACME",
                               "linkedid": f"cn1-1700000000.{i}"} for i in range(3)])
    calls.refresh(web)  # the page counts calls from the call rollup (each call once)
    web.commit()
    telus = carriers.get(web, "telus")
    page = plain(as_role("viewer").get(f"/admin/carrier/details/?id={telus.id}"))
    assert "Caller ID sent 10 digits (2045551234)" in page
    assert "Caller ID sent on 911 calls 10 digits (2045551234)" in page
    assert "nanp10" not in page and "e164" not in page
    assert "How it recognises us By IP address" in page
    assert "Tier Tier 1" in page
    held = web.scalar(select(PhoneNumber).where(PhoneNumber.carrier_id == telus.id).limit(1))
    assert held is not None
    count = len(web.scalars(select(PhoneNumber.id).where(PhoneNumber.carrier_id == telus.id)).all())
    assert f"Numbers it holds {count}" in page
    assert "Calls in the last 30 days 3" in page
    assert "SIP endpoint carrier-telus is in the realtime tables" in page
    bell = carriers.get(web, "bell")
    assert "11 digits (12045551234)" in plain(as_role("viewer").get(f"/admin/carrier/details/?id={bell.id}"))


def test_node_page_names_its_client_state_and_config_command(as_role, web):
    acme = clients.get(web, "ACME")
    node = acme.node
    page = plain(as_role("viewer").get(f"/admin/node/details/?id={node.id}"))
    assert f"Node {node.name} (Active)" in page
    assert "Faces one client (its PBXs send and receive calls here)" in page
    assert f"Client served ACME — {acme.name}" in page
    assert f"flask --app wsgi node render {node.name} --out DIR" in page
    assert f"SIP endpoint node-{node.name} is in the realtime tables" in page
    carrier_node = web.scalar(select(Node).where(Node.role == "carrier").limit(1))
    page = plain(as_role("viewer").get(f"/admin/node/details/?id={carrier_node.id}"))
    assert "Faces the carriers" in page and "Client served" not in page


@pytest.mark.parametrize(("url", "words", "codes"), [
    ("/admin/carrier/", ["10 digits (2045551234)", "By IP address", "Tier 1"], ["nanp10", ">ip<"]),
    ("/admin/node/", ["Faces one client", "Faces the carriers", "Active"], [">client<", ">carrier<", ">active<"]),
    ("/admin/client/", ["Active"], [">active<"]),
    ("/admin/trunk/", ["By source IP address", "By username and password"], [">credentials<", ">nanp10<", ">ip<"]),
    ("/admin/number/", ["Active", "Registered for E911"], [">active<", ">port_in_pending<"]),
])
def test_lists_show_plain_words_not_codes(as_role, web, url, words, codes):
    page = as_role("viewer").get(url).text
    table = page.split("model-list", 1)[1]
    for word in words:
        assert word in html_module.unescape(table), word
    cells = re.sub(r"\s+", "", table)
    for code in codes:
        assert code not in cells, code


def test_filters_offer_plain_words(as_role, web):
    page = html_module.unescape(as_role("viewer").get("/admin/node/").text)
    assert "Draining (no new use; being replaced)" in page  # the state filter's choices


def test_search_placeholders_are_words_not_column_names(as_role, web):
    b = as_role("viewer")
    for url in ("/admin/carrier/", "/admin/node/", "/admin/client/", "/admin/trunk/", "/admin/number/", "/admin/audit/"):
        placeholder = re.search(r'name="search"[^>]*placeholder="([^"]*)"|placeholder="([^"]*)"[^>]*name="search"', b.get(url).text)
        assert placeholder, url
        text = placeholder.group(1) or placeholder.group(2)
        assert "_" not in text and "account_code" not in text and "e164" not in text, (url, text)


def test_numbers_list_e911_column_has_a_label(as_role, web):
    page = as_role("viewer").get("/admin/number/").text
    headers = [plain(h).strip() for h in re.findall(r"<th class=\"column-header[^\"]*\">(.*?)</th>", page, re.S)]
    assert "Registered for E911" in headers, headers
    assert "" not in headers[1:], headers


# --- audit log ---------------------------------------------------------------------------------------------------------

def test_audit_log_is_readable(as_role, web, accounts):
    actor = Actor(accounts["operator"], "form")
    acme = clients.get(web, "ACME")
    new_node, _ = nodes.save(web, {"name": "cl-new-1", "role": "client", "public_ip": "192.0.2.99", "hosting_provider": "Vultr"}, actor)
    clients.save(web, {"node": new_node, "max_channels": "31"}, actor, acme)
    web.commit()
    page = as_role("viewer").get("/admin/audit/")
    text = plain(page)
    # A summary line with names, the changed fields only, before and after.
    assert f"{accounts['operator']} changed client ACME (maximum channels, node)" in text
    row = text.split(f"{accounts['operator']} changed client ACME", 1)[1][:400]
    assert "maximum channels 30 31" in row
    old_node = web.scalar(select(Node.name).where(Node.name != "cl-new-1", Node.role == "client").order_by(Node.id).limit(1))
    assert f"node {old_node} cl-new-1" in row
    assert "account code" not in row and "name Acme" not in row  # unchanged fields are not listed
    assert "node_id" not in page.text and "_id" not in text
    # Times to the second, no microseconds; the channel in words.
    entry = web.scalar(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(1))
    assert entry.at.strftime("%Y-%m-%d %H:%M:%S") in text
    assert not re.search(r"\d\d:\d\d:\d\d\.\d+", text)
    assert "web form" in text
    # A creation lists what was set, with names for references.
    assert "operator@example.test created node cl-new-1" in text
    created = text.split("operator@example.test created node cl-new-1", 1)[1][:300]
    assert "public IP: 192.0.2.99" in created and "hosting provider: Vultr" in created and "role: Faces one client" in created


def test_audit_log_names_a_deleted_reference(as_role, web):
    web.add(AuditEntry(actor="someone", channel="cli", action="update", entity="client", entity_key="GONE",
                       before='{"node_id": 99999}', after='{"node_id": null}'))
    web.commit()
    text = plain(as_role("viewer").get("/admin/audit/?search=GONE"))
    assert "#99999 (no longer exists)" in text and "command line" in text


# --- error pages -------------------------------------------------------------------------------------------------------

def test_404_and_403_pages_are_in_the_admin_layout(as_role, web):
    viewer = as_role("viewer")
    for url in ("/admin/nothing-here/", "/admin/trunk/details/?id=999999", "/admin/port_order/complete/"):
        page = viewer.get(url) if "complete" not in url else as_role("operator").post(url, {"id": "999999"})
        assert page.status_code == 404, url
        assert 'id="tl-error"' in page.text and "Not found" in page.text
        assert "/admin/carrier/" in page.text and 'id="tl-sign-out"' in page.text  # the navigation and the sign-out button
    page = viewer.get("/admin/user/")
    assert page.status_code == 403 and "Not allowed" in page.text and "only admins manage sign-in accounts" in page.text
    assert "/admin/number/" in page.text
    page = viewer.get("/admin/carrier/new/")
    assert page.status_code == 403 and 'id="tl-error"' in page.text


def test_500_page_is_in_the_admin_layout_and_says_nothing_was_saved(app, as_role, web):
    app.config["PROPAGATE_EXCEPTIONS"] = False

    @app.get("/admin/boom-for-test")
    def boom():
        raise RuntimeError("boom")

    page = as_role("viewer").get("/admin/boom-for-test")
    assert page.status_code == 500
    assert 'id="tl-error"' in page.text and "Nothing was saved by this request" in page.text
    assert "RuntimeError" not in page.text and "Traceback" not in page.text
    assert "/admin/carrier/" in page.text


def _title_and_heading(page) -> tuple[str, str]:
    title = re.search(r"<title>(.*?)</title>", page.text, re.S).group(1)
    heading = re.search(r'<h4 class="mb-4"[^>]*>(.*?)</h4>', page.text, re.S)
    return plain(title).strip(), plain(heading.group(1)).strip() if heading else ""


def test_error_pages_are_titled_by_the_error_not_dashboard(app, as_role, browser, web):
    app.config["PROPAGATE_EXCEPTIONS"] = False

    @app.get("/admin/boom-for-title-test")
    def boom():
        raise RuntimeError("boom")

    viewer = as_role("viewer")
    expected = {
        "/admin/nothing-here/": (404, "Not found (error 404)"),
        "/admin/user/": (403, "Not allowed (error 403)"),
        "/admin/boom-for-title-test": (500, "Something went wrong on the server (error 500)"),
    }
    for url, (code, words) in expected.items():
        page = viewer.get(url)
        assert page.status_code == code, url
        title, heading = _title_and_heading(page)
        assert title == f"{words} - Trunkline", url
        assert heading == words, url
        assert "Dashboard" not in title and "Dashboard" not in heading
        # The menu highlights no entry (it used to mark the dashboard as the page shown), and still lists the dashboard.
        assert 'class="active' not in page.text, url
        assert re.search(r'href="/admin/">\s*Dashboard</a>', page.text), url
    # Signed out, the bare page is titled the same way.
    page = browser.get("/tl-static/nothing-here.js")
    assert page.status_code == 404 and _title_and_heading(page)[0] == "Not found (error 404) - Trunkline"


def test_favicon_is_served_without_sign_in(browser, web):
    response = browser.get("/favicon.ico")
    assert response.status_code == 200 and response.mimetype == "image/svg+xml"


# --- confirmations -----------------------------------------------------------------------------------------------------

def test_confirmations_name_what_they_act_on(as_role, web):
    b = as_role("operator")
    main = trunks.get(web, "ACME", "main")
    count = len(web.scalars(select(PhoneNumber.id).where(PhoneNumber.trunk_id == main.id)).all())
    assert count > 0
    page = html_module.unescape(b.get(f"/admin/trunk/details/?id={main.id}").text)
    assert f'data-tl-confirm="Delete trunk ACME/main and release its {count} number{"s" if count != 1 else ""}?"' in page
    lst = html_module.unescape(b.get("/admin/trunk/").text)
    assert "Delete trunk ACME/main? Its" in lst and "faHelpers.safeConfirm" not in lst
    numbers_list = html_module.unescape(b.get("/admin/number/?search=204-555-1201").text)
    assert 'data-tl-confirm="Delete number (204) 555-1201 of client ACME?' in numbers_list
    order = porting.create(web, {"from_carrier": "telus", "to_carrier": "bell", "due_date": "2026-12-20",
                                 "numbers": "204-555-1201\n204-555-1202\n416-555-2302"}, SYSTEM)
    web.commit()
    page = html_module.unescape(b.get(f"/admin/port_order/details/?id={order.id}").text)
    assert 'data-tl-confirm="Move 3 numbers to carrier bell now?"' in page
    page = html_module.unescape(b.get(f"/admin/client/replace-node/?id={clients.get(web, 'ACME').id}").text)
    assert f"Replace node {clients.get(web, 'ACME').node.name}" in page and "data-tl-confirm" in page
    assert web.get(PortOrder, order.id).status == "pending"


def _row_facts(page: str) -> dict[str, dict]:
    """{row name: its counts} from the list's row delete forms (what the bulk delete question adds up)."""
    return {html_module.unescape(name): json.loads(html_module.unescape(facts))
            for name, facts in re.findall(r'data-tl-name="([^"]*)" data-tl-facts="([^"]*)"', page)}


def test_bulk_delete_question_gets_each_rows_name_and_counts_from_the_server(as_role, web):
    b = as_role("operator")
    page = b.get("/admin/trunk/?page_size=100").text
    rows = _row_facts(page)
    for trunk in web.scalars(select(Trunk)):
        rung = len(web.scalars(select(PhoneNumber.id).where(PhoneNumber.trunk_id == trunk.id)).all())
        assert rows[str(trunk)] == {"numbers": rung}, str(trunk)
    words = json.loads(html_module.unescape(re.search(r"id=\"tl-bulk-delete\"[^>]*data-words='([^']*)'", page).group(1)))
    assert words["one"] == "trunk" and words["many"] == "trunks" and words["lead"] == ["it still rings ", "they still ring "]
    assert words["facts"] == {"numbers": ["1 number", "{count} numbers"]} and "refused" in words["refused"]
    clients_rows = _row_facts(b.get("/admin/client/").text)
    acme = clients.get(web, "ACME")
    assert clients_rows["ACME"] == {"trunks": len(acme.trunks), "numbers": len(web.scalars(
        select(PhoneNumber.id).where(PhoneNumber.client_id == acme.id)).all())}
    carrier_rows = _row_facts(b.get("/admin/carrier/").text)
    telus = carriers.get(web, "telus")
    assert carrier_rows["telus"]["numbers"] == len(web.scalars(select(PhoneNumber.id).where(PhoneNumber.carrier_id == telus.id)).all())
    node_rows = _row_facts(b.get("/admin/node/").text)
    assert node_rows[acme.node.name] == {"clients": 1}
    assert "Calls to them will no longer be routed." in b.get("/admin/number/").text
    # A viewer has no delete: neither the words nor the rows' facts.
    viewer_page = as_role("viewer").get("/admin/trunk/").text
    assert 'id="tl-bulk-delete"' not in viewer_page and "data-tl-facts" not in viewer_page
    # The script that words it is served.
    assert "tlBulkDeleteQuestion" in b.get("/tl-static/trunkline.js").text


def test_the_confirmation_script_is_served_under_the_csp(as_role, web):
    b = as_role("viewer")
    page = b.get("/admin/")
    assert '<script src="/tl-static/trunkline.js"></script>' in page.text
    script = b.get("/tl-static/trunkline.js")
    assert script.status_code == 200 and "data-tl-confirm" in script.text


# --- numbers: search by any part, export of what the list shows ----------------------------------------------------------

@pytest.mark.parametrize(("typed", "expected"), [
    ("1201", {"+12045551201"}),
    ("555-120", {"+12045551201", "+12045551202", "+12045551203"}),
    ("(204) 555-1202", {"+12045551202"}),
    ("+1 204 555 1203", {"+12045551203"}),
    ("1-204-555-1201", {"+12045551201"}),
    ("１２０２", {"+12045551202"}),
])
def test_numbers_can_be_searched_by_any_part(as_role, web, typed, expected):
    page = as_role("viewer").get("/admin/number/", query_string={"search": typed}).text
    found = {"+1" + re.sub(r"\D", "", m) for m in re.findall(r"\(\d{3}\) \d{3}-\d{4}", page.split("model-list", 1)[1])}
    assert expected <= found, (typed, found)
    assert all(typed_digit in n for n in found for typed_digit in [re.sub(r"\D", "", typed.translate(
        str.maketrans("０１２３４５６７８９", "0123456789")))[-4:]]), found


def test_search_without_digits_matches_nothing_and_says_so(as_role, web):
    page = as_role("viewer").get("/admin/number/?search=acme").text
    assert not re.findall(r"\(\d{3}\) \d{3}-\d{4}", page.split("model-list", 1)[1] if "model-list" in page else "")


def test_numbers_export_honours_the_lists_search_and_filters_and_imports(as_role, web):
    b = as_role("operator")
    listed = b.get("/admin/number/?search=555-120&flt1_0=telus").text
    shown = {"+1" + re.sub(r"\D", "", m) for m in re.findall(r"\(\d{3}\) \d{3}-\d{4}", listed.split("model-list", 1)[1])}
    assert shown
    link = re.search(r'href="(/admin/number/export/csv/[^"]*)"', listed)
    assert link, "the list offers an export"
    url = html_module.unescape(link.group(1))
    assert "search=555-120" in url and "flt1_0=telus" in url
    exported = b.get(url)
    rows = list(csv.DictReader(io.StringIO(exported.text.lstrip("\ufeff"))))
    assert {r["number"] for r in rows} == shown
    assert {r["carrier"] for r in rows} == {"telus"}
    assert set(rows[0]) >= {"number", "carrier", "client", "trunk", "e911_registered", "e911_address", "port_status"}
    assert {r["port_status"] for r in rows} <= {"active", "port_in_pending", "ported_out"}
    assert {r["e911_registered"] for r in rows} <= {"yes", "no"}
    # The filtered export is an import file: re-imported, nothing changes.
    from tests.web.scenarios import preview_token  # noqa: F401 - the CSV page helper module
    from tests.web.test_csv_page import csv_upload

    preview = csv_upload(b, kind="numbers", content=exported.data, filename="numbers-export.csv")
    assert f"all {len(rows)} row(s) are valid" in preview.text and "Nothing to import" in preview.text


# --- dashboard ---------------------------------------------------------------------------------------------------------

def test_dashboard_without_calls_says_so_instead_of_max_1(as_role, web):
    page = as_role("viewer").get("/admin/").text
    assert "max 1" not in page
    assert page.count("No calls recorded in this period.") == 2


def test_dashboard_busiest_day_is_named(as_role, web):
    from datetime import datetime

    web.execute(insert(REALTIME_TABLES["cdr"]), [{"start": datetime.utcnow(), "channel": f"PJSIP/trunk-ACME-main-0000000{i}",
                                                   "accountcode": "ACME", "linkedid": f"cl1-1700000000.{i}"} for i in range(4)])
    calls.refresh(web)  # the dashboard reads the call rollup
    web.commit()
    page = as_role("viewer").get("/admin/").text
    assert "busiest: 4 calls" in page and "max 1" not in page


def test_nodes_by_hosting_provider_count_only_active_nodes(as_role, web):
    page = as_role("viewer").get("/admin/").text
    before = re.search(r'id="tl-providers".*?</table>', page, re.S).group(0)
    node = web.scalar(select(Node).where(Node.role == "client", Node.state == "active").order_by(Node.id).limit(1))
    nodes.save(web, {"name": "cl-spare-1", "role": "client", "public_ip": "192.0.2.98", "hosting_provider": "Linode",
                     "state": "draining"}, SYSTEM)
    web.commit()
    page = as_role("viewer").get("/admin/").text
    table = re.search(r'id="tl-providers".*?</table>', page, re.S).group(0)
    assert "Linode" not in table and table == before
    assert "Not counted: 1 draining node(s)" in page
    assert "Faces one client" in table and node is not None


def test_dashboard_e911_problems_are_links(as_role, web):
    trunk = trunks.get(web, "ACME", "main")
    web.execute(PhoneNumber.__table__.update().where(PhoneNumber.client_id == trunk.client_id).values(e911_registered=False))
    web.commit()
    page = as_role("viewer").get("/admin/").text
    box = re.search(r'id="tl-e911-coverage".*?</div>', page, re.S).group(0)
    assert f'href="/admin/trunk/details/?id={trunk.id}"' in box


def test_numbers_form_and_models_untouched_by_labels(as_role, web):
    """Plain words are for people: what is stored and exported stays the codes (the form still posts codes)."""
    b = as_role("operator")
    response = b.post("/admin/number/new/", {**NUMBER_FORM, "port_status": "port_in_pending", "port_target_carrier": "bell"})
    assert response.status_code == 302
    assert numbers.get(web, "2045551299").port_status == "port_in_pending"
    assert web.scalar(select(Carrier.callerid_format).where(Carrier.name == "telus")) == "nanp10"
