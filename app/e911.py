"""The E911 cascade: the one function that decides which number a 911 call presents, and how.

Canadian E911 finds the caller by the caller ID, so a 911 call must present a number registered
for 911, leave through the carrier that holds that number, in exactly that carrier's 911 format.
Levels, first usable wins: the caller's own number, the trunk's E911 number, the client default.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.errors import E911Unresolved
from app.models import Carrier, PhoneNumber, Trunk
from app.numbering import format_number, try_parse_nanp


@dataclass(frozen=True)
class E911Route:
    """A resolved 911 path: chosen number, the level it came from, carrier and digits sent."""

    number: str  # E.164
    level: str  # "number", "trunk" or "client"
    carrier: Carrier
    sent: str  # digits exactly as sent in From (and P-Asserted-Identity when the carrier wants it)
    send_pai: bool
    skipped: tuple[str, ...] = field(default=())  # why earlier levels were not used

    def as_dict(self) -> dict:
        """The route as plain data (CLI --json, previews)."""
        return {
            "number": self.number, "level": self.level, "carrier": self.carrier.name,
            "sent": self.sent, "format": self.carrier.e911_callerid_format,
            "send_pai": self.send_pai, "skipped": list(self.skipped),
        }

    def sentence(self) -> str:
        """One plain-words sentence for screens."""
        where = {"number": "the caller's own registration", "trunk": "the trunk-level registration",
                 "client": "the client's default registration"}[self.level]
        return f"leaves through carrier {self.carrier.name} as {self.sent}, from {where} ({self.number})"


def unusable_reason(number: PhoneNumber | None, client_id: int) -> str | None:
    """Why a number cannot carry a 911 call for this client, or None when it can."""
    if number is None:
        return "not set"
    if number.client_id != client_id:
        return f"{number.e164} belongs to another client"
    if not number.e911_registered:
        return f"{number.e164} is not registered for E911"
    if number.port_status == "ported_out":
        return f"{number.e164} has been ported out"
    carrier = number.carrier
    if not carrier.provides_911:
        return f"{number.e164} is held by carrier {carrier.name}, which does not provide 911"
    if not carrier.enabled:
        return f"{number.e164} is held by carrier {carrier.name}, which is disabled"
    return None


def resolve_e911(session: Session, trunk: Trunk, caller_id: str | None = None, *, own: PhoneNumber | None = None) -> E911Route:
    """Resolve the cascade for a 911 call from `trunk` presenting `caller_id`; raise E911Unresolved.

    own: the stored number the caller ID is, when the caller already holds it (the projection does,
    for every registered number), which saves parsing and looking it up again.
    """
    client = trunk.client
    skipped: list[str] = []
    candidates: list[tuple[str, PhoneNumber | None]] = []
    if own is not None:
        candidates.append(("number", own))
    elif caller_id:
        e164 = try_parse_nanp(caller_id)
        own = session.scalar(select(PhoneNumber).where(PhoneNumber.e164 == e164)) if e164 else None
        if own is None:
            skipped.append(f"caller ID {caller_id}: not a number of this platform")
        else:
            candidates.append(("number", own))
    candidates.append(("trunk", trunk.e911_number))
    candidates.append(("client", client.e911_number))
    for level, number in candidates:
        reason = unusable_reason(number, client.id)
        if reason is None:
            carrier = number.carrier
            return E911Route(
                number=number.e164, level=level, carrier=carrier,
                sent=format_number(number.e164, carrier.e911_callerid_format),
                send_pai=carrier.send_pai, skipped=tuple(skipped),
            )
        skipped.append(f"{level} level: {reason}")
    raise E911Unresolved(str(trunk), skipped)
