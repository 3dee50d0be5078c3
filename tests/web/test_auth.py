"""Sign-in: passwords, rate limits per account and per address, cookies, headers; the users CLI."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from app.models import AuditEntry, User
from app.services import users
from app.services.audit import SYSTEM
from tests.web.conftest import PASSWORD, Browser


def test_password_is_hashed_with_scrypt(web, accounts):
    user = web.scalar(select(User).where(User.email == accounts["admin"]))
    assert user.password_hash.startswith("scrypt:")
    assert PASSWORD not in user.password_hash


def test_sign_in_and_out(app, web, accounts):
    b = Browser(app.test_client())
    assert b.sign_in(accounts["operator"], "wrong password").status_code == 401
    response = b.sign_in(accounts["operator"])
    assert response.status_code == 302 and response.headers["Location"] == "/admin/"
    assert "operator@example.test (operator)" in b.get("/admin/").text
    assert b.post("/logout").status_code == 302
    assert b.get("/admin/").status_code == 302


def test_sign_in_redirects_only_to_this_site(app, web, accounts):
    from tests.web.conftest import csrf_token

    client = app.test_client()
    token = csrf_token(client.get("/login").text)
    response = client.post("/login?next=https://evil.example/x", data={"email": accounts["viewer"], "password": PASSWORD,
                                                                         "csrf_token": token})
    assert response.headers["Location"] == "/admin/"
    client = app.test_client()
    token = csrf_token(client.get("/login").text)
    response = client.post("/login?next=/admin/number/", data={"email": accounts["viewer"], "password": PASSWORD, "csrf_token": token})
    assert response.headers["Location"] == "/admin/number/"


def test_sign_in_is_limited_per_account(app, web, accounts):
    b = Browser(app.test_client())
    for _ in range(users.MAX_FAILURES_PER_ACCOUNT):
        assert b.sign_in(accounts["admin"], "wrong-password-guess").status_code == 401
    throttled = b.sign_in(accounts["admin"])  # even the right password, for now
    assert throttled.status_code == 429
    assert "Too many failed sign-in attempts" in throttled.text
    other = Browser(app.test_client())
    assert other.sign_in(accounts["viewer"]).status_code == 302  # other accounts from the same address still work


def test_sign_in_is_limited_per_address(app, web, accounts):
    b = Browser(app.test_client())
    for i in range(users.MAX_FAILURES_PER_ADDRESS):
        assert b.sign_in(f"nobody{i}@example.test", "guess", address="198.51.100.200").status_code == 401
    assert b.sign_in(accounts["viewer"], address="198.51.100.200").status_code == 429
    assert Browser(app.test_client()).sign_in(accounts["viewer"], address="198.51.100.201").status_code == 302


def test_disabled_account_and_password_change_end_sessions(app, web, accounts):
    b = Browser(app.test_client())
    assert b.sign_in(accounts["operator"]).status_code == 302
    user = web.scalar(select(User).where(User.email == accounts["operator"]))
    users.update(web, user, SYSTEM, password="another-long-password")
    web.commit()
    assert b.get("/admin/").status_code == 302  # the old session no longer signs in
    users.update(web, user, SYSTEM, active=False)
    web.commit()
    assert Browser(app.test_client()).sign_in(accounts["operator"], "another-long-password").status_code == 401


def test_cookies_and_security_headers(app, web, accounts):
    client = app.test_client()
    page = client.get("/login")
    headers = page.headers
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"
    csp = headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp
    script_src = next(part for part in csp.split(";") if part.strip().startswith("script-src"))
    assert "'nonce-" in script_src and "'unsafe-inline'" not in script_src
    assert csp != client.get("/login").headers["Content-Security-Policy"]  # a fresh nonce per response
    assert headers["Referrer-Policy"] == "same-origin"
    assert headers["Cache-Control"] == "no-store"
    cookie = page.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_secure_cookie_and_hsts_when_configured(web):
    from app import create_app

    app = create_app({"TESTING": True, "_ENGINE_BOUND": True, "SECRET_KEY": "t", "SESSION_COOKIE_SECURE": True})
    page = app.test_client().get("/login", base_url="https://localhost")
    assert "Secure" in page.headers["Set-Cookie"]
    assert page.headers["Strict-Transport-Security"].startswith("max-age=")


def test_users_cli(app, web):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["users", "create", "cli@example.test", "--role", "operator", "--password", "short"])
    assert result.exit_code == 1 and "at least 12 characters" in result.output
    result = runner.invoke(args=["users", "create", "cli@example.test", "--role", "operator"], input="long-enough-secret\nlong-enough-secret\n")
    assert result.exit_code == 0, result.output
    assert web.scalar(select(User).where(User.email == "cli@example.test")).role == "operator"
    first = runner.invoke(args=["users", "ensure-demo-admin"])
    assert first.exit_code == 0 and "created admin admin@example.com with password: " in first.output
    password = first.output.split("password: ")[1].split()[0]
    second = runner.invoke(args=["users", "ensure-demo-admin"])
    assert "already exists" in second.output and password not in second.output
    assert "admin@example.com" in runner.invoke(args=["users", "demo-login-hint"]).output
    assert Browser(app.test_client()).sign_in("admin@example.com", password).status_code == 302
    entry = web.scalar(select(AuditEntry).where(AuditEntry.entity == "user").order_by(AuditEntry.id.desc()).limit(1))
    assert entry.channel == "cli" and entry.entity_key == "admin@example.com"
    assert password not in (entry.after or "")


def test_admin_manages_users_in_the_web(as_role, web):
    b = as_role("admin")
    posted = b.post("/admin/user/new/", {"email": "new@example.test", "role": "viewer", "active": "y", "password": ""})
    assert posted.status_code == 303
    page = b.get(posted.headers["Location"])
    assert page.status_code == 200 and "shown only now" in page.text
    # A sign-in account: no PBX, and no later reveal (only a hash is kept).
    assert "PBX" not in page.text and "cannot be shown again" in page.text and "reveal" not in page.text.lower()
    password = page.text.split('id="tl-secret-password">')[1].split("<")[0]
    assert Browser(b.client.application.test_client()).sign_in("new@example.test", password).status_code == 302
    assert password not in b.get(posted.headers["Location"]).text
    assert b.refused("/admin/user/new/", {"email": "bad", "role": "viewer", "active": "y", "password": ""}).status_code == 200
    me = web.scalar(select(User).where(User.email == "admin@example.test"))
    page = b.refused(f"/admin/user/edit/?id={me.id}", {"email": "admin@example.test", "role": "viewer", "active": "y", "password": ""})
    assert "you cannot remove your own admin role" in page.text
    web.expire_all()
    assert web.get(User, me.id).role == "admin"


def test_old_sign_in_attempts_are_pruned_and_no_longer_count(app, web, accounts):
    from app.models import SignInAttempt

    old = datetime.now(UTC).replace(tzinfo=None) - timedelta(days=2)
    web.add_all([SignInAttempt(email=accounts["admin"], address="10.9.9.9", success=False, at=old) for _ in range(10)])
    web.commit()
    assert Browser(app.test_client()).sign_in(accounts["admin"]).status_code == 302
    assert web.scalar(select(func.count()).select_from(SignInAttempt).where(SignInAttempt.at < old + timedelta(hours=1))) == 0
