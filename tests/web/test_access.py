"""Roles x every write route, CSRF on every write route, sign-in required everywhere, audit of every write."""

from __future__ import annotations

import pytest

from tests.web.scenarios import ADMIN_ONLY, DISABLED, DISABLED_URLS, NO_AUDIT, WRITE_SCENARIOS, audit_count, last_audit

AUTH_WRITES = {"auth.login", "auth.logout"}


def post_endpoints(app) -> set[str]:
    return {r.endpoint for r in app.url_map.iter_rules() if "POST" in r.methods and r.endpoint not in AUTH_WRITES}


def test_every_write_route_has_a_scenario(app):
    """A new POST route without a role/CSRF/audit scenario fails here."""
    assert post_endpoints(app) == set(WRITE_SCENARIOS) | DISABLED


def _url(app, endpoint: str) -> str:
    for rule in app.url_map.iter_rules():
        if rule.endpoint == endpoint:
            return rule.rule
    raise AssertionError(endpoint)


@pytest.mark.parametrize("endpoint", sorted(WRITE_SCENARIOS))
@pytest.mark.parametrize("role", ["admin", "operator", "viewer"])
def test_write_route_by_role(as_role, web, accounts, role, endpoint):
    prepare, request, check = WRITE_SCENARIOS[endpoint]
    ids = prepare(web)
    browser = as_role(role)
    before = audit_count(web)
    response = request(browser, ids)
    allowed = role == "admin" or (role == "operator" and endpoint not in ADMIN_ONLY)
    if allowed:
        first = response.history[0] if response.history else response  # scenarios that follow the redirect
        assert first.status_code in (302, 303), response.text[:2000]  # redirect after every POST: a refresh never re-posts
        assert "Nothing was saved" not in response.text and "Not deleted" not in response.text, response.text[:3000]
        assert check(web, ids, accounts[role]), f"{endpoint} as {role} did not change what it should"
        if endpoint in NO_AUDIT:
            assert audit_count(web) == before
            return
        assert audit_count(web) > before, "a write must leave an audit entry"
        entry = last_audit(web)
        assert entry.actor == accounts[role]
        assert entry.channel in ("form", "action", "csv")
    else:
        assert response.status_code == 403
        assert audit_count(web) == before
        assert not check(web, ids, accounts[role])


@pytest.mark.parametrize("endpoint", sorted(DISABLED - {e for e in DISABLED if e.endswith("ajax_update")}))
@pytest.mark.parametrize("role", ["admin", "operator", "viewer"])
def test_disabled_write_routes_change_nothing(as_role, web, role, endpoint):
    browser = as_role(role)
    before = audit_count(web)
    response = browser.post(DISABLED_URLS[endpoint], {"id": "1", "action": "delete", "rowid": "1"})
    assert response.status_code in (302, 403, 404)
    if role == "viewer":
        assert response.status_code == 403
    assert audit_count(web) == before


@pytest.mark.parametrize("view", ["audit", "carrier", "node", "client", "trunk", "number", "port_order", "user"])
def test_inline_list_editing_is_off(as_role, web, view):
    response = as_role("admin").post(f"/admin/{view}/ajax/update/", {"list_form_pk": "1", "name": "x"})
    assert response.status_code == 404


@pytest.mark.parametrize("endpoint", sorted(WRITE_SCENARIOS))
def test_csrf_is_required_on_every_write_route(as_role, web, endpoint):
    prepare, request, check = WRITE_SCENARIOS[endpoint]
    ids = prepare(web)
    browser = as_role("admin")
    before = audit_count(web)

    class NoToken:
        """The same request, without the CSRF token."""

        def post(self, url, data=None, **kw):
            return browser.post(url, data, csrf=False, **kw)

    response = request(NoToken(), ids)
    assert response.status_code == 400
    assert "CSRF" in response.text
    assert audit_count(web) == before
    assert not check(web, ids, "admin@example.test")


def test_a_wrong_csrf_token_is_refused(as_role, web):
    browser = as_role("operator")
    response = browser.post("/admin/carrier/new/", {"name": "x1", "csrf_token": "forged"})
    assert response.status_code == 400


def test_sign_out_needs_csrf(as_role, web):
    browser = as_role("viewer")
    assert browser.post("/logout", csrf=False).status_code == 400
    assert browser.get("/admin/").status_code == 200
    assert browser.post("/logout").status_code == 302
    assert browser.get("/admin/").status_code == 302


@pytest.mark.parametrize("endpoint", sorted(WRITE_SCENARIOS))
def test_anonymous_writes_are_refused(browser, web, accounts, endpoint):
    prepare, request, check = WRITE_SCENARIOS[endpoint]
    ids = prepare(web)
    from tests.web.conftest import csrf_token

    browser.token = csrf_token(browser.get("/login").text)
    before = audit_count(web)
    response = request(browser, ids)
    assert response.status_code == 401
    assert audit_count(web) == before


@pytest.mark.parametrize("url", ["/admin/", "/admin/carrier/", "/admin/node/", "/admin/client/", "/admin/trunk/", "/admin/number/",
                                 "/admin/port_order/", "/admin/audit/", "/admin/user/", "/admin/number/export/csv/",
                                 "/admin/trunk/details/?id=1", "/admin/carrier/new/", "/admin/usage/",
                                 "/admin/e911_call/"])
def test_every_page_needs_sign_in(browser, web, url):
    response = browser.get(url)
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


@pytest.mark.parametrize("url", ["/admin/carrier/new/", "/admin/node/new/", "/admin/client/new/", "/admin/trunk/new/",
                                 "/admin/number/new/", "/admin/port_order/new/", "/admin/carrier/edit/?id=1",
                                 "/admin/client/replace-node/?id=1"])
def test_viewer_gets_no_write_forms(as_role, web, url):
    assert as_role("viewer").get(url).status_code == 403


def test_viewer_sees_no_write_buttons(as_role, web):
    page = as_role("viewer").get("/admin/carrier/").text
    assert "/admin/carrier/new/" not in page
    assert "/admin/carrier/delete/" not in page
    trunk_page = as_role("viewer").get("/admin/trunk/details/?id=2").text
    assert "tl-reveal" not in trunk_page


def test_users_page_is_for_admins_only(as_role, web):
    assert as_role("operator").get("/admin/user/").status_code == 403
    assert as_role("viewer").get("/admin/user/").status_code == 403
    assert "operator@example.test" in as_role("admin").get("/admin/user/").text
