"""Monthly usage per client and per carrier (calls, inbound/outbound, answered, billed minutes, 911 calls), for billing."""

from __future__ import annotations

import csv
import io
from datetime import date

from flask import Response, redirect, request, url_for
from flask_admin import BaseView, expose
from flask_login import current_user

from app import calls
from app.db import Session, utc_now

COLUMN_TITLES = {"calls": "Calls", "inbound": "Inbound", "outbound": "Outbound", "answered": "Answered",
                 "billed_minutes": "Billed minutes", "e911_calls": "911 calls"}


def parse_month(text: str | None) -> date | None:
    """`YYYY-MM` -> the first day of that month; None when missing or not a month."""
    try:
        year, month = (text or "").strip().split("-")
        return date(int(year), int(month), 1)
    except ValueError:
        return None


class UsageView(BaseView):
    """Monthly usage, read from the call rollup (each call once); any signed-in user may read and export it."""

    def is_accessible(self) -> bool:
        return current_user.is_authenticated

    def inaccessible_callback(self, name, **kwargs):
        return redirect(url_for("auth.login", next=request.full_path))

    @expose("/")
    def index_view(self):
        session = Session()
        this_month = utc_now().date().replace(day=1)
        asked = request.args.get("month")
        month = parse_month(asked) or this_month
        problem = f"'{asked}' is not a month as YYYY-MM: showing {month:%Y-%m}." if asked and parse_month(asked) is None else None
        usage = calls.monthly_usage(session, month)
        by = request.args.get("by")
        if request.args.get("format") == "csv" and by in ("client", "carrier"):
            if problem:  # a file for the wrong month must not look like the one asked for
                return Response(f"{problem.split(':')[0]}: ask for ?month=YYYY-MM\n", status=400, mimetype="text/plain")
            out = io.StringIO()
            out.write("\ufeff")  # Excel reads the file as UTF-8 only with a byte-order mark
            writer = csv.writer(out)
            writer.writerow([by, "month", *calls.USAGE_COLUMNS])
            for row in usage["clients" if by == "client" else "carriers"]:
                writer.writerow([row["name"] or "(none)", f"{month:%Y-%m}", *(row[c] for c in calls.USAGE_COLUMNS)])
            return Response(out.getvalue(), mimetype="text/csv", headers={  # Flask adds "; charset=utf-8"
                "Content-Disposition": f'attachment; filename="usage-{by}-{month:%Y-%m}.csv"'})
        previous = (month.replace(day=1) - date.resolution).replace(day=1)
        following = (month.replace(day=28) + 4 * date.resolution).replace(day=1)
        return self.render("trunkline/usage.html", month=month, usage=usage, titles=COLUMN_TITLES, problem=problem,
                           previous=previous, following=following if following <= this_month else None,
                           freshness=calls.freshness(session))
