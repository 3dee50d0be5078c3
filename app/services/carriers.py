"""Carrier service: validation and changes of upstream providers."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app import projection, service_codes
from app.errors import Conflict, ValidationError
from app.models import Carrier, PhoneNumber, Trunk
from app.models.carrier import PRIVACY_MODES
from app.numbering import NumberFormat
from app.services import fields as F
from app.services.audit import Actor
from app.services.base import assign, find, remove
from app.sip_uri import split_username

FORMATS = [f.value for f in NumberFormat]
FIELDS = {
    "name": F.Field(F.ident, required=True),
    "tier": F.Field(F.integer(1, 2), default=1),
    "auth_mode": F.Field(F.choice(["ip", "register"]), default="ip"),
    "signalling_addresses": F.Field(F.networks, required=True),
    "port": F.Field(F.integer(1, 65535), default=5060),
    "username": F.Field(lambda v: _username(v), default=None),
    "password": F.Field(lambda v: F.text(v, 80), default=None),
    "callerid_format": F.Field(F.choice(FORMATS), default="e164"),
    "e911_callerid_format": F.Field(F.choice(FORMATS), default="e164"),
    "dial_format": F.Field(F.choice(FORMATS), default="e164"),
    "send_pai": F.Field(F.boolean, default=False),
    "privacy_mode": F.Field(F.choice(list(PRIVACY_MODES)), default="pai"),
    "provides_911": F.Field(F.boolean, default=False),
    "priority": F.Field(F.integer(0, 1000), default=10),
    "max_channels": F.Field(F.integer(0, 100000), default=0),
    "enabled": F.Field(F.boolean, default=True),
    "service_codes": F.Field(service_codes.parse_accepted, default=service_codes.ALL),
    "service_code_format": F.Field(service_codes.parse_dial_form, default="code"),
}
ENTITY = "carrier"


def _username(value) -> str:
    """A registration username, `user` or `user@domain`, checked by split_username (kept as typed)."""
    value = F.text(value, 128)
    split_username(value)
    return value


def get(session: Session, name: str) -> Carrier:
    """The carrier with this name."""
    return find(session, Carrier, "carrier", name=name)


def _check(session: Session, values: dict, carrier: Carrier | None) -> None:
    errors: dict[str, list[str]] = {}
    if len(values["name"]) > 20:
        errors["name"] = ["is too long for a carrier (at most 20 characters)"]
    other = session.scalar(select(Carrier).where(Carrier.name == values["name"]))
    if other is not None and other is not carrier:
        errors.setdefault("name", []).append(f"carrier {values['name']} already exists")
    if values["auth_mode"] == "register":
        for name in ("username", "password"):
            if not values.get(name):
                errors.setdefault(name, []).append("is required when the carrier authenticates by registration")
    no_host = F.needs_host(values["signalling_addresses"], "the carrier")
    if no_host:
        errors.setdefault("signalling_addresses", []).append(no_host)
    if carrier is not None and carrier.provides_911 and not values["provides_911"]:
        registered = session.scalar(select(func.count()).select_from(PhoneNumber).where(
            PhoneNumber.carrier_id == carrier.id, PhoneNumber.e911_registered.is_(True)))
        if registered:
            errors.setdefault("provides_911", []).append(
                f"carrier {carrier.name} holds {registered} number(s) registered for E911: unregister or port them first")
    if errors:
        raise ValidationError(errors)


def _touch(session: Session, carrier: Carrier, old_endpoint: str | None = None) -> None:
    # Formats, 911 service and priorities feed every route and every 911 row.
    projection.touch(session, endpoints={carrier.endpoint_id, old_endpoint} - {None}, routes=True,
                     e911_trunks=set(session.scalars(select(Trunk.id))))


def save(session: Session, data: Mapping, actor: Actor, carrier: Carrier | None = None) -> tuple[Carrier, str]:
    """Create (carrier=None) or update a carrier from raw field values; returns (carrier, outcome)."""
    values = F.clean(FIELDS, data, partial=carrier is not None)
    if carrier is not None:
        values = {**{k: getattr(carrier, k) for k in FIELDS}, **values}
    if values["auth_mode"] == "ip":
        typed = [name for name in ("username", "password") if not F.blank(data.get(name))]
        if typed:
            message = ("is not used: this carrier is identified by its IP addresses (auth ip); leave it empty, "
                       "or choose auth register if the carrier wants us to register with these credentials")
            raise ValidationError({name: [message] for name in typed})
        values["username"] = values["password"] = None
    _check(session, values, carrier)
    old_endpoint = carrier.endpoint_id if carrier is not None else None
    carrier = carrier or Carrier()
    outcome = assign(session, carrier, values, actor, ENTITY, lambda c: c.name, FIELDS)
    _touch(session, carrier, old_endpoint)
    return carrier, outcome


def upsert(session: Session, data: Mapping, actor: Actor) -> tuple[Carrier, str]:
    """Create or update by name (CSV)."""
    name = F.clean({"name": FIELDS["name"]}, {"name": data.get("name")})["name"]
    existing = session.scalar(select(Carrier).where(Carrier.name == name))
    return save(session, data, actor, existing)


def delete(session: Session, carrier: Carrier, actor: Actor) -> None:
    """Delete a carrier that holds no numbers."""
    held = session.scalar(select(func.count()).select_from(PhoneNumber).where(
        (PhoneNumber.carrier_id == carrier.id) | (PhoneNumber.port_target_carrier_id == carrier.id)))
    if held:
        raise Conflict(f"carrier {carrier.name} holds or is porting {held} number(s): port them to another carrier first")
    endpoint = carrier.endpoint_id
    remove(session, carrier, actor, ENTITY, carrier.name, FIELDS)
    projection.touch(session, endpoints={endpoint}, routes=True, e911_trunks=set(session.scalars(select(Trunk.id))))
