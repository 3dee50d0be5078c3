"""Thin Flask-Admin views: lists come from the database, every write goes through a domain service."""

from __future__ import annotations

import io
import itertools
import json
import secrets
import time
import warnings
from typing import Any
from urllib.parse import urlencode

from flask import Response, abort, flash, g, redirect, request, session, url_for
from flask_admin import expose
from flask_admin.actions import action
from flask_admin.contrib.sqla import ModelView
from flask_admin.helpers import get_form_data
from flask_admin.model.template import DeleteRowAction
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup
from sqlalchemy import select
from werkzeug.datastructures import MultiDict
from wtforms import PasswordField
from wtforms.fields.core import UnboundField

from app import projection
from app.csvio.exporter import export_csv
from app.csvio.importer import spec_of
from app.db import Session
from app.dbreplica import serving_replica
from app.errors import DomainError, ValidationError
from app.web import once
from app.web.security import web_actor

# View methods that change data (or show a secret): only writers reach them, whatever the HTTP method.
WRITE_VIEWS = {"create_view", "edit_view", "delete_view", "action_view", "ajax_update", "replace_node_view", "reveal_view",
               "delete_release_view", "complete_view", "cancel_view"}


class SecureForm(FlaskForm):
    """Every admin form (create, edit, delete, bulk action) carries and checks the Flask-WTF CSRF token."""


def plain(messages) -> str:
    return "; ".join(str(m) for m in messages)


def apply_errors(form, exc: ValidationError) -> None:
    """Put each service error under its field; errors about fields the form lacks are flashed."""
    for name, messages in exc.errors.items():
        field = getattr(form, name, None)
        if field is not None and hasattr(field, "errors"):
            if not isinstance(field.errors, list):
                field.errors = list(field.errors)
            field.errors.extend(messages)
        else:
            flash(f"{name.replace('_', ' ')}: {plain(messages)}", "error")
    flash("Nothing was saved: correct the fields marked in red.", "error")


def commit() -> None:
    """Bring the realtime rows in line and commit the request's transaction."""
    projection.apply_pending(Session())
    Session.commit()


FAILED = object()  # what form_write returns when the write was refused


def form_write(form, write):
    """Run write() and commit; on a domain error roll back, show its messages on the form, return FAILED."""
    try:
        result = write()
        commit()
    except ValidationError as exc:
        Session.rollback()
        apply_errors(form, exc)
        return FAILED
    except DomainError as exc:
        Session.rollback()
        flash(str(exc), "error")
        return FAILED
    return result


# --- Redirect after a failed POST ---------------------------------------------------------------------------------------
# A form refused by validation or by a service is not rendered as the POST's answer (a refresh would post it again):
# its typed values and field errors are kept server-side (app.web.once, under FORM_KEY: a file read once, the session
# holds only its token), the POST answers 303 to the form's own address plus FORM_MARK=<nonce>, and that GET shows the
# same form, values and errors; the flashed messages wait in the session as usual. Single use: the first GET of a form
# takes the stash whatever it is, and uses it only on the address and view it was made for (so it cannot fill another
# form); a refresh then shows the form as the server has it (empty, or the saved record). Passwords are never kept:
# the user types them again (the flash says so).

FORM_KEY = "tl_form"
FORM_MARK = "tl_form"
RETYPE_PASSWORD = "Passwords are not kept after a refused save: type the password again."
EXPIRED_TOKEN = "The form had expired (its security token was missing or too old): check the values and save again."


def _form_address() -> str:
    """This request's path and query without the FORM_MARK parameter, sorted: what a stash is bound to."""
    args = sorted((k, v) for k, values in request.args.lists() if k != FORM_MARK for v in values)
    return request.path + ("?" + urlencode(args) if args else "")


def secret_names(form, extra=()) -> set[str]:
    """Names of the form's fields that must never be kept: password fields, and the view's own secret fields."""
    return {f.name for f in form if isinstance(f, PasswordField)} | set(extra)


def stash_failed_form(form, secret_fields=()):
    """Keep the refused form's values (secrets and `secret_fields` left out) and field errors for one GET of this same
    view and address (restore_failed_form); answer 303 there."""
    hidden = secret_names(form, secret_fields)
    if any(request.form.get(name) for name in hidden):
        flash(RETYPE_PASSWORD, "warning")
    csrf = getattr(form, "csrf_token", None)
    if csrf is not None and csrf.errors:
        flash(EXPIRED_TOKEN, "error")
    names = [f.name for f in form if f.name != "csrf_token" and f.name not in hidden]
    nonce = secrets.token_hex(8)
    once.put({"view": request.endpoint, "address": _form_address(), "nonce": nonce,
              "values": {name: request.form.getlist(name) for name in names if name in request.form},
              # Errors of every field, password fields too (a message never holds the typed value).
              "errors": {f.name: [str(e) for e in f.errors] for f in form if f.name != "csrf_token" and f.errors}},
             key=FORM_KEY)
    args = [(k, v) for k, values in request.args.lists() if k != FORM_MARK for v in values] + [(FORM_MARK, nonce)]
    return redirect(f"{request.path}?{urlencode(args)}", 303)


def restore_failed_form() -> dict | None:
    """On a GET: the stash made for this view (endpoint) and address, taken once: {"values": MultiDict of the typed
    values, "errors": {field: [message]}}; else None.

    Any stash waiting is consumed by the first form GET, so a stale one never shows up later."""
    if request.method != "GET" or (FORM_KEY not in session and FORM_MARK not in request.args):
        return None
    stash = once.take(FORM_KEY)
    if (stash is None or stash.get("view") != request.endpoint or stash.get("nonce") != request.args.get(FORM_MARK)
            or stash.get("address") != _form_address()):
        return None
    return {"values": MultiDict([(k, v) for k, values in stash["values"].items() for v in values]), "errors": stash["errors"]}


def show_restored_errors(form, restored: dict | None) -> None:
    """Put the stashed field errors back under their fields (after the form is built from the stashed values)."""
    for name, messages in (restored or {}).get("errors", {}).items():
        field = getattr(form, name, None)
        if field is not None:
            field.errors = list(messages)


class SignedInView(ModelView):
    """Base of every model view: signed-in users only; only admins and operators write."""

    form_base_class = SecureForm
    can_view_details = True
    can_export = True
    export_types = ["csv"]
    page_size = 20
    can_set_page_size = True
    writer_roles = ("admin", "operator")

    def __init__(self, model, **kwargs):
        # Flask-Admin 2.2 prefers a Flask-SQLAlchemy object; the plain scoped Session is still supported.
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "Passing a session object directly", DeprecationWarning)
            super().__init__(model, Session, **kwargs)

    def is_accessible(self) -> bool:
        return current_user.is_authenticated

    def inaccessible_callback(self, name, **kwargs):
        return redirect(url_for("auth.login", next=request.full_path))

    def may_write(self) -> bool:
        return current_user.is_authenticated and current_user.role in self.writer_roles

    def may_change_now(self) -> bool:
        """A writer, and the page does not come from a replica (primary down: app.dbreplica): buttons that change
        data are shown only then (Flask-Admin sends a GET of a hidden form back to the list)."""
        return self.may_write() and not serving_replica()

    @property
    def can_create(self) -> bool:  # type: ignore[override]
        return self.may_change_now()

    @property
    def can_edit(self) -> bool:  # type: ignore[override]
        return self.may_change_now()

    @property
    def can_delete(self) -> bool:  # type: ignore[override]
        return self.may_change_now()

    def is_action_allowed(self, name: str) -> bool:
        return self.may_change_now() and super().is_action_allowed(name)

    # The CSV kind whose import format the list's "Export" writes (None: Flask-Admin's columns, as shown).
    csv_kind: str | None = None

    def csv_key_cells(self, model) -> dict[str, str]:
        """The natural-key cells of `model` in its CSV kind (e.g. {"name": "telus"}); views with csv_kind define it."""
        raise NotImplementedError

    def _export_csv(self, return_url):
        if self.csv_kind is not None:
            return self._export_import_format()
        # The list exports start with a UTF-8 byte-order mark, like every CSV export (app.csvio.exporter).
        response = super()._export_csv(return_url)
        if hasattr(response, "response"):
            response.response = itertools.chain(["\ufeff"], response.response)
            response.headers["Content-Type"] = "text/csv; charset=utf-8"
        return response

    def _export_import_format(self):
        """The list's rows (its current search and filters) in the import format of their kind, so that the file
        imports as it is (app.csvio.exporter; docs/csv.md): codes, not the words the page shows."""
        spec = spec_of(self.csv_kind)
        _count, models = self._export_data()
        wanted = {spec.key(self.csv_key_cells(m)) for m in models}
        out = io.StringIO()
        export_csv(Session(), self.csv_kind, out,
                   keep=lambda row: spec.key({c: str(row[c]) for c in spec.key_parsers}) in wanted)
        stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
        return Response(out.getvalue(), content_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{self.csv_kind}-{stamp}.csv"'})

    def _handle_view(self, name, **kwargs):
        response = super()._handle_view(name, **kwargs)
        if response is not None:
            return response
        # A role that may not write is refused first, whether or not the record exists (403, never 404).
        if name in WRITE_VIEWS and not self.may_write():
            abort(403)
        if name in ("details_view", "edit_view") and request.method == "GET":
            # A record that does not exist (deleted, or a wrong link) is a 404 page, not a bounce to the list.
            pk = request.args.get("id")
            if pk is not None and self.get_one(pk) is None:
                abort(404)
        return None

    # Redirect after a failed create/edit POST (see stash_failed_form): every model view's forms, whatever builds them.

    def form_data(self):
        """The data a form is built from: the POST, or on the GET after a refused POST its stashed values, else None."""
        restored = g.get("tl_restored")
        return restored["values"] if restored is not None else get_form_data()

    def create_form(self, obj=None):
        return self._create_form_class(self.form_data(), obj=obj)

    def edit_form(self, obj=None):
        return self._edit_form_class(self.form_data(), obj=obj)

    def render(self, template, **kwargs):
        form = kwargs.get("form")
        if form is not None and template in (self.create_template, self.edit_template, self.create_modal_template,
                                             self.edit_modal_template):
            if g.get("tl_failed_post"):
                # The POST was refused: answer with a redirect instead (the caller sees tl_failed_form); render
                # nothing, so the flashed messages stay in the session for the page after the redirect.
                g.tl_failed_form = form
                return ""
            show_restored_errors(form, g.get("tl_restored"))
        return super().render(template, **kwargs)

    def _redirect_failed_post(self, respond):
        """Run a create/edit view; a POST it would answer with the form again answers 303 to a GET showing it."""
        if request.method == "POST":
            g.tl_failed_post = True
            try:
                response = respond()
            finally:
                g.tl_failed_post = False
            form = g.pop("tl_failed_form", None)
            if form is None:
                return response
            return stash_failed_form(form, getattr(self, "secret_fields", ()))
        g.tl_restored = restore_failed_form()
        return respond()

    @expose("/new/", methods=("GET", "POST"))
    def create_view(self):
        return self._redirect_failed_post(super().create_view)

    @expose("/edit/", methods=("GET", "POST"))
    def edit_view(self):
        return self._redirect_failed_post(super().edit_view)


class NamedDeleteRowAction(DeleteRowAction):
    """The list's delete button, asking a question that names the record (see ServiceModelView.delete_question)."""

    def render(self, context, row_id, row):
        # Hidden inputs written directly: rendering WTForms fields for every row cost about 1 ms a row.
        view = context.resolve("admin_view")
        label = view.row_label(row)
        # data-tl-name and data-tl-facts: what the bulk delete question says of this row when it is selected
        # (trunkline.js sums the facts of the selected rows; ServiceModelView.bulk_delete_words words them).
        return Markup('<form class="icon" method="POST" action="{action}" data-tl-confirm="{question}" '
                      'data-tl-name="{name}" data-tl-facts="{facts}">'
                      '<input id="id" name="id" type="hidden" value="{pk}"><input id="url" name="url" type="hidden" value="{url}">'
                      '<input id="csrf_token" name="csrf_token" type="hidden" value="{csrf}">'
                      '<button type="submit" title="{title}"><span class="fa fa-trash glyphicon glyphicon-trash"></span></button>'
                      "</form>").format(action=view.get_url(".delete_view"), question=view.delete_question(row),
                                        pk=view.get_pk_value(row), url=context.resolve("return_url"), csrf=generate_csrf(),
                                        title=f"Delete {view.entity.replace('_', ' ')} {label}", name=view.bulk_name(row),
                                        facts=json.dumps(view.delete_facts(row), separators=(",", ":")))


class ReadOnlyView(SignedInView):
    """A list and details that nobody edits (the audit log, 911 calls): no create, edit, delete or bulk action."""

    @property
    def can_create(self) -> bool:  # type: ignore[override]
        return False

    @property
    def can_edit(self) -> bool:  # type: ignore[override]
        return False

    @property
    def can_delete(self) -> bool:  # type: ignore[override]
        return False

    def get_actions_list(self):
        return [], {}

    def is_action_allowed(self, name):
        return False


class ServiceModelView(SignedInView):
    """A model view whose create, update and delete call `service.save` / `service.delete`."""

    list_template = "trunkline/list.html"  # Flask-Admin's list, plus the words of the bulk delete question

    service: Any = None
    form_class: type | None = None
    secret_fields: tuple[str, ...] = ()  # kept when left empty on edit, never pre-filled

    def scaffold_form(self):
        return self.form_class

    def get_form(self):
        return self.form_class

    def initial(self, model) -> dict:
        """Form values for an existing object (override when fields are references)."""
        names = [n for n in dir(self.form_class) if isinstance(getattr(self.form_class, n, None), UnboundField)]
        return {name: getattr(model, name, None) for name in names if name != "csrf_token"}

    def prepare_form(self, form, model) -> None:
        """Fill select choices; called for every form instance."""

    def create_form(self, obj=None):
        form = self.form_class(self.form_data())
        self.prepare_form(form, None)
        return form

    def edit_form(self, obj=None):
        formdata = self.form_data()
        form = self.form_class(formdata, data=None if formdata else self.initial(obj))
        self.prepare_form(form, obj)
        return form

    def on_form_prefill(self, form, id):  # noqa: A002 - Flask-Admin's signature
        return None

    def form_values(self, form, model) -> dict:
        data = {f.name: f.data for f in form if f.name != "csrf_token"}
        for name in self.secret_fields:
            if model is not None and not data.get(name):
                data.pop(name, None)
        return data

    def after_create(self, obj, form) -> None:
        """Hook: runs after the commit of a create."""

    def create_model(self, form):
        saved = form_write(form, lambda: self.service.save(Session(), self.form_values(form, None), web_actor("form")))
        if saved is FAILED:
            return False
        obj, _ = saved
        self.after_create(obj, form)
        return obj

    def update_model(self, form, model):
        saved = form_write(form, lambda: self.service.save(Session(), self.form_values(form, model), web_actor("form"), model))
        return saved is not FAILED

    def get_list_row_actions(self):
        return [NamedDeleteRowAction() if isinstance(a, DeleteRowAction) else a for a in super().get_list_row_actions()]

    def row_label(self, model) -> str:
        """How people name the record (a number as (204) 555-1234, a trunk as ACME/main)."""
        return str(model)

    def delete_question(self, model) -> str:
        """The confirmation the delete button asks, naming the record (views add what else it affects)."""
        return f"Delete {self.entity.replace('_', ' ')} {self.row_label(model)}?"

    # The bulk "With selected > Delete" question names the selected rows and sums what they still hold, e.g.
    # "Delete 3 trunks (ACME/main, ACME/b, BETA/x)? They still ring 40 numbers, so the deletion will be refused ...".
    # The counts are computed here, per row, into the list page (delete_facts); trunkline.js adds up those of the
    # selected rows and words them with bulk_delete_words.

    def bulk_name(self, model) -> str:
        """The record's name in the bulk delete question (row_label unless shorter is clearer)."""
        return self.row_label(model)

    def delete_facts(self, model) -> dict[str, int]:
        """What deleting this record would release, remove or be refused for, counted: {fact key: count}."""
        return {}

    # Wordings in pairs are (for one selected row, for several).
    bulk_delete_lead: tuple[str, str] = ("", "")  # words before the facts, e.g. ("it still rings ", "they still ring ")
    bulk_delete_facts: dict[str, tuple[str, str]] = {}  # fact key: (wording for a count of 1, for {count} > 1)
    bulk_delete_refused = ""  # said after the facts when any is not zero (the service refuses such a delete)
    bulk_delete_tail: tuple[str, str] = ("", "")  # said when every fact is zero (what the deletion does)

    def bulk_delete_words(self) -> dict:
        """How the bulk delete question is worded for this kind of record (read by trunkline.js)."""
        noun = self.entity.replace("_", " ")
        return {"one": noun, "many": getattr(self, "entity_plural", noun + "s"), "lead": list(self.bulk_delete_lead),
                "facts": {key: list(words) for key, words in self.bulk_delete_facts.items()},
                "refused": self.bulk_delete_refused, "tail": list(self.bulk_delete_tail)}

    def delete_one(self, model, actor) -> None:
        self.service.delete(Session(), model, actor)

    def delete_model(self, model):
        try:
            self.delete_one(model, web_actor("form"))
            commit()
        except DomainError as exc:
            Session.rollback()
            flash(f"Not deleted: {exc}", "error")
            return False
        return True

    @action("delete", "Delete", "Delete the selected records? Each one is checked first; if one cannot go, none is deleted.")
    def action_delete(self, ids):
        actor = web_actor("action")
        pk = self.model.id
        models = list(Session().scalars(select(self.model).where(pk.in_([int(i) for i in ids if str(i).isdigit()]))))
        try:
            for model in models:
                self.delete_one(model, actor)
            commit()
        except DomainError as exc:
            Session.rollback()
            flash(f"Nothing was deleted: {exc}", "error")
            return
        flash(f"{len(models)} record(s) deleted.", "success")

    def _secret_once(self, response):
        """After a save that generated a password: redirect to the page that shows it once (never render it from the POST)."""
        secret = g.pop("tl_secret", None)
        if secret is not None and getattr(response, "status_code", 200) in (301, 302, 303):
            return show_once({**secret, "return_url": response.location})
        return response

    @expose("/new/", methods=("GET", "POST"))
    def create_view(self):
        return self._secret_once(super().create_view())

    @expose("/edit/", methods=("GET", "POST"))
    def edit_view(self):
        return self._secret_once(super().edit_view())


def show_once(payload: dict):
    """Keep a secret for the show-once page and redirect there (303: the browser follows with a GET)."""
    once.put(payload)
    return redirect(url_for("shown_once.index"), 303)


def link(url: str, text: str) -> Markup:
    return Markup('<a href="{}">{}</a>').format(url, text)
