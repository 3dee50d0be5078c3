"""Asterisk 22 realtime tables (ps_*, extensions, cdr), built from the official column list.

The column list is asterisk_realtime/asterisk-22-realtime-columns.tsv, taken from Asterisk's own
ast-db-manage heads; building the tables from it keeps them column-compatible by construction.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

from sqlalchemy import BigInteger, Column, DateTime, Enum, Float, Index, Integer, String, Table, Text

from app.db import Base

COLUMNS_TSV = Path(__file__).resolve().parents[2] / "asterisk_realtime" / "asterisk-22-realtime-columns.tsv"

# The tables Trunkline derives from the domain (ps_contacts is written by Asterisk itself).
PROJECTED_TABLES = (
    "ps_endpoints", "ps_aors", "ps_auths", "ps_endpoint_id_ips", "ps_registrations",
    "ps_domain_aliases", "extensions",
)
REALTIME_TABLE_NAMES = PROJECTED_TABLES + ("ps_contacts", "cdr")

# Trunkline's own columns beside Asterisk's (never shown to a node: the scoped views list Asterisk's columns
# only). Every projected row carries who may read it (app.projection.visibility); a CDR the node it came
# from, stamped by the database (a trigger on MariaDB), never taken from the node.
SCOPE_KIND = "tl_kind"  # what the row belongs to: carrier, carrier-node, client-node, trunk, num, e911, route
SCOPE_CLIENT = "tl_client"  # the account code of the client the row belongs to, for client-scoped kinds
CDR_NODE = "tl_node"  # the name of the node whose database account inserted the CDR


def _column_type(table: str, column: str, sql_type: str):
    match = re.fullmatch(r"(\w+)(?:\((.*)\))?", sql_type)
    kind, arg = match.group(1), match.group(2)
    if kind == "varchar":
        return String(int(arg))
    if kind == "int":
        return Integer()
    if kind == "bigint":
        return BigInteger()
    if kind == "float":
        return Float()
    if kind == "text":
        return Text()
    if kind == "datetime":
        return DateTime()
    if kind == "enum":
        choices = [c.strip("'") for c in arg.split(",")]
        # Asterisk's own schema names its boolean enum types like this; SQLite stores a VARCHAR.
        return Enum(*choices, name=f"{table}_{column}_values", native_enum=True, create_constraint=False)
    raise ValueError(f"unknown column type {sql_type!r} for {table}.{column}")


def read_columns(path: Path = COLUMNS_TSV) -> dict[str, list[dict]]:
    """Read the official column list: table -> [{column, type, nullable, key}] in order."""
    tables: dict[str, list[dict]] = {}
    with path.open(newline="") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            tables.setdefault(row["table"], []).append(row)
    return tables


def _build_tables() -> dict[str, Table]:
    spec = read_columns()
    built = {}
    for name in REALTIME_TABLE_NAMES:
        columns = []
        for col in spec[name]:
            ctype = _column_type(name, col["column"], col["type"])
            if name == "extensions" and col["column"] == "id":
                columns.append(Column("id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True))
                continue
            columns.append(Column(
                col["column"], ctype,
                primary_key=col["key"] == "PRI",
                unique=col["key"] == "UNI",
                nullable=col["nullable"] == "YES" and col["key"] != "PRI",
            ))
        extra = []
        if name in PROJECTED_TABLES:
            columns += [Column(SCOPE_KIND, String(16), nullable=True), Column(SCOPE_CLIENT, String(20), nullable=True)]
        if name == "cdr":
            columns.append(Column(CDR_NODE, String(32), nullable=True))
        if name == "extensions":
            # One row per (context, exten, priority): pbx_realtime looks rows up by exactly that.
            extra.append(Index("uq_extensions_context_exten_priority", "context", "exten", "priority", unique=True))
        if name in ("ps_aors", "ps_contacts"):
            extra.append(Index(f"ix_{name}_qualify_frequency", "qualify_frequency"))
        if name == "ps_endpoint_id_ips":
            extra.append(Index("ix_ps_endpoint_id_ips_endpoint", "endpoint"))
        if name == "ps_registrations":
            extra.append(Index("ix_ps_registrations_endpoint", "endpoint"))
        if name == "cdr":
            # Trunkline's own columns (cdr_adaptive_odbc leaves an integer column it has no value for to the
            # database, and fills any other column from the CDR variable of the same name):
            # - id: the order in which records arrived, so the call rollup reads only what is new;
            # - call_id: one id per call across every node it crossed (the first node's linkedid, passed on in
            #   the X-TL-Call header), so a call that left a record on two nodes is counted once.
            columns.insert(0, Column("id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True,
                                     autoincrement=True))
            columns.append(Column("call_id", String(150)))
            extra += [Index("ix_cdr_start", "start"), Index("ix_cdr_accountcode_start", "accountcode", "start"),
                      Index("ix_cdr_call_id", "call_id"),
                      # the dashboard's list of 911 calls the client node marked unresolved (userfield); without it the
                      # list scanned a month of records (4.3 s at 10,000,000 records, bench_admin)
                      Index("ix_cdr_userfield_start", "userfield", "start"),
                      # One row per CDR however it arrives (directly, or shipped later from the node's local spool by
                      # scripts/cdr_ship.py with INSERT IGNORE): uniqueid carries the node's systemname, sequence
                      # numbers the records of one Asterisk process.
                      Index("uq_cdr_uniqueid_sequence", "uniqueid", "sequence", unique=True)]
        built[name] = Table(name, Base.metadata, *columns, *extra)
    return built


REALTIME_TABLES: dict[str, Table] = _build_tables()


def asterisk_columns(table: str) -> list[str]:
    """The columns Asterisk 22 knows for a realtime table, in its order (without Trunkline's own)."""
    return [row["column"] for row in read_columns()[table]]
