"""The admin in a real browser: headless Chromium (Debian's package) driven by Playwright against a live server.

Sign in, create a carrier, a node, a client, a trunk and a number (correcting invalid input on the way), read the
E911 preview, complete a port order and sign out. Screenshots go to artifacts/browser/.
"""

from __future__ import annotations

import os
import re
import shutil
import threading
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session as OrmSession

pytestmark = pytest.mark.browser

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--disable-dev-shm-usage"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "browser"
ADMIN, PASSWORD = "browser-admin@example.test", "browser-test-password"
IN_CI = os.environ.get("CI", "").lower() == "true"


def _unavailable(reason: str):
    if IN_CI:
        pytest.fail(f"the browser tests must run when CI=true: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def sync_playwright():
    try:
        from playwright.sync_api import sync_playwright as start
    except ImportError as exc:
        _unavailable(f"playwright is not installed: {exc}")
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        _unavailable(f"no Chromium at {CHROMIUM} (scripts/test_prereqs.d/chromium.sh installs it)")
    return start


@pytest.fixture
def live_server(tmp_path):
    """The real app on 127.0.0.1 (a free port) in a thread, with its own migrated, seeded SQLite file."""
    from werkzeug.serving import make_server

    from app import create_app
    from app.db import Session
    from app.migrations import upgrade
    from app.projection import apply_pending
    from app.services import users
    from app.services.audit import Actor
    from seeds.demo import load

    url = f"sqlite:///{tmp_path / 'browser.db'}"
    upgrade(url)
    # The shared scoped Session may still carry another test's settings: start from the defaults.
    Session.remove()
    Session.configure(bind=None, join_transaction_mode="conditional_savepoint")
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "browser-test", "TESTING": False,
                      "IMPORT_UPLOAD_DIR": str(tmp_path / "uploads"), "ONCE_DIR": str(tmp_path / "once")})
    engine = app.extensions["trunkline_engine"]
    with OrmSession(engine) as db:
        load(db)
        apply_pending(db)
        users.create(db, ADMIN, "admin", PASSWORD, Actor("browser-test", "cli"))
        db.commit()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield {"url": f"http://127.0.0.1:{server.server_port}", "engine": engine}
    finally:
        server.shutdown()
        thread.join(timeout=10)
        Session.remove()
        Session.configure(bind=None)
        engine.dispose()


@pytest.fixture
def page(sync_playwright, live_server):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        tab = context.new_page()
        tab.set_default_timeout(15000)
        tab.csp_violations = []
        tab.on("console", lambda msg: tab.csp_violations.append(msg.text) if "Content Security Policy" in msg.text else None)
        try:
            yield tab
        finally:
            context.close()
            browser.close()


def shot(page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def text(page) -> str:
    return re.sub(r"\s+", " ", page.inner_text("body"))


def save(page) -> None:
    page.click("input[type=submit][value='Save']")
    page.wait_for_load_state("networkidle")


def sign_in(page, base: str) -> None:
    """Sign in as the admin through the login form and land on the dashboard."""
    page.goto(f"{base}/login")
    page.fill("#email", ADMIN)
    page.fill("#password", PASSWORD)
    page.click("#tl-sign-in")
    page.wait_for_url(f"{base}/admin/")


def test_sysadmin_day_in_the_browser(page, live_server):
    base = live_server["url"]
    from app.models import PhoneNumber, PortOrder, Trunk

    # Sign in.
    page.goto(f"{base}/admin/")
    assert "/login" in page.url
    shot(page, "01-sign-in")
    page.fill("#email", ADMIN)
    page.fill("#password", PASSWORD)
    page.click("#tl-sign-in")
    page.wait_for_url(f"{base}/admin/")
    assert "E911 coverage" in text(page)
    shot(page, "02-dashboard")

    # A carrier, with an address that is corrected after the form says what is wrong.
    page.goto(f"{base}/admin/carrier/new/")
    page.fill("#name", "fibrenet")
    page.fill("#signalling_addresses", "203.0.113.9/24")
    page.check("#provides_911")
    save(page)
    assert "has host bits set: did you mean 203.0.113.0/24?" in text(page)
    shot(page, "03-carrier-error")
    page.fill("#signalling_addresses", "203.0.113.9")
    save(page)
    assert "Record was successfully created" in text(page)
    assert "fibrenet" in text(page)

    # A node for the new client, then the client on it.
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

    # A trunk authenticated by IP.
    page.goto(f"{base}/admin/trunk/new/")
    page.select_option("#client", "ZETA")
    page.fill("#name", "main")
    page.fill("#source_addresses", "198.18.50.10")
    save(page)
    assert "Record was successfully created" in text(page)

    # A number: first an N11 exchange (refused, with the reason), then the right one.
    page.goto(f"{base}/admin/number/new/")
    page.fill("#number", "204-411-1234")
    page.select_option("#carrier", "fibrenet")
    page.select_option("#client", "ZETA")
    page.fill("#trunk", "main")
    page.check("#e911_registered")
    page.fill("#e911_address", "1 Rail Way, Winnipeg MB R3C 0A1")
    save(page)
    assert "N11 code" in text(page)
    shot(page, "04-number-error")
    page.fill("#number", "204-555-1411")
    save(page)
    assert "Record was successfully created" in text(page)
    shot(page, "05-numbers")

    # The client page: node, DNS name, trunk, number and its E911 coverage.
    from app.models import Client

    with OrmSession(live_server["engine"]) as db:
        client_id = db.scalar(select(Client.id).where(Client.account_code == "ZETA"))
    page.goto(f"{base}/admin/client/details/?id={client_id}")
    client_page = text(page)
    assert "zeta.trunk.example.net" in client_page and "(204) 555-1411" in client_page
    # No trunk or client E911 number yet: a call without a registered caller ID would not resolve, and the page says so.
    assert "not every trunk resolves" in client_page and "trunk level: not set; client level: not set" in client_page
    shot(page, "05b-client-page")

    # The trunk page: its number and the E911 preview.
    with OrmSession(live_server["engine"]) as db:
        trunk_id = db.scalar(select(Trunk.id).where(Trunk.name == "main", Trunk.username.is_(None)).order_by(Trunk.id.desc()))
    page.goto(f"{base}/admin/trunk/details/?id={trunk_id}")
    page.fill("#caller_id", "204-555-1411")
    page.click("#tl-e911-form button[type=submit]")
    page.wait_for_load_state("networkidle")
    preview = re.sub(r"\s+", " ", page.inner_text("#tl-e911-preview"))
    assert ("A 911 call from this trunk with caller ID 204-555-1411 leaves through carrier fibrenet as +12045551411, "
            "from the caller's own registration (+12045551411)") in preview
    shot(page, "06-trunk-e911-preview")

    # Port the number from fibrenet to telus and complete the order.
    page.goto(f"{base}/admin/port_order/new/")
    page.select_option("#from_carrier", "fibrenet")
    page.select_option("#to_carrier", "telus")
    page.fill("#due_date", "2026-12-15")
    page.fill("#numbers", "204-555-1411")
    save(page)
    assert "Pending" in page.inner_text("#tl-port-status")
    shot(page, "07-port-order")
    page.once("dialog", lambda dialog: dialog.accept())  # "Move 1 number to carrier telus now?"
    page.click("#tl-port-complete")
    page.wait_for_load_state("networkidle")
    assert page.inner_text("#tl-port-status").strip() == "Completed"
    assert "1 number(s) now held by telus" in text(page)
    shot(page, "08-port-order-completed")
    with OrmSession(live_server["engine"]) as db:
        number = db.scalar(select(PhoneNumber).where(PhoneNumber.e164 == "+12045551411"))
        assert number.carrier.name == "telus" and number.port_status == "active"
        assert db.scalar(select(PortOrder.status)) == "completed"
    page.goto(f"{base}/admin/trunk/details/?id={trunk_id}&caller_id=2045551411")
    assert "leaves through carrier telus as 2045551411" in page.inner_text("#tl-e911-preview")

    # The audit log names the browser user; then sign out.
    page.goto(f"{base}/admin/audit/")
    assert ADMIN in text(page)
    shot(page, "09-audit-log")
    page.click("#tl-sign-out")
    page.wait_for_url(re.compile(r".*/login$"))
    assert "You are signed out" in text(page)
    page.goto(f"{base}/admin/number/")
    assert "/login" in page.url
    assert page.csp_violations == []


def test_list_actions_work_under_the_content_security_policy(page, live_server):
    """Flask-Admin's inline handlers (row delete confirmation, bulk actions) run under the CSP, by hash."""
    base = live_server["url"]
    sign_in(page, base)
    page.goto(f"{base}/admin/number/?search=604-555-3403")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("form.icon button[title='Delete number (604) 555-3403']")
    page.wait_for_load_state("networkidle")
    assert "Record was successfully deleted" in text(page)
    page.goto(f"{base}/admin/carrier/new/")
    page.fill("#name", "spare")
    page.fill("#signalling_addresses", "203.0.113.99")
    save(page)
    page.goto(f"{base}/admin/carrier/?search=spare")
    page.check("input.action-checkbox")
    page.click("a.dropdown-toggle:has-text('With selected')")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("a:has-text('Delete')")
    page.wait_for_load_state("networkidle")
    assert "1 record(s) deleted" in text(page)
    shot(page, "10-bulk-delete")
    assert page.csp_violations == []


def test_csv_import_preview_and_confirm_in_the_browser(page, live_server):
    """Upload a numbers file with a wrong row (every error listed), then the corrected one: preview, confirm, export."""
    from app.models import AuditEntry, PhoneNumber

    base = live_server["url"]
    page.on("dialog", lambda dialog: dialog.accept())  # "Import numbers.csv (numbers) now: 2 created, 0 updated?"
    sign_in(page, base)
    page.click("a:has-text('Import / export')")
    page.wait_for_url(f"{base}/admin/csv/")

    def upload(content: bytes) -> None:
        page.select_option("#tl-csv-kind", "numbers")
        page.set_input_files("#tl-csv-file", files=[{"name": "numbers.csv", "mimeType": "text/csv", "buffer": content}])
        page.click("#tl-csv-preview")
        page.wait_for_selector("#tl-csv-result")  # the check runs in the background: its page shows the result once done

    upload(b"number,carrier,port_status\n204-555-1421,telus,active\n204-555-142,telus,active\n204-555-1423,nope,active\n")
    assert "2 of 3 row(s) are wrong" in text(page)
    assert page.locator("#tl-csv-errors tbody tr").count() == 2
    assert page.locator("#tl-csv-confirm").count() == 0
    shot(page, "11-csv-preview-errors")

    upload(b"number,carrier,port_status\n204-555-1421,telus,active\n204-555-1422,bell,active\n")
    assert "dry run: all 2 row(s) are valid (2 created, 0 updated, 0 unchanged)" in text(page)
    shot(page, "12-csv-preview")
    with OrmSession(live_server["engine"]) as db:
        assert db.scalar(select(PhoneNumber).where(PhoneNumber.e164 == "+12045551421")) is None
    page.click("#tl-csv-confirm")
    page.wait_for_selector("#tl-csv-done")
    assert "2 row(s) imported: 2 created, 0 updated, 0 unchanged" in text(page)
    shot(page, "13-csv-imported")
    with OrmSession(live_server["engine"]) as db:
        assert db.scalar(select(PhoneNumber.e164).where(PhoneNumber.e164 == "+12045551422")) == "+12045551422"
        entry = db.scalar(select(AuditEntry).where(AuditEntry.channel == "csv", AuditEntry.action == "import"))
        assert entry.actor == ADMIN

    with page.expect_download() as download:
        page.click("#tl-export-numbers")
    assert "+12045551422" in Path(download.value.path()).read_text()
    assert page.csp_violations == []


def test_csv_import_of_thousands_of_numbers_shows_progress_in_the_browser(page, live_server, monkeypatch):
    """A file of 6,000 numbers: a progress bar with counts while it is checked, then the preview; confirm, progress, imported."""
    import time

    from app.models import PhoneNumber
    from app.web import csv_jobs

    # Each batch of 2,000 rows waits 0.6 s, so the progress is on screen for a few polls however fast the machine is.
    advance = csv_jobs.Job.advance

    def slow_advance(job, rows):
        advance(job, rows)
        time.sleep(0.6)
    monkeypatch.setattr(csv_jobs.Job, "advance", slow_advance)

    base = live_server["url"]
    page.on("dialog", lambda dialog: dialog.accept())  # the import's named confirmation
    sign_in(page, base)
    page.goto(f"{base}/admin/csv/")
    content = b"number,carrier\n" + b"".join(b"431-555-%04d,telus\n" % n for n in range(2000, 8000))
    page.select_option("#tl-csv-kind", "numbers")
    page.set_input_files("#tl-csv-file", files=[{"name": "many.csv", "mimeType": "text/csv", "buffer": content}])
    page.click("#tl-csv-preview")

    page.wait_for_selector("#tl-csv-progress")
    assert re.search(r"[\d,]+ of 6,000 rows checked", page.inner_text("#tl-csv-progress-text"))
    page.eval_on_selector("#tl-csv-progress", "box => { box.dataset.sameDocument = 'yes'; }")
    page.wait_for_function("() => /^[1-9][0-9,]* of 6,000 rows checked/.test(document.getElementById('tl-csv-progress-text').textContent)")
    assert page.get_attribute("#tl-csv-progress", "data-same-document") == "yes"  # the polls moved it, not a reload
    width = page.eval_on_selector("#tl-csv-bar", "bar => bar.style.width")
    assert width in ("33%", "66%", "100%"), width
    page.wait_for_timeout(300)  # let the bar's short width transition end before the screenshot
    shot(page, "14-csv-progress")
    page.wait_for_selector("#tl-csv-result")
    assert "dry run: all 6000 row(s) are valid (6000 created, 0 updated, 0 unchanged)" in text(page)
    assert page.locator("#tl-csv-discard").count() == 1
    shot(page, "15-csv-preview-many")

    page.click("#tl-csv-confirm")
    page.wait_for_selector("#tl-csv-progress")
    assert "rows imported" in page.inner_text("#tl-csv-progress-text")
    page.wait_for_selector("#tl-csv-done")
    assert "6000 row(s) imported: 6000 created, 0 updated, 0 unchanged" in text(page)
    shot(page, "16-csv-imported-many")
    with OrmSession(live_server["engine"]) as db:
        assert len(db.scalars(select(PhoneNumber.e164).where(PhoneNumber.e164.like("+1431555%"))).all()) == 6000
    assert page.csp_violations == []
