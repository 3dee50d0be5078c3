"""Error pages (403, 404, 500) in the admin's own layout, with its navigation and a plain explanation."""

from __future__ import annotations

import logging

from flask import Flask, Response, current_app, request
from flask_admin import BaseView, expose
from flask_login import current_user
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)

EXPLANATIONS = {
    403: ("Not allowed", "Your role does not allow this page or this change. Viewers read everything but change nothing; "
          "operators change telecom data; only admins manage sign-in accounts. Ask an admin if you need more."),
    404: ("Not found", "There is nothing at this address: the record may have been deleted or renamed, or the link is "
          "incomplete. Use the menu above, or search the list you came from."),
    500: ("Something went wrong on the server", "The page could not be built because of an error on the server. Nothing was "
          "saved by this request. Try again; if it happens again, tell the platform's administrators what you were doing and "
          "at what time (the error is in the server log)."),
}
ICON = ('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect width="16" height="16" rx="3" fill="#1565c0"/>'
        '<path d="M3 5h10M8 5v8" stroke="#fff" stroke-width="2"/></svg>')


def page_title(code: int, title: str) -> str:
    """The browser tab's title of an error page, in the admin's "Page - Trunkline" style: "Not found (error 404) - Trunkline"."""
    return f"{title} (error {code}) - Trunkline"


class ErrorPageView(BaseView):
    """Renders an error page in the admin layout without being a page of its own: not in the menu and not registered,
    so the tab's title, the heading and the highlighted menu entry are the error's, not the dashboard's (the view that
    renders a page names it in Flask-Admin's layout)."""

    def __init__(self, admin, code: int, title: str):
        super().__init__(name=f"{title} (error {code})", endpoint=f"tl_error_{code}")
        self.admin = admin

    def is_visible(self) -> bool:
        return False

    @expose("/")
    def index(self):  # Flask-Admin requires a default view; never routed (the view is not added to the admin)
        return error_page(404)


def _plain(code: int, title: str, text: str) -> Response:
    body = (f"<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{page_title(code, title)}</title></head><body>"
            f"<h1>{title}</h1><p>{text}</p><p><a href=\"/admin/\">Dashboard</a></p></body></html>")
    return Response(body, status=code, mimetype="text/html")


def error_page(code: int, detail: str | None = None):
    """The page for an HTTP error: inside the admin's layout for a signed-in user, a bare page otherwise."""
    title, text = EXPLANATIONS[code]
    if not current_user or not current_user.is_authenticated:
        return _plain(code, title, text)
    admin = current_app.extensions["trunkline_admin"]
    try:
        view = ErrorPageView(admin, code, title)
        return view.render("trunkline/error.html", code=code, title=title, tab_title=page_title(code, title), text=text,
                           detail=detail, path=request.path), code
    except Exception:  # noqa: BLE001 - the layout itself failed (e.g. the database is down): still answer plainly
        log.exception("error page %s could not be rendered in the admin layout", code)
        return _plain(code, title, text)


def init_errors(app: Flask) -> None:
    def http_error(exc: HTTPException):
        detail = exc.description if exc.code == 403 and exc.description and "permission" not in exc.description else None
        return error_page(exc.code, detail)

    for code in (403, 404):
        app.register_error_handler(code, http_error)

    @app.errorhandler(500)
    def server_error(exc):
        from app.db import Session

        Session.rollback()  # the failed request's transaction must not leak into the error page's queries
        return error_page(500)

    @app.get("/favicon.ico")
    def favicon():
        """The tab icon (browsers ask for it on every page; without it the console shows a 404)."""
        return Response(ICON, mimetype="image/svg+xml", headers={"Cache-Control": "public, max-age=86400"})
