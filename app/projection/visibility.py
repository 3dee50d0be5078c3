"""Which realtime rows each node may read: the one description, and the SQL objects generated from it.

Every projected row carries a kind and, for a client's rows, the client's account code (columns
`tl_kind`, `tl_client`, filled by `stamp` when the projection computes the rows). `SEES` says, per node
role, which kinds a node reads, and whether only its own client's. From that description come:

- one read-only view per projected table, named `SCOPED[table]` (`node_ps_endpoints`, ...,
  `node_extensions`), listing exactly Asterisk 22's columns (asterisk-22-realtime-columns.tsv), with
  `SQL SECURITY DEFINER`: a node account may SELECT the view but not the table under it. The view
  finds the connecting node by the user part of `USER()` (the account that logged in; inside a definer
  view `CURRENT_USER()` would be the definer) in `node_accounts`, then its role and client;
- a trigger on `cdr` that stamps `tl_node` from the same account look-up, whatever the node sent.

The migrations create them (`create_statements`); a test checks every projected table has its view.
MariaDB/MySQL only: SQLite has no accounts, so the demo database has neither views nor trigger.

Why each kind goes where (issue 11, "What each node sees"):
- client node: its own client's trunk endpoints, AORs, auths, identify rows (`trunk`), the `tl-num` rows
  of its numbers (`num`), the `tl-e911` rows of its trunks (`e911`); the endpoints of the carrier nodes
  it sends calls through (`carrier-node`); the `tl-route` rows (`route`: carrier endpoint names and
  formats in priority order, the same for every client, no credentials). Never a carrier's rows, another
  client's, or another client node (`client-node`): it neither qualifies nor identifies them.
- carrier node: the carriers' endpoints, AORs, auths, identify rows and outbound registrations
  (`carrier`), the client nodes' endpoints (`client-node`) and every `tl-num` row (`num`: which client
  node an inbound DID goes to). No trunk row, so no trunk auth.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Client, Node, NodeAccount, Trunk
from app.models.realtime import CDR_NODE, PROJECTED_TABLES, SCOPE_CLIENT, SCOPE_KIND, asterisk_columns
from app.projection.names import RT_E911, RT_NUMBER, RT_ROUTE, SEP

CARRIER, CARRIER_NODE, CLIENT_NODE, TRUNK, NUMBER, E911, ROUTE = (
    "carrier", "carrier-node", "client-node", "trunk", "num", "e911", "route")
KINDS = (CARRIER, CARRIER_NODE, CLIENT_NODE, TRUNK, NUMBER, E911, ROUTE)
OWN, ANY = "own client", "any"

# The description: role -> {kind: OWN (only rows of the node's own client) | ANY}.
SEES: dict[str, dict[str, str]] = {
    "client": {TRUNK: OWN, NUMBER: OWN, E911: OWN, CARRIER_NODE: ANY, ROUTE: ANY},
    "carrier": {CARRIER: ANY, CLIENT_NODE: ANY, NUMBER: ANY},
}

# The kind of each realtime context's rows. A context missing here is read by no node (a unit test
# fails until it is described: app.projection.names.REALTIME_CONTEXTS).
CONTEXT_KINDS: dict[str, str] = {RT_NUMBER: NUMBER, RT_ROUTE: ROUTE, RT_E911: E911}

# The object a node reads instead of each projected table (extconfig maps the family to it).
SCOPED: dict[str, str] = {table: f"node_{table}" for table in PROJECTED_TABLES}
CDR_TRIGGER = "cdr_stamp_node"
LIVE_STATES = ("active", "draining")  # a node in another state (retired) reads nothing, even if its account remained


# ---- stamping the rows (called by app.projection.sync and the numbers fast path) ----
def number_scope(row: dict) -> tuple[str, str | None]:
    """(kind, client) of a tl-num row: the client's account code is the value's second field."""
    return NUMBER, row["appdata"].split(SEP)[1]


def stamp(session: Session, rows: dict[str, dict]) -> None:
    """Fill tl_kind and tl_client of every row of a desired-rows dict (table -> {key: row}) in place."""
    endpoints = rows.get("ps_endpoints", {})
    roles: dict[str, str] | None = None

    def endpoint_scope(endpoint_id: str) -> tuple[str | None, str | None]:
        nonlocal roles
        kind, _, rest = endpoint_id.partition("-")
        if kind == "carrier":
            return CARRIER, None
        if kind == "trunk":  # trunk-ACCOUNT-NAME; account codes never contain '-'
            return TRUNK, rest.partition("-")[0]
        if kind == "node":
            if roles is None:
                roles = dict(session.execute(select(Node.name, Node.role)).tuples().all())
            role = roles.get(rest)
            return (CARRIER_NODE if role == "carrier" else CLIENT_NODE if role == "client" else None), None
        return None, None

    # A credentials trunk's AOR is named after its SIP user: its endpoint row says whose it is.
    aor_owner = {row["aors"]: ep for ep, row in endpoints.items() if row.get("aors")}
    e911_trunks = {int(key[1].partition("*")[0]) for key in rows.get("extensions", {}) if key[0] == RT_E911}
    trunk_accounts: dict[int, str] = {}
    if e911_trunks:
        ordered = sorted(e911_trunks)
        for i in range(0, len(ordered), 1000):
            trunk_accounts.update(session.execute(
                select(Trunk.id, Client.account_code).join(Trunk.client)
                .where(Trunk.id.in_(ordered[i:i + 1000]))).tuples().all())
    for table, table_rows in rows.items():
        for key, row in table_rows.items():
            if table == "ps_endpoints":
                scope = endpoint_scope(key)
            elif table == "ps_aors":
                scope = endpoint_scope(aor_owner.get(key, key))
            elif table == "ps_auths":
                scope = endpoint_scope(key.removesuffix("-auth"))
            elif table in ("ps_endpoint_id_ips", "ps_registrations"):
                scope = endpoint_scope(row["endpoint"])
            elif table == "extensions":
                kind = CONTEXT_KINDS.get(row["context"])
                if kind == NUMBER:
                    scope = number_scope(row)
                elif kind == E911:
                    scope = E911, trunk_accounts.get(int(row["exten"].partition("*")[0]))
                else:
                    scope = kind, None
            else:
                scope = None, None  # ps_domain_aliases: none projected; such a row is read by no node
            row[SCOPE_KIND], row[SCOPE_CLIENT] = scope


# ---- the connecting node's role and client, kept on its account row ----
# The views read them from node_accounts (one unique-key look-up by USER()) rather than joining nodes and
# clients on every realtime query; the projection keeps them equal to the domain in the same transaction.
def account_scopes(session: Session) -> dict[int, tuple[str | None, str | None]]:
    """{account id: (role, client account code)} as the domain says now; (None, None) for a node that is not live."""
    query = (select(NodeAccount.id, Node.role, Node.state, Client.account_code, Client.status)
             .join(Node, NodeAccount.node_id == Node.id).outerjoin(Client, Client.node_id == Node.id))
    return {account_id: node_scope(role, state, account_code, status)
            for account_id, role, state, account_code, status in session.execute(query)}


def node_scope(role: str, state: str, account_code: str | None, client_status: str | None) -> tuple[str | None, str | None]:
    """(role, client account code) whose rows a node sees: (None, None) for a node that is not live; a client node's
    client only while that client is active. The one rule the views read (through node_accounts) and the node's
    local realtime copy (app/nodeconf/local_realtime.py) apply."""
    if state not in LIVE_STATES:
        return None, None
    return role, account_code if role == "client" and client_status == "active" else None


def refresh_accounts(session: Session) -> int:
    """Bring every account's role and client in line with the domain; returns how many changed."""
    changed = 0
    wanted = account_scopes(session)
    if not wanted:
        return 0
    for account in session.scalars(select(NodeAccount).where(NodeAccount.id.in_(list(wanted)))):
        role, client = wanted[account.id]
        if (account.role, account.client) != (role, client):
            account.role, account.client = role, client
            changed += 1
    if changed:
        session.flush()
    return changed


def account_drift(session: Session) -> list[str]:
    """One line per account whose role or client differs from the domain (for `realtime verify`)."""
    wanted = account_scopes(session)
    lines = []
    for account in session.scalars(select(NodeAccount).order_by(NodeAccount.db_user)):
        role, client = wanted.get(account.id, (None, None))
        if (account.role, account.client) != (role, client):
            lines.append(f"node_accounts {account.db_user}: differs: role={account.role!r}, client={account.client!r} "
                         f"(expected {role!r}, {client!r})")
    return lines


# ---- the SQL objects ----
def _quote(name: str) -> str:
    return f"`{name}`"


def _literal_list(values) -> str:
    return ", ".join(f"'{v}'" for v in sorted(values))


def visibility_condition(row_alias: str = "t", account_alias: str = "a") -> str:
    """The SQL condition, generated from SEES, under which the node of account `a` reads row `t`."""
    terms = []
    for role, kinds in sorted(SEES.items()):
        anyone = [k for k, scope in kinds.items() if scope == ANY]
        own = [k for k, scope in kinds.items() if scope == OWN]
        parts = []
        if anyone:
            parts.append(f"{row_alias}.{SCOPE_KIND} IN ({_literal_list(anyone)})")
        if own:
            parts.append(f"({row_alias}.{SCOPE_KIND} IN ({_literal_list(own)}) "
                         f"AND {row_alias}.{SCOPE_CLIENT} = {account_alias}.client)")
        terms.append(f"({account_alias}.role = '{role}' AND ({' OR '.join(parts)}))")
    return " OR ".join(terms)


def _connecting_node() -> str:
    # USER() is the account that logged in (user@client-host); only its user part is ours (MariaDB checked
    # the host when the node connected). Its row carries the node's role and client (refresh_accounts).
    return "JOIN node_accounts a ON a.db_user = SUBSTRING_INDEX(USER(), '@', 1)"


def view_sql(table: str) -> str:
    """CREATE OR REPLACE VIEW statement of a table's scoped counterpart (MariaDB/MySQL)."""
    columns = ", ".join(f"t.{_quote(c)}" for c in asterisk_columns(table))
    return (f"CREATE OR REPLACE SQL SECURITY DEFINER VIEW {_quote(SCOPED[table])} AS "
            f"SELECT {columns} FROM {_quote(table)} t {_connecting_node()} WHERE {visibility_condition()}")


def cdr_trigger_sql() -> str:
    """The trigger that stamps each inserted CDR with the node whose account inserted it (NULL for others)."""
    return (f"CREATE TRIGGER {CDR_TRIGGER} BEFORE INSERT ON cdr FOR EACH ROW SET NEW.{CDR_NODE} = "
            f"(SELECT n.name FROM node_accounts a JOIN nodes n ON n.id = a.node_id "
            f"WHERE a.db_user = SUBSTRING_INDEX(USER(), '@', 1))")


def create_statements() -> list[str]:
    """Every statement that (re)creates the scoped views and the CDR trigger, in order."""
    return ([view_sql(table) for table in PROJECTED_TABLES]
            + [f"DROP TRIGGER IF EXISTS {CDR_TRIGGER}", cdr_trigger_sql()])


def drop_statements() -> list[str]:
    """Every statement that removes them."""
    return [f"DROP TRIGGER IF EXISTS {CDR_TRIGGER}"] + [f"DROP VIEW IF EXISTS {_quote(SCOPED[t])}" for t in PROJECTED_TABLES]


def grant_objects() -> list[tuple[str, str]]:
    """(privilege, object) a node account is given: SELECT on each scoped view, INSERT on cdr. Nothing else."""
    return [("SELECT", SCOPED[t]) for t in PROJECTED_TABLES] + [("INSERT", "cdr")]
