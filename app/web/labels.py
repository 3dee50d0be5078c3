"""Plain words for the codes stored in the database: one place, used by lists, filters, detail pages and the audit log.

The codes stay what the CSV files, the CLI and the database use; only what people read changes.
"""

from __future__ import annotations

from app.numbering import FORMAT_LABELS

FORMATS = {f.value: label for f, label in FORMAT_LABELS.items()}  # e164 -> "+E.164 (+12045551234)", nanp10 -> "10 digits (...)"
CARRIER_AUTH = {"ip": "By IP address", "register": "By registration (username and password)"}
TRUNK_AUTH = {"ip": "By source IP address", "credentials": "By username and password"}
TIERS = {"1": "Tier 1", "2": "Tier 2 (reseller)"}
NODE_ROLES = {"client": "Faces one client", "carrier": "Faces the carriers"}
NODE_STATES = {"active": "Active", "draining": "Draining (no new use; being replaced)", "retired": "Retired"}
CLIENT_STATUS = {"active": "Active", "suspended": "Suspended", "closed": "Closed"}
PORT_STATUS = {"active": "Active", "port_in_pending": "Port pending", "ported_out": "Ported out"}
PORT_ORDER_STATUS = {"pending": "Pending", "completed": "Completed", "cancelled": "Cancelled"}
USER_ROLES = {"admin": "Admin (everything)", "operator": "Operator (telecom data)", "viewer": "Viewer (read only)"}
CHANNELS = {"form": "web form", "action": "web (list action or button)", "csv": "CSV import", "cli": "command line",
            "seed": "demo data"}
ACTIONS = {"create": "created", "update": "changed", "delete": "deleted", "reveal": "password shown", "import": "imported",
           "replace_node": "node replaced", "complete": "completed", "cancel": "cancelled"}
ENTITIES = {"carrier": "carrier", "node": "node", "client": "client", "trunk": "trunk", "number": "number",
            "port_order": "port order", "user": "sign-in account"}
FIELDS = {"auth_mode": "authentication", "signalling_addresses": "signalling addresses", "callerid_format": "caller ID format",
          "e911_callerid_format": "911 caller ID format", "dial_format": "dialled number format", "send_pai": "sends P-Asserted-Identity",
          "provides_911": "provides 911", "max_channels": "maximum channels", "public_ip": "public IP", "sip_port": "SIP port",
          "hosting_provider": "hosting provider", "dns_name": "DNS name", "account_code": "account code",
          "e911_number": "E911 number", "main_number": "main number", "source_addresses": "source addresses",
          "pbx_port": "PBX SIP port", "did_format": "DID format", "e911_registered": "registered for E911",
          "e911_address": "E911 service address", "port_status": "port status", "port_target_carrier": "porting to carrier",
          "due_date": "due date", "from_carrier": "from carrier", "to_carrier": "to carrier", "e164": "number"}
# Per field: which words a value of that field takes (the audit diff and the detail pages use these).
VALUE_WORDS = {"callerid_format": FORMATS, "e911_callerid_format": FORMATS, "dial_format": FORMATS, "did_format": FORMATS,
               "tier": TIERS, "role": {**NODE_ROLES, **USER_ROLES}, "state": NODE_STATES, "status": {**CLIENT_STATUS, **PORT_ORDER_STATUS},
               "port_status": PORT_STATUS}


def choices(words: dict) -> list[tuple[str, str]]:
    """(code, words) pairs for Flask-Admin's column_choices (lists, detail pages and filter drop-downs)."""
    return list(words.items())


def yes_no(value) -> str:
    return "yes" if value else "no"


def field(name: str) -> str:
    """A column name in plain words: `e911_callerid_format` -> `911 caller ID format`."""
    return FIELDS.get(name, name.replace("_", " "))


def value(name: str, raw, entity: str | None = None) -> str:
    """A stored value in plain words for field `name` (booleans yes/no, codes by VALUE_WORDS, empty as —)."""
    if isinstance(raw, bool):
        return yes_no(raw)
    if raw is None or raw == "":
        return "—"
    if name == "auth_mode":
        words = CARRIER_AUTH if entity == "carrier" else TRUNK_AUTH
        return words.get(str(raw), str(raw))
    words = VALUE_WORDS.get(name)
    if words is not None:
        return words.get(str(raw), str(raw))
    return str(raw)
