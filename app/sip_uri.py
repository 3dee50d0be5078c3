"""SIP URI parts of what sysadmins type (RFC 3261 section 25.1 grammar)."""

from __future__ import annotations

import re

from app.services.fields import FieldError, hostname, ip_address

# RFC 3261 section 25.1: user = 1*( unreserved / escaped / user-unreserved ). Escapes (%XX) are not
# accepted: Asterisk would send them as typed, and a carrier's account name never needs one.
# ';' is valid there too, but Asterisk's realtime drivers split a column value at ';' (res_config_odbc).
_SIP_USER_RE = re.compile(r"^[A-Za-z0-9\-_.!~*'()&=+$,?/]+$")
_SIP_USER_CHARS = "letters, digits and - _ . ! ~ * ' ( ) & = + $ , ? /"


def split_username(username: str) -> tuple[str, str | None]:
    """A registration username `user` or `user@domain` -> (user, registrar domain or None).

    `user@domain` is how registration-based carriers give an account (e.g. 1234567@sip.example): the
    user goes in the digest username and the Contact user, the domain in the registration's URIs
    (Asterisk res_pjsip_outbound_registration: client_uri is the AOR in To, e.g. 1234567890@example.com;
    server_uri the registrar, e.g. sip:sip.example.com). Raises FieldError naming a character that
    cannot stand in a SIP URI (RFC 3261 section 25.1) or a domain that is not a host name or IP address.
    """
    user, at, domain = str(username).strip().partition("@")
    if not user:
        raise FieldError("has no user before the @ (write it as user or user@domain, e.g. 1234567@sip.example)")
    if ";" in user:
        raise FieldError("';' cannot be used in the user: Asterisk's realtime database drivers read it as the "
                         "separator of several values")
    bad = sorted({ch for ch in user if not _SIP_USER_RE.match(ch)})
    if bad:
        shown = ", ".join("a space" if ch == " " else f"'{ch}'" for ch in bad)
        raise FieldError(f"{shown} cannot stand in the user part of a SIP URI (RFC 3261): use {_SIP_USER_CHARS}")
    if len(user) > 40:
        raise FieldError(f"the user part is {len(user)} characters; Asterisk's ps_auths.username and "
                         "ps_registrations.contact_user hold at most 40")
    if not at:
        return user, None
    if "@" in domain:
        raise FieldError("has more than one @ (write it as user@domain, e.g. 1234567@sip.example)")
    if len(domain) > 40:
        raise FieldError(f"the domain after the @ is {len(domain)} characters; Asterisk's ps_endpoints.from_domain "
                         "holds at most 40")
    try:
        return user, ip_address(domain)
    except FieldError:
        pass
    try:
        return user, hostname(domain)
    except FieldError:
        raise FieldError(f"'{domain}' after the @ is not a host name or IP address (e.g. 1234567@sip.example)") from None
