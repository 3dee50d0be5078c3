"""Sign-in state, CSRF and the guards every request passes: signed in, and a writer for any change."""

from __future__ import annotations

import base64
import hashlib
import secrets

from flask import Flask, abort, g, redirect, request, url_for
from flask_login import LoginManager, current_user
from flask_wtf.csrf import CSRFProtect

from app.db import Session
from app.services import users
from app.services.audit import Actor

csrf = CSRFProtect()
login_manager = LoginManager()
login_manager.session_protection = "strong"
login_manager.login_view = "auth.login"
login_manager.login_message = "Sign in to continue."

# Endpoints reachable without signing in, and writes a viewer may still make (signing in and out).
PUBLIC_ENDPOINTS = {"auth.login", "auth.static", "admin.static", "static", "favicon"}
WRITES_ANY_ROLE = {"auth.login", "auth.logout"}
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}

# Flask-Admin's templates carry a few inline event handlers; they are allowed by hash, nothing else inline runs.
# Inline <script> blocks need the per-request nonce (Flask-Admin adds it to the ones it renders).
INLINE_HANDLERS = (
    "return false;",
    "return faHelpers.safeConfirm('Are you sure you want to delete this record?');",
    "return modelActions.execute('delete');",
    "javascript:void(0)",  # Flask-Admin's dropdown and filter links
)
_HANDLER_HASHES = " ".join(
    f"'sha256-{base64.b64encode(hashlib.sha256(h.encode()).digest()).decode()}'" for h in INLINE_HANDLERS)


def csp_nonce() -> str:
    """This request's nonce for inline <script> blocks."""
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(16)
    return g.csp_nonce


def content_security_policy() -> str:
    return ("default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
            f"script-src 'self' 'nonce-{csp_nonce()}' 'unsafe-hashes' {_HANDLER_HASHES}; "
            "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'")


@login_manager.user_loader
def _load_user(token: str):
    return users.load(Session(), token)


def web_actor(channel: str = "form") -> Actor:
    """The audit identity of the signed-in user for a form or a bulk action."""
    return Actor(current_user.email, channel)


def init_security(app: Flask) -> None:
    """Every request: signed in (except sign-in itself), writes by admins and operators only; security headers."""

    @app.before_request
    def _guard():
        endpoint = request.endpoint or ""
        if endpoint in PUBLIC_ENDPOINTS:
            return None
        if not current_user.is_authenticated:
            if request.method in SAFE_METHODS:
                return redirect(url_for("auth.login", next=request.full_path if request.query_string else request.path))
            abort(401)
        if request.method not in SAFE_METHODS and endpoint not in WRITES_ANY_ROLE and not current_user.can_write:
            abort(403)
        return None

    @app.after_request
    def _headers(response):
        headers = response.headers
        headers.setdefault("Content-Security-Policy", content_security_policy())
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Referrer-Policy", "same-origin")
        headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        if app.config.get("SESSION_COOKIE_SECURE"):
            headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        if request.endpoint not in ("admin.static", "static", "auth.static"):
            headers.setdefault("Cache-Control", "no-store")
        return response
