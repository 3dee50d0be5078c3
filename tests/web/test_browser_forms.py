"""Issue 10's leftovers in a real browser (headless Chromium, Playwright): a refused form redirects (a refresh does not
post it again) and the bulk delete question names the selected rows and what they still hold.

Screenshots go to artifacts/browser/.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session as OrmSession

from tests.web import test_browser as _tb
from tests.web.test_browser import save, shot, sign_in, text

live_server = _tb.live_server
page = _tb.page
sync_playwright = _tb.sync_playwright

pytestmark = pytest.mark.browser


def test_a_refused_form_redirects_and_a_refresh_does_not_post_it_again(page, live_server):
    from app.models import Carrier

    base = live_server["url"]
    sign_in(page, base)
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    page.goto(f"{base}/admin/carrier/new/")
    page.fill("#name", "typedtel")
    page.select_option("#auth_mode", "register")
    page.fill("#signalling_addresses", "203.0.113.44")
    page.fill("#username", "1234567@sip.example")
    page.fill("#password", "Browser-Typed-Password-1")
    page.fill("#port", "99999")
    save(page)
    assert "tl_form=" in page.url  # the page after the POST is a GET of the same form
    body = text(page)
    assert "99999 is out of range (1 to 65535)" in body
    assert "Nothing was saved: correct the fields marked in red." in body
    assert "Passwords are not kept after a refused save: type the password again." in body
    assert page.input_value("#name") == "typedtel" and page.input_value("#port") == "99999"
    assert page.input_value("#auth_mode") == "register" and page.input_value("#password") == ""
    shot(page, "40-refused-form-after-redirect")
    assert len(posts) == 1
    # A refresh is a GET: nothing is posted again, and the form is fresh (the typed values were shown once).
    page.reload()
    page.wait_for_load_state("networkidle")
    assert len(posts) == 1
    assert page.input_value("#name") == "" and "out of range" not in text(page)
    shot(page, "41-refused-form-refreshed")
    with OrmSession(live_server["engine"]) as db:
        assert db.scalar(select(Carrier).where(Carrier.name == "typedtel")) is None
    assert page.csp_violations == []


def test_bulk_delete_names_the_selected_rows_and_counts_what_they_hold(page, live_server):
    from app.models import PhoneNumber, Trunk

    base = live_server["url"]
    sign_in(page, base)
    asked: list[str] = []
    answer = {"accept": False}

    def handle(dialog):
        asked.append(dialog.message)
        dialog.accept() if answer["accept"] else dialog.dismiss()
    page.on("dialog", handle)

    with OrmSession(live_server["engine"]) as db:
        trunks = list(db.scalars(select(Trunk)))
        names = {str(t) for t in trunks}
        rung = db.scalar(select(func.count()).select_from(PhoneNumber).where(PhoneNumber.trunk_id.is_not(None)))
    assert len(trunks) > 3 and rung > 1
    page.goto(f"{base}/admin/trunk/?page_size=100")
    page.check("input.action-rowtoggle")  # every row
    page.click("a.dropdown-toggle:has-text('With selected')")
    page.click("a.dropdown-item:has-text('Delete')")
    page.wait_for_timeout(300)
    assert len(asked) == 1, asked  # one question, ours (not Flask-Admin's generic one as well)
    match = re.fullmatch(rf"Delete {len(trunks)} trunks \((.+), (.+), (.+) and {len(trunks) - 3} more\)\? They still ring "
                         rf"{rung:,} numbers, so the deletion will be refused \(nothing is deleted\): a trunk's own page "
                         r"deletes it and releases its numbers\.", asked[0])
    assert match, asked[0]
    assert set(match.groups()) <= names
    shot(page, "42-bulk-delete-trunks-question")
    with OrmSession(live_server["engine"]) as db:
        assert db.scalar(select(func.count()).select_from(Trunk)) == len(trunks)  # dismissed: nothing posted

    # Two numbers: named as people write them; accepted, they are deleted.
    from app.services import numbers
    from app.services.audit import SYSTEM

    with OrmSession(live_server["engine"]) as db:
        for number in ("204-555-1291", "204-555-1292"):
            numbers.save(db, {"number": number, "carrier": "telus"}, SYSTEM)
        db.commit()
    page.goto(f"{base}/admin/number/?search=204-555-129")
    boxes = page.locator("input.action-checkbox")
    assert boxes.count() >= 2
    boxes.nth(0).check()
    boxes.nth(1).check()
    answer["accept"] = True
    page.click("a.dropdown-toggle:has-text('With selected')")
    page.click("a.dropdown-item:has-text('Delete')")
    page.wait_for_load_state("networkidle")
    assert asked[-1] == "Delete 2 numbers ((204) 555-1291, (204) 555-1292)? Calls to them will no longer be routed."
    assert "2 record(s) deleted" in text(page)
    with OrmSession(live_server["engine"]) as db:
        assert db.scalar(select(func.count()).select_from(PhoneNumber).where(
            PhoneNumber.e164.in_(["+12045551291", "+12045551292"]))) == 0
    assert page.csp_violations == []


def test_bulk_delete_of_one_row_and_of_rows_holding_nothing(page, live_server):
    from app.services import carriers
    from app.services.audit import SYSTEM

    base = live_server["url"]
    with OrmSession(live_server["engine"]) as db:
        for name, ip in (("spare-a", "203.0.113.91"), ("spare-b", "203.0.113.92")):
            carriers.save(db, {"name": name, "signalling_addresses": ip}, SYSTEM)
        db.commit()
    sign_in(page, base)
    asked: list[str] = []

    def handle(dialog):
        asked.append(dialog.message)
        dialog.accept()
    page.on("dialog", handle)
    page.goto(f"{base}/admin/carrier/?search=spare-")
    page.check("input.action-rowtoggle")
    page.click("a.dropdown-toggle:has-text('With selected')")
    page.click("a.dropdown-item:has-text('Delete')")
    page.wait_for_load_state("networkidle")
    assert asked == ["Delete 2 carriers (spare-a, spare-b)? Calls can no longer go through them."]
    assert "2 record(s) deleted" in text(page)
    page.goto(f"{base}/admin/carrier/?search=telus")
    page.check("input.action-checkbox")
    page.click("a.dropdown-toggle:has-text('With selected')")
    page.click("a.dropdown-item:has-text('Delete')")
    page.wait_for_load_state("networkidle")
    assert re.fullmatch(r"Delete 1 carrier \(telus\)\? It holds [\d,]+ numbers?, so the deletion will be refused "
                        r"\(nothing is deleted\) until those are ported to another carrier\.", asked[-1]), asked[-1]
    assert "Nothing was deleted" in text(page)
    shot(page, "43-bulk-delete-refused")
    page.goto(f"{base}/admin/node/?search=cl-ovh-bhs7")
    page.check("input.action-checkbox")
    page.click("a.dropdown-toggle:has-text('With selected')")
    page.click("a.dropdown-item:has-text('Delete')")
    page.wait_for_load_state("networkidle")
    assert asked[-1] == ("Delete 1 node (cl-ovh-bhs7)? It serves a client, so the deletion will be refused (nothing is "
                         "deleted): replace such a node from its client's page.")
    assert page.csp_violations == []
