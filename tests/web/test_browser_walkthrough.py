"""Issue 10 in a real browser (headless Chromium, Playwright): a new user's first walk-through, pages that do not surprise.

Screenshots of the changed pages (carrier, node, audit, error pages, show-once, replacement checklist) go to
artifacts/browser/ for review.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session as OrmSession

from tests.web import test_browser as _tb
from tests.web.test_browser import ADMIN, CHROMIUM, CHROMIUM_ARGS, save, shot, sign_in, text

# The live server, the browser tab and Playwright come from test_browser.py's fixtures.
live_server = _tb.live_server
page = _tb.page
sync_playwright = _tb.sync_playwright

pytestmark = pytest.mark.browser

# numbers.csv as Excel saves it in French-Canadian settings: UTF-8 with a byte-order mark, CRLF line ends, semicolons.
EXCEL_NUMBERS = ("\ufeffnumber;carrier;client;trunk;e911_registered;e911_address;port_status\r\n"
                 "(431) 555-2101;fibrenet;ZETA;main;yes;12 rue Saint-Paul, Montréal QC H2Y 1Z8;active\r\n"
                 "431-555-2102;fibrenet;ZETA;main;no;;active\r\n").encode("utf-8")


def watch(tab) -> list[str]:
    """Everything the browser console would show as a problem: console errors and any response of 400 or more."""
    problems: list[str] = []
    tab.on("console", lambda msg: problems.append(f"console {msg.type}: {msg.text}") if msg.type == "error" else None)
    tab.on("response", lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    return problems


def accept_dialogs(tab) -> list[str]:
    """Accept every confirmation, remembering its question."""
    asked: list[str] = []

    def handle(dialog):
        asked.append(dialog.message)
        dialog.accept()
    tab.on("dialog", handle)
    return asked


def no_sideways_scroll(tab) -> bool:
    return tab.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")


def test_new_user_walk_through(page, live_server):
    """Sign in; carrier, node, client, trunk and numbers by form; an Excel CSV; the E911 preview; sign out; replay the cookie."""
    from app.models import Client, PhoneNumber, Trunk

    base = live_server["url"]
    problems = watch(page)
    asked = accept_dialogs(page)
    sign_in(page, base)

    page.goto(f"{base}/admin/carrier/new/")
    page.fill("#name", "fibrenet")
    page.fill("#signalling_addresses", "203.0.113.9")
    page.select_option("#callerid_format", "nanp10")
    page.select_option("#e911_callerid_format", "nanp10")
    page.check("#provides_911")
    save(page)
    assert "Record was successfully created" in text(page)

    page.goto(f"{base}/admin/node/new/")
    page.fill("#name", "cl-hetzner-fsn1")
    page.select_option("#role", "client")
    page.fill("#public_ip", "192.0.2.41")
    page.fill("#hosting_provider", "Hetzner")
    page.fill("#dns_name", "zeta.trunk.example.net")
    save(page)
    assert "Record was successfully created" in text(page)

    page.goto(f"{base}/admin/client/new/")
    page.fill("#name", "Zeta Freight")
    page.fill("#account_code", "ZETA")
    page.select_option("#node", "cl-hetzner-fsn1")
    save(page)
    assert "Record was successfully created" in text(page)

    page.goto(f"{base}/admin/trunk/new/")
    page.select_option("#client", "ZETA")
    page.fill("#name", "main")
    page.fill("#source_addresses", "198.18.50.10")
    save(page)
    assert "Record was successfully created" in text(page)

    # A second trunk by username and password: its password is shown once, on a page a refresh does not re-post.
    page.goto(f"{base}/admin/trunk/new/")
    page.select_option("#client", "ZETA")
    page.fill("#name", "fax")
    page.select_option("#auth_mode", "credentials")
    save(page)
    assert page.url.endswith("/admin/shown-once/")
    password = page.inner_text("#tl-secret-password").strip()
    assert len(password) >= 16 and "shown only now" in text(page) and "Trunk ZETA/fax created" in text(page)
    shot(page, "20-walkthrough-trunk-password-once")
    page.reload()
    page.wait_for_load_state("networkidle")
    assert "no longer shown" in text(page) and password not in text(page)
    assert "Nothing was saved" not in text(page)
    with OrmSession(live_server["engine"]) as db:
        assert len(db.scalars(select(Trunk).where(Trunk.name == "fax")).all()) == 1

    for number, registered in (("431-555-2100", True),):
        page.goto(f"{base}/admin/number/new/")
        page.fill("#number", number)
        page.select_option("#carrier", "fibrenet")
        page.select_option("#client", "ZETA")
        page.fill("#trunk", "main")
        if registered:
            page.check("#e911_registered")
            page.fill("#e911_address", "1 Rail Way, Winnipeg MB R3C 0A1")
        save(page)
        assert "Record was successfully created" in text(page)

    # numbers.csv as Excel writes it (BOM, CRLF, semicolons): preview, then import.
    page.goto(f"{base}/admin/csv/")
    page.select_option("#tl-csv-kind", "numbers")
    page.set_input_files("#tl-csv-file", files=[{"name": "numbers.csv", "mimeType": "text/csv", "buffer": EXCEL_NUMBERS}])
    page.click("#tl-csv-preview")
    page.wait_for_selector("#tl-csv-result")
    assert "all 2 row(s) are valid (2 created" in text(page), text(page)[:1500]
    shot(page, "21-walkthrough-excel-csv-preview")
    page.click("#tl-csv-confirm")
    page.wait_for_selector("#tl-csv-done")
    assert asked and asked[-1].startswith("Import numbers.csv (numbers) now: 2 created")
    with OrmSession(live_server["engine"]) as db:
        stored = db.scalar(select(PhoneNumber).where(PhoneNumber.e164 == "+14315552101"))
        assert stored.e911_address == "12 rue Saint-Paul, Montréal QC H2Y 1Z8" and stored.e911_registered
        trunk_id = db.scalar(select(Trunk.id).join(Client).where(Client.account_code == "ZETA", Trunk.name == "main"))

    # The E911 preview of the trunk, for the number imported from Excel.
    page.goto(f"{base}/admin/trunk/details/?id={trunk_id}")
    page.fill("#caller_id", "431-555-2101")
    page.click("#tl-e911-form button[type=submit]")
    page.wait_for_load_state("networkidle")
    preview = re.sub(r"\s+", " ", page.inner_text("#tl-e911-preview"))
    assert "A 911 call from this trunk with caller ID 431-555-2101 leaves through carrier fibrenet as 4315552101" in preview
    shot(page, "22-walkthrough-e911-preview")

    # Sign out, then replay the cookie saved before: refused for pages and for writes.
    saved = page.context.cookies()
    assert any(c["name"] == "trunkline_session" for c in saved)
    page.click("#tl-sign-out")
    page.wait_for_url(re.compile(r".*/login$"))
    browser = page.context.browser
    thief = browser.new_context()
    try:
        thief.add_cookies(saved)
        other = thief.new_page()
        other.goto(f"{base}/admin/carrier/")
        assert "/login" in other.url
        response = thief.request.post(f"{base}/admin/carrier/new/", form={"name": "stolen", "signalling_addresses": "203.0.113.66"},
                                      max_redirects=0)
        assert response.status in (400, 401)  # no session: refused before any form is read
        shot(other, "23-walkthrough-replayed-cookie")
    finally:
        thief.close()
    with OrmSession(live_server["engine"]) as db:
        from app.models import Carrier

        assert db.scalar(select(Carrier).where(Carrier.name == "stolen")) is None
    assert problems == [], problems
    assert page.csp_violations == []


def test_carrier_node_audit_and_error_pages_read_well(sync_playwright, live_server):
    """At 1366 px: carrier and node pages in plain words, the audit log without sideways scrolling, error pages with the menu."""
    from app.models import Carrier, Node
    from tests.web.test_browser import ARTIFACTS

    base = live_server["url"]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1366, "height": 768})
        tab = context.new_page()
        tab.set_default_timeout(15000)
        try:
            problems = watch(tab)
            sign_in(tab, base)
            with OrmSession(live_server["engine"]) as db:
                telus = db.scalar(select(Carrier.id).where(Carrier.name == "telus"))
                node = db.scalar(select(Node.id).where(Node.name == "cl-ovh-bhs7"))
            tab.goto(f"{base}/admin/carrier/details/?id={telus}")
            body = text(tab)
            assert "10 digits (2045551234)" in body and "nanp10" not in body
            assert "Numbers it holds" in body and "Calls in the last 30 days" in body
            shot(tab, "24-carrier-page")
            tab.goto(f"{base}/admin/node/details/?id={node}")
            body = text(tab)
            assert "Faces one client" in body and "Client served ACME" in body
            shot(tab, "25-node-page")
            tab.goto(f"{base}/admin/carrier/")
            assert "10 digits (2045551234)" in text(tab)
            shot(tab, "26-carrier-list")

            # Make a change so the log has an update to show, then read the log at 1366 px.
            tab.goto(f"{base}/admin/client/edit/?id=1")
            tab.fill("#max_channels", "31")
            save(tab)
            tab.goto(f"{base}/admin/audit/")
            body = text(tab)
            assert f"{ADMIN} changed client ACME (maximum channels)" in body
            assert not re.search(r"\d\d:\d\d:\d\d\.\d", body) and "_id" not in body
            assert no_sideways_scroll(tab), "the audit log scrolls sideways at 1366 px"
            shot(tab, "27-audit-log-1366")
            tab.screenshot(path=str(ARTIFACTS / "27b-audit-log-1366-first-screen.png"))  # what fits on one laptop screen

            problems.clear()
            tab.goto(f"{base}/admin/trunk/details/?id=99999")
            assert "Not found" in text(tab) and tab.locator("#tl-sign-out").count() == 1
            assert tab.title() == "Not found (error 404) - Trunkline"  # the tab names the error, not "Dashboard"
            assert tab.locator("h4.mb-4").inner_text().strip() == "Not found (error 404)"
            assert tab.locator("a.nav-link:has-text('Carriers')").count() >= 1
            shot(tab, "28-error-404")
            assert problems and problems[0].startswith("404 ")  # the page itself, nothing else
            problems.clear()
        finally:
            context.close()

        # A viewer meets the 403 page.
        from app.services import users
        from app.services.audit import Actor

        with OrmSession(live_server["engine"]) as db:
            users.create(db, "viewer-b@example.test", "viewer", "viewer-password-long", Actor("browser-test", "cli"))
            db.commit()
        context = browser.new_context(viewport={"width": 1366, "height": 768})
        tab = context.new_page()
        try:
            tab.goto(f"{base}/login")
            tab.fill("#email", "viewer-b@example.test")
            tab.fill("#password", "viewer-password-long")
            tab.click("#tl-sign-in")
            tab.wait_for_url(f"{base}/admin/")
            tab.goto(f"{base}/admin/user/")
            assert "Not allowed" in text(tab) and tab.locator("#tl-sign-out").count() == 1
            assert tab.title() == "Not allowed (error 403) - Trunkline"
            shot(tab, "29-error-403")
        finally:
            context.close()
            browser.close()


def test_no_page_logs_a_404_in_the_console(page, live_server):
    base = live_server["url"]
    problems = watch(page)
    sign_in(page, base)
    for url in ("/admin/", "/admin/client/", "/admin/trunk/", "/admin/number/", "/admin/carrier/", "/admin/node/",
                "/admin/audit/", "/admin/csv/", "/admin/client/details/?id=1"):
        page.goto(base + url)
        page.wait_for_load_state("networkidle")
    assert problems == [], problems
    assert page.csp_violations == []


def test_node_replacement_checklist_survives_a_refresh(page, live_server):
    from app.models import Client

    base = live_server["url"]
    asked = accept_dialogs(page)
    sign_in(page, base)
    with OrmSession(live_server["engine"]) as db:
        acme = db.scalar(select(Client.id).where(Client.account_code == "ACME"))
    page.goto(f"{base}/admin/client/replace-node/?id={acme}")
    assert page.locator("#tl-replace-submit").inner_text().startswith("Replace node cl-ovh-bhs7 now")
    assert page.locator("input[value='Save']").count() == 0
    page.fill("#name", "cl-vultr-tor9")
    page.fill("#public_ip", "192.0.2.31")
    page.click("#tl-replace-submit")
    page.wait_for_selector("#tl-replacement-steps")
    assert asked and asked[0].startswith("Replace node cl-ovh-bhs7 (192.0.2.21) of client ACME now?")
    steps = page.inner_text("#tl-replacement-steps")
    assert "`" not in steps and page.locator("#tl-replacement-steps code").count() >= 1
    shot(page, "30-replacement-checklist")
    page.reload()
    page.wait_for_load_state("networkidle")
    assert page.inner_text("#tl-replacement-steps") == steps  # a refresh shows it again, re-posts nothing
    assert "Nothing was saved" not in text(page)
    page.goto(f"{base}/admin/client/details/?id={acme}")
    page.click("#tl-client-replacements a")
    page.wait_for_selector("#tl-replacement-steps")
    assert page.inner_text("#tl-replacement-steps") == steps


def test_named_confirmations_in_the_browser(page, live_server):
    """The questions a sysadmin answers name the trunk, the numbers and the carrier; dismissing one does nothing."""
    from app.models import PortOrder, Trunk
    from app.services import porting
    from app.services.audit import SYSTEM

    base = live_server["url"]
    sign_in(page, base)
    with OrmSession(live_server["engine"]) as db:
        order = porting.create(db, {"from_carrier": "telus", "to_carrier": "bell", "due_date": "2026-12-20",
                                    "numbers": "204-555-1201\n204-555-1202\n416-555-2302"}, SYSTEM)
        db.commit()
        order_id = order.id
        trunk_id = db.scalar(select(Trunk.id).where(Trunk.name == "main").order_by(Trunk.id).limit(1))
    asked: list[str] = []

    def dismiss(dialog):
        asked.append(dialog.message)
        dialog.dismiss()
    page.on("dialog", dismiss)
    page.goto(f"{base}/admin/port_order/details/?id={order_id}")
    page.click("#tl-port-complete")
    page.wait_for_timeout(300)
    assert asked[-1] == "Move 3 numbers to carrier bell now?"
    shot(page, "31-port-order-confirmation")
    with OrmSession(live_server["engine"]) as db:
        assert db.get(PortOrder, order_id).status == "pending"  # dismissed: nothing happened
    page.goto(f"{base}/admin/trunk/details/?id={trunk_id}")
    page.click("#tl-delete-release button")
    page.wait_for_timeout(300)
    assert re.fullmatch(r"Delete trunk ACME/main and release its \d+ numbers?\?", asked[-1]), asked[-1]
    with OrmSession(live_server["engine"]) as db:
        assert db.get(Trunk, trunk_id) is not None
