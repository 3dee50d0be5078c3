"""Dashboard: counts, E911 coverage (in red when broken), nodes per hosting provider, calls per day and month."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta

from flask import redirect, request, url_for
from flask_admin import AdminIndexView, expose
from flask_login import current_user
from sqlalchemy import case, func, select
from sqlalchemy.orm import Session as OrmSession
from sqlalchemy.orm import joinedload

from app.call_health import call_problems
from app.db import Session
from app.e911 import resolve_e911, unusable_reason
from app.errors import E911Unresolved
from app.models import Carrier, Client, Node, PhoneNumber, PortOrder, Trunk
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
    """Calls per day (last `days` days) and per month (last 12 months) from the cdr table."""
    cdr = REALTIME_TABLES["cdr"]
    day_expr = func.date(cdr.c.start)
    where = []
    if client:
        where.append(cdr.c.accountcode == client)
    if carrier:
        endpoint = f"PJSIP/carrier-{carrier}-%"
        where.append(cdr.c.channel.like(endpoint) | cdr.c.dstchannel.like(endpoint))
    today = date.today()
    start = today - timedelta(days=days - 1)
    since = datetime.combine(start, datetime.min.time())
    # One scan (per day and client, over the 13 months the month chart shows) feeds the day chart, the month chart
    # and the client table; a second one (last `days` days) counts per carrier.
    month_start = date(today.year - 1, today.month, 1)
    per_day: dict[str, int] = defaultdict(int)
    per_month: dict[str, int] = defaultdict(int)
    per_client: dict[str, int] = defaultdict(int)
    first_day = start.isoformat()
    rows = session.execute(select(day_expr, cdr.c.accountcode, func.count())
                           .where(cdr.c.start >= datetime.combine(month_start, datetime.min.time()), *where)
                           .group_by(day_expr, cdr.c.accountcode))
    for day, account, n in rows:
        key = str(day)[:10]
        per_month[key[:7]] += n
        if key >= first_day:
            per_day[key] += n
            per_client[account or "(none)"] += n
    day_series = [((start + timedelta(days=i)).isoformat(), per_day.get((start + timedelta(days=i)).isoformat(), 0)) for i in range(days)]
    months, y, m = [], month_start.year, month_start.month
    for _ in range(13):
        key = f"{y:04d}-{m:02d}"
        months.append((key, per_month.get(key, 0)))
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    names = list(session.scalars(select(Carrier.name).order_by(Carrier.name)))
    by_carrier = []
    if names:
        patterns = [(name, f"PJSIP/carrier-{name}-%") for name in names]
        which = case(*[(cdr.c.channel.like(p) | cdr.c.dstchannel.like(p), name) for name, p in patterns], else_=None)
        counted = dict(session.execute(select(which, func.count()).where(cdr.c.start >= since, *where).group_by(which)).all())
        by_carrier = [(name, counted[name]) for name in names if counted.get(name)]
    return {"days": day_series, "months": months, "total": sum(n for _, n in day_series),
            "by_client": sorted(per_client.items(), key=lambda kv: (-kv[1], kv[0])), "by_carrier": by_carrier}


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


class DashboardView(AdminIndexView):
    """The home page of the admin."""

    def is_accessible(self) -> bool:
        return current_user.is_authenticated

    def inaccessible_callback(self, name, **kwargs):
        return redirect(url_for("auth.login", next=request.full_path))

    @expose("/")
    def index(self):
        session = Session()
        client_filter = request.args.get("client") or None
        carrier_filter = request.args.get("carrier") or None
        providers, provider_warnings = nodes_by_provider(session)
        traffic = calls(session, client=client_filter, carrier=carrier_filter)
        return self.render("trunkline/dashboard.html", counts=counts(session), coverage=e911_coverage(session),
                           call_problems=call_problems(session),
                           providers=providers, provider_warnings=provider_warnings, traffic=traffic, draining=draining_nodes(session),
                           day_chart=bar_chart(traffic["days"]), month_chart=bar_chart(traffic["months"], label_every=1),
                           client_filter=client_filter, carrier_filter=carrier_filter,
                           client_codes=list(session.scalars(select(Client.account_code).order_by(Client.account_code))),
                           carrier_names=list(session.scalars(select(Carrier.name).order_by(Carrier.name))))
