"""Dashboard: counts, E911 coverage (in red when broken), nodes per hosting provider, calls per day and month."""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from datetime import date, datetime, timedelta

from flask import current_app, redirect, request, url_for
from flask_admin import AdminIndexView, expose
from flask_login import current_user
from sqlalchemy import func, select
from sqlalchemy.orm import Session as OrmSession
from sqlalchemy.orm import joinedload, selectinload

from app import calls as app_calls
from app import node_state
from app.call_health import call_problems
from app.db import Session, utc_now
from app.dbreplica import serving_replica
from app.e911 import resolve_e911, unusable_reason
from app.errors import E911Unresolved
from app.models import Carrier, Client, E911Call, Node, PhoneNumber, PortOrder, Trunk
from app.models.realtime import REALTIME_TABLES


def counts(session: OrmSession) -> dict[str, int]:
    def n(model, *where):
        return session.scalar(select(func.count()).select_from(model).where(*where)) or 0
    return {"carriers": n(Carrier), "nodes": n(Node), "clients": n(Client), "trunks": n(Trunk), "numbers": n(PhoneNumber),
            "numbers registered for E911": n(PhoneNumber, PhoneNumber.e911_registered.is_(True)),
            "open port orders": n(PortOrder, PortOrder.status == "pending")}


def e911_coverage(session: OrmSession) -> list[dict]:
    """Every active client whose default 911 number is unusable, and every trunk whose 911 path does not resolve."""
    problems = []
    active = session.scalars(select(Client).where(Client.status == "active").order_by(Client.account_code)
                             .options(joinedload(Client.e911_number), joinedload(Client.trunks)))
    for client in active.unique():
        reason = unusable_reason(client.e911_number, client.id)
        if reason is not None:
            problems.append({"what": f"client {client.account_code}", "client": client, "trunk": None,
                             "reason": f"default E911 number: {reason}"})
        if not client.trunks:
            continue
        for trunk in client.trunks:
            try:
                resolve_e911(session, trunk)
            except E911Unresolved as exc:
                problems.append({"what": f"trunk {trunk}", "client": client, "trunk": trunk, "reason": "; ".join(exc.reasons)})
    return problems


E911_UNRESOLVED_MARK = "e911-unresolved"  # CDR userfield the client node's tl-911 sets (extensions.conf.j2)


def e911_unresolved_calls(session: OrmSession, days: int = 30, limit: int = 50) -> list[dict]:
    """911 calls of the last `days` days that left without a resolved E911 route, newest first.

    The client node marks them (cdr.userfield = E911_UNRESOLVED_MARK) when the cascade resolved nothing
    and the call left with the client's own number or its main number instead of a registered one; each
    is an address the 911 centre may not have. Shape: [{"start", "account", "trunk", "caller_id", "via"}] (via: the node or carrier endpoint dialled).
    """
    cdr = REALTIME_TABLES["cdr"]
    since = datetime.combine(date.today() - timedelta(days=days - 1), datetime.min.time())
    rows = session.execute(select(cdr.c.start, cdr.c.accountcode, cdr.c.channel, cdr.c.src, cdr.c.dstchannel)
                           .where(cdr.c.userfield == E911_UNRESOLVED_MARK, cdr.c.start >= since)
                           .order_by(cdr.c.start.desc()).limit(limit))
    out = []
    for start, account, channel, src, dstchannel in rows:
        # PJSIP/trunk-ACME-main-0000002a -> trunk-ACME-main
        trunk = (channel or "").removeprefix("PJSIP/").rsplit("-", 1)[0]
        out.append({"start": start, "account": account, "trunk": trunk, "caller_id": src or "",
                    "via": (dstchannel or "").removeprefix("PJSIP/").rsplit("-", 1)[0]})
    return out


def nodes_by_provider(session: OrmSession) -> tuple[dict[str, dict[str, int]], list[str]]:
    """{role: {provider: count}} of active nodes, and a warning per role whose active nodes all sit on one provider.

    Draining nodes are left out: they are on their way out (a replaced node), so they give no redundancy.
    """
    table: dict[str, dict[str, int]] = defaultdict(dict)
    rows = session.execute(select(Node.role, Node.hosting_provider, func.count()).where(Node.state == "active")
                           .group_by(Node.role, Node.hosting_provider).order_by(Node.role, Node.hosting_provider))
    for role, provider, count in rows:
        table[role][provider] = count
    warnings = []
    for role, providers in sorted(table.items()):
        total = sum(providers.values())
        if len(providers) == 1 and total > 1:
            provider = next(iter(providers))
            warnings.append(f"All {total} {role}-facing nodes are hosted by {provider}: an outage or an attack there takes them all down.")
        elif len(providers) == 1:
            warnings.append(f"The only {role}-facing node is hosted by {next(iter(providers))}: there is no second provider.")
    return dict(table), warnings


def draining_nodes(session: OrmSession) -> int:
    return session.scalar(select(func.count()).select_from(Node).where(Node.state == "draining")) or 0


def calls(session: OrmSession, days: int = 30, client: str | None = None, carrier: str | None = None) -> dict:
    """Calls per day (last `days` UTC days) and per month (last 13 months), per client and carrier, from the call
    rollup (app.calls: each call counted once however many nodes and attempts it crossed; carriers matched exactly)."""
    today = utc_now().date()
    start = today - timedelta(days=days - 1)
    month_start = date(today.year - 1, today.month, 1)
    per_day = app_calls.per_day(session, month_start, today, client=client, carrier=carrier)
    day_series = [((start + timedelta(days=i)).isoformat(), per_day.get((start + timedelta(days=i)).isoformat(), 0))
                  for i in range(days)]
    per_month: dict[str, int] = defaultdict(int)
    for key, n in per_day.items():
        per_month[key[:7]] += n
    months, y, m = [], month_start.year, month_start.month
    for _ in range(13):
        key = f"{y:04d}-{m:02d}"
        months.append((key, per_month.get(key, 0)))
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    window = app_calls.summary(session, start, today, client=client, carrier=carrier)
    return {"days": day_series, "months": months, "total": window["calls"], "e911_calls": window["e911_calls"],
            "by_client": sorted(window["by_client"].items(), key=lambda kv: (-kv[1], kv[0])),
            "by_carrier": sorted(window["by_carrier"].items(), key=lambda kv: (-kv[1], kv[0])),
            "freshness": app_calls.freshness(session)}


def bar_chart(series: list[tuple[str, int]], width: int = 900, height: int = 180, label_every: int = 5) -> dict:
    """Geometry of an inline SVG bar chart (no JavaScript, no external library)."""
    highest = max((n for _, n in series), default=0)
    top = highest or 1
    n = max(len(series), 1)
    slot = width / n
    bars = []
    for i, (key, value) in enumerate(series):
        h = round((height - 30) * value / top, 1)
        bars.append({"x": round(i * slot + 2, 1), "y": round(height - 20 - h, 1), "w": round(max(slot - 4, 1), 1), "h": h,
                     "key": key, "value": value, "label": (key[5:] if len(key) == 10 else key) if i % label_every == 0 else ""})
    return {"bars": bars, "width": width, "height": height, "top": highest, "empty": highest == 0}


def recent_e911_calls(session: OrmSession, hours: int = 24) -> list[E911Call]:
    """The 911 calls of the last `hours` hours, newest first, with their alerts."""
    return list(session.scalars(select(E911Call).where(E911Call.started_at >= utc_now() - timedelta(hours=hours))
                                .order_by(E911Call.started_at.desc()).limit(200)
                                .options(selectinload(E911Call.deliveries), joinedload(E911Call.client))))


ROLLUP_MAX_AGE = timedelta(seconds=60)
_refreshing = threading.Lock()


def start_rollup_refresh(freshness: dict) -> bool:
    """Start a background refresh of the call rollup when it is older than ROLLUP_MAX_AGE and records wait; the page
    never waits for it (it shows the counts as of the last refresh). True when the counts are that stale."""
    refreshed = freshness["refreshed_at"]
    stale = bool(freshness["pending_records"]) and (refreshed is None or utc_now() - refreshed > ROLLUP_MAX_AGE)
    engine = current_app.extensions.get("trunkline_engine")
    if serving_replica():
        return stale  # the primary is down (the page comes from a replica): the refresh writes, it waits for the primary
    if stale and engine is not None and _refreshing.acquire(blocking=False):
        def run():
            try:
                with OrmSession(engine) as session:
                    app_calls.refresh(session)
                    session.commit()
            except Exception:  # noqa: BLE001 - a failed refresh is retried by the next page view or the timer
                logging.getLogger(__name__).exception("call rollup refresh failed")
            finally:
                _refreshing.release()
        threading.Thread(target=run, daemon=True, name="call-rollup").start()
    return stale


class DashboardView(AdminIndexView):
    """The home page of the admin."""

    def is_accessible(self) -> bool:
        return current_user.is_authenticated

    def inaccessible_callback(self, name, **kwargs):
        return redirect(url_for("auth.login", next=request.full_path))

    @expose("/")
    def index(self):
        session = Session()
        asked = node_state.ask_dashboard_nodes(session)  # the nodes answer while the page reads the database
        client_filter = request.args.get("client") or None
        carrier_filter = request.args.get("carrier") or None
        providers, provider_warnings = nodes_by_provider(session)
        traffic = calls(session, client=client_filter, carrier=carrier_filter)
        stale_calls = start_rollup_refresh(traffic["freshness"])
        return self.render("trunkline/dashboard.html", counts=counts(session), coverage=e911_coverage(session),
                           unresolved_calls=e911_unresolved_calls(session), e911_calls=recent_e911_calls(session),
                           call_problems=call_problems(session),
                           providers=providers, provider_warnings=provider_warnings, traffic=traffic, draining=draining_nodes(session),
                           day_chart=bar_chart(traffic["days"]), month_chart=bar_chart(traffic["months"], label_every=1),
                           live_nodes=node_state.dashboard_nodes(session, asked),
                           client_filter=client_filter, carrier_filter=carrier_filter, stale_calls=stale_calls,
                           client_codes=list(session.scalars(select(Client.account_code).order_by(Client.account_code))),
                           carrier_names=list(session.scalars(select(Carrier.name).order_by(Carrier.name))))
