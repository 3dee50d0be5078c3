"""Database servers: list and page (primary, replicas, the connections the fleet's pools may open on each)."""

from __future__ import annotations

from flask import flash
from wtforms import SelectField

from app.db import Session
from app.dbtopology import fleet_budget
from app.services import db_servers
from app.web.forms import _text, options
from app.web.views.base import SecureForm, ServiceModelView


class DbServerForm(SecureForm):
    name = _text("Name", "Short lowercase name, e.g. db-ovh-r1")
    host = _text("Host", "IP address or DNS name the nodes and the admin connect to.")
    port = _text("Port", default="3306")
    role = SelectField("Role", choices=options([("replica", "Replica (nodes read it)"), ("primary", "Primary (the admin writes to it)")]),
                       description="Roles change only by promotion: flask --app wsgi db promote NAME.")
    hosting_provider = _text("Hosting provider", "Nodes at the same provider read this server first, e.g. OVHcloud")
    max_connections = _text("max_connections", "The server's own setting (MariaDB's default 151).", default="151")


def _budget(view, context, model, name):
    from app.nodeconf import node_pool

    for load in fleet_budget(Session(), node_pool):
        if load.server.id == model.id:
            text = f"{load.first_choice} normally, {load.worst_case} at worst ({load.nodes} nodes)"
            return f"{text} — over the limit {load.limit}" if load.warning else text
    return ""


class DbServerView(ServiceModelView):
    service = db_servers
    entity = "db_server"
    form_class = DbServerForm
    column_list = ["name", "role", "host", "port", "hosting_provider", "max_connections", "pools"]
    column_details_list = column_list
    column_export_list = ["name", "role", "host", "port", "hosting_provider", "max_connections"]
    column_searchable_list = ["name", "host", "hosting_provider"]
    column_filters = ["role", "hosting_provider"]
    column_sortable_list = ["name", "role", "host", "hosting_provider"]
    column_default_sort = "name"
    column_labels = {"pools": "ODBC connections from the nodes' pools", "max_connections": "Connection limit (max_connections)"}
    column_formatters = {"pools": _budget}
    column_formatters_export = {}

    def prepare_form(self, form, model) -> None:
        if model is not None:  # a role changes only by promotion: shown, not offered
            form.role.render_kw = {"disabled": True}
            form.role.validate_choice = False  # not posted by the browser: form_values keeps the recorded role
            form.role.description = f"{model.name} is a {model.role}; roles change only by promotion: flask --app wsgi db promote NAME."

    def form_values(self, form, model) -> dict:
        data = super().form_values(form, model)
        if model is not None and not data.get("role"):
            data["role"] = model.role  # a disabled field is not posted (a role posted anyway is checked by the service)
        return data

    def after_create(self, obj, form) -> None:
        flash(f"Next: render and deploy every node again (flask --app wsgi node render NODE ...): {obj.name} is added to "
              "their read order.", "info")

    def update_model(self, form, model):
        before = (model.name, model.host, model.port)
        saved = super().update_model(form, model)
        if saved and before != (model.name, model.host, model.port):
            flash(f"Next: flask --app wsgi db push-nodes (or render and deploy every node again): the nodes still read "
                  f"{before[0]} at {before[1]}:{before[2]}.", "info")
        return saved

    def delete_one(self, model, actor) -> None:
        super().delete_one(model, actor)
        flash(f"Next: flask --app wsgi db push-nodes: the running nodes still list {model.name} in their read order.", "info")
