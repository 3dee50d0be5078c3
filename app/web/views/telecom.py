"""Carriers, nodes, clients, trunks and numbers: lists, forms and the trunk and client pages."""

from __future__ import annotations

import time
import unicodedata
from datetime import UTC, datetime, timedelta

from flask import abort, flash, g, redirect, request
from flask_admin import expose
from markupsafe import Markup
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload, selectinload

from app import calls as app_calls
from app import node_state, service_codes
from app.call_health import call_problems
from app.db import Session
from app.e911 import resolve_e911
from app.errors import DomainError, E911Unresolved
from app.models import Carrier, Client, Node, PhoneNumber, Trunk
from app.models.realtime import REALTIME_TABLES
from app.nodeconf import render_command
from app.numbering import display
from app.services import carriers, clients, node_accounts, nodes, numbers, trunks
from app.services.audit import record
from app.services.node_replacement import past_replacements, replace_node
from app.web import forms, labels
from app.web.security import web_actor
from app.web.views.base import (
    FAILED,
    ServiceModelView,
    commit,
    form_write,
    restore_failed_form,
    show_once,
    show_restored_errors,
    stash_failed_form,
)


def _choices(query, key, label=None, blank: str | None = "— none —"):
    rows = [(str(key(o)), str(label(o) if label else key(o))) for o in Session().scalars(query)]
    return forms.options(([("", blank)] if blank is not None else []) + rows)


def _number_fmt(view, context, model, name):
    value = getattr(model, name)
    return display(value) if value else ""


def reveal_secret(view, model, label: str, username: str | None, password: str | None):
    """Show a stored SIP password once, and audit who saw it."""
    if not password:
        flash("There is no password to show: this one authenticates by IP address.", "info")
        return redirect(view.get_url(".details_view", id=model.id))
    record(Session(), web_actor("form"), "reveal", view.entity, label, summary=f"SIP password of {label} shown to {web_actor().name}")
    Session.commit()
    return show_once({"kind": "sip", "label": f"{view.entity} {label}", "username": username, "password": password, "revealed": True,
                      "return_url": view.get_url(".details_view", id=model.id)})


class CarrierView(ServiceModelView):
    csv_kind = "carriers"

    def csv_key_cells(self, model):
        return {"name": model.name}

    service = carriers
    entity = "carrier"
    form_class = forms.CarrierForm
    secret_fields = ("password",)
    column_list = ["name", "tier", "auth_mode", "signalling_addresses", "provides_911", "e911_callerid_format", "priority",
                   "max_channels", "enabled"]
    column_details_exclude_list = ["password", "numbers"]
    column_export_list = column_list + ["port", "username", "callerid_format", "dial_format", "send_pai", "privacy_mode",
                                        "service_codes", "service_code_format"]
    column_searchable_list = ["name", "signalling_addresses"]
    column_filters = ["tier", "auth_mode", "provides_911", "enabled"]
    column_sortable_list = ["name", "tier", "priority", "max_channels", "provides_911", "enabled"]
    column_default_sort = "priority"
    column_labels = {"provides_911": "Provides 911", "e911_callerid_format": "911 caller ID format", "auth_mode": "Authentication",
                     "signalling_addresses": "Signalling addresses", "max_channels": "Maximum channels", "callerid_format": "Caller ID format",
                     "dial_format": "Dialled number format", "send_pai": "Sends P-Asserted-Identity", "port": "SIP port",
                     "privacy_mode": "Caller-ID privacy", "service_codes": "Service codes (N11, 988)",
                     "service_code_format": "Service code form"}
    column_choices = {"tier": [(1, "Tier 1"), (2, "Tier 2 (reseller)")], "auth_mode": labels.choices(labels.CARRIER_AUTH),
                      "callerid_format": labels.choices(labels.FORMATS), "e911_callerid_format": labels.choices(labels.FORMATS),
                      "dial_format": labels.choices(labels.FORMATS)}
    details_template = "trunkline/carrier_details.html"

    bulk_delete_lead = ("it holds ", "they hold ")
    bulk_delete_facts = {"numbers": ("1 number", "{count} numbers")}
    bulk_delete_refused = "so the deletion will be refused (nothing is deleted) until those are ported to another carrier."
    bulk_delete_tail = ("Calls can no longer go through it.", "Calls can no longer go through them.")

    def delete_facts(self, model):
        return {"numbers": Session().scalar(select(func.count()).select_from(PhoneNumber).where(PhoneNumber.carrier_id == model.id)) or 0}

    def delete_question(self, model):
        held = Session().scalar(select(func.count()).select_from(PhoneNumber).where(PhoneNumber.carrier_id == model.id)) or 0
        if held:
            return (f"Delete carrier {model.name}? It holds {held:,} number(s): the deletion will be refused until they are "
                    "ported to another carrier.")
        return f"Delete carrier {model.name}? Calls can no longer go through it."

    def search_placeholder(self):
        return "Carrier name or address"

    def render(self, template, **kwargs):
        if template == self.details_template and kwargs.get("model") is not None:
            kwargs.update(carrier_page(kwargs["model"]))
            kwargs["carrier_live"] = node_state.carrier_live(Session(), kwargs["model"])  # live state, read over AMI
        return super().render(template, **kwargs)

    def initial(self, model):
        data = super().initial(model)
        data["tier"] = str(model.tier)
        data["password"] = ""
        data["service_codes"] = service_codes.export_list(model.service_codes, empty="none")
        return data

    @expose("/reveal/", methods=("POST",))
    def reveal_view(self):
        model = Session().get(Carrier, request.form.get("id", type=int) or 0) or abort(404)
        return reveal_secret(self, model, model.name, model.username, model.password)


def _account_fmt(view, context, model, name):
    """Whether the node's own database account exists (asked of MariaDB on the details page)."""
    account = model.account
    if account is None:
        if not node_accounts.supported(Session()):
            return "none (SQLite has no database accounts)"
        return "none: create it with `flask --app wsgi node account " + model.name + "`"
    if name == "db_account_check":
        exists = node_accounts.exists_in_database(Session(), account)
        if exists is False:
            return (f"MISSING: {account} is recorded, but MariaDB has no such account (the node cannot connect): recreate it "
                    f"with `{node_accounts.REPAIR.format(node=model.name)}` (new password), then render and deploy the "
                    "node's files with it")
        return f"exists: {account}" + ("" if exists else " (not checked: no access to mysql.user)")
    return f"exists: {account}"


def _rotated_fmt(view, context, model, name):
    """When the account's password was last rotated; a creation (or recreation) sets both times alike."""
    account = model.account
    if account is None:
        return ""
    if account.rotated_at == account.created_at:
        return f"never rotated (created {account.created_at:%Y-%m-%d %H:%M} UTC)"
    return f"last rotated {account.rotated_at:%Y-%m-%d %H:%M} UTC"


class NodeView(ServiceModelView):
    csv_kind = "nodes"

    def csv_key_cells(self, model):
        return {"name": model.name}

    service = nodes
    entity = "node"
    form_class = forms.NodeForm
    column_list = ["name", "role", "public_ip", "sip_port", "hosting_provider", "region", "dns_name", "state", "client",
                   "db_account"]
    column_details_list = ["name", "role", "public_ip", "sip_port", "hosting_provider", "region", "dns_name", "state", "client",
                           "db_account_check", "db_password_rotated"]
    column_export_list = ["name", "role", "public_ip", "sip_port", "hosting_provider", "region", "dns_name", "state"]
    column_searchable_list = ["name", "public_ip", "dns_name", "hosting_provider"]
    column_filters = ["role", "hosting_provider", "region", "state"]
    column_sortable_list = ["name", "role", "public_ip", "hosting_provider", "region", "state"]
    column_default_sort = "name"
    column_labels = {"public_ip": "Public IP", "dns_name": "DNS name", "sip_port": "SIP port", "hosting_provider": "Hosting provider",
                     "role": "Faces", "client": "Client served", "db_account": "Database account",
                     "db_account_check": "Database account", "db_password_rotated": "Database password"}
    column_choices = {"role": labels.choices(labels.NODE_ROLES), "state": labels.choices(labels.NODE_STATES)}
    column_formatters = {"client": lambda v, c, m, n: m.client.account_code if m.client else "", "db_account": _account_fmt,
                         "db_account_check": _account_fmt, "db_password_rotated": _rotated_fmt,
                         "live": lambda v, c, m, n: _node_live_cell(m)}
    column_list = column_list + ["live"]  # the node's live state (AMI), asked for the whole page at once in get_list
    details_template = "trunkline/node_details.html"

    bulk_delete_lead = ("it serves a client", "")
    bulk_delete_facts = {"clients": ("1 of them serves a client", "{count} of them serve a client")}
    bulk_delete_refused = "so the deletion will be refused (nothing is deleted): replace such a node from its client's page."

    def delete_facts(self, model):
        return {"clients": Session().scalar(select(func.count()).select_from(Client).where(Client.node_id == model.id)) or 0}

    def delete_question(self, model):
        served = Session().scalar(select(Client.account_code).where(Client.node_id == model.id))
        if served:
            return f"Delete node {model.name}? It serves client {served}: the deletion will be refused (replace the node instead)."
        return f"Delete node {model.name} ({model.public_ip})?"

    def search_placeholder(self):
        return "Node name, IP address, DNS name or provider"

    def render(self, template, **kwargs):
        if template == self.details_template and kwargs.get("model") is not None:
            kwargs.update(node_page(kwargs["model"]))
            kwargs["node_live"] = node_state.node_live(Session(), kwargs["model"])  # live state, read over AMI
        return super().render(template, **kwargs)

    def get_list(self, *args, **kwargs):
        count, data = super().get_list(*args, **kwargs)
        g.tl_node_states = node_state.node_states(Session(), list(data))
        return count, data

    def get_query(self):
        return super().get_query().options(joinedload(Node.account))


def _node_live_cell(node: Node) -> Markup:
    state = getattr(g, "tl_node_states", {}).get(node.id)
    if state is None:
        return Markup("")
    text = node_state.node_summary(state)
    return Markup('<span class="tl-bad">{}</span>').format(text) if state.state in ("unreachable", "waiting") else Markup("{}").format(text)


def _local_copy_cell(node: Node) -> Markup:
    from app.nodeconf import local_copy_state

    state = local_copy_state(Session(), node)
    if node.role != "client":
        return Markup('none (client nodes only): a carrier node restarted while no database answers refuses the calls of '
                      'carriers it has not cached; restart carrier nodes while a database answers')
    if state["rendered_at"] is None:
        return Markup('<span class="tl-bad">none: render this node (flask --app wsgi node render) so its trunks are known and 911 '
                      "leaves while no database answers</span>")
    when = f"{state['rendered_at']:%Y-%m-%d %H:%M} UTC ({state['rows']} rows)"
    if state["current"]:
        return Markup("as of {}: current").format(when)
    return Markup('<span class="tl-bad">as of {}: out of date, the E911, route or trunk rows changed since (a trunk deleted '
                  "since would be accepted again by this node while no database answers); re-render and deploy this node</span>").format(when)


def _db_servers_cell(node: Node) -> Markup:
    from app.dbtopology import read_order
    from app.models import DbServer
    from app.nodeconf import NodeSettings, node_pool, render_warnings

    servers = list(Session().scalars(select(DbServer)))
    if not servers:
        return Markup("DATABASE_URL's server only (no database servers recorded)")
    order = ", ".join(f"{s.name} ({s.role})" for s in read_order(servers, node.hosting_provider, node.id))
    text = Markup("{}, in this order; pool {} connections per server").format(order, node_pool(node, Session()))
    for warning in render_warnings(Session(), NodeSettings()):
        text += Markup('<br><span class="tl-bad">{}</span>').format(warning)
    return text



class ClientView(ServiceModelView):
    csv_kind = "clients"

    def csv_key_cells(self, model):
        return {"account_code": model.account_code}

    service = clients
    entity = "client"
    form_class = forms.ClientForm
    column_list = ["account_code", "name", "status", "max_channels", "node", "node.dns_name", "e911_number", "main_number"]
    column_export_list = ["account_code", "name", "status", "max_channels", "node", "e911_number", "main_number",
                          "blocked_service_codes"]
    column_searchable_list = ["account_code", "name"]
    column_filters = ["status", "node.name", "node.hosting_provider"]
    column_sortable_list = ["account_code", "name", "status", "max_channels", ("node", "node.name")]
    column_default_sort = "account_code"
    column_labels = {"node.dns_name": "DNS name", "e911_number": "Default E911 number", "node.name": "Node",
                     "node.hosting_provider": "Hosting provider", "account_code": "Account code", "max_channels": "Maximum channels",
                     "main_number": "Main number"}
    column_choices = {"status": labels.choices(labels.CLIENT_STATUS)}

    def search_placeholder(self):
        return "Account code or name"
    column_formatters = {"e911_number": lambda v, c, m, n: display(m.e911_number.e164) if m.e911_number else "",
                         "main_number": lambda v, c, m, n: display(m.main_number.e164) if m.main_number else ""}
    details_template = "trunkline/client_details.html"

    def delete_question(self, model):
        return f"Delete client {model.account_code} ({model.name})?"

    bulk_delete_lead = ("it still has ", "they still have ")
    bulk_delete_facts = {"trunks": ("1 trunk", "{count} trunks"), "numbers": ("1 number", "{count} numbers")}
    bulk_delete_refused = "so the deletion will be refused (nothing is deleted): remove or move those first."

    def bulk_name(self, model):
        return model.account_code

    def delete_facts(self, model):
        session = Session()
        return {"trunks": session.scalar(select(func.count()).select_from(Trunk).where(Trunk.client_id == model.id)) or 0,
                "numbers": session.scalar(select(func.count()).select_from(PhoneNumber).where(PhoneNumber.client_id == model.id)) or 0}

    def get_query(self):
        return super().get_query().options(joinedload(Client.node))

    def prepare_form(self, form, model):
        current = model.node_id if model is not None else None
        form.node.choices = _choices(
            select(Node).where(Node.role == "client", Node.state != "retired").outerjoin(Client, Client.node_id == Node.id)
            .where((Client.id.is_(None)) | (Node.id == (current or 0))).order_by(Node.name),
            lambda n: n.name, lambda n: f"{n.name} ({n.public_ip}, {n.hosting_provider})")

    def initial(self, model):
        return {"name": model.name, "account_code": model.account_code, "status": model.status, "max_channels": str(model.max_channels),
                "node": model.node.name if model.node else "",
                "e911_number": model.e911_number.e164 if model.e911_number else "",
                "main_number": model.main_number.e164 if model.main_number else "",
                "blocked_service_codes": model.blocked_service_codes,
                "alert_emails": model.alert_emails or "", "alert_webhook": model.alert_webhook or ""}

    def render(self, template, **kwargs):
        if template == self.details_template and kwargs.get("model") is not None:
            kwargs.update(client_page(kwargs["model"]))
        return super().render(template, **kwargs)

    @expose("/replace-node/", methods=("GET", "POST"))
    def replace_node_view(self):
        client = Session().get(Client, request.args.get("id", type=int) or 0) or abort(404)
        restored = restore_failed_form()  # the GET after a refused POST: the typed values and errors again
        form = forms.ReplaceNodeForm(restored["values"]) if restored else forms.ReplaceNodeForm()
        show_restored_errors(form, restored)
        if client.node is None:
            flash(f"Client {client.account_code} has no node to replace: edit the client to give it one.", "error")
            return redirect(self.get_url(".details_view", id=client.id), 303)
        if request.method == "GET" and not restored:
            form.hosting_provider.data = form.hosting_provider.data or client.node.hosting_provider
            form.region.data = form.region.data or client.node.region
        if form.validate_on_submit():
            result = form_write(form, lambda: replace_node(Session(), client, {f.name: f.data for f in form if f.name != "csrf_token"},
                                                          web_actor("form")))
            if result is not FAILED:
                # Redirect after POST: the checklist is a page of its own, which stays reachable from the client and node pages.
                checklist_url = self.get_url(".replacement_view", id=client.id)
                if result.db_password:  # the new node's database password: shown once, on a page of its own
                    return show_once({"kind": "db", "label": f"database account of node {result.new_node.name}",
                                      "username": result.db_user, "password": result.db_password, "return_url": checklist_url})
                return redirect(checklist_url, 303)
        if request.method == "POST":  # refused: redirect to this form again (a refresh must not replace the node twice)
            return stash_failed_form(form)
        return self.render("trunkline/replace_node.html", client=client, form=form, result=None,
                           return_url=self.get_url(".details_view", id=client.id))

    @expose("/replacement/")
    def replacement_view(self):
        """The latest node replacement of a client (from the audit log) and what is still to do by hand."""
        client = Session().get(Client, request.args.get("id", type=int) or 0) or abort(404)
        done = past_replacements(Session(), client_key=client.account_code)
        if not done:
            flash(f"The node of client {client.account_code} has never been replaced.", "info")
            return redirect(self.get_url(".details_view", id=client.id))
        return self.render("trunkline/replace_node.html", client=client, form=None, result=done[0], earlier=done[1:],
                           return_url=self.get_url(".details_view", id=client.id))


def client_page(client: Client) -> dict:
    """What the client page shows: node, trunks with their E911 resolution, numbers."""
    session = Session()
    trunk_rows = []
    for trunk in client.trunks:
        try:
            route = resolve_e911(session, trunk)
            trunk_rows.append({"trunk": trunk, "ok": True, "text": route.sentence()})
        except E911Unresolved as exc:
            trunk_rows.append({"trunk": trunk, "ok": False, "text": "; ".join(exc.reasons)})
    count = session.scalar(select(func.count()).select_from(PhoneNumber).where(PhoneNumber.client_id == client.id))
    client_numbers = list(session.scalars(select(PhoneNumber).where(PhoneNumber.client_id == client.id)
                                          .options(joinedload(PhoneNumber.carrier)).order_by(PhoneNumber.e164).limit(200)))
    trunk_names = {t.id: t.name for t in client.trunks}
    return {"trunk_rows": trunk_rows, "client_numbers": client_numbers, "number_count": count, "trunk_names": trunk_names,
            "replacements": past_replacements(session, client_key=client.account_code),
            "call_problems": call_problems(session, client),
            "e911_ok": all(r["ok"] for r in trunk_rows) and bool(trunk_rows), "display": display}


def _calls_last_30_days(*, client: str | None = None, carrier: str | None = None) -> int:
    """Calls of the last 30 UTC days of one client or carrier, each counted once (the call rollup, app.calls)."""
    today = datetime.now(UTC).date()
    return app_calls.summary(Session(), today - timedelta(days=29), today, client=client, carrier=carrier)["calls"]


def carrier_page(carrier: Carrier) -> dict:
    """What the carrier page shows besides its settings: numbers held, 911 use, realtime endpoint and calls (live facts)."""
    session = Session()
    held = session.scalar(select(func.count()).select_from(PhoneNumber).where(PhoneNumber.carrier_id == carrier.id)) or 0
    registered = session.scalar(select(func.count()).select_from(PhoneNumber).where(
        PhoneNumber.carrier_id == carrier.id, PhoneNumber.e911_registered.is_(True))) or 0
    porting_in = session.scalar(select(func.count()).select_from(PhoneNumber).where(PhoneNumber.port_target_carrier_id == carrier.id)) or 0
    endpoints = REALTIME_TABLES["ps_endpoints"]
    projected = session.scalar(select(func.count()).select_from(endpoints).where(endpoints.c.id == carrier.endpoint_id)) or 0
    calls = _calls_last_30_days(carrier=carrier.name)
    return {"held": held, "registered": registered, "porting_in": porting_in, "projected": bool(projected), "calls": calls,
            "labels": labels, "display": display, "dial_forms": service_codes.DIAL_FORMS,
            # Stored '' means no code at all (not the default 'all'): say so in words.
            "accepted_codes": service_codes.export_list(carrier.service_codes, empty="none (refuses every service code)")}


def node_page(node: Node) -> dict:
    """What the node page shows besides its settings: the client it serves, trunk addresses it admits, calls, replacements."""
    session = Session()
    client = session.scalar(select(Client).where(Client.node_id == node.id))
    endpoints = REALTIME_TABLES["ps_endpoints"]
    projected = session.scalar(select(func.count()).select_from(endpoints).where(endpoints.c.id == node.endpoint_id)) or 0
    calls = _calls_last_30_days(client=client.account_code) if client is not None else None
    address_count = sum(len(t.addresses) for t in client.trunks) if client is not None else 0
    return {"served": client, "projected": bool(projected), "calls": calls, "address_count": address_count,
            "replacements": past_replacements(session, node_name=node.name), "labels": labels,
            "db_account": _account_fmt(None, None, node, "db_account_check"),
            "db_rotated": _rotated_fmt(None, None, node, "db_password_rotated"),
            "render_command": render_command(Session(), node),
            # Issue 13: what the node keeps for calls placed while no database answers, and the servers it reads.
            "local_911_copy": _local_copy_cell(node), "database_servers": _db_servers_cell(node),
            "push_pending": _push_pending_cell(node)}


def _push_pending_cell(node: Node) -> Markup:
    """Changes the node has not acknowledged (app.node_push: node_push_pending), in red; or that it has them all."""
    from app.node_push import _mariadb, pending, pending_sentence

    if not _mariadb(Session().get_bind()):
        return Markup('<span class="text-muted">not tracked: nodes read MariaDB, never this SQLite database</span>')
    entry = pending(Session(), [node.id]).get(node.id)
    if entry:
        return Markup('<span class="tl-bad">{}: it still uses the old values; retried every 15 s, or '
                      "<code>flask --app wsgi node push-retry {}</code></span>").format(pending_sentence(entry), node.name)
    if node.state == "retired":
        return Markup('<span class="text-muted">not told (retired)</span>')
    return Markup('<span class="tl-ok">every change has reached it</span>')


class TrunkView(ServiceModelView):
    csv_kind = "trunks"

    def csv_key_cells(self, model):
        return {"client": model.client.account_code, "name": model.name}

    service = trunks
    entity = "trunk"
    form_class = forms.TrunkForm
    secret_fields = ("password",)
    column_list = ["client", "name", "auth_mode", "source_addresses", "username", "e911_number", "codecs", "max_channels", "did_format"]
    column_export_list = column_list + ["pbx_port"]
    column_searchable_list = ["name", "source_addresses", "username", "client.account_code"]
    column_filters = ["client.account_code", "auth_mode", "did_format"]
    column_sortable_list = [("client", "client.account_code"), "name", "auth_mode", "max_channels"]
    column_default_sort = [("client.account_code", False), ("name", False)]
    column_labels = {"e911_number": "Trunk E911 number", "auth_mode": "Authentication", "did_format": "DID format",
                     "client.account_code": "Client", "source_addresses": "Source addresses", "max_channels": "Maximum channels",
                     "pbx_port": "PBX SIP port"}
    column_choices = {"auth_mode": labels.choices(labels.TRUNK_AUTH), "did_format": labels.choices(labels.FORMATS)}

    def search_placeholder(self):
        return "Trunk name, address, username or account code"
    column_formatters = {"client": lambda v, c, m, n: m.client.account_code if m.client else "",
                         "e911_number": lambda v, c, m, n: display(m.e911_number.e164) if m.e911_number else ""}
    column_formatters_export = {"client": lambda v, c, m, n: m.client.account_code if m.client else "",
                                "e911_number": lambda v, c, m, n: m.e911_number.e164 if m.e911_number else ""}
    details_template = "trunkline/trunk_details.html"

    bulk_delete_lead = ("it still rings ", "they still ring ")
    bulk_delete_facts = {"numbers": ("1 number", "{count} numbers")}
    bulk_delete_refused = ("so the deletion will be refused (nothing is deleted): a trunk's own page deletes it and releases "
                           "its numbers.")

    def delete_facts(self, model):
        return {"numbers": Session().scalar(select(func.count()).select_from(PhoneNumber).where(PhoneNumber.trunk_id == model.id)) or 0}

    def delete_question(self, model):
        count = Session().scalar(select(func.count()).select_from(PhoneNumber).where(PhoneNumber.trunk_id == model.id)) or 0
        if count:
            return (f"Delete trunk {model}? Its {count:,} number(s) still ring it, so the deletion will be refused: use "
                    f"\"Delete this trunk and release its numbers\" on its page.")
        return f"Delete trunk {model}?"
    column_details_exclude_list = ["password", "addresses", "numbers"]

    def get_query(self):
        return super().get_query().options(joinedload(Trunk.client), joinedload(Trunk.e911_number))

    def prepare_form(self, form, model):
        form.client.choices = _choices(select(Client).order_by(Client.account_code), lambda c: c.account_code,
                                       lambda c: f"{c.account_code} ({c.name})", blank="— choose —")

    def initial(self, model):
        data = {k: getattr(model, k) for k in ("name", "auth_mode", "source_addresses", "username", "codecs", "did_format")}
        data.update(client=model.client.account_code, pbx_port=str(model.pbx_port), max_channels=str(model.max_channels),
                    e911_number=model.e911_number.e164 if model.e911_number else "", password="")
        return data

    def after_create(self, obj, form):
        if obj.auth_mode == "credentials":
            g.tl_secret = {"kind": "sip", "label": f"trunk {obj}", "username": obj.username, "password": obj.password, "revealed": False}

    def update_model(self, form, model):
        had_password = model.password
        saved = super().update_model(form, model)
        if saved and model.password and not had_password and not form.password.data:
            # Switched to credentials with a generated password: show it this once.
            g.tl_secret = {"kind": "sip", "label": f"trunk {model}", "username": model.username, "password": model.password, "revealed": False}
        return saved

    def delete_one(self, model, actor):
        trunks.delete(Session(), model, actor, release_numbers=request.form.get("release_numbers") == "1")

    def render(self, template, **kwargs):
        if template == self.details_template and kwargs.get("model") is not None:
            kwargs.update(trunk_page(kwargs["model"], request.args.get("caller_id")))
        return super().render(template, **kwargs)

    @expose("/reveal/", methods=("POST",))
    def reveal_view(self):
        model = Session().get(Trunk, request.form.get("id", type=int) or 0) or abort(404)
        return reveal_secret(self, model, str(model), model.username, model.password)

    @expose("/delete-release/", methods=("POST",))
    def delete_release_view(self):
        """The explicit cascade: delete a trunk and leave its numbers without a trunk."""
        model = Session().get(Trunk, request.form.get("id", type=int) or 0) or abort(404)
        label = str(model)
        try:
            trunks.delete(Session(), model, web_actor("form"), release_numbers=True)
            commit()
        except DomainError as exc:
            Session.rollback()
            flash(f"Not deleted: {exc}", "error")
            return redirect(self.get_url(".details_view", id=model.id))
        flash(f"Trunk {label} deleted; its numbers no longer ring a trunk.", "success")
        return redirect(self.get_url(".index_view"))


def e911_preview(trunk: Trunk, caller_id: str | None) -> dict:
    """The plain-words answer to: where does a 911 call from this trunk with this caller ID go?"""
    shown = caller_id.strip() if caller_id else ""
    # The cascade answers which number and carrier; whether the trunk can place a call at all (its client
    # suspended, no live node, no PBX address, no carrier node) is call_health's: a green "leaves through"
    # for a trunk that cannot call would be a false reassurance (new-user trial).
    blockers = [str(p) for p in call_problems(Session(), trunk.client)
                if p.kind in ("", "client", "node") or (p.kind == "trunk" and p.id == trunk.id)]
    try:
        route = resolve_e911(Session(), trunk, shown or None)
    except E911Unresolved as exc:
        return {"ok": False, "caller_id": shown, "sentence": f"A 911 call from this trunk{' with caller ID ' + shown if shown else ''} "
                f"does not resolve: " + "; ".join(exc.reasons + blockers), "skipped": []}
    sentence = f"A 911 call from this trunk{' with caller ID ' + shown if shown else ' without a caller ID'} {route.sentence()}."
    if blockers:
        sentence = (f"This trunk cannot place calls now, 911 included: {'; '.join(blockers)}. Once it can: " + sentence)
    return {"ok": not blockers, "caller_id": shown, "route": route, "sentence": sentence, "skipped": list(route.skipped)}


def trunk_page(trunk: Trunk, caller_id: str | None) -> dict:
    """What the trunk page shows: numbers, E911 preview and live registration state (read from its node over AMI)."""
    session = Session()
    count = session.scalar(select(func.count()).select_from(PhoneNumber).where(PhoneNumber.trunk_id == trunk.id))
    trunk_numbers = list(session.scalars(select(PhoneNumber).where(PhoneNumber.trunk_id == trunk.id)
                                         .options(joinedload(PhoneNumber.carrier)).order_by(PhoneNumber.e164).limit(200)))
    if caller_id is None and trunk_numbers:
        # A number without a registration of its own shows the fallback a typical DID takes.
        unregistered = [n for n in trunk_numbers if not n.e911_registered]
        caller_id = display((unregistered or trunk_numbers)[0].e164)
    return {"trunk_numbers": trunk_numbers, "number_count": count, "preview": e911_preview(trunk, caller_id),
            "live": node_state.trunk_live(session, trunk), "display": display}


class NumberView(ServiceModelView):
    service = numbers
    entity = "number"
    form_class = forms.NumberForm
    column_list = ["e164", "carrier", "client", "trunk", "e911_registered", "port_status", "port_target_carrier"]
    column_export_list = ["e164", "carrier", "client", "trunk", "e911_registered", "e911_address", "port_status", "port_target_carrier"]
    column_searchable_list = ["e164"]
    column_filters = ["carrier.name", "client.account_code", "e911_registered", "port_status"]
    column_sortable_list = ["e164", ("carrier", "carrier.name"), "e911_registered", "port_status"]
    column_default_sort = "e164"
    column_labels = {"e164": "Number", "e911_registered": "Registered for E911", "port_target_carrier": "Porting to",
                     "carrier.name": "Carrier", "client.account_code": "Client", "port_status": "Port status",
                     "e911_address": "E911 service address"}
    column_choices = {"port_status": labels.choices(labels.PORT_STATUS)}

    def row_label(self, model):
        return display(model.e164)

    bulk_delete_tail = ("Calls to it will no longer be routed.", "Calls to them will no longer be routed.")

    def delete_question(self, model):
        owner = f" of client {model.client.account_code}" if model.client else ""
        return f"Delete number {display(model.e164)}{owner}? Calls to it will no longer be routed."
    column_formatters = {"e164": _number_fmt,
                         "client": lambda v, c, m, n: m.client.account_code if m.client else "",
                         "trunk": lambda v, c, m, n: m.trunk.name if m.trunk else ""}
    column_formatters_export = {"client": lambda v, c, m, n: m.client.account_code if m.client else "",
                                "trunk": lambda v, c, m, n: m.trunk.name if m.trunk else ""}

    def search_placeholder(self):
        return "Any part of a number: 204-555-1234, 555-12, 1234"
    column_auto_select_related = False

    def get_query(self):
        # selectinload: the page query stays a plain indexed ORDER BY ... LIMIT on phone_numbers (no joins to sort).
        return super().get_query().options(selectinload(PhoneNumber.carrier), selectinload(PhoneNumber.client),
                                           selectinload(PhoneNumber.trunk), selectinload(PhoneNumber.port_target_carrier))

    def _apply_pagination(self, query, page, page_size):
        """Deferred join: pick the page's ids on the index first (cheap even at a deep offset), then load those rows."""
        if page_size is None:
            page_size = self.page_size
        if not page_size:
            return query  # CSV export without a row limit
        ids = [row[0] for row in query.with_entities(PhoneNumber.id).limit(page_size).offset((page or 0) * page_size)]
        return query.filter(PhoneNumber.id.in_(ids or [-1]))

    # The list's "Export" keeps the import format of numbers.csv (docs/csv.md), so a filtered export imports as it is.
    EXPORT_NAMES = {"e164": "number", "carrier": "carrier", "client": "client", "trunk": "trunk", "e911_registered": "e911_registered",
                    "e911_address": "e911_address", "port_status": "port_status", "port_target_carrier": "port_target_carrier"}

    def get_export_columns(self):
        return [(name, self.EXPORT_NAMES[name]) for name in self.column_export_list]

    def get_export_value(self, model, name):
        """Codes, not words: the export is an import file (yes/no, port status codes, names and account codes)."""
        if name == "e911_registered":
            return "yes" if model.e911_registered else "no"
        if name in ("carrier", "port_target_carrier"):
            carrier = getattr(model, name)
            return carrier.name if carrier else ""
        if name in self.column_formatters_export:
            return self.column_formatters_export[name](self, None, model, name)
        value = getattr(model, name)
        return "" if value is None else value

    def get_export_name(self, export_type="csv"):
        return f"numbers-{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}.{export_type}"

    @staticmethod
    def search_pattern(search: str) -> str | None:
        """The LIKE pattern on e164 for what was typed: any part of a number, in any spelling.

        `204-555-1234`, `1 204 555 1234`, `+1204555` match from the start (indexed); fewer digits without the country
        code (`1234`, `555-124`, `(204)`) match anywhere in the number. Digits of any script count (`１２３４`).
        No digit at all: None (nothing matches, rather than a scan).
        """
        digits = "".join(str(unicodedata.decimal(ch)) for ch in search if ch.isdecimal())
        if not digits:
            return None
        typed = search.strip()
        if typed.startswith("+") or len(digits) == 11 and digits.startswith("1"):
            return f"+{digits if digits.startswith('1') else '1' + digits}%"  # a number written with its country code
        if len(digits) >= 10:
            return f"+1{digits[:10]}%"
        return f"%{digits}%"

    def _apply_search(self, query, count_query, joins, count_joins, search):
        """Any part of a number (see search_pattern); text without digits matches nothing."""
        pattern = self.search_pattern(search) or "-"
        query = query.filter(PhoneNumber.e164.like(pattern))
        if count_query is not None:
            count_query = count_query.filter(PhoneNumber.e164.like(pattern))
        return query, count_query, joins, count_joins

    def prepare_form(self, form, model):
        carrier_q = select(Carrier).order_by(Carrier.priority, Carrier.name)
        form.carrier.choices = _choices(carrier_q, lambda c: c.name, lambda c: f"{c.name}{' (911)' if c.provides_911 else ''}",
                                        blank="— choose —")
        form.port_target_carrier.choices = _choices(carrier_q, lambda c: c.name)
        form.client.choices = _choices(select(Client).order_by(Client.account_code), lambda c: c.account_code,
                                       lambda c: f"{c.account_code} ({c.name})")

    def initial(self, model):
        return {"number": model.e164, "carrier": model.carrier.name, "client": model.client.account_code if model.client else "",
                "trunk": model.trunk.name if model.trunk else "", "e911_registered": model.e911_registered,
                "e911_address": model.e911_address or "", "port_status": model.port_status,
                "port_target_carrier": model.port_target_carrier.name if model.port_target_carrier else ""}
