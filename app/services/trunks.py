"""Trunk service: client PBX connections, their whitelisted addresses and credentials."""

from __future__ import annotations

import ipaddress
import secrets
from collections.abc import Mapping

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app import projection
from app.errors import Conflict, NotFound, ValidationError
from app.models import Client, PhoneNumber, Trunk, TrunkAddress
from app.projection.rows import numbers_of
from app.services import fields as F
from app.services import refs
from app.services.audit import Actor
from app.services.base import assign, find, remove
from app.services.e911_rules import check_e911_number

FIELDS = {
    "client": F.Field(lambda v: v, required=True),
    "name": F.Field(F.ident, required=True),
    "auth_mode": F.Field(F.choice(["ip", "credentials"]), default="ip"),
    "source_addresses": F.Field(F.networks, default=""),
    "pbx_port": F.Field(F.integer(1, 65535), default=5060),
    "username": F.Field(lambda v: F.ident(v).replace("-", "_"), default=None),
    "password": F.Field(lambda v: F.text(v, 80), default=None),
    "e911_number": F.Field(lambda v: v, default=None),
    "codecs": F.Field(F.codecs, default="ulaw,alaw"),
    "max_channels": F.Field(F.integer(0, 100000), default=0),
    "did_format": F.Field(F.choice(["e164", "nanp11", "nanp10"]), default="e164"),
}
AUDITED = ["client_id", "name", "auth_mode", "source_addresses", "pbx_port", "username", "password",
           "e911_number_id", "codecs", "max_channels", "did_format"]
ENTITY = "trunk"
MIN_PASSWORD = 16


def generate_password() -> str:
    """A strong SIP password: 24 URL-safe characters (about 143 bits)."""
    return secrets.token_urlsafe(18)


def get(session: Session, account: str, name: str) -> Trunk:
    """The trunk ACCOUNT/NAME."""
    trunk = session.scalar(select(Trunk).join(Client).where(Client.account_code == account, Trunk.name == name))
    if trunk is None:
        find(session, Client, "client", account_code=account)  # says so when the client is what is missing
        raise NotFound(f"client {account} has no trunk named {name}")
    return trunk


def _overlaps(session: Session, node_id: int | None, client_id: int, networks: list[str], trunk: Trunk | None) -> list[str]:
    """Addresses that another trunk already claims on the same node."""
    others = select(TrunkAddress.network, Trunk.name, Client.account_code).join(Trunk, TrunkAddress.trunk_id == Trunk.id).join(Client)
    others = others.where(TrunkAddress.node_id == node_id) if node_id else others.where(Trunk.client_id == client_id)
    if trunk is not None and trunk.id is not None:
        others = others.where(Trunk.id != trunk.id)
    problems = []
    claimed = [(ipaddress.ip_network(n), f"{a}/{t}") for n, t, a in session.execute(others)]
    for text in networks:
        net = ipaddress.ip_network(text)
        for other, owner in claimed:
            if net.version == other.version and net.overlaps(other):
                problems.append(f"{text} overlaps {other} already claimed by trunk {owner} on the same node")
    return problems


def _resolve(session: Session, values: dict, trunk: Trunk | None, typed: frozenset[str] = frozenset()) -> dict:
    errors: dict[str, list[str]] = {}
    out = {k: values[k] for k in ("name", "auth_mode", "source_addresses", "pbx_port", "codecs", "max_channels", "did_format")}
    client = None
    try:
        client = refs.client(session, values["client"])
    except F.FieldError as exc:
        errors["client"] = [str(exc)]
    if client is not None:
        out["client_id"] = client.id
        other = session.scalar(select(Trunk).where(Trunk.client_id == client.id, Trunk.name == values["name"]))
        if other is not None and other is not trunk:
            errors.setdefault("name", []).append(f"client {client.account_code} already has a trunk named {values['name']}")
        if len(f"trunk-{client.account_code}-{values['name']}") > 40:
            errors.setdefault("name", []).append("is too long together with the account code (endpoint names stay under 40 characters)")
    networks = out["source_addresses"].split()
    if out["auth_mode"] == "ip":
        out["username"] = out["password"] = None
        if not networks:
            errors.setdefault("source_addresses", []).append("at least one IP address or network is required for a trunk authenticated by IP")
        no_host = F.needs_host(out["source_addresses"], "the PBX")
        if no_host:
            errors.setdefault("source_addresses", []).append(no_host)
        for name in ("username", "password"):
            if name in typed:
                errors.setdefault(name, []).append(
                    "is not used: this trunk is identified by its IP addresses (auth ip); leave it empty, or choose "
                    "auth credentials for a PBX that registers")
    else:
        username = values.get("username") or (f"{client.account_code}_{values['name']}".lower().replace("-", "_") if client else None)
        password = values.get("password") or (trunk.password if trunk is not None and trunk.password else generate_password())
        if len(password) < MIN_PASSWORD:
            errors.setdefault("password", []).append(f"is too weak: use at least {MIN_PASSWORD} characters, or leave it empty to generate one")
        if username:
            other = session.scalar(select(Trunk).where(Trunk.username == username))
            if other is not None and other is not trunk:
                errors.setdefault("username", []).append(f"username {username} is already used by trunk {other}")
        out["username"], out["password"] = username, password
    if client is not None and networks:
        for problem in _overlaps(session, client.node_id, client.id, networks, trunk):
            errors.setdefault("source_addresses", []).append(problem)
    try:
        number = refs.number(session, values["e911_number"])
        check_e911_number(number, client)
        out["e911_number_id"] = number.id if number else None
    except F.FieldError as exc:
        errors.setdefault("e911_number", []).append(str(exc))
    if errors:
        raise ValidationError(errors)
    return out


def save(session: Session, data: Mapping, actor: Actor, trunk: Trunk | None = None) -> tuple[Trunk, str]:
    """Create or update a trunk from raw field values; a credentials trunk gets a generated password."""
    values = F.clean(FIELDS, data, partial=trunk is not None)
    if trunk is not None:
        current = {k: getattr(trunk, k) for k in FIELDS if k not in ("client", "e911_number")}
        current.update(client=trunk.client, e911_number=trunk.e911_number)
        values = {**current, **values}
    typed = frozenset(n for n in ("username", "password") if not F.blank(data.get(n)))  # given now, not stored
    resolved = _resolve(session, values, trunk, typed)
    old_endpoint = trunk.endpoint_id if trunk is not None else None
    trunk = trunk or Trunk()
    outcome = assign(session, trunk, resolved, actor, ENTITY, lambda t: f"{t.client.account_code}/{t.name}", AUDITED)
    session.refresh(trunk, ["client", "addresses", "e911_number"])
    wanted = trunk.address_list
    trunk.addresses = [a for a in trunk.addresses if a.network in wanted]
    have = {a.network for a in trunk.addresses}
    for address in trunk.addresses:
        address.node_id = trunk.client.node_id
    trunk.addresses.extend(TrunkAddress(network=n, node_id=trunk.client.node_id) for n in wanted if n not in have)
    session.flush()
    projection.touch(session, endpoints={trunk.endpoint_id, old_endpoint} - {None},
                     numbers=numbers_of(session, trunk_ids=[trunk.id]), e911_trunks={trunk.id})
    return trunk, outcome


def upsert(session: Session, data: Mapping, actor: Actor) -> tuple[Trunk, str]:
    """Create or update by client account code + name (CSV)."""
    key = F.clean({"client": FIELDS["client"], "name": FIELDS["name"]}, {"client": data.get("client"), "name": data.get("name")})
    try:
        client = refs.client(session, key["client"])
    except F.FieldError as exc:
        raise ValidationError(client=str(exc)) from None
    existing = session.scalar(select(Trunk).where(Trunk.client_id == client.id, Trunk.name == key["name"]))
    return save(session, data, actor, existing)


def delete(session: Session, trunk: Trunk, actor: Actor, *, release_numbers: bool = False) -> None:
    """Delete a trunk; refused while numbers ring it, unless release_numbers unassigns them."""
    count = session.scalar(select(func.count()).select_from(PhoneNumber).where(PhoneNumber.trunk_id == trunk.id))
    if count and not release_numbers:
        raise Conflict(f"trunk {trunk} rings {count} number(s): move them to another trunk, or delete with their release")
    e164s = numbers_of(session, trunk_ids=[trunk.id])
    if count:
        for number in session.scalars(select(PhoneNumber).where(PhoneNumber.trunk_id == trunk.id)):
            number.trunk_id = None
    endpoint, trunk_id = trunk.endpoint_id, trunk.id
    remove(session, trunk, actor, ENTITY, str(trunk), AUDITED)
    projection.touch(session, endpoints={endpoint}, numbers=e164s, e911_trunks={trunk_id})
