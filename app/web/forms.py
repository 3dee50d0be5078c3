"""Admin forms: plain text and choices; the domain services do all the checking and say what is wrong."""

from __future__ import annotations

from wtforms import BooleanField, PasswordField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Optional

from app.numbering import FORMAT_LABELS
from app.service_codes import CODES as SERVICE_CODES
from app.service_codes import DIAL_FORMS as SERVICE_DIAL_FORMS
from app.web.views.base import SecureForm


def options(pairs) -> list[SelectChoice]:
    """Select options from (value, label) pairs."""
    return [SelectChoice(value, label) for value, label in pairs]


FORMAT_CHOICES = options((f.value, label) for f, label in FORMAT_LABELS.items())


def _text(label, description=None, **kw):
    return StringField(label, description=description, filters=[lambda v: v.strip() if isinstance(v, str) else v], **kw)


class CarrierForm(SecureForm):
    name = _text("Name", "Short lowercase name, e.g. telus (used in Asterisk object names).")
    tier = SelectField("Tier", choices=options([("1", "Tier 1"), ("2", "Tier 2 (reseller)")]), default="1")
    auth_mode = SelectField("Authentication", choices=options([("ip", "By IP address"), ("register", "By registration (username and password)")]))
    signalling_addresses = _text("Signalling addresses", "IP addresses or networks the carrier sends from, separated by spaces; "
                                 "the first host is where calls are sent.")
    port = _text("SIP port", default="5060")
    username = _text("Username", "Only for registration.")
    password = PasswordField("Password", description="Only for registration. Left empty on edit: unchanged.")
    callerid_format = SelectField("Caller ID format", choices=FORMAT_CHOICES)
    e911_callerid_format = SelectField("911 caller ID format", choices=FORMAT_CHOICES)
    dial_format = SelectField("Dialled number format", choices=FORMAT_CHOICES)
    send_pai = BooleanField("Send P-Asserted-Identity", description="On every call: the caller ID also in a "
                            "P-Asserted-Identity header (RFC 3325), for carriers that read it there.")
    privacy_mode = SelectField(
        "Caller-ID privacy", choices=options([
            ("pai", "RFC 3325: anonymous From, caller ID in P-Asserted-Identity, Privacy: id (default)"),
            ("rpid", "Remote-Party-ID: anonymous From, caller ID in Remote-Party-ID with privacy=full")]),
        default="pai",
        description="How this carrier wants a call whose caller asked for privacy (anonymous From, Privacy: id or *67) "
                    "to be marked. The caller ID is always sent, checked, in this carrier's format; only the header "
                    "differs. Remote-Party-ID is sent on every call (privacy=off when the caller ID may be shown). "
                    "911 calls ignore privacy.")
    provides_911 = BooleanField("Provides 911")
    priority = _text("Priority", "Lower is tried first.", default="10")
    max_channels = _text("Maximum channels", "Simultaneous calls through this carrier, counted on each carrier node "
                         "(with several carrier nodes the whole fleet can carry up to this many per node); over it a call "
                         "moves on to the next carrier. 911 and 988 are never refused or counted. 0 means no limit.",
                         default="0")
    enabled = BooleanField("Enabled", default=True)
    service_codes = _text("Service codes accepted", "N11 and 988 codes this carrier carries, separated by spaces "
                          f"(any of {', '.join(SERVICE_CODES)}); 'all' (the default when empty) or 'none'. "
                          "911 always follows the E911 cascade.", default="all")
    service_code_format = SelectField("Service code dial form", choices=options(SERVICE_DIAL_FORMS.items()), default="code",
                                      description="How the carrier wants a service code in the Request-URI, "
                                                  "whatever the PBX dialled (311 or 1311).")


class NodeForm(SecureForm):
    name = _text("Name", "e.g. cl-ovh-bhs7")
    role = SelectField("Role", choices=options([("client", "Faces one client"), ("carrier", "Faces the carriers")]))
    public_ip = _text("Public IP address")
    sip_port = _text("SIP port", default="5060")
    hosting_provider = _text("Hosting provider", "e.g. OVHcloud, Vultr")
    region = _text("Region")
    dns_name = _text("DNS name", "The name the client's PBX uses, e.g. acme.trunk.example.net")
    state = SelectField("State", choices=options([("active", "Active"), ("draining", "Draining"), ("retired", "Retired")]))


class ClientForm(SecureForm):
    name = _text("Name")
    account_code = _text("Account code", "2-20 letters, digits or _, e.g. ACME")
    status = SelectField("Status", choices=options([("active", "Active"), ("suspended", "Suspended"), ("closed", "Closed")]))
    max_channels = _text("Maximum channels", "Simultaneous calls of all its trunks, both directions, counted on its node; "
                         "over it: 503 to its PBX, 486 to the carrier. 911 and 988 are never refused or counted. "
                         "0 means no limit.", default="10")
    blocked_service_codes = _text("Blocked service codes", "Service codes its PBXs may not dial, separated by spaces "
                                  "(any of 211 311 411 511 611 811); empty: none. 988 (suicide crisis line) and 711 "
                                  "(relay service) can never be blocked.")
    node = SelectField("Node", choices=[], validate_choice=False, description="A client-facing node that serves no other client.")
    e911_number = _text("Default E911 number", "A number of this client registered for 911 (any spelling).")
    main_number = _text("Main number", "A number of this client (any spelling).")
    alert_emails = _text("911 alert emails", "Who is emailed within seconds of every 911 call from this client: addresses "
                         "separated by spaces or commas, e.g. noc@acme.example security@acme.example")
    alert_webhook = _text("911 alert webhook", "Optional: a web address that receives every 911 call as JSON (POST), "
                          "e.g. https://alerts.acme.example/911")


class TrunkForm(SecureForm):
    client = SelectField("Client", choices=[], validate_choice=False)
    name = _text("Name", "e.g. main")
    auth_mode = SelectField("Authentication", choices=options([("ip", "By source IP address"), ("credentials", "By username and password")]))
    source_addresses = _text("Source addresses", "The PBX's IP addresses or networks, separated by spaces.")
    pbx_port = _text("PBX SIP port", default="5060")
    username = _text("Username", "Credentials only; empty: ACCOUNT_name.")
    password = PasswordField("Password", description="Credentials only; empty: a strong one is generated (shown once).")
    e911_number = _text("Trunk E911 number", "Optional: a number of this client registered for 911.")
    codecs = _text("Codecs", "In order of preference, e.g. ulaw,alaw", default="ulaw,alaw")
    max_channels = _text("Maximum channels", "Simultaneous calls of this trunk, both directions; over it: 503 to the PBX, "
                         "486 to the carrier. 911 and 988 are never refused or counted. 0 means no limit.", default="0")
    did_format = SelectField("DID format sent to the PBX", choices=options([("e164", "+E.164"), ("nanp11", "11 digits"), ("nanp10", "10 digits")]))


class NumberForm(SecureForm):
    number = _text("Number", "Any NANP spelling: 204-555-1234, (204) 555-1234, +12045551234")
    carrier = SelectField("Carrier", choices=[], validate_choice=False, description="The upstream carrier that holds the number.")
    client = SelectField("Client", choices=[], validate_choice=False)
    trunk = _text("Trunk", "The name of a trunk of that client, e.g. main.")
    e911_registered = BooleanField("Registered for E911")
    e911_address = TextAreaField("E911 service address", validators=[Optional()])
    port_status = SelectField("Port status", choices=options([("active", "Active"), ("port_in_pending", "Port pending"),
                                                              ("ported_out", "Ported out")]))
    port_target_carrier = SelectField("Porting to carrier", choices=[], validate_choice=False)


class PortOrderForm(SecureForm):
    from_carrier = SelectField("From carrier", choices=[], validate_choice=False)
    to_carrier = SelectField("To carrier", choices=[], validate_choice=False)
    due_date = _text("Due date", "YYYY-MM-DD")
    numbers = TextAreaField("Numbers", description="One per line (or separated by commas), any NANP spelling.")
    note = TextAreaField("Note", validators=[Optional()])


class UserForm(SecureForm):
    email = _text("E-mail address")
    role = SelectField("Role", choices=options([("viewer", "Viewer (read only)"), ("operator", "Operator (telecom data)"),
                                                ("admin", "Admin (everything)")]))
    active = BooleanField("Active", default=True)
    password = PasswordField("Password", description="At least 12 characters. Empty: on creation one is generated and shown once; "
                                                     "on edit unchanged.")


class ReplaceNodeForm(SecureForm):
    name = _text("New node name", "e.g. cl-vultr-tor4")
    public_ip = _text("New public IP address")
    hosting_provider = _text("Hosting provider", "Empty: same as the old node.")
    region = _text("Region", "Empty: same as the old node.")
    sip_port = _text("SIP port", "Empty: same as the old node.")
