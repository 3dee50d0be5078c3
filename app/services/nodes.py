"""Node service: Asterisk points of presence."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import select
from sqlalchemy.orm import Session

from app import projection
from app.errors import Conflict, ValidationError
from app.models import Client, Node, TrunkAddress
from app.projection.rows import numbers_of
from app.services import fields as F
from app.services import node_accounts
from app.services.audit import Actor
from app.services.base import assign, find, remove

FIELDS = {
    "name": F.Field(F.ident, required=True),
    "role": F.Field(F.choice(["carrier", "client"]), required=True),
    "public_ip": F.Field(F.ip_address, required=True),
    "sip_port": F.Field(F.integer(1, 65535), default=5060),
    "hosting_provider": F.Field(lambda v: F.text(v, 64), required=True),
    "region": F.Field(lambda v: F.text(v, 64), default=""),
    "dns_name": F.Field(F.hostname, default=None),
    "state": F.Field(F.choice(["active", "draining", "retired"]), default="active"),
}
ENTITY = "node"


def get(session: Session, name: str) -> Node:
    """The node with this name."""
    return find(session, Node, "node", name=name)


def _check(session: Session, values: dict, node: Node | None) -> None:
    errors: dict[str, list[str]] = {}
    for field, label in (("name", "name"), ("public_ip", "address"), ("dns_name", "DNS name")):
        if values.get(field) is None:
            continue
        other = session.scalar(select(Node).where(getattr(Node, field) == values[field]))
        if other is not None and other is not node:
            errors.setdefault(field, []).append(f"node {other.name} already has this {label}")
    client = node.client if node is not None else None
    if client is not None:
        if values["role"] != "client":
            errors.setdefault("role", []).append(f"node serves client {client.account_code}: move the client first")
        if values["state"] == "retired" and client.status == "active":
            errors.setdefault("state", []).append(f"node serves active client {client.account_code}: move the client to a new node first")
    if errors:
        raise ValidationError(errors)


def _touch(session: Session, node: Node, old_endpoint: str | None) -> None:
    client = node.client
    projection.touch(session, endpoints={node.endpoint_id, old_endpoint} - {None}, routes=True,
                     numbers=numbers_of(session, client_ids=[client.id]) if client else ())


def save(session: Session, data: Mapping, actor: Actor, node: Node | None = None) -> tuple[Node, str]:
    """Create or update a node from raw field values."""
    values = F.clean(FIELDS, data, partial=node is not None)
    if node is not None:
        values = {**{k: getattr(node, k) for k in FIELDS}, **values}
    _check(session, values, node)
    old_endpoint = node.endpoint_id if node is not None else None
    node = node or Node()
    outcome = assign(session, node, values, actor, ENTITY, lambda n: n.name, FIELDS)
    if node.state == "retired":
        node_accounts.drop(session, node, actor, "retired")  # a retired node reads nothing any more
    _touch(session, node, old_endpoint)
    return node, outcome


def upsert(session: Session, data: Mapping, actor: Actor) -> tuple[Node, str]:
    """Create or update by name (CSV)."""
    name = F.clean({"name": FIELDS["name"]}, {"name": data.get("name")})["name"]
    return save(session, data, actor, session.scalar(select(Node).where(Node.name == name)))


def delete(session: Session, node: Node, actor: Actor) -> None:
    """Delete a node that serves no client."""
    client = session.scalar(select(Client).where(Client.node_id == node.id))
    if client is not None:
        raise Conflict(f"node {node.name} serves client {client.account_code}: move the client to another node first")
    if session.scalar(select(TrunkAddress.id).where(TrunkAddress.node_id == node.id).limit(1)):
        raise Conflict(f"node {node.name} still has trunk addresses")
    endpoint = node.endpoint_id
    node_accounts.drop(session, node, actor, "deleted")
    remove(session, node, actor, ENTITY, node.name, FIELDS)
    projection.touch(session, endpoints={endpoint}, routes=True)
