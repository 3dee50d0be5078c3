"""Call records counted right: each call once, per client, per exact carrier, per day; the rollup behind the
dashboard, `flask calls summary` and the monthly usage page.

What the nodes write (Asterisk's cdr table, one row per channel and Dial attempt, cdr_adaptive_odbc):
- a call crosses a client node and, when it reaches a carrier, a carrier node: each writes its own rows,
  and a failover (503 from one carrier, then the next) adds one row per attempt on both nodes;
- every row carries `call_id`: the linkedid of the first node the call entered, passed to the other node
  in the X-TL-Call header (nodes render `systemname`, so linkedids are unique across the fleet);
- PJSIP channel names are `PJSIP/<endpoint>-<8 hex digits>`: the endpoint (`trunk-ACME-main`,
  `node-cl1`, `carrier-telus-west`) is everything before the last `-`.

A call is one call_id (rows without one, written before call ids existed: their linkedid) that has a row
on a client node, i.e. a row whose channel (outbound, from the PBX) or dstchannel (inbound, to the PBX)
is a trunk endpoint. Its day is the UTC day its first client-node row started (cdr times are UTC:
`usegmtime = yes`); its account is that row's account code; it is answered when a client-node row was
answered, and its billed seconds are the longest answered client-node row's. Its carrier is the carrier
endpoint of the carrier-node row that was answered, else of the last attempt; matched exactly, so
`telus` and `telus-west` are two carriers. A call refused before any carrier (403, 484, a cap) has
carrier ''. A 911 call is an outbound call that entered the 911 context or dialled 911 onward (the
records' dst is the dialplan's own `s` by the time they are written). Calls that reached only a carrier node (an
unknown DID refused there) are no client's calls and are not counted.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from app.db import utc_now
from app.models.calls import CallRollup, CallRollupState
from app.models.realtime import REALTIME_TABLES

CDR = REALTIME_TABLES["cdr"]
# A carrier-node row of a call starts at most this far from its client-node row (dial attempts, failover,
# a ringing carrier); rows this close to midnight can belong to a call of the neighbouring day.
SKEW = timedelta(hours=1)
LOOKBACK_IDS = 1000
_COLUMNS = (CDR.c.start, CDR.c.accountcode, CDR.c.channel, CDR.c.dstchannel, CDR.c.dcontext, CDR.c.lastdata,
            CDR.c.billsec, CDR.c.disposition, CDR.c.call_id, CDR.c.linkedid, CDR.c.uniqueid)
E911_CONTEXT = "tl-911"  # the client node's 911 context (asterisk_realtime/templates/extensions.conf.j2)


def endpoint_of(channel: str | None) -> str:
    """The PJSIP endpoint of a channel name (`PJSIP/carrier-telus-west-0000001a` -> `carrier-telus-west`); '' else."""
    if not channel or not channel.startswith("PJSIP/") or "-" not in channel:
        return ""
    return channel[6:].rsplit("-", 1)[0]


@dataclass
class _Call:
    start: datetime | None = None
    account: str = ""
    outbound: bool = False
    e911: bool = False
    answered: bool = False
    billsec: int = 0
    carrier: str = ""
    carrier_answered: bool = False
    carrier_start: datetime | None = None


@dataclass
class Bucket:
    """Counts of one (day, account, carrier, direction)."""

    calls: int = 0
    answered: int = 0
    billsec: int = 0
    billed_minutes: int = 0
    e911_calls: int = 0


def _as_datetime(value) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))


def calls_from_rows(rows) -> dict[str, _Call]:
    """Group cdr rows (tuples in the order of _COLUMNS) into calls keyed by call id; see the module docstring."""
    calls: dict[str, _Call] = defaultdict(_Call)
    for start, account, channel, dstchannel, dcontext, lastdata, billsec, disposition, call_id, linkedid, uniqueid in rows:
        key = call_id or linkedid or uniqueid
        if not key:
            continue
        start = _as_datetime(start)
        src, dest = endpoint_of(channel), endpoint_of(dstchannel)
        call = calls[key]
        answered = disposition == "ANSWERED"
        if src.startswith("trunk-") or dest.startswith("trunk-"):
            if start is not None and (call.start is None or start < call.start):
                call.start = start
            call.account = call.account or (account or "")
            if src.startswith("trunk-"):
                call.outbound = True
                # dst is the dialplan's own extension by then ('s'): the 911 context, or a Dial of 911.
                call.e911 = call.e911 or dcontext == E911_CONTEXT or (lastdata or "").startswith("PJSIP/911@")
            if answered:
                call.answered = True
                call.billsec = max(call.billsec, int(billsec or 0))
        for endpoint in (src, dest):
            if endpoint.startswith("carrier-"):
                # The answered attempt wins; otherwise the latest attempt is the carrier that ended the call.
                later = call.carrier_start is None or (start is not None and start >= call.carrier_start)
                if (answered and not call.carrier_answered) or (answered == call.carrier_answered and later):
                    call.carrier, call.carrier_answered, call.carrier_start = endpoint[8:], answered, start
    return calls


def buckets_from_calls(calls: dict[str, _Call], days: set[date] | None = None) -> dict[tuple, Bucket]:
    """(day, account, carrier, direction) -> Bucket for the calls seen on a client node (of `days` only, if given)."""
    out: dict[tuple, Bucket] = defaultdict(Bucket)
    for call in calls.values():
        if call.start is None:
            continue  # only carrier-node rows: no client's call
        day = call.start.date()
        if days is not None and day not in days:
            continue
        bucket = out[(day, call.account, call.carrier, "out" if call.outbound else "in")]
        bucket.calls += 1
        bucket.e911_calls += call.e911
        if call.answered:
            bucket.answered += 1
            bucket.billsec += call.billsec
            bucket.billed_minutes += math.ceil(call.billsec / 60)
    return out


def _rows_between(session: Session, start: datetime, end: datetime):
    return session.execute(select(*_COLUMNS).where(CDR.c.start >= start, CDR.c.start < end)
                           .execution_options(yield_per=10_000))


def recompute_days(session: Session, days: set[date]) -> int:
    """Replace the rollup rows of the given UTC days with counts read afresh from cdr; the number of calls."""
    total = 0
    for day in sorted(days):
        start = datetime.combine(day, datetime.min.time())
        calls = calls_from_rows(_rows_between(session, start - SKEW, start + timedelta(days=1) + SKEW))
        buckets = buckets_from_calls(calls, {day})
        session.execute(delete(CallRollup).where(CallRollup.day == day))
        if buckets:
            session.execute(insert(CallRollup), [
                {"day": d, "accountcode": account, "carrier": carrier, "direction": direction,
                 "calls": b.calls, "answered": b.answered, "billsec": b.billsec, "billed_minutes": b.billed_minutes,
                 "e911_calls": b.e911_calls} for (d, account, carrier, direction), b in buckets.items()])
        total += sum(b.calls for b in buckets.values())
    return total


@dataclass
class RefreshResult:
    """What one refresh did: cdr rows read as new, the days recomputed, when."""

    new_records: int
    days: list[date] = field(default_factory=list)
    refreshed_at: datetime | None = None


def _state(session: Session, lock: bool) -> CallRollupState:
    query = select(CallRollupState).where(CallRollupState.id == 1)
    if lock:
        query = query.with_for_update()  # two refreshes at once on MariaDB: the second waits
    state = session.scalar(query)
    if state is None:
        state = CallRollupState(id=1, last_cdr_id=0, refreshed_at=None)
        session.add(state)
        session.flush()
    return state


def refresh(session: Session) -> RefreshResult:
    """Bring the rollup up to date with the cdr rows that arrived since the last refresh (caller commits).

    The days recomputed are those of the new rows' starts, and the neighbouring day for a row within
    SKEW of midnight (its call may have started on the other side). Run it every minute (systemd timer,
    docs/calls.md); the dashboard also starts one in the background when its counts are older than that.
    """
    state = _state(session, lock=True)
    last = session.scalar(select(func.max(CDR.c.id))) or 0
    result = RefreshResult(new_records=0)
    if last > state.last_cdr_id:
        days: set[date] = set()
        count = 0
        # Ids are handed out when a row is inserted, not when it commits: re-read the last LOOKBACK ids too,
        # so a row that committed after a higher id was already counted is not skipped for good.
        since = max(state.last_cdr_id - LOOKBACK_IDS, 0)
        for cdr_id, start in session.execute(select(CDR.c.id, CDR.c.start).where(CDR.c.id > since, CDR.c.id <= last)):
            count += cdr_id > state.last_cdr_id
            start = _as_datetime(start)
            if start is None:
                continue
            days |= {start.date(), (start - SKEW).date(), (start + SKEW).date()}
        recompute_days(session, days)
        state.last_cdr_id = last
        result.new_records, result.days = count, sorted(days)
    state.refreshed_at = result.refreshed_at = utc_now()
    session.flush()
    return result


def rebuild(session: Session) -> RefreshResult:
    """Recompute every day from the whole cdr table (after an upgrade, or to repair); caller commits.

    Day by day (each read through the start index), so memory stays that of one day's calls.
    """
    state = _state(session, lock=True)
    last = session.scalar(select(func.max(CDR.c.id))) or 0
    first, final = session.execute(select(func.min(CDR.c.start), func.max(CDR.c.start))).one()
    session.execute(delete(CallRollup))
    days: set[date] = set()
    if first is not None:
        day, end = _as_datetime(first).date(), _as_datetime(final).date()
        while day <= end:
            days.add(day)
            day += timedelta(days=1)
        recompute_days(session, days)
    state.last_cdr_id = last
    state.refreshed_at = utc_now()
    session.flush()
    return RefreshResult(new_records=session.scalar(select(func.count()).select_from(CDR)) or 0, days=sorted(days),
                         refreshed_at=state.refreshed_at)


def freshness(session: Session) -> dict:
    """When the rollup was last refreshed and how many call records it has not read yet."""
    state = session.get(CallRollupState, 1)
    last = state.last_cdr_id if state else 0
    pending = session.scalar(select(func.count()).select_from(CDR).where(CDR.c.id > last)) or 0
    return {"refreshed_at": state.refreshed_at if state else None, "pending_records": pending}


def _where(since: date | None, until: date | None, client: str | None, carrier: str | None) -> list:
    where = []
    if since is not None:
        where.append(CallRollup.day >= since)
    if until is not None:
        where.append(CallRollup.day <= until)
    if client:
        where.append(CallRollup.accountcode == client)
    if carrier:
        where.append(CallRollup.carrier == carrier)
    return where


def summary(session: Session, since: date | None = None, until: date | None = None, *,
            client: str | None = None, carrier: str | None = None) -> dict:
    """Counts over [since, until] (UTC days, both included) from the rollup.

    Returns {"calls": int, "by_client": {account code: calls}, "by_carrier": {carrier name: calls},
    "e911_calls": int, "answered": int, "billed_minutes": int, "inbound": int, "outbound": int}. Calls with
    no account or no carrier are in "calls" but under no key of by_client / by_carrier.
    """
    where = _where(since, until, client, carrier)
    totals = session.execute(select(func.coalesce(func.sum(CallRollup.calls), 0),
                                    func.coalesce(func.sum(CallRollup.e911_calls), 0),
                                    func.coalesce(func.sum(CallRollup.answered), 0),
                                    func.coalesce(func.sum(CallRollup.billed_minutes), 0)).where(*where)).one()
    directions = dict(session.execute(select(CallRollup.direction, func.sum(CallRollup.calls)).where(*where)
                                      .group_by(CallRollup.direction)).all())
    by_client = {a: int(n) for a, n in session.execute(
        select(CallRollup.accountcode, func.sum(CallRollup.calls)).where(*where, CallRollup.accountcode != "")
        .group_by(CallRollup.accountcode).order_by(CallRollup.accountcode)) if n}
    by_carrier = {c: int(n) for c, n in session.execute(
        select(CallRollup.carrier, func.sum(CallRollup.calls)).where(*where, CallRollup.carrier != "")
        .group_by(CallRollup.carrier).order_by(CallRollup.carrier)) if n}
    return {"calls": int(totals[0]), "by_client": by_client, "by_carrier": by_carrier, "e911_calls": int(totals[1]),
            "answered": int(totals[2]), "billed_minutes": int(totals[3]),
            "inbound": int(directions.get("in") or 0), "outbound": int(directions.get("out") or 0)}


def per_day(session: Session, since: date, until: date, *, client: str | None = None,
            carrier: str | None = None) -> dict[str, int]:
    """{"YYYY-MM-DD": calls} for the days that have calls in [since, until]."""
    rows = session.execute(select(CallRollup.day, func.sum(CallRollup.calls))
                           .where(*_where(since, until, client, carrier)).group_by(CallRollup.day))
    return {str(day)[:10]: int(n) for day, n in rows}


USAGE_COLUMNS = ("calls", "inbound", "outbound", "answered", "billed_minutes", "e911_calls")


def monthly_usage(session: Session, month: date) -> dict[str, list[dict]]:
    """Usage of one calendar month (UTC), for billing: {"clients": [...], "carriers": [...]}.

    Each entry: {"name", "calls", "inbound", "outbound", "answered", "billed_minutes", "e911_calls"}, sorted by name.
    """
    first = month.replace(day=1)
    last = (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    where = _where(first, last, None, None)
    out: dict[str, list[dict]] = {}
    for key, column in (("clients", CallRollup.accountcode), ("carriers", CallRollup.carrier)):
        table: dict[str, dict] = {}
        for name, direction, calls, answered, minutes, e911 in session.execute(
                select(column, CallRollup.direction, func.sum(CallRollup.calls), func.sum(CallRollup.answered),
                       func.sum(CallRollup.billed_minutes), func.sum(CallRollup.e911_calls))
                .where(*where).group_by(column, CallRollup.direction)):
            entry = table.setdefault(name or "", {"name": name or "", **dict.fromkeys(USAGE_COLUMNS, 0)})
            entry["calls"] += int(calls)
            entry["inbound" if direction == "in" else "outbound"] += int(calls)
            entry["answered"] += int(answered)
            entry["billed_minutes"] += int(minutes)
            entry["e911_calls"] += int(e911)
        out[key] = [table[name] for name in sorted(table)]
    return out
