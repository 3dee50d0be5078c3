"""911 calls (read only): every one the platform carried, with its alerts; filters and CSV export.

The page speaks as the other pages do: a trunk is `ACME/main` (stored as its endpoint id `trunk-ACME-main`, which is
what the node reports), linked to the trunk's page, and searching or filtering by `ACME/main` finds it; the client is
its account code and name; the level and the source are chosen from a list in words. What is known of a call's
number and address is worded by app.alerts.words, as in the email and the webhook (and on the dashboard, through the
template global `e911_words` this view registers). The CSV export keeps its columns and codes (level `number`,
source `cdr`, trunk `trunk-ACME-main`), so a script reading it keeps working; columns are only added at the end.
"""

from __future__ import annotations

from flask import g, url_for
from flask_admin.contrib.sqla.filters import FilterEqual, FilterLike
from markupsafe import Markup, escape
from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload

from app.alerts.words import LEVEL_WORDS, NOT_KNOWN, SOURCE_WORDS, known, trunk_label
from app.db import Session
from app.models import Client, E911Call, Trunk
from app.web.views.base import ReadOnlyView

UNKNOWN_LEVEL = "-"  # the filter's value for "not known" (a call from the call records stores no level)


def trunk_endpoint(typed: str) -> str:
    """What was typed for a trunk -> the stored form: `ACME/main` -> `trunk-ACME-main`, `ACME/` -> `trunk-ACME-`;
    anything without a slash unchanged (`trunk-ACME-main`, `main`)."""
    account, slash, name = typed.strip().partition("/")
    return f"trunk-{account}-{name}" if slash and account else typed.strip()


class _CodeFilter(FilterEqual):
    """A choice among stored codes, each shown in words."""

    def clean(self, value):
        return "" if value == UNKNOWN_LEVEL else value


class _TrunkEqual(FilterEqual):
    """`equals`, over the stored endpoint id, accepting the trunk as the pages write it (ACME/main). Typed, not
    chosen: a list of every trunk would be read at start-up (Flask-Admin takes filter options once) and grow with the
    fleet."""

    def clean(self, value):
        return trunk_endpoint(value)


class _TrunkLike(FilterLike):
    """`contains`, over the stored endpoint id, accepting the trunk as the pages write it (ACME/main, ACME/)."""

    def clean(self, value):
        return trunk_endpoint(value)


def _alerts(view, context, model, name):
    if not model.deliveries:
        return Markup('<span class="tl-bad">no alert contact</span>') if model.client is not None else ""
    parts = []
    for d in model.deliveries:
        css = "" if d.status == "sent" else "tl-bad"
        when = f" at {d.sent_at:%H:%M:%S}" if d.sent_at else ""
        error = f" ({d.last_error})" if d.last_error and d.status != "sent" else ""
        parts.append(f'<span class="{css}">{escape(d.channel)} {escape(d.target)}: {escape(d.status)}{escape(when)}'
                     f'{escape(error)}</span>')
    return Markup("<br>".join(parts))


def _words(model: E911Call):
    """The call's words, computed once per request (a call from the call records reads the database for them)."""
    cache = g.setdefault("tl_e911_words", {})
    if model.id not in cache:
        cache[model.id] = known(model, Session())
    return cache[model.id]


def _client(view, context, model, name):
    if model.client is None:
        return model.account_code or ""
    return Markup('<a href="{}">{} ({})</a>').format(url_for("client.details_view", id=model.client_id),
                                                      model.account_code, model.client.name)


def _trunk(view, context, model, name):
    label = trunk_label(model.trunk or "")
    trunk_id = getattr(g, "tl_e911_trunks", {}).get(model.trunk)
    if trunk_id is None:
        return label
    return Markup('<a href="{}">{}</a>').format(url_for("trunk.details_view", id=trunk_id), label)


def _address(view, context, model, name):
    words = _words(model)
    if model.address:
        return model.address
    bad = words.warning and not words.address.startswith("not known")
    return Markup('<span class="{}">{}</span>').format("tl-bad" if bad else "", words.address)


class E911CallView(ReadOnlyView):
    """Every 911 call recorded as it started (source node) or found in the call records afterwards (source cdr); read only."""

    page_size = 50
    named_filter_urls = True  # ?flt0_chosen_from_equals=number, readable and stable when filters are added

    def search_placeholder(self):
        return "Client, trunk (ACME/main), number or call id"

    column_list = ["started_at", "account_code", "trunk", "presented", "number", "sent", "address", "carrier", "level",
                   "node", "source", "deliveries"]
    column_details_list = column_list + ["call_id", "recorded_at"]
    # The export's columns and codes stay as they were (scripts read them); new ones are added at the end only.
    column_export_list = ["started_at", "account_code", "trunk", "presented", "number", "sent", "address", "carrier",
                          "level", "node", "source", "call_id", "client_name", "trunk_name", "level_words", "number_words",
                          "address_words"]
    column_searchable_list = ["account_code", "client.name", "trunk", "presented", "number", "call_id"]
    column_filters = [
        "started_at", "account_code",
        _TrunkEqual(E911Call.trunk, "Trunk"), _TrunkLike(E911Call.trunk, "Trunk"),
        "carrier",
        _CodeFilter(E911Call.level, "Chosen from", options=[*LEVEL_WORDS.items(), (UNKNOWN_LEVEL, NOT_KNOWN)]),
        "node",
        _CodeFilter(E911Call.source, "Recorded from", options=[(k, v) for k, v in SOURCE_WORDS.items() if k != "test"]),
    ]
    column_sortable_list = ["started_at", "account_code", "trunk", "carrier", "level"]
    column_default_sort = ("started_at", True)
    column_labels = {"started_at": "Started (UTC)", "account_code": "Client", "presented": "Caller ID presented",
                     "number": "Number sent to 911", "sent": "Digits sent", "address": "Registered address",
                     "level": "Chosen from", "source": "Recorded from", "deliveries": "Alerts", "call_id": "Call id",
                     "recorded_at": "Recorded (UTC)", "client.name": "Client name"}
    column_formatters = {
        "deliveries": _alerts,
        "account_code": _client,
        "trunk": _trunk,
        "number": lambda v, c, m, n: m.number or ("not known" if m.source == "cdr" else "none"),
        "level": lambda v, c, m, n: _words(m).level,
        "source": lambda v, c, m, n: SOURCE_WORDS.get(m.source, m.source),
        "address": _address,
        "started_at": lambda v, c, m, n: f"{m.started_at:%Y-%m-%d %H:%M:%S}",
    }
    column_formatters_export = {"level": lambda v, c, m, n: m.level, "source": lambda v, c, m, n: m.source,
                                "account_code": lambda v, c, m, n: m.account_code, "trunk": lambda v, c, m, n: m.trunk,
                                "number": lambda v, c, m, n: m.number,
                                "address": lambda v, c, m, n: m.address or "",
                                "started_at": lambda v, c, m, n: f"{m.started_at:%Y-%m-%d %H:%M:%S}",
                                "client_name": lambda v, c, m, n: m.client.name if m.client else "",
                                "trunk_name": lambda v, c, m, n: trunk_label(m.trunk or ""),
                                "level_words": lambda v, c, m, n: _words(m).level,
                                "number_words": lambda v, c, m, n: _words(m).number,
                                "address_words": lambda v, c, m, n: _words(m).address}

    def get_query(self):
        return super().get_query().options(joinedload(E911Call.client), selectinload(E911Call.deliveries))

    def get_list(self, *args, **kwargs):
        count, data = super().get_list(*args, **kwargs)
        self._load_trunks(data)
        return count, data

    def get_one(self, id):
        model = super().get_one(id)
        if model is not None:
            self._load_trunks([model])
        return model

    @staticmethod
    def _load_trunks(calls) -> None:
        """The trunk page of each call's trunk, by one query for the page: g.tl_e911_trunks {endpoint id: trunk id}."""
        accounts = {c.trunk[6:].partition("-")[0] for c in calls if (c.trunk or "").startswith("trunk-")}
        found = {}
        if accounts:
            for trunk_id, account, name in Session().execute(
                    select(Trunk.id, Client.account_code, Trunk.name).join(Client, Trunk.client_id == Client.id)
                    .where(Client.account_code.in_(sorted(accounts)))):
                found[f"trunk-{account}-{name}"] = trunk_id
        g.tl_e911_trunks = found

    # The export's header, pinned: the first twelve as they have always been, then the added ones.
    EXPORT_HEADERS = {"started_at": "Started (UTC)", "account_code": "Client", "trunk": "Trunk",
                      "presented": "Caller ID presented", "number": "Number sent to 911", "sent": "Digits sent",
                      "address": "Registered address", "carrier": "Carrier", "level": "Chosen from", "node": "Node",
                      "source": "Recorded from", "call_id": "Call id", "client_name": "Client name",
                      "trunk_name": "Trunk (client/name)", "level_words": "Chosen from (words)",
                      "number_words": "Number sent to 911 (words)", "address_words": "Registered address (words)"}

    def get_export_columns(self):
        return [(name, self.EXPORT_HEADERS[name]) for name in self.column_export_list]

    def _apply_search(self, query, count_query, joins, count_joins, search):
        """As Flask-Admin searches, each word over the searchable columns; a trunk typed as the pages write it
        (ACME/main) is looked for as it is stored (trunk-ACME-main)."""
        search = " ".join(trunk_endpoint(term) if "/" in term else term for term in search.split(" "))
        return super()._apply_search(query, count_query, joins, count_joins, search)

    def create_blueprint(self, admin):
        blueprint = super().create_blueprint(admin)
        # The dashboard's list of 911 calls words each call as this page and the alerts do.
        blueprint.add_app_template_global(lambda call: known(call, Session()), "e911_words")
        return blueprint
