"""Phone number service: DIDs, their holder carrier, client, trunk, E911 registration and port state."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from app import projection
from app.errors import Conflict, ValidationError
from app.models import Client, PhoneNumber, Trunk
from app.numbering import InvalidNumber, parse_nanp
from app.projection.rows import trunks_of_clients
from app.services import fields as F
from app.services import refs
from app.services.audit import Actor
from app.services.base import assign, find, remove


def _e164(value) -> str:
    try:
        return parse_nanp(str(value))
    except InvalidNumber as exc:
        raise F.FieldError(str(exc)) from None


FIELDS = {
    "number": F.Field(_e164, required=True),
    "carrier": F.Field(lambda v: v, required=True),
    "client": F.Field(lambda v: v, default=None),
    "trunk": F.Field(lambda v: v, default=None),
    "e911_registered": F.Field(F.boolean, default=False),
    "e911_address": F.Field(lambda v: F.text(v, 500), default=None),
    "port_status": F.Field(F.choice(["active", "port_in_pending", "ported_out"]), default="active"),
    "port_target_carrier": F.Field(lambda v: v, default=None),
}
AUDITED = ["e164", "carrier_id", "client_id", "trunk_id", "e911_registered", "e911_address", "port_status",
           "port_target_carrier_id"]
ENTITY = "number"


def get(session: Session, text: str) -> PhoneNumber:
    """The stored number written in any NANP spelling."""
    try:
        e164 = parse_nanp(text)
    except InvalidNumber as exc:
        raise ValidationError(number=str(exc)) from None
    return find(session, PhoneNumber, "number", e164=e164)


def uses_of(session: Session, number: PhoneNumber) -> list[str]:
    """Where a number is referenced as an E911 or main number, in plain words."""
    uses = []
    for client in session.scalars(select(Client).where(or_(Client.e911_number_id == number.id, Client.main_number_id == number.id))):
        if client.e911_number_id == number.id:
            uses.append(f"the default E911 number of client {client.account_code}")
        if client.main_number_id == number.id:
            uses.append(f"the main number of client {client.account_code}")
    for trunk in session.scalars(select(Trunk).where(Trunk.e911_number_id == number.id)):
        uses.append(f"the E911 number of trunk {trunk}")
    return uses


class Lookup:
    """How resolve() finds what a number refers to; the CSV bulk import swaps in one reading preloaded data."""

    def __init__(self, session: Session):
        self.session = session

    def number(self, e164: str) -> PhoneNumber | None:
        """The stored number with this E.164 form, if any."""
        return self.session.scalar(select(PhoneNumber).where(PhoneNumber.e164 == e164))

    def carrier(self, value):
        """A carrier by name (refs.carrier)."""
        return refs.carrier(self.session, value)

    def client(self, value):
        """A client by account code (refs.client)."""
        return refs.client(self.session, value)

    def trunk(self, owner, value):
        """A trunk of owner by name (refs.trunk)."""
        return refs.trunk(self.session, owner, value)

    def uses(self, number) -> list[str]:
        """Where the number is used as an E911 or main number (uses_of)."""
        return uses_of(self.session, number)


def with_current(values: dict, current: dict) -> dict:
    """A partial update's values laid over the number's current ones (a new client never keeps the old trunk)."""
    if "client" in values and "trunk" not in values:
        current = {**current, "trunk": None}
    return {**current, **values}


def resolve(session: Session, values: dict, number: PhoneNumber | None, lookup: Lookup | None = None) -> dict:
    """Check cleaned values against the rules and the data; return the column values or raise ValidationError."""
    lookup = lookup or Lookup(session)
    errors: dict[str, list[str]] = {}
    out = {k: values[k] for k in ("e911_registered", "e911_address", "port_status")}
    out["e164"] = values["number"]
    other = lookup.number(values["number"])
    if other is not None and other is not number:
        errors["number"] = [f"{values['number']} already exists" + (f" (client {other.client.account_code})" if other.client else "")]

    def ref(field, fn, *args):
        try:
            return fn(*args, values[field])
        except F.FieldError as exc:
            errors.setdefault(field, []).append(str(exc))
            return None

    carrier = ref("carrier", lookup.carrier)
    client = ref("client", lookup.client)
    trunk = ref("trunk", lookup.trunk, client) if "client" not in errors else None
    target = ref("port_target_carrier", lookup.carrier)
    out.update(carrier_id=carrier.id if carrier else None, client_id=client.id if client else None,
               trunk_id=trunk.id if trunk else None, port_target_carrier_id=target.id if target else None)
    if out["e911_registered"]:
        if client is None:
            errors.setdefault("e911_registered", []).append("a number must belong to a client to be registered for E911")
        if carrier is not None and not carrier.provides_911:
            errors.setdefault("e911_registered", []).append(f"carrier {carrier.name} does not provide 911: this number cannot carry 911 calls")
        if not out["e911_address"]:
            errors.setdefault("e911_address", []).append("the service address registered for 911 is required")
    if out["port_status"] == "port_in_pending":
        if target is None:
            errors.setdefault("port_target_carrier", []).append("a pending port needs the carrier the number is moving to")
        elif carrier is not None and target.id == carrier.id:
            errors.setdefault("port_target_carrier", []).append("is the carrier that already holds the number")
    else:
        out["port_target_carrier_id"] = None
    if number is not None:
        uses = lookup.uses(number)
        if uses:
            if out["client_id"] != number.client_id:
                errors.setdefault("client", []).append(f"{number.e164} is {', '.join(uses)}: choose another number there first")
            if out["port_status"] == "ported_out":
                errors.setdefault("port_status", []).append(f"{number.e164} is {', '.join(uses)}: choose another number there first")
            e911_uses = [u for u in uses if "E911" in u]
            if e911_uses and not out["e911_registered"]:
                errors.setdefault("e911_registered", []).append(f"{number.e164} is {', '.join(e911_uses)}: it must stay registered")
    if errors:
        raise ValidationError(errors)
    return out


def touch_number(session: Session, number: PhoneNumber, old_e164: str | None, old_client_id: int | None) -> None:
    """Record the realtime rows a number change affects (its row, 911 rows, trunk main-number vars)."""
    client_ids = {number.client_id, old_client_id} - {None}
    mains = session.scalars(select(Client).where(Client.main_number_id == number.id))
    endpoints = {t.endpoint_id for c in mains for t in c.trunks}
    projection.touch(session, numbers={number.e164, old_e164} - {None}, endpoints=endpoints,
                     e911_trunks=trunks_of_clients(session, client_ids))


def save(session: Session, data: Mapping, actor: Actor, number: PhoneNumber | None = None) -> tuple[PhoneNumber, str]:
    """Create or update a number from raw field values."""
    values = F.clean(FIELDS, data, partial=number is not None)
    if number is not None:
        current = {"number": number.e164, "carrier": number.carrier, "client": number.client, "trunk": number.trunk,
                   "e911_registered": number.e911_registered, "e911_address": number.e911_address,
                   "port_status": number.port_status, "port_target_carrier": number.port_target_carrier}
        values = with_current(values, current)
    resolved = resolve(session, values, number)
    old_e164 = number.e164 if number is not None else None
    old_client = number.client_id if number is not None else None
    number = number or PhoneNumber()
    outcome = assign(session, number, resolved, actor, ENTITY, lambda n: n.e164, AUDITED)
    session.refresh(number, ["carrier", "client", "trunk"])
    touch_number(session, number, old_e164, old_client)
    return number, outcome


def upsert(session: Session, data: Mapping, actor: Actor) -> tuple[PhoneNumber, str]:
    """Create or update by the number itself (CSV)."""
    e164 = F.clean({"number": FIELDS["number"]}, {"number": data.get("number")})["number"]
    return save(session, data, actor, session.scalar(select(PhoneNumber).where(PhoneNumber.e164 == e164)))


def delete(session: Session, number: PhoneNumber, actor: Actor) -> None:
    """Delete a number that nothing uses as an E911 or main number."""
    uses = uses_of(session, number)
    if uses:
        raise Conflict(f"{number.e164} is {', '.join(uses)}: choose another number there first")
    e164, client_id = number.e164, number.client_id
    remove(session, number, actor, ENTITY, e164, AUDITED)
    projection.touch(session, numbers={e164}, e911_trunks=trunks_of_clients(session, {client_id} - {None}))
