"""The audit log (read only) and user accounts (admins only)."""

from __future__ import annotations

from flask import abort, g, url_for
from flask_admin import BaseView, expose
from flask_login import current_user, login_user
from markupsafe import Markup

from app.db import Session
from app.errors import ValidationError
from app.services import users
from app.web import audit_view, forms, labels, once
from app.web.security import web_actor
from app.web.views.base import FAILED, ReadOnlyView, ServiceModelView, form_write


class ShownOnceView(BaseView):
    """The page a POST redirects to when it has a generated password to show: shown on the first GET only."""

    def is_visible(self) -> bool:
        return False

    def is_accessible(self) -> bool:
        return current_user.is_authenticated

    @expose("/")
    def index(self):
        secret = once.take()
        return self.render("trunkline/secret_once.html", secret=secret, return_url=(secret or {}).get("return_url") or url_for("admin.index"))


class AuditView(ReadOnlyView):
    """Every write, who made it, when, through which channel, and what changed; never editable.

    Each row is a summary line and a before/after table of the changed fields, with names instead of internal ids
    (app/web/audit_view.py); times to the second, in UTC.
    """

    column_list = ["at", "actor", "summary"]
    column_details_list = ["at", "actor", "channel", "summary"]
    column_searchable_list = ["entity_key", "actor", "summary"]
    column_filters = ["at", "actor", "channel", "action", "entity", "entity_key"]
    column_sortable_list = ["at", "actor"]
    column_default_sort = ("id", True)
    column_labels = {"at": "When (UTC)", "actor": "Who", "summary": "What changed", "entity_key": "Name or number",
                     "entity": "Kind", "channel": "Through", "action": "Action"}
    column_choices = {"channel": labels.choices(labels.CHANNELS), "action": labels.choices(labels.ACTIONS),
                      "entity": labels.choices(labels.ENTITIES)}
    column_formatters = {"at": lambda v, c, m, n: audit_view.when(m),
                         "actor": lambda v, c, m, n: Markup("{}<br><small class=\"text-muted\">{}</small>").format(m.actor, audit_view.channel(m)),
                         "summary": lambda v, c, m, n: audit_view.entry_html(m)}
    list_template = "trunkline/audit_list.html"
    page_size = 50
    column_export_list = ["at", "actor", "channel", "action", "entity", "entity_key", "summary", "before", "after"]
    column_formatters_export = {"at": lambda v, c, m, n: audit_view.when(m)}

    def search_placeholder(self):
        return "Name, number, account code, e-mail or words"

    def get_list(self, *args, **kwargs):
        count, data = super().get_list(*args, **kwargs)
        data = list(data)
        audit_view.preload(data)
        return count, data


class UserView(ServiceModelView):
    """Accounts of the admin web; admins only."""

    form_class = forms.UserForm
    entity = "user"
    writer_roles = ("admin",)
    column_list = ["email", "role", "active", "created_at", "last_sign_in_at"]
    column_details_list = column_list
    column_export_list = column_list
    column_searchable_list = ["email"]
    column_filters = ["role", "active"]
    column_default_sort = "email"
    column_labels = {"email": "E-mail address", "created_at": "Created at (UTC)", "last_sign_in_at": "Last sign-in (UTC)"}
    column_choices = {"role": labels.choices(labels.USER_ROLES)}

    def search_placeholder(self):
        return "E-mail address"

    def is_accessible(self) -> bool:
        return current_user.is_authenticated and current_user.is_admin

    def inaccessible_callback(self, name, **kwargs):
        if current_user.is_authenticated:
            abort(403)
        return super().inaccessible_callback(name, **kwargs)

    @property
    def can_delete(self) -> bool:  # type: ignore[override]
        return False  # deactivate instead: the audit log keeps naming the account

    def initial(self, model):
        return {"email": model.email, "role": model.role, "active": model.active, "password": ""}

    def create_model(self, form):
        password = form.password.data or users.generate_password()
        def write():
            created = users.create(Session(), form.email.data, form.role.data, password, web_actor("form"))
            if not form.active.data:
                users.update(Session(), created, web_actor("form"), active=False)
            return created

        user = form_write(form, write)
        if user is FAILED:
            return False
        if not form.password.data:
            g.tl_secret = {"kind": "sign_in", "label": f"sign-in account {user.email}", "username": user.email, "password": password,
                           "revealed": False}
        return user

    def update_model(self, form, model):
        if model.id == current_user.id and (form.role.data != "admin" or not form.active.data):
            form.role.errors = list(form.role.errors) + ["you cannot remove your own admin role or disable yourself"]
            return False
        def write():
            if form.email.data.strip().lower() != model.email:
                raise ValidationError(email="cannot be changed: create a new account and disable this one")
            users.update(Session(), model, web_actor("form"), role=form.role.data, active=form.active.data,
                         password=form.password.data or None)

        if form_write(form, write) is FAILED:
            return False
        if model.id == current_user.id:
            # Your own password changed: every other session of yours ended; this browser gets a fresh cookie.
            login_user(model)
        return True
