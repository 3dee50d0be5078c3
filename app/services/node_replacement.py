"""Node replacement: a client's node address is under attack; move the client to a fresh node in one action."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.errors import Conflict, ValidationError
from app.models import AuditEntry, Client, Node
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
           {"node": new.name, "public_ip": new.public_ip},
           summary=f"moved from {old.name} to {new.name}" + (f"; DNS name {dns_name} moved with it" if dns_name else ""))
    steps = checklist(session, dns_name, old.name, old_ip, new.name, new.public_ip, db_user)
    return Replacement(client, old, new, dns_name, old_ip, new.public_ip, steps, db_user, db_password)


def checklist(session: Session, dns_name: str | None, old_name: str, old_ip: str, new_name: str, new_ip: str,
              db_user: str | None = None) -> list[str]:
    """What the sysadmin does by hand after a replacement: DNS, deploy the new node, carrier-facing nodes, retire the old one.

    Commands are between backticks (the admin shows them as code). Recomputed from the audit entry whenever the
    replacement page is opened again, so the list of carrier-facing nodes is the current one.
    """
    steps = []
    if dns_name:
        steps.append(f"DNS: change the A record of {dns_name} from {old_ip} to {new_ip} (lower its TTL first if you can).")
    else:
        steps.append(f"DNS: the client's PBX reaches the node by address; tell the client to use {new_ip} instead of {old_ip}.")
    carrier_nodes = [n.name for n in session.scalars(
        select(Node).where(Node.role == "carrier", Node.state.in_(("active", "draining"))).order_by(Node.name))]
    if db_user:
        steps.append(f"Database: the new node connects as {db_user} (from {new_ip}) with the password shown once when the "
                     f"replacement was made; keep it in a file readable only by you and pass it to `node render "
                     f"--db-password-file`. {old_name}'s account stays until it is retired.")
    steps.append(f"Render and deploy the new node: `flask --app wsgi node render {new_name} --out DIR"
                 f"{' --db-password-file FILE' if db_user else ''}`, copy the Asterisk files "
                 f"and the nftables rule set to the VM at {new_ip}, load the rule set and start Asterisk. Its rule set "
                 "already admits the client's trunk addresses and the carrier-facing nodes.")
    if carrier_nodes:
        steps.append("Re-render and reload the nftables rule set of every carrier-facing node, which admits SIP only from known "
                     f"node addresses and must now admit {new_ip}: " + ", ".join(carrier_nodes) + ". Their SIP endpoints come "
                     "from the realtime tables and need no file change.")
    steps.append(f"When the DNS change has propagated and no calls use {old_name}, set it to retired, re-render the carrier-facing "
                 f"nodes once more (to drop {old_ip}) and delete its VM.")
    return steps


@dataclass
class PastReplacement:
    """A replacement read back from the audit log, with its checklist recomputed."""

    entry: AuditEntry
    client_key: str
    client_id: int | None
    old_name: str
    old_ip: str
    new_name: str
    new_ip: str
    dns_name: str | None
    steps: list[str]


def past_replacements(session: Session, *, client_key: str | None = None, node_name: str | None = None,
                      limit: int = 20) -> list[PastReplacement]:
    """Replacements recorded in the audit log (newest first), of one client or involving one node (as old or new)."""
    query = select(AuditEntry).where(AuditEntry.entity == "client", AuditEntry.action == "replace_node")
    if client_key is not None:
        query = query.where(AuditEntry.entity_key == client_key)
    if node_name is not None:
        like = json.dumps(node_name)  # the name as it appears in the JSON images
        query = query.where(AuditEntry.before.contains(like) | AuditEntry.after.contains(like))
    out = []
    for entry in session.scalars(query.order_by(AuditEntry.id.desc()).limit(limit)):
        before, after = json.loads(entry.before or "{}"), json.loads(entry.after or "{}")
        if node_name is not None and node_name not in (before.get("node"), after.get("node")):
            continue
        new = session.scalar(select(Node).where(Node.name == after.get("node", "")))
        dns_name = new.dns_name if new is not None else None
        client_id = session.scalar(select(Client.id).where(Client.account_code == entry.entity_key))
        out.append(PastReplacement(entry, entry.entity_key or "", client_id, before.get("node", "?"), before.get("public_ip", "?"),
                                   after.get("node", "?"), after.get("public_ip", "?"), dns_name,
                                   checklist(session, dns_name, before.get("node", "?"), before.get("public_ip", "?"),
                                             after.get("node", "?"), after.get("public_ip", "?"),
                                             new.account.db_user if new is not None and new.account is not None else None)))
    return out
