"""Carriers, nodes, clients, trunks and numbers: lists, forms and the trunk and client pages."""

from __future__ import annotations

import time

from flask import abort, flash, g, redirect, request
from flask_admin import expose
from markupsafe import Markup
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload, selectinload

from app.db import Session
from app.e911 import resolve_e911
from app.errors import DomainError, E911Unresolved
from app.models import Carrier, Client, Node, PhoneNumber, Trunk
from app.models.realtime import REALTIME_TABLES
from app.numbering import display
from app.services import carriers, clients, nodes, numbers, trunks
from app.services.audit import record
from app.services.node_replacement import replace_node
from app.web import forms
from app.web.security import web_actor
from app.web.views.base import FAILED, ServiceModelView, commit, form_write


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
    return view.render("trunkline/secret_once.html", secret={"label": label, "username": username, "password": password,
                                                               "revealed": True},
                       return_url=view.get_url(".details_view", id=model.id))


class CarrierView(ServiceModelView):
    service = carriers
    entity = "carrier"
    form_class = forms.CarrierForm
    secret_fields = ("password",)
    column_list = ["name", "tier", "auth_mode", "signalling_addresses", "provides_911", "e911_callerid_format", "priority",
                   "max_channels", "enabled"]
    column_details_exclude_list = ["password", "numbers"]
    column_export_list = column_list + ["port", "username", "callerid_format", "dial_format", "send_pai", "privacy_mode"]
    column_searchable_list = ["name", "signalling_addresses"]
    column_filters = ["tier", "auth_mode", "provides_911", "enabled"]
    column_sortable_list = ["name", "tier", "priority", "max_channels", "provides_911", "enabled"]
    column_default_sort = "priority"
    column_labels = {"provides_911": "911", "e911_callerid_format": "911 caller ID format", "auth_mode": "Authentication",
                     "privacy_mode": "Caller-ID privacy"}
    details_template = "trunkline/secret_details.html"

    def initial(self, model):
        data = super().initial(model)
        data["tier"] = str(model.tier)
        data["password"] = ""
        return data

    @expose("/reveal/", methods=("POST",))
    def reveal_view(self):
        model = Session().get(Carrier, request.form.get("id", type=int) or 0) or abort(404)
        return reveal_secret(self, model, model.name, model.username, model.password)


class NodeView(ServiceModelView):
    service = nodes
    entity = "node"
    form_class = forms.NodeForm
    column_list = ["name", "role", "public_ip", "sip_port", "hosting_provider", "region", "dns_name", "state", "client"]
    column_export_list = ["name", "role", "public_ip", "sip_port", "hosting_provider", "region", "dns_name", "state"]
    column_searchable_list = ["name", "public_ip", "dns_name", "hosting_provider"]
    column_filters = ["role", "hosting_provider", "region", "state"]
    column_sortable_list = ["name", "role", "public_ip", "hosting_provider", "region", "state"]
    column_default_sort = "name"
    column_labels = {"public_ip": "Public IP", "dns_name": "DNS name"}
    # Issue 13: what the node keeps for calls placed while no database answers, and its database servers.
    column_details_list = column_list + ["local_911_copy", "database_servers"]
    column_formatters_detail = {"local_911_copy": lambda v, c, m, n: _local_copy_cell(m),
                                "database_servers": lambda v, c, m, n: _db_servers_cell(m)}


def _local_copy_cell(node: Node) -> Markup:
    from app.nodeconf import local_copy_state

    state = local_copy_state(Session(), node)
    if node.role != "client":
        return Markup("not needed: a carrier node's 911 path reads no key")
    if state["rendered_at"] is None:
        return Markup('<span class="tl-bad">none: render this node (flask --app wsgi node render) so 911 leaves while no '
                      "database answers</span>")
    when = f"{state['rendered_at']:%Y-%m-%d %H:%M} UTC ({state['rows']} rows)"
    if state["current"]:
        return Markup("as of {}: current").format(when)
    return Markup('<span class="tl-bad">as of {}: out of date, the E911 or route rows changed since; re-render and deploy '
                  "this node</span>").format(when)


def _db_servers_cell(node: Node) -> Markup:
    from app.dbtopology import read_order
    from app.models import DbServer
    from app.nodeconf import NodeSettings, node_pool, render_warnings

    servers = list(Session().scalars(select(DbServer)))
    if not servers:
        return Markup("reads DATABASE_URL's server only (no database servers recorded)")
    order = ", ".join(f"{s.name} ({s.role})" for s in read_order(servers, node.hosting_provider, node.id))
    text = Markup("reads {}; pool {} connections per server").format(order, node_pool(node, Session()))
    for warning in render_warnings(Session(), NodeSettings()):
        text += Markup('<br><span class="tl-bad">{}</span>').format(warning)
    return text


class ClientView(ServiceModelView):
    service = clients
    entity = "client"
    form_class = forms.ClientForm
    column_list = ["account_code", "name", "status", "max_channels", "node", "node.dns_name", "e911_number", "main_number"]
    column_export_list = ["account_code", "name", "status", "max_channels", "node", "e911_number", "main_number"]
    column_searchable_list = ["account_code", "name"]
    column_filters = ["status", "node.name", "node.hosting_provider"]
    column_sortable_list = ["account_code", "name", "status", "max_channels", ("node", "node.name")]
    column_default_sort = "account_code"
    column_labels = {"node.dns_name": "DNS name", "e911_number": "Default E911 number", "node.name": "Node",
                     "node.hosting_provider": "Hosting provider"}
    column_formatters = {"e911_number": lambda v, c, m, n: display(m.e911_number.e164) if m.e911_number else "",
                         "main_number": lambda v, c, m, n: display(m.main_number.e164) if m.main_number else ""}
    details_template = "trunkline/client_details.html"

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
                "alert_emails": model.alert_emails or "", "alert_webhook": model.alert_webhook or ""}

    def render(self, template, **kwargs):
        if template == self.details_template and kwargs.get("model") is not None:
            kwargs.update(client_page(kwargs["model"]))
        return super().render(template, **kwargs)

    @expose("/replace-node/", methods=("GET", "POST"))
    def replace_node_view(self):
        client = Session().get(Client, request.args.get("id", type=int) or 0) or abort(404)
        form = forms.ReplaceNodeForm()
        result = None
        if client.node is None:
            flash(f"Client {client.account_code} has no node to replace: edit the client to give it one.", "error")
            return redirect(self.get_url(".details_view", id=client.id))
        if request.method == "GET":
            form.hosting_provider.data = form.hosting_provider.data or client.node.hosting_provider
            form.region.data = form.region.data or client.node.region
        if form.validate_on_submit():
            result = form_write(form, lambda: replace_node(Session(), client, {f.name: f.data for f in form if f.name != "csrf_token"},
                                                          web_actor("form")))
            if result is FAILED:
                result = None
        return self.render("trunkline/replace_node.html", client=client, form=form, result=result,
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
            "e911_ok": all(r["ok"] for r in trunk_rows) and bool(trunk_rows), "display": display}


class TrunkView(ServiceModelView):
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
                     "client.account_code": "Client"}
    column_formatters = {"client": lambda v, c, m, n: m.client.account_code if m.client else "",
                         "e911_number": lambda v, c, m, n: display(m.e911_number.e164) if m.e911_number else ""}
    column_formatters_export = {"client": lambda v, c, m, n: m.client.account_code if m.client else "",
                                "e911_number": lambda v, c, m, n: m.e911_number.e164 if m.e911_number else ""}
    details_template = "trunkline/trunk_details.html"
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
            g.tl_secret = {"label": str(obj), "username": obj.username, "password": obj.password, "revealed": False}

    def update_model(self, form, model):
        had_password = model.password
        saved = super().update_model(form, model)
        if saved and model.password and not had_password and not form.password.data:
            # Switched to credentials with a generated password: show it this once.
            g.tl_secret = {"label": str(model), "username": model.username, "password": model.password, "revealed": False}
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


def registration_state(trunk: Trunk) -> list[dict]:
    """The trunk's live registrations, read from ps_contacts (written by Asterisk)."""
    contacts = REALTIME_TABLES["ps_contacts"]
    rows = Session().execute(select(contacts).where(
        (contacts.c.endpoint == trunk.endpoint_id) | (contacts.c.id.like(f"{trunk.endpoint_id};@%")))).mappings()
    now = int(time.time())
    out = []
    for row in rows:
        expires = row["expiration_time"]
        out.append({"uri": row["uri"], "user_agent": row["user_agent"], "via": f"{row['via_addr'] or ''}:{row['via_port'] or ''}",
                    "expires": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(expires)) if expires else "",
                    "live": bool(expires and expires > now)})
    return out


def e911_preview(trunk: Trunk, caller_id: str | None) -> dict:
    """The plain-words answer to: where does a 911 call from this trunk with this caller ID go?"""
    shown = caller_id.strip() if caller_id else ""
    try:
        route = resolve_e911(Session(), trunk, shown or None)
    except E911Unresolved as exc:
        return {"ok": False, "caller_id": shown, "sentence": f"A 911 call from this trunk{' with caller ID ' + shown if shown else ''} "
                f"does not resolve: " + "; ".join(exc.reasons), "skipped": []}
    return {"ok": True, "caller_id": shown, "route": route,
            "sentence": f"A 911 call from this trunk{' with caller ID ' + shown if shown else ' without a caller ID'} {route.sentence()}.",
            "skipped": list(route.skipped)}


def trunk_page(trunk: Trunk, caller_id: str | None) -> dict:
    """What the trunk page shows: numbers, E911 preview and live registration state."""
    session = Session()
    count = session.scalar(select(func.count()).select_from(PhoneNumber).where(PhoneNumber.trunk_id == trunk.id))
    trunk_numbers = list(session.scalars(select(PhoneNumber).where(PhoneNumber.trunk_id == trunk.id)
                                         .options(joinedload(PhoneNumber.carrier)).order_by(PhoneNumber.e164).limit(200)))
    if caller_id is None and trunk_numbers:
        # A number without a registration of its own shows the fallback a typical DID takes.
        unregistered = [n for n in trunk_numbers if not n.e911_registered]
        caller_id = display((unregistered or trunk_numbers)[0].e164)
    return {"trunk_numbers": trunk_numbers, "number_count": count, "preview": e911_preview(trunk, caller_id),
            "registrations": registration_state(trunk), "display": display}


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
    column_labels = {"e164": "Number", "e911_registered": "E911", "port_target_carrier": "Porting to", "carrier.name": "Carrier",
                     "client.account_code": "Client"}
    column_formatters = {"e164": _number_fmt,
                         "client": lambda v, c, m, n: m.client.account_code if m.client else "",
                         "trunk": lambda v, c, m, n: m.trunk.name if m.trunk else ""}
    column_formatters_export = {"client": lambda v, c, m, n: m.client.account_code if m.client else "",
                                "trunk": lambda v, c, m, n: m.trunk.name if m.trunk else ""}

    def search_placeholder(self):
        return "Number or its first digits"
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

    def _apply_search(self, query, count_query, joins, count_joins, search):
        """Digits typed (any spelling) become an indexed prefix match on +1...; no digits match nothing rather than scanning."""
        digits = "".join(ch for ch in search if ch.isdigit())
        if digits.startswith("1"):  # the country code: no NANP area code starts with 1
            digits = digits[1:]
        pattern = f"+1{digits}%" if digits else "-"
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
