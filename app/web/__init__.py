"""Admin web for sysadmins: Flask-Login sign-in, CSRF everywhere, Flask-Admin views calling the domain services."""

from __future__ import annotations

from flask import Flask, redirect, url_for
from flask_admin import Admin
from flask_admin.theme import Bootstrap4Theme
from markupsafe import Markup

from app.web import labels
from app.web.auth import bp as auth_bp
from app.web.errors import init_errors
from app.web.security import csp_nonce, csrf, init_security, login_manager


def code_spans(text: str) -> Markup:
    """Text with its `backticked` parts shown as code (the rest escaped)."""
    parts = str(text or "").split("`")
    if len(parts) % 2 == 0:  # an unmatched backtick: show the text as it is
        return Markup.escape(text)
    return Markup("").join(Markup("<code>{}</code>").format(p) if i % 2 else Markup.escape(p) for i, p in enumerate(parts))


def init_web(app: Flask) -> None:
    """Attach sign-in, CSRF protection, security headers and the admin views to the app."""
    app.config.setdefault("REMEMBER_COOKIE_HTTPONLY", True)
    app.config.setdefault("REMEMBER_COOKIE_SAMESITE", "Lax")
    app.config.setdefault("REMEMBER_COOKIE_SECURE", app.config.get("SESSION_COOKIE_SECURE", False))
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", 8 * 3600)
    app.config.setdefault("FLASK_ADMIN_SWATCH", "default")
    app.jinja_env.filters["code_spans"] = code_spans
    app.jinja_env.globals["labels"] = labels  # plain words for stored codes, in every template
    csrf.init_app(app)
    login_manager.init_app(app)
    init_security(app)
    app.register_blueprint(auth_bp)

    from app.web.dashboard import DashboardView
    from app.web.views import register_views

    admin = Admin(app, name="Trunkline", url="/admin", index_view=DashboardView(name="Dashboard", url="/admin", endpoint="admin"),
                  theme=Bootstrap4Theme(base_template="trunkline/master.html", fluid=True), csp_nonce_generator=csp_nonce)
    register_views(admin)
    from app.web.views.csv_page import too_large

    app.register_error_handler(413, too_large)
    init_errors(app)
    from sqlalchemy.exc import DBAPIError

    app.register_error_handler(DBAPIError, database_unreachable)
    app.extensions["trunkline_admin"] = admin
    from app.web.replica import init_replica_reads

    init_replica_reads(app)  # while the primary is down: pages from a replica, changes refused

    @app.before_request
    def _node_push_retrier():
        # The admin web retries the node cache expiries still pending (node_push_pending) in a thread of its own,
        # started by the first request of each worker process (not at import: CLI commands and tests build apps too).
        if not app.extensions.get("trunkline_push_retrier"):
            from app import node_push

            app.extensions["trunkline_push_retrier"] = True
            engine = app.extensions.get("trunkline_engine")
            if engine is not None:
                node_push.start_background_retry(engine)

    @app.get("/")
    def root():
        return redirect(url_for("admin.index"))


def database_unreachable(exc):
    """503 with one plain sentence when the database cannot be reached (app.dbdown), or the same GET again from a
    replica (app.web.replica); any other error is re-raised."""
    from app.web.replica import unreachable_response

    return unreachable_response(exc)
