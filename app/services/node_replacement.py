"""Node replacement: a client's node address is under attack; move the client to a fresh node in one action."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.errors import Conflict, ValidationError
from app.models import Client, Node
from app.services import clients as client_service
from app.services import node_accounts
from app.services import nodes as node_service
from app.services.audit import Actor, record


@dataclass
class Replacement:
    """What was done and what the sysadmin still has to do by hand."""

    client: Client
    old_node: Node
    new_node: Node
    dns_name: str | None
    old_ip: str
    new_ip: str
    steps: list[str] = field(default_factory=list)
    db_user: str | None = None  # the new node's database account (MariaDB), its password shown once
    db_password: str | None = None


def replace_node(session: Session, client: Client, data: Mapping, actor: Actor) -> Replacement:
    """Create the replacement node (name, public_ip, hosting_provider, region, sip_port), move the client to it,
    hand it the DNS name and put the old node in 'draining'. All in the caller's transaction."""
    old = client.node
    if old is None:
        raise Conflict(f"client {client.account_code} has no node to replace: set its node instead")
    dns_name, old_ip = old.dns_name, old.public_ip
    values = {k: data.get(k) for k in ("name", "public_ip", "hosting_provider", "region", "sip_port") if data.get(k) not in (None, "")}
    values.setdefault("hosting_provider", old.hosting_provider)
    values.setdefault("region", old.region)
    values.setdefault("sip_port", old.sip_port)
    values.update(role="client", state="active")
    if str(values.get("public_ip", "")).strip() == old_ip:
        raise ValidationError(public_ip=f"is the address of the node being replaced ({old_ip}): the replacement needs a new one")
    # The DNS name follows the client: release it from the old node first (it is unique).
    if dns_name:
        node_service.save(session, {"dns_name": ""}, actor, old)
    new, _ = node_service.save(session, {**values, "dns_name": dns_name or ""}, actor)
    client_service.save(session, {"node": new}, actor, client)
    node_service.save(session, {"state": "draining"}, actor, old)
    db_user = db_password = None
    if node_accounts.supported(session):
        account, db_password = node_accounts.ensure(session, new, actor, host=data.get("db_host") or None)
        db_user = account.db_user
    record(session, actor, "replace_node", "client", client.account_code, {"node": old.name, "public_ip": old_ip},
           {"node": new.name, "public_ip": new.public_ip}, summary=f"moved from {old.name} to {new.name}")
    steps = []
    if dns_name:
        steps.append(f"DNS: change the A record of {dns_name} from {old_ip} to {new.public_ip} (lower its TTL first if you can).")
    else:
        steps.append(f"DNS: the client's PBX reaches the node by address; tell the client to use {new.public_ip} instead of {old_ip}.")
    carrier_nodes = [n.name for n in session.scalars(
        select(Node).where(Node.role == "carrier", Node.state.in_(("active", "draining"))).order_by(Node.name))]
    if db_user:
        steps.append(f"Database: the new node connects as {db_user} (from {new.public_ip}) with the password shown once on this page; "
                     f"keep it in a file readable only by you and pass it to `node render --db-password-file`. {old.name}'s "
                     "account stays until it is retired.")
    steps.append(f"Render and deploy the new node: `flask --app wsgi node render {new.name} --out DIR --db-password-file FILE`, "
                 "copy the Asterisk files "
                 f"and the nftables rule set to the VM at {new.public_ip}, load the rule set and start Asterisk. Its rule set "
                 "already admits the client's trunk addresses and the carrier-facing nodes.")
    if carrier_nodes:
        steps.append("Re-render and reload the nftables rule set of every carrier-facing node, which admits SIP only from known "
                     f"node addresses and must now admit {new.public_ip}: " + ", ".join(carrier_nodes) + ". Their SIP endpoints come "
                     "from the realtime tables and need no file change.")
    steps.append(f"When the DNS change has propagated and no calls use {old.name}, set it to retired, re-render the carrier-facing "
                 f"nodes once more (to drop {old_ip}) and delete its VM.")
    return Replacement(client, old, new, dns_name, old_ip, new.public_ip, steps, db_user, db_password)
