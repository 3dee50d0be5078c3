"""911 call alerts: every 911 call through the platform is recorded as it starts, and each of the calling
client's alert contacts (email addresses, a webhook URL) is told within seconds.

How the admin learns of a call (docs/alerts.md):
- the client node's dialplan (tl-911) sends an AMI UserEvent `TrunklineE911` just before it dials, with what it
  decided (cascade level, number, digits sent, carrier); sending an event never waits on anything, so the
  call is never delayed or endangered by the alert;
- `flask --app wsgi alerts watch` (a service of its own, systemd unit in docs/alerts.md; not the admin web,
  which may restart at any time) keeps an AMI connection to every live client node, records each event
  (`record_call`, idempotent by call id) and delivers the alerts (app.alerts.deliver), retrying failures;
- nothing is lost while the watcher is down or a node unreachable: it also reads the call records (cdr) the
  nodes write when a call ends, and records any 911 call it did not hear of (`reconcile_from_cdr`, source
  `cdr`), alerting late rather than never.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.calls import CDR, E911_CONTEXT, endpoint_of
from app.db import utc_now
from app.models import AlertDelivery, Carrier, Client, E911Call, PhoneNumber
from app.models.realtime import CDR_NODE
from app.numbering import try_parse_nanp

_DIALLED_CARRIER = re.compile(r"\(carrier-([A-Za-z0-9_-]+)\^")
EVENT = "TrunklineE911"  # the UserEvent the client node's tl-911 context sends
# How far back the reconciliation looks for 911 calls nobody heard of (cdr rows are written at hang-up).
RECONCILE_WINDOW = timedelta(days=2)


def email_list(text: str | None) -> list[str]:
    """The addresses of a contacts cell (separated by spaces, commas or semicolons)."""
    return [a for a in (text or "").replace(",", " ").replace(";", " ").split() if a]


def _contacts(client: Client | None) -> list[tuple[str, str]]:
    if client is None:
        return []
    out = [("email", address) for address in email_list(client.alert_emails)]
    if client.alert_webhook:
        out.append(("webhook", client.alert_webhook))
    return out


def _carrier_name(endpoint: str) -> str:
    return endpoint[8:] if endpoint.startswith("carrier-") else endpoint


def record_call(session: Session, fields: Mapping[str, str], *, source: str = "node",
                started_at: datetime | None = None) -> E911Call | None:
    """Record one 911 call and queue one delivery per contact of its client; None when it was already recorded.

    fields: the event's keys (CallId, Trunk, Account, Presented, Level, Number, Carrier, Sent, Node). The address
    is the registered E911 address of the number the call presents, read now. Caller commits.
    """
    call_id = (fields.get("CallId") or "").strip()
    if not call_id:
        raise ValueError("a 911 call record needs the call id")
    if session.scalar(select(E911Call.id).where(E911Call.call_id == call_id)) is not None:
        return None
    account = (fields.get("Account") or "").strip()
    client = session.scalar(select(Client).where(Client.account_code == account)) if account else None
    number = try_parse_nanp(fields.get("Number") or "") or ""
    stored = session.scalar(select(PhoneNumber).where(PhoneNumber.e164 == number)) if number else None
    carrier = _carrier_name((fields.get("Carrier") or "").strip())
    if carrier and session.scalar(select(Carrier.id).where(Carrier.name == carrier)) is None:
        carrier = carrier[:32]
    call = E911Call(call_id=call_id[:150], started_at=started_at or utc_now(), source=source,
                    client_id=client.id if client else None, account_code=account[:20],
                    trunk=(fields.get("Trunk") or "")[:80], node=(fields.get("Node") or "")[:40],
                    presented=(fields.get("Presented") or "")[:80], level=(fields.get("Level") or "")[:12],
                    number=number, sent=(fields.get("Sent") or "")[:20], carrier=carrier,
                    address=stored.e911_address if stored is not None and stored.e911_registered else None)
    try:
        with session.begin_nested():
            session.add(call)
            session.flush()
    except IntegrityError:
        return None  # recorded meanwhile by another watcher (the unique call id decides)
    for channel, target in _contacts(client):
        session.add(AlertDelivery(call=call, channel=channel, target=target[:500], status="pending",
                                  next_attempt_at=call.recorded_at))
    session.flush()
    return call


def node_of_record(stamped: str | None, linkedid: str) -> str:
    """The client node that wrote a call record: the name the database stamped on it (`cdr.tl_node`, set by the
    trigger app.projection.visibility.CDR_TRIGGER from the inserting node's account; MariaDB/MySQL only), else the
    system name the linkedid starts with.

    Asterisk builds a linkedid (the first channel's uniqueid) as `<systemname>-<epoch>.<sequence>`, or
    `<epoch>.<sequence>` without a system name (Asterisk 22 main/channel_internal_api.c,
    __ast_channel_internal_alloc_with_initializers: "%s-%li.%d" with ast_config_AST_SYSTEM_NAME), and node names
    contain hyphens (cl-ovh-bhs7): the name is everything before the LAST hyphen.
    "" when neither says (a linkedid without a system name, "1796055432.9").
    """
    if stamped and stamped.strip():
        return stamped.strip()
    head, sep, _tail = (linkedid or "").rpartition("-")
    return head if sep else ""


def reconcile_from_cdr(session: Session, now: datetime | None = None) -> list[E911Call]:
    """Record the 911 calls of the last RECONCILE_WINDOW that the client nodes' call records show and no event
    announced (watcher down, node unreachable); each is alerted like any other. Caller commits."""
    now = now or utc_now()
    rows = session.execute(select(CDR.c.start, CDR.c.accountcode, CDR.c.channel, CDR.c.dcontext, CDR.c.lastdata,
                                  CDR.c.src, CDR.c.linkedid, CDR.c[CDR_NODE])
                           .where(CDR.c.start >= now - RECONCILE_WINDOW, CDR.c.channel.like("PJSIP/trunk-%"),
                                  (CDR.c.dcontext == E911_CONTEXT) | CDR.c.lastdata.like("PJSIP/911@%")))
    found: dict[str, dict] = {}
    for start, account, channel, _context, data, src, linkedid, stamped_node in rows:
        if not linkedid:
            continue
        seen = found.setdefault(linkedid, {"start": start, "Account": account or "", "Trunk": endpoint_of(channel),
                                           "Presented": src or "", "Carrier": "", "Node": node_of_record(stamped_node, linkedid)})
        seen["start"] = min(seen["start"], start)
        if stamped_node and stamped_node.strip():  # the database's word wins over the name in the linkedid
            seen["Node"] = stamped_node.strip()
        carrier = _DIALLED_CARRIER.search(data or "")
        if carrier:  # the client node named the carrier to the carrier node (pre-dial handler tl-hdr)
            seen["Carrier"] = carrier.group(1)
    if not found:
        return []
    known = set(session.scalars(select(E911Call.call_id).where(E911Call.call_id.in_(list(found)))))
    missing = [k for k in found if k not in known]
    if missing:
        # The digits the carrier received: the caller ID of the carrier node's record of the same call.
        for call_id, src in session.execute(select(CDR.c.call_id, CDR.c.src).where(
                CDR.c.call_id.in_(missing), CDR.c.dstchannel.like("PJSIP/carrier-%"))):
            # The digits are the number the client node chose, in the carrier's 911 format: as a number (E.164),
            # they say which registration the 911 centre looked up (record_call reads its address).
            found[call_id]["Sent"] = found[call_id]["Number"] = src or ""
    recorded = []
    for linkedid in sorted(missing, key=lambda k: found[k]["start"]):
        fields = found[linkedid]
        call = record_call(session, {**{k: v for k, v in fields.items() if k != "start"}, "CallId": linkedid},
                           source="cdr", started_at=fields["start"])
        if call is not None:
            recorded.append(call)
    return recorded
