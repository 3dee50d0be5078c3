"""Sessions end on the server: a cookie saved before sign-out, a password change or a role change no longer signs in.

Each test saves the session cookie as an attacker (or a forgotten browser tab) would, then replays it from a fresh
client and tries both a page and a write.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

from sqlalchemy import func, select

from app.models import Carrier, User
from tests.web.conftest import Browser, csrf_token
from tests.web.scenarios import CARRIER_FORM

COOKIE = "trunkline_session"


def saved_cookie(b: Browser) -> str:
    cookie = b.client.get_cookie(COOKIE)
    assert cookie is not None and cookie.value
    return cookie.value


def replay(app, value: str) -> Browser:
    """A fresh client that only has the saved cookie."""
    other = Browser(app.test_client())
    other.client.set_cookie(COOKIE, value)
    return other


def replay_works(app, web, value: str, token: str) -> bool:
    """Whether the saved cookie still opens a page or creates a carrier (nothing is created when it does not)."""
    other = replay(app, value)
    page = other.get("/admin/carrier/")
    write = other.post("/admin/carrier/new/", {**CARRIER_FORM, "csrf_token": token}, csrf=False)
    created = web.scalar(select(func.count()).select_from(Carrier).where(Carrier.name == CARRIER_FORM["name"]))
    return page.status_code == 200 or write.status_code in (200, 302) and bool(created)


def test_cookie_saved_before_sign_out_is_refused(app, web, accounts):
    b = Browser(app.test_client())
    assert b.sign_in(accounts["admin"]).status_code == 302
    value, token = saved_cookie(b), b.refresh_token()
    assert replay_works(app, web, value, token) is True  # the saved cookie is a real, working session before sign-out
    web.execute(Carrier.__table__.delete().where(Carrier.name == CARRIER_FORM["name"]))
    web.commit()
    assert b.post("/logout").status_code == 302
    other = replay(app, value)
    page = other.get("/admin/carrier/")
    assert page.status_code == 302 and "/login" in page.headers["Location"]
    write = other.post("/admin/carrier/new/", {**CARRIER_FORM, "csrf_token": token}, csrf=False)
    assert write.status_code == 401
    assert web.scalar(select(func.count()).select_from(Carrier).where(Carrier.name == CARRIER_FORM["name"])) == 0
    # Signing in again gives a new session; the old cookie stays dead.
    assert b.sign_in(accounts["admin"]).status_code == 302
    assert replay(app, value).get("/admin/").status_code == 302


def test_sign_out_ends_the_sessions_of_every_browser_of_that_user(app, web, accounts):
    first, second, colleague = Browser(app.test_client()), Browser(app.test_client()), Browser(app.test_client())
    for b, who in ((first, "operator"), (second, "operator"), (colleague, "viewer")):
        assert b.sign_in(accounts[who]).status_code == 302
    first.post("/logout")
    assert second.get("/admin/").status_code == 302
    assert colleague.get("/admin/").status_code == 200  # another user is not affected


def test_password_change_in_the_web_ends_earlier_cookies(app, web, accounts, as_role):
    victim = Browser(app.test_client())
    assert victim.sign_in(accounts["operator"]).status_code == 302
    value = saved_cookie(victim)
    admin = as_role("admin")
    user = web.scalar(select(User).where(User.email == accounts["operator"]))
    response = admin.post(f"/admin/user/edit/?id={user.id}", {"email": user.email, "role": "operator", "active": "y",
                                                              "password": "a-brand-new-password"})
    assert response.status_code == 302, response.text
    assert replay(app, value).get("/admin/").status_code == 302
    assert victim.get("/admin/").status_code == 302


def test_own_password_change_keeps_this_browser_signed_in_but_ends_the_others(app, web, accounts):
    here, elsewhere = Browser(app.test_client()), Browser(app.test_client())
    assert here.sign_in(accounts["admin"]).status_code == 302
    assert elsewhere.sign_in(accounts["admin"]).status_code == 302
    value = saved_cookie(here)
    me = web.scalar(select(User).where(User.email == accounts["admin"]))
    response = here.post(f"/admin/user/edit/?id={me.id}", {"email": me.email, "role": "admin", "active": "y",
                                                          "password": "my-new-long-password"})
    assert response.status_code == 302, response.text
    assert here.get("/admin/").status_code == 200
    assert elsewhere.get("/admin/").status_code == 302
    assert replay(app, value).get("/admin/").status_code == 302


def test_role_change_ends_earlier_cookies(app, web, accounts, as_role):
    operator = Browser(app.test_client())
    assert operator.sign_in(accounts["operator"]).status_code == 302
    value, token = saved_cookie(operator), operator.refresh_token()
    admin = as_role("admin")
    user = web.scalar(select(User).where(User.email == accounts["operator"]))
    response = admin.post(f"/admin/user/edit/?id={user.id}", {"email": user.email, "role": "viewer", "active": "y", "password": ""})
    assert response.status_code == 302, response.text
    # Still an operator in the old cookie? No: it no longer signs in at all, so it cannot write.
    other = replay(app, value)
    assert other.get("/admin/").status_code == 302
    assert other.post("/admin/carrier/new/", {**CARRIER_FORM, "csrf_token": token}, csrf=False).status_code == 401
    assert web.scalar(select(func.count()).select_from(Carrier).where(Carrier.name == CARRIER_FORM["name"])) == 0
    # Signing in again gives the new role.
    fresh = Browser(app.test_client())
    assert fresh.sign_in(accounts["operator"]).status_code == 302
    assert "operator@example.test (Viewer" in fresh.get("/admin/").text or "(viewer)" in fresh.get("/admin/").text


def test_unchanged_role_keeps_the_session(app, web, accounts, as_role):
    operator = as_role("operator")
    admin = as_role("admin")
    user = web.scalar(select(User).where(User.email == accounts["operator"]))
    response = admin.post(f"/admin/user/edit/?id={user.id}", {"email": user.email, "role": "operator", "active": "y", "password": ""})
    assert response.status_code == 302
    assert operator.get("/admin/").status_code == 200


def test_session_cookie_lasts_hours_not_a_month(app, web, accounts):
    assert app.config["PERMANENT_SESSION_LIFETIME"] == timedelta(hours=12)
    client = app.test_client()
    token = csrf_token(client.get("/login").text)
    response = client.post("/login", data={"email": accounts["viewer"], "password": "correct-horse-battery-staple", "csrf_token": token})
    cookie = next(h for h in response.headers.getlist("Set-Cookie") if h.startswith(COOKIE + "="))
    expires = parsedate_to_datetime(cookie.split("Expires=")[1].split(";")[0])
    assert expires - datetime.now(UTC) < timedelta(hours=12, minutes=1)
    assert "remember_token" not in " ".join(response.headers.getlist("Set-Cookie"))
