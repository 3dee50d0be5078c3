"""What is known about a recorded 911 call, in plain words: the one wording the email, the webhook, the dashboard and
the 911 calls page all use (docs/alerts.md).

A call the node announced (source `node`) says what the node decided: level, number, digits, and the address
registered for that number. A call found afterwards in the call records (source `cdr`) does not: a call record
holds the caller ID presented and, on the carrier node's record, the digits the carrier received, but not which
cascade level the node used. For those the wording says what IS known: the number the digits are (and its
registration), the registration of the caller ID on the client node's record, and what the cascade
(app.e911.resolve_e911, the one cascade function) gives for that trunk and caller ID today. That caller ID is
the one the client node sent the call on: Asterisk's CDR keeps the channel's caller ID as it is when the record
is written, after tl-911 set it (seen in the e2e suite: the PBX presented 2045552004, the record holds
12045552003). What the PBX presented is not in the records. "NONE REGISTERED" is said only when it is known that
the number that reached the carrier has no registered address (or the node said no number resolved).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session, object_session

from app.errors import E911Unresolved
from app.models import Client, E911Call, PhoneNumber, Trunk
from app.numbering import try_parse_nanp

LEVEL_WORDS = {"number": "the caller's own registered number", "trunk": "the trunk's E911 number",
               "client": "the client's default E911 number", "unresolved": "NO registered number resolved",
               "none": "no 911 number (the node had none to present)"}
NOT_KNOWN = "not known (found afterwards in the call records)"
SOURCE_WORDS = {"node": "the node, as the call started", "cdr": "the call records, afterwards",
                "test": "a test (flask alerts test)"}


@dataclass(frozen=True)
class Known:
    """The plain-words lines of one call, and the facts they come from (added to the webhook's JSON).

    level, number, address, presented: the "Chosen from", "Number sent to 911", "Registered address" and "Caller ID
    presented" lines;
    warning: a sentence when the 911 centre may lack the caller's address (or it is not known what it got), else "";
    presented_number: for a call found in the call records, the presented caller ID as this platform knows it
    today ({"number": E.164 or "", "on_platform", "e911_registered", "address"}), else None;
    cascade_today: for such a call, what resolve_e911 gives today for its trunk and caller ID
    ({"level", "number", "sent", "carrier", "address"} or {"unresolved": [reasons]}), None when the trunk is gone.
    """

    level: str
    number: str
    address: str
    warning: str = ""
    presented: str = ""
    presented_number: dict | None = None
    cascade_today: dict | None = field(default=None)

    def as_json(self) -> dict:
        """The keys added to the webhook body (the original keys are kept as they were)."""
        return {"presented_words": self.presented, "level_words": self.level, "number_words": self.number, "address_words": self.address,
                "warning": self.warning, "presented_number": self.presented_number, "cascade_today": self.cascade_today}


def trunk_of_endpoint(session: Session, endpoint: str) -> Trunk | None:
    """The trunk of a PJSIP endpoint id `trunk-ACCOUNT-NAME` (account codes never contain '-'), or None."""
    if not endpoint.startswith("trunk-"):
        return None
    account, _, name = endpoint[6:].partition("-")
    return session.scalar(select(Trunk).join(Client, Trunk.client_id == Client.id)
                          .where(Client.account_code == account, Trunk.name == name))


def trunk_label(endpoint: str) -> str:
    """`trunk-ACME-main` -> `ACME/main`, the way every other page names a trunk; anything else unchanged."""
    if endpoint.startswith("trunk-") and "-" in endpoint[6:]:
        account, _, name = endpoint[6:].partition("-")
        return f"{account}/{name}"
    return endpoint


def _number_facts(session: Session, presented: str) -> dict:
    e164 = try_parse_nanp(presented or "") or ""
    stored = session.scalar(select(PhoneNumber).where(PhoneNumber.e164 == e164)) if e164 else None
    return {"number": e164, "on_platform": stored is not None,
            "e911_registered": bool(stored is not None and stored.e911_registered),
            "address": stored.e911_address if stored is not None and stored.e911_registered else None}


def _cascade_today(session: Session, call: E911Call) -> dict | None:
    from app.e911 import resolve_e911

    trunk = trunk_of_endpoint(session, call.trunk or "")
    if trunk is None:
        return None
    try:
        route = resolve_e911(session, trunk, call.presented or None)
    except E911Unresolved as exc:
        return {"unresolved": list(exc.reasons)}
    stored = session.scalar(select(PhoneNumber).where(PhoneNumber.e164 == route.number))
    return {"level": route.level, "number": route.number, "sent": route.sent, "carrier": route.carrier.name,
            "address": stored.e911_address if stored is not None else None}


def _presented_clause(presented: str, facts: dict) -> str:
    if not presented:
        return "the caller ID on the client node's record is empty"
    if not facts["number"]:
        return f"the caller ID on the client node's record, {presented}, is not a telephone number"
    if facts["e911_registered"]:
        return f"the caller ID on the client node's record, {facts['number']}, is registered at {facts['address']}"
    if facts["on_platform"]:
        return f"the caller ID on the client node's record, {facts['number']}, is not registered for E911"
    return f"the caller ID on the client node's record, {facts['number']}, is not a number of this platform"


def _cascade_clause(today: dict | None) -> str:
    if today is None:
        return ""
    if "unresolved" in today:
        return "today no registered number resolves for this trunk and that caller ID"
    where = f", registered at {today['address']}" if today.get("address") else ""
    return (f"for this trunk and that caller ID the cascade today gives {LEVEL_WORDS[today['level']]}, {today['number']} "
            f"(as {today['sent']} via {today['carrier']}){where}")


def known(call: E911Call, session: Session | None = None) -> Known:
    """What is known about `call`, in words. Reads the database only for a call found in the call records
    (source cdr): the presented number and the cascade as they are now. session: defaults to the call's own."""
    if call.source != "cdr":
        level = LEVEL_WORDS.get(call.level, call.level or "not known")
        number = f"{call.number or 'none'}{f' (as {call.sent})' if call.sent else ''}"
        address = call.address or "NONE REGISTERED for this number"
        warning = ("The 911 centre may not have this caller's address: check the client's E911 registrations now."
                   if call.level == "unresolved" or not call.address else "")
        return Known(level, number, address, warning, presented=call.presented or "none")
    session = session or object_session(call)
    facts = _number_facts(session, call.presented) if session is not None else {
        "number": "", "on_platform": False, "e911_registered": False, "address": None}
    today = _cascade_today(session, call) if session is not None else None
    level = "; ".join(p for p in (NOT_KNOWN, _presented_clause(call.presented, facts), _cascade_clause(today)) if p)
    if call.number:  # the digits the carrier node received (its own record of the call), as a number
        number = f"{call.number} (as {call.sent}: the digits the carrier received, from its call record)"
        address = call.address or f"NONE REGISTERED for {call.number}, the number the carrier received"
        warning = ("" if call.address else
                   "The 911 centre may not have this caller's address: check the client's E911 registrations now.")
    else:
        number = (f"not known (found afterwards in the call records; the carrier received {call.sent})" if call.sent
                  else "not known (found afterwards in the call records; no carrier's record of this call was found)")
        address = "not known for this call (found afterwards in the call records)"
        if facts["e911_registered"]:
            address += f"; the caller ID on the client node's record, {facts['number']}, is registered at {facts['address']}"
        warning = ("The call records do not say which number and address reached the 911 centre:"
                   " check the call with the carrier and the client's E911 registrations.")
    presented = (f"{call.presented} (on the client node's record: the caller ID it sent the call on; what the PBX"
                 " presented is not recorded)" if call.presented else "not recorded")
    return Known(level, number, address, warning, presented_number=facts, cascade_today=today, presented=presented)
