"""The admin web while the primary database is down: pages from a replica with a banner, every change refused.

Per request (app.dbreplica has the watcher and the replica choice):
- the primary is known down: the request's Session reads the first replica that answers; a GET is served with
  a banner (which replica, its replication lag, "changes are refused until the primary is back") and the header
  `X-Trunkline-Database` (a CSV export has no page to carry a banner); anything else is refused before it runs
  with the one message (app.dbdown), except signing out in this browser;
- the primary is believed up but this request finds it unreachable: it is marked down and a GET is run once more
  from a replica (RetryOnReplica), so the person gets the page, not an error.
"""

from __future__ import annotations

import html

from flask import Flask, current_app, flash, g, redirect, render_template, request, session, url_for
from flask_login import logout_user

from app import dbreplica
from app.db import Session
from app.dbdown import READ_ONLY_CODES, UNREACHABLE_MESSAGE, error_code, is_unreachable

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
STATIC_ENDPOINTS = {"auth.static", "admin.static", "static", "favicon"}
RETRY_KEY = "trunkline.retry_on_replica"
NO_SIGN_IN = ("the primary database is unreachable; signing in is refused until it is back (sign-in attempts are counted "
              "there to stop password guessing); people already signed in can still read")
SIGNED_OUT_HERE = ("You are signed out in this browser. The primary database is unreachable, so your sessions elsewhere "
                   "could not be ended: sign out again once it is back.")
NO_REPLICA_READ = ("the primary database is unreachable and no replica answered; this page cannot be shown until one of "
                   "them is back or a replica is promoted")


def _reads() -> dbreplica.ReplicaReads | None:
    return current_app.extensions.get("trunkline_replicas")


def plain_page(message: str, status: int = 503):
    """Plain HTML, no template: template context processors would ask the database for the signed-in user again."""
    page = ("<!doctype html><title>Database unreachable</title><h1>Database unreachable</h1>"
            f"<p class=\"alert alert-danger\">{html.escape(message[0].upper() + message[1:])}</p>"
            "<p><a href=\"/admin/\">Dashboard</a></p>")
    return page, status


def _read_source():
    """Before anything else of the request (the sign-in check reads the user): choose where it reads."""
    reads = _reads()
    if reads is None or (request.endpoint or "") in STATIC_ENDPOINTS:
        return None
    reads.touch()
    reads.wait_if_slow_probe()
    if not reads.down:
        return None
    replica = reads.pick()
    if replica is None:
        if request.method not in SAFE_METHODS:
            return plain_page(UNREACHABLE_MESSAGE)  # known down: refused at once, nothing tried
        return plain_page(NO_REPLICA_READ)
    dbreplica.bind_replica(replica)
    if request.method in SAFE_METHODS:
        return None
    endpoint = request.endpoint or ""
    if endpoint == "auth.logout":
        logout_user()
        session.clear()
        flash(SIGNED_OUT_HERE, "info")
        return redirect(url_for("auth.login"))
    if endpoint == "auth.login":
        from app.web.auth import SignInForm

        return render_template("trunkline/login.html", form=SignInForm()), 503
    return plain_page(UNREACHABLE_MESSAGE)


def unreachable_response(exc):
    """The answer to an "unreachable" database error (app.web registers it for DBAPIError); others are re-raised."""
    if not is_unreachable(exc):
        raise exc
    try:
        Session.rollback()
    except Exception:  # noqa: BLE001 - the connection is gone: nothing to roll back
        Session.remove()
    reads = _reads()
    replica = g.get("tl_replica")
    # The server answered but refused a write (a replica's read-only transaction, or a primary set read_only): it is
    # not down, and a GET that tried to write is not run again.
    refused_write = error_code(exc) in READ_ONLY_CODES
    if reads is not None and not refused_write:
        reason = str(getattr(exc, "orig", exc)).splitlines()[0][:200]
        if replica is None:
            reads.mark_down(reason)
        else:
            reads.skip(replica.name)
        if request.method in SAFE_METHODS and not request.environ.get(RETRY_KEY) and reads.candidates():
            request.environ[RETRY_KEY] = True  # RetryOnReplica runs the request again, from a replica
            return plain_page(NO_REPLICA_READ)
    if request.method not in SAFE_METHODS or refused_write:
        return plain_page(UNREACHABLE_MESSAGE)
    if reads is None:
        return plain_page("the primary database is unreachable; this page cannot be shown until it is back or a replica is promoted")
    return plain_page(NO_REPLICA_READ)


class RetryOnReplica:
    """WSGI wrapper: a GET whose first run found the primary unreachable is run once more (from a replica)."""

    def __init__(self, wsgi_app):
        self.wsgi_app = wsgi_app

    def __call__(self, environ, start_response):
        if environ.get("REQUEST_METHOD") not in SAFE_METHODS:
            return self.wsgi_app(environ, start_response)
        held: list = []

        def hold(status, headers, exc_info=None):
            held[:] = [status, headers, exc_info]
            return lambda data: None  # Flask never writes through this

        body = self.wsgi_app(environ, hold)
        if not environ.get(RETRY_KEY):
            start_response(*held)
            return body
        if hasattr(body, "close"):
            body.close()
        return self.wsgi_app(environ, start_response)


def init_replica_reads(app: Flask) -> None:
    """Register the read-source choice (first of all before_request functions), the banner and the retry."""
    if app.extensions.get("trunkline_replicas") is None:
        return
    app.before_request_funcs.setdefault(None, []).insert(0, _read_source)
    app.wsgi_app = RetryOnReplica(app.wsgi_app)

    @app.after_request
    def _say_replica(response):
        replica = g.get("tl_replica")
        if replica is not None:
            response.headers["X-Trunkline-Database"] = replica.header()
        return response

    @app.context_processor
    def _banner():
        replica = g.get("tl_replica")
        reads = _reads()
        return {"tl_replica_banner": replica.banner(reads.down_since if reads else None) if replica else None,
                "tl_no_sign_in": NO_SIGN_IN[0].upper() + NO_SIGN_IN[1:] + "." if replica and request.endpoint == "auth.login"
                else None}
