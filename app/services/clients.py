"""Client service: customer accounts, their node and their default E911 and main numbers."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app import projection, service_codes
from app.alerts import contacts
from app.errors import Conflict, ValidationError
from app.models import Client, PhoneNumber, Trunk
from app.projection.rows import numbers_of
from app.services import fields as F
from app.services import refs
from app.services.audit import Actor
from app.services.base import assign, find, remove
from app.services.e911_rules import check_e911_number

FIELDS = {
    "name": F.Field(lambda v: F.text(v, 128), required=True),
    "account_code": F.Field(F.account_code, required=True),
    "status": F.Field(F.choice(["active", "suspended", "closed"]), default="active"),
    "max_channels": F.Field(F.integer(0, 100000), default=10),
    "node": F.Field(lambda v: v, default=None),
    "e911_number": F.Field(lambda v: v, default=None),
    "main_number": F.Field(lambda v: v, default=None),
    "blocked_service_codes": F.Field(service_codes.parse_blocked, default=""),
    "alert_emails": F.Field(contacts.emails, default=""),
    "alert_webhook": F.Field(contacts.webhook, default=""),
}
_PLAIN = ("name", "account_code", "status", "max_channels", "blocked_service_codes", "alert_emails", "alert_webhook")
AUDITED = ["name", "account_code", "status", "max_channels", "node_id", "e911_number_id", "main_number_id",
           "blocked_service_codes", "alert_emails", "alert_webhook"]
ENTITY = "client"


def get(session: Session, account: str) -> Client:
    """The client with this account code."""
    return find(session, Client, "client", account_code=account)


def _resolve(session: Session, values: dict, client: Client | None) -> dict:
    errors: dict[str, list[str]] = {}
    out = {k: values[k] for k in _PLAIN}
    other = session.scalar(select(Client).where(Client.account_code == values["account_code"]))
    if other is not None and other is not client:
        errors["account_code"] = [f"account code {values['account_code']} is already used by {other.name}"]
    try:
        node = refs.node(session, values["node"])
        if node is not None:
            if node.role != "client":
                raise F.FieldError(f"node {node.name} faces the carriers; a client needs a client-facing node")
            if node.state == "retired":
                raise F.FieldError(f"node {node.name} is retired")
            if node.client is not None and node.client is not client:
                raise F.FieldError(f"node {node.name} already serves client {node.client.account_code} (one client per node)")
        out["node_id"] = node.id if node else None
        if node is None and values["status"] == "active":
            # No node, no calls: its trunks and numbers would be projected with nowhere to ring.
            raise F.FieldError("an active client needs its client-facing node (without one its trunks and numbers "
                               "cannot place or receive calls): choose the node, or set the status to suspended "
                               "until the node exists")
    except F.FieldError as exc:
        errors.setdefault("node", []).append(str(exc))
    for field in ("e911_number", "main_number"):
        try:
            number = refs.number(session, values[field])
            if field == "e911_number":
                check_e911_number(number, client)
            elif number is not None and (client is None or number.client_id != client.id):
                raise F.FieldError(f"{number.e164} is not a number of this client")
            out[f"{field}_id"] = number.id if number else None
        except F.FieldError as exc:
            errors.setdefault(field, []).append(str(exc))
    if errors:
        raise ValidationError(errors)
    return out


def save(session: Session, data: Mapping, actor: Actor, client: Client | None = None) -> tuple[Client, str]:
    """Create or update a client from raw field values."""
    values = F.clean(FIELDS, data, partial=client is not None)
    if client is not None:
        current = {k: getattr(client, k) for k in _PLAIN}
        current.update(node=client.node, e911_number=client.e911_number, main_number=client.main_number)
        values = {**current, **values}
    resolved = _resolve(session, values, client)
    old_endpoints = {t.endpoint_id for t in client.trunks} if client is not None else set()
    client = client or Client()
    outcome = assign(session, client, resolved, actor, ENTITY, lambda c: c.account_code, AUDITED)
    session.refresh(client, ["node", "e911_number", "main_number", "trunks"])
    for trunk in client.trunks:
        for address in trunk.addresses:
            address.node_id = client.node_id
    trunk_ids = {t.id for t in client.trunks}
    projection.touch(session, endpoints=old_endpoints | {t.endpoint_id for t in client.trunks},
                     numbers=numbers_of(session, client_ids=[client.id]), e911_trunks=trunk_ids)
    return client, outcome


def upsert(session: Session, data: Mapping, actor: Actor) -> tuple[Client, str]:
    """Create or update by account code (CSV)."""
    account = F.clean({"account_code": FIELDS["account_code"]}, {"account_code": data.get("account_code")})["account_code"]
    return save(session, data, actor, session.scalar(select(Client).where(Client.account_code == account)))


def delete(session: Session, client: Client, actor: Actor) -> None:
    """Delete a client that has no trunks and no numbers."""
    trunks = session.scalar(select(func.count()).select_from(Trunk).where(Trunk.client_id == client.id))
    numbers = session.scalar(select(func.count()).select_from(PhoneNumber).where(PhoneNumber.client_id == client.id))
    if trunks or numbers:
        raise Conflict(f"client {client.account_code} still has {trunks} trunk(s) and {numbers} number(s): remove or move them first")
    remove(session, client, actor, ENTITY, client.account_code, AUDITED)

