"""The CSV format of each kind: its columns, the service fields behind them, its natural key, its export.

Columns are fixed by the published formats (issue 5 / docs/csv.md); a few extra columns carry what a
round trip needs. A column maps to one service field (`auth` -> `auth_mode`); every value is given to
the service as the raw text of its cell, so parsing and rules stay in the services.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from app import service_codes
from app.models import Carrier, Client, Node, PhoneNumber, Trunk
from app.services import carriers, clients, nodes, numbers, trunks
from app.services import fields as F


class KeyCellError(ValueError):
    """A natural-key cell is wrong: the column and the reason."""

    def __init__(self, column: str, reason: str):
        super().__init__(reason)
        self.column = column
        self.reason = reason


@dataclass(frozen=True)
class Column:
    """One CSV column and the service field it feeds."""

    name: str
    field: str
    secret: bool = False  # exported only on request (--with-secrets)


@dataclass(frozen=True)
class KindSpec:
    """Everything the reader, importer and exporter need to know about one kind."""

    kind: str
    columns: tuple[Column, ...]  # documented columns first, then the extra ones
    required: tuple[str, ...]  # columns the header must have: the natural key and what a new object needs
    key_parsers: dict[str, Callable[[Any], Any]]  # natural-key column -> the service's parser of that field
    service: ModuleType
    export_rows: Callable[[Session], Iterator[dict[str, Any]]]  # rows of column -> value, in key order

    @property
    def filename(self) -> str:
        """The conventional file name (carriers.csv, ...)."""
        return f"{self.kind}.csv"

    def key(self, cells: dict[str, str]) -> tuple:
        """The normalised natural key of a row (case-insensitive, like the database); raises KeyCellError."""
        parts = []
        for column, parse in self.key_parsers.items():
            value = F.normalise(cells.get(column))
            if F.blank(value):
                raise KeyCellError(column, "is required")
            try:
                parsed = parse(value)
            except F.FieldError as exc:
                raise KeyCellError(column, str(exc)) from None
            parts.append(parsed.casefold() if isinstance(parsed, str) else parsed)
        return tuple(parts)

    def column(self, name: str) -> Column | None:
        """The column with this header name."""
        return next((c for c in self.columns if c.name == name), None)

    def column_of_field(self, field_name: str) -> str:
        """The CSV column a service field is read from (the field name itself when no column feeds it)."""
        return next((c.name for c in self.columns if c.field == field_name), field_name)

    def export_columns(self, with_secrets: bool) -> list[Column]:
        """The columns an export writes."""
        return [c for c in self.columns if with_secrets or not c.secret]


def _yes(value: bool | None) -> str:
    return "yes" if value else "no"


def _cell(value: Any) -> str:
    return "" if value is None else str(value)


def _spaced(value: str | None) -> str:
    return " ".join((value or "").replace(",", " ").split())


# --- carriers ---------------------------------------------------------------------------------

def _carrier_rows(session: Session) -> Iterator[dict]:
    for c in session.scalars(select(Carrier).order_by(Carrier.name)):
        yield {
            "name": c.name, "tier": c.tier, "auth": c.auth_mode, "signalling_addresses": _spaced(c.signalling_addresses),
            "port": c.port, "callerid_format": c.callerid_format, "e911_callerid_format": c.e911_callerid_format,
            "dial_format": c.dial_format, "send_pai": _yes(c.send_pai), "provides_911": _yes(c.provides_911),
            "priority": c.priority, "max_channels": c.max_channels, "privacy_mode": c.privacy_mode,
            "username": _cell(c.username),
            "enabled": _yes(c.enabled), "service_codes": service_codes.export_list(c.service_codes, empty="none"),
            "service_code_format": c.service_code_format, "password": _cell(c.password),
        }


CARRIERS = KindSpec(
    kind="carriers",
    columns=(
        Column("name", "name"), Column("tier", "tier"), Column("auth", "auth_mode"),
        Column("signalling_addresses", "signalling_addresses"), Column("port", "port"),
        Column("callerid_format", "callerid_format"), Column("e911_callerid_format", "e911_callerid_format"),
        Column("dial_format", "dial_format"), Column("send_pai", "send_pai"), Column("provides_911", "provides_911"),
        Column("priority", "priority"), Column("max_channels", "max_channels"), Column("privacy_mode", "privacy_mode"),
        Column("username", "username"), Column("enabled", "enabled"),
        Column("service_codes", "service_codes"), Column("service_code_format", "service_code_format"),
        Column("password", "password", secret=True),
    ),
    required=("name", "signalling_addresses"),
    key_parsers={"name": carriers.FIELDS["name"].parse},
    service=carriers,
    export_rows=_carrier_rows,
)

# --- nodes ------------------------------------------------------------------------------------


def _node_rows(session: Session) -> Iterator[dict]:
    for n in session.scalars(select(Node).order_by(Node.name)):
        yield {"name": n.name, "role": n.role, "public_ip": n.public_ip, "sip_port": n.sip_port,
               "hosting_provider": n.hosting_provider, "region": _cell(n.region), "dns_name": _cell(n.dns_name),
               "state": n.state}


NODES = KindSpec(
    kind="nodes",
    columns=tuple(Column(n, n) for n in ("name", "role", "public_ip", "sip_port", "hosting_provider", "region", "dns_name", "state")),
    required=("name", "role", "public_ip", "hosting_provider"),
    key_parsers={"name": nodes.FIELDS["name"].parse},
    service=nodes,
    export_rows=_node_rows,
)

# --- clients ----------------------------------------------------------------------------------


def _client_rows(session: Session) -> Iterator[dict]:
    e911, main = aliased(PhoneNumber), aliased(PhoneNumber)
    query = (select(Client, Node.name, e911.e164, main.e164)
             .outerjoin(Node, Client.node_id == Node.id)
             .outerjoin(e911, Client.e911_number_id == e911.id)
             .outerjoin(main, Client.main_number_id == main.id)
             .order_by(Client.account_code))
    for c, node_name, e911_number, main_number in session.execute(query):
        yield {"name": c.name, "account_code": c.account_code, "node": _cell(node_name), "max_channels": c.max_channels,
               "e911_number": _cell(e911_number), "status": c.status, "main_number": _cell(main_number),
               "blocked_service_codes": service_codes.export_list(c.blocked_service_codes, empty=""),
               "alert_emails": _cell(c.alert_emails), "alert_webhook": _cell(c.alert_webhook)}


CLIENTS = KindSpec(
    kind="clients",
    columns=tuple(Column(n, n) for n in ("name", "account_code", "node", "max_channels", "e911_number", "status", "main_number",
                                         "blocked_service_codes", "alert_emails", "alert_webhook")),
    required=("name", "account_code"),
    key_parsers={"account_code": clients.FIELDS["account_code"].parse},
    service=clients,
    export_rows=_client_rows,
)

# --- trunks -----------------------------------------------------------------------------------


def _trunk_rows(session: Session) -> Iterator[dict]:
    query = (select(Trunk, Client.account_code, PhoneNumber.e164)
             .join(Client, Trunk.client_id == Client.id)
             .outerjoin(PhoneNumber, Trunk.e911_number_id == PhoneNumber.id)
             .order_by(Client.account_code, Trunk.name))
    for t, account, e911_number in session.execute(query):
        yield {"client": account, "name": t.name, "auth": t.auth_mode, "source_addresses": _spaced(t.source_addresses),
               "username": _cell(t.username), "e911_number": _cell(e911_number), "max_channels": t.max_channels,
               "did_format": t.did_format, "pbx_port": t.pbx_port, "codecs": _spaced(t.codecs), "password": _cell(t.password)}


TRUNKS = KindSpec(
    kind="trunks",
    columns=(
        Column("client", "client"), Column("name", "name"), Column("auth", "auth_mode"),
        Column("source_addresses", "source_addresses"), Column("username", "username"),
        Column("e911_number", "e911_number"), Column("max_channels", "max_channels"),
        Column("did_format", "did_format"), Column("pbx_port", "pbx_port"), Column("codecs", "codecs"),
        Column("password", "password", secret=True),
    ),
    required=("client", "name"),
    key_parsers={"client": clients.FIELDS["account_code"].parse, "name": trunks.FIELDS["name"].parse},
    service=trunks,
    export_rows=_trunk_rows,
)

# --- numbers ----------------------------------------------------------------------------------

NUMBER_COLUMNS = ("number", "carrier", "client", "trunk", "e911_registered", "e911_address", "port_status", "port_target_carrier")


def number_export_query():
    """One row per number with the names its references are written as, in E.164 order."""
    holder, target = aliased(Carrier), aliased(Carrier)
    return (select(PhoneNumber.e164, holder.name, Client.account_code, Trunk.name, PhoneNumber.e911_registered,
                   PhoneNumber.e911_address, PhoneNumber.port_status, target.name)
            .join(holder, PhoneNumber.carrier_id == holder.id)
            .outerjoin(Client, PhoneNumber.client_id == Client.id)
            .outerjoin(Trunk, PhoneNumber.trunk_id == Trunk.id)
            .outerjoin(target, PhoneNumber.port_target_carrier_id == target.id)
            .order_by(PhoneNumber.e164))


def _number_rows(session: Session) -> Iterator[dict]:
    result = session.execute(number_export_query().execution_options(yield_per=5000))
    for e164, carrier, account, trunk, registered, address, port_status, target in result:
        yield {"number": e164, "carrier": carrier, "client": _cell(account), "trunk": _cell(trunk),
               "e911_registered": _yes(registered), "e911_address": _cell(address), "port_status": port_status,
               "port_target_carrier": _cell(target)}


NUMBERS = KindSpec(
    kind="numbers",
    columns=tuple(Column(n, n) for n in NUMBER_COLUMNS),
    required=("number", "carrier"),
    key_parsers={"number": numbers.FIELDS["number"].parse},
    service=numbers,
    export_rows=_number_rows,
)

SPECS: dict[str, KindSpec] = {s.kind: s for s in (CARRIERS, NODES, CLIENTS, TRUNKS, NUMBERS)}
KINDS = tuple(SPECS)  # also the order in which a whole platform is imported
