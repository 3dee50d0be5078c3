"""Web fixtures: a committed demo data set, one account per role, and a signed-in test client."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest

from app.services import users
from app.services.audit import Actor

PASSWORD = "correct-horse-battery-staple"
ROLES = ("admin", "operator", "viewer")
_TOKEN_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')


def csrf_token(html: str) -> str:
    """The CSRF token a page carries (sign-in form, sign-out button or any admin form)."""
    match = _TOKEN_RE.search(html)
    assert match, "page carries no CSRF token"
    return match.group(1) or match.group(2)


@pytest.fixture
def web(session):
    """The demo data, committed to the test's savepoint (rolled back after the test) so it outlives each request."""
    from app.projection import apply_pending
    from seeds.demo import load

    load(session)
    apply_pending(session)
    session.commit()
    return session


@pytest.fixture
def accounts(web):
    """One account per role: {role: email}."""
    emails = {}
    for role in ROLES:
        email = f"{role}@example.test"
        users.create(web, email, role, PASSWORD, Actor("test", "cli"))
        emails[role] = email
    web.commit()
    return emails


class Browser:
    """A Flask test client that signs in and posts forms with the page's CSRF token."""

    def __init__(self, client):
        self.client = client
        self.token: str | None = None
        self.address = "127.0.0.1"

    def sign_in(self, email: str, password: str = PASSWORD, address: str = "127.0.0.1"):
        self.address = address
        page = self.get("/login")
        response = self.client.post("/login", data={"email": email, "password": password, "csrf_token": csrf_token(page.text)},
                                    environ_base={"REMOTE_ADDR": address})
        if response.status_code == 302:
            self.refresh_token()
        return response

    def refresh_token(self) -> str:
        self.token = csrf_token(self.get("/admin/").text)
        return self.token

    def get(self, url, **kw):
        kw.setdefault("environ_base", {"REMOTE_ADDR": self.address})
        return self.client.get(url, **kw)

    def post(self, url, data=None, *, csrf: bool = True, **kw):
        data = dict(data or {})
        if csrf:
            data.setdefault("csrf_token", self.token or self.refresh_token())
        kw.setdefault("environ_base", {"REMOTE_ADDR": self.address})
        return self.client.post(url, data=data, **kw)

    def refused(self, url, data=None, **kw):
        """POST a form the view refuses: it must answer 303 to the same form's address (redirect after POST; the typed
        values and errors kept for one GET, app.web.views.base.stash_failed_form); returns the page that GET shows."""
        posted = self.post(url, data, **kw)
        assert posted.status_code == 303, (posted.status_code, posted.text[:300])
        location = posted.headers["Location"]
        assert urlsplit(location).path == urlsplit(url).path and "tl_form=" in location, location
        return self.get(location)


@pytest.fixture
def app(app, tmp_path):
    """The test app, keeping uploaded CSV previews in the test's temp dir instead of instance/uploads.

    CSV jobs run inside the request: the test's database is one connection, which a job thread and the
    next request must not use at the same time (test_csv_page.py runs real job threads on its own database).
    """
    app.config["IMPORT_UPLOAD_DIR"] = str(tmp_path / "uploads")
    app.config["IMPORT_JOBS_INLINE"] = True
    app.config["ONCE_DIR"] = str(tmp_path / "once")
    return app


@pytest.fixture
def browser(app):
    return Browser(app.test_client())


@pytest.fixture
def as_role(app, accounts):
    """Factory: a Browser signed in with the given role."""
    def make(role: str) -> Browser:
        b = Browser(app.test_client())
        response = b.sign_in(accounts[role])
        assert response.status_code == 302, response.text
        return b
    return make


@pytest.fixture(autouse=True)
def _no_ami_secret_from_other_tests(monkeypatch):
    """Web tests set the AMI secret in the app's config when they want live state; the e2e platform, alive for the
    whole session in the same process, leaves TRUNKLINE_AMI_SECRET in the environment for its own nodes."""
    monkeypatch.delenv("TRUNKLINE_AMI_SECRET", raising=False)
