"""A node's last-resort realtime source: the pjsip rows its own account reads, in a SQLite file on its disk.

Why (issue 13, "a 911 call from a client node that can reach no database at all still leaves"): a client node
restarted while no database server answers starts with empty AOR, auth and identify caches (docs/databases.md), so
every trunk is refused 401/403 before the dialplan, 911 included. With this file mapped in extconfig.conf at the
priority after the last database server, such a node identifies and authenticates its trunks as of its last
`node render`, and the dialplan then does what it does with no database (911 from the local copy, anything else 503).

When Asterisk reads it (Asterisk 22.10, main/config.c, checked in the sources; the change is 22.6's
"res_config_odbc: Prevent Realtime fallback on record-not-found"):
- one row (`ast_load_realtime_all_fields`, what sorcery's retrieve_id/retrieve_fields use): the next priority is
  tried only when a backend returns NULL; res_config_odbc `realtime_odbc` returns NULL on a failure (no
  connection, prepare/execute/fetch error) and CONFIG_RT_NOT_FOUND on SQL_NO_DATA, on which the loop stops.
  A row deleted or disabled in the database is "not found" from any server that answers: the copy is not read.
- several rows (`ast_load_realtime_multientry_fields`, sorcery's retrieve_multiple: the identify cache, listings):
  the loop stops at the first backend that returns a non-NULL ast_config; res_config_odbc `realtime_multi_odbc`
  returns an empty one for no rows and NULL on a failure, so the same holds.
- res_config_sqlite3 returns NULL for "no row" too (`realtime_sqlite3`): being last, that ends the loop as a miss.

What goes in (`local_tables`): for ps_endpoints, ps_aors, ps_auths, ps_endpoint_id_ips and ps_domain_aliases,
exactly the rows the node's scoped views show its account (app/projection/visibility.py SEES, applied to the
stamped tl_kind/tl_client), with Asterisk's columns. Not `extensions`: a number look-up must stay a 503 while no
database answers (the E911 and route keys the node needs are in extensions.conf's tl-local-* contexts).

How values are stored, so that sorcery gets what res_config_odbc would give it:
- a column NULL in every row is left out (res_config_sqlite3 hands a NULL of a multi-row result to sorcery as an
  empty string, `append_row_to_cfg` S_OR(values[i], ""), where res_config_odbc leaves the field out; an empty value
  for an integer option fails ast_sorcery_objectset_apply and the object is dropped);
- an empty string is stored as one space in single-row tables: res_config_odbc encodes an empty string as " " and
  `ast_load_realtime_fields` turns " " back into an empty value it keeps, while it drops a true empty value (NULL).
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import tempfile

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Client, Node
from app.models.realtime import REALTIME_TABLES, SCOPE_CLIENT, SCOPE_KIND, asterisk_columns
from app.projection.visibility import ANY, SEES, node_scope

# Families a client node maps to the copy (extconfig.conf, last priority), and the table name in the file.
LOCAL_FAMILIES = ("ps_endpoints", "ps_aors", "ps_auths", "ps_endpoint_id_ips", "ps_domain_aliases")
# Read several rows at a time by Asterisk (the identify cache loads the whole table): no " " for empty strings.
MULTI_ROW = ("ps_endpoint_id_ips",)
LOCAL_DATABASE = "trunkline_local"  # the res_config_sqlite3.conf section (extconfig.conf names it)


def visible_rows(session: Session, node: Node, table: str) -> list[dict]:
    """The rows of `table` the node's scoped view shows its account: [{asterisk column: value}], ordered by id.

    The same rule as the view (visibility.visibility_condition) with the node's role and client taken from the
    domain as refresh_accounts keeps them: a node that is not live, or a client node whose client is not active,
    sees nothing of its own client's."""
    client = session.scalar(select(Client).where(Client.node_id == node.id)) if node.role == "client" else None
    role, client_code = node_scope(node.role, node.state, client.account_code if client else None,
                                   client.status if client else None)
    if role is None:
        return []
    kinds = SEES.get(role, {})
    t = REALTIME_TABLES[table]
    columns = asterisk_columns(table)
    query = select(*(t.c[c] for c in columns), t.c[SCOPE_KIND], t.c[SCOPE_CLIENT]).where(t.c[SCOPE_KIND].in_(list(kinds)))
    out = []
    for row in session.execute(query.order_by(t.c.id)).mappings():
        scope = kinds[row[SCOPE_KIND]]
        if scope == ANY or (client_code is not None and row[SCOPE_CLIENT] == client_code):
            out.append({c: row[c] for c in columns})
    return out


def local_tables(session: Session, node: Node) -> dict[str, dict]:
    """{table: {"columns": [...], "rows": [[value as text or None], ...]}} for a client node; {} for others."""
    if node.role != "client":
        return {}
    tables = {}
    for table in LOCAL_FAMILIES:
        rows = visible_rows(session, node, table)
        columns = [c for c in asterisk_columns(table) if c == "id" or any(r[c] is not None for r in rows)]
        values = []
        for r in rows:
            line = []
            for c in columns:
                v = r[c]
                if v is None:
                    line.append(None)
                elif v == "":
                    line.append(None if table in MULTI_ROW else " ")
                else:
                    line.append(str(v))
            values.append(line)
        tables[table] = {"columns": columns, "rows": values}
    return tables


def tables_digest(tables: dict[str, dict]) -> str:
    """sha256 hex of the tables' contents (names the file; compared by the node page)."""
    return hashlib.sha256(repr(sorted((t, d["columns"], d["rows"]) for t, d in tables.items())).encode()).hexdigest()


def file_name(digest: str) -> str:
    """The file's name on the node: named by content, so a new copy is a new name (res_config_sqlite3 reopens its
    file on reload only when the name changed: res_config_sqlite3.c update_realtime_sqlite3_db)."""
    return f"trunkline-local-{digest[:16]}.sqlite3"


def sqlite_bytes(tables: dict[str, dict]) -> bytes:
    """The SQLite database holding the tables (every column TEXT), as bytes to write on the node."""
    fd, path = tempfile.mkstemp(suffix=".sqlite3")
    os.close(fd)
    try:
        conn = sqlite3.connect(path)
        try:
            for table, data in tables.items():
                cols = ", ".join(f'"{c}" TEXT' + (" PRIMARY KEY" if c == "id" else "") for c in data["columns"])
                conn.execute(f'CREATE TABLE "{table}" ({cols})')
                marks = ", ".join("?" for _ in data["columns"])
                conn.executemany(f'INSERT INTO "{table}" VALUES ({marks})', data["rows"])
            conn.commit()
        finally:
            conn.close()
        with open(path, "rb") as fh:
            return fh.read()
    finally:
        os.unlink(path)
