"""911 calls (read only): every one the platform carried, with its alerts; filters and CSV export."""

from __future__ import annotations

from markupsafe import Markup, escape

from app.alerts.words import LEVEL_WORDS
from app.web.views.base import ReadOnlyView


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


class E911CallView(ReadOnlyView):
    """Every 911 call recorded as it started (source node) or found in the call records afterwards (source cdr); read only."""

    page_size = 50

    def search_placeholder(self):
        return "Client, trunk, number or call id"

    column_list = ["started_at", "account_code", "trunk", "presented", "number", "sent", "address", "carrier", "level",
                   "node", "source", "deliveries"]
    column_details_list = column_list + ["call_id", "recorded_at"]
    column_export_list = ["started_at", "account_code", "trunk", "presented", "number", "sent", "address", "carrier",
                          "level", "node", "source", "call_id"]
    column_searchable_list = ["account_code", "trunk", "presented", "number", "call_id"]
    column_filters = ["started_at", "account_code", "trunk", "carrier", "level", "node", "source"]
    column_sortable_list = ["started_at", "account_code", "trunk", "carrier", "level"]
    column_default_sort = ("started_at", True)
    column_labels = {"started_at": "Started (UTC)", "account_code": "Client", "presented": "Caller ID presented",
                     "number": "Number sent to 911", "sent": "Digits sent", "address": "Registered address",
                     "level": "Chosen from", "source": "Recorded from", "deliveries": "Alerts", "call_id": "Call id",
                     "recorded_at": "Recorded (UTC)"}
    column_formatters = {
        "deliveries": _alerts,
        "level": lambda v, c, m, n: LEVEL_WORDS.get(m.level, m.level),
        "source": lambda v, c, m, n: "the node, as the call started" if m.source == "node" else "the call records, afterwards",
        "address": lambda v, c, m, n: m.address or Markup('<span class="tl-bad">none registered</span>'),
        "started_at": lambda v, c, m, n: f"{m.started_at:%Y-%m-%d %H:%M:%S}",
    }
    column_formatters_export = {"level": lambda v, c, m, n: m.level, "source": lambda v, c, m, n: m.source,
                                "address": lambda v, c, m, n: m.address or "",
                                "started_at": lambda v, c, m, n: f"{m.started_at:%Y-%m-%d %H:%M:%S}"}
