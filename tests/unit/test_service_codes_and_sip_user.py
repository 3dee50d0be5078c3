"""Service-code lists (N11, 988) and carrier usernames as registration-based carriers hand them out."""

from __future__ import annotations

import pytest

from app import service_codes as sc
from app.services.fields import FieldError
from app.sip_uri import split_username


@pytest.mark.parametrize("typed, stored", [
    ("", ""), ("none", ""), ("NONE", ""), ("all", sc.ALL), (" All ", sc.ALL),
    ("988 711", "711 988"), ("311,211", "211 311"), ("411; 411 ;611", "411 611"),
    ("211 311 411 511 611 711 811 988", sc.ALL), (["811", "211"], "211 811"),
])
def test_code_lists_are_read_in_any_spelling_and_stored_in_one_order(typed, stored):
    assert sc.parse_list(typed) == stored


@pytest.mark.parametrize("typed, reason", [
    ("912", "912: not a service code"),
    ("311 0", "0: not a service code"),
    ("911", "911 is not a service code here: it always follows the E911 cascade"),
    ("all 311", "all: not a service code"),
])
def test_unknown_codes_are_refused_with_the_reason(typed, reason):
    with pytest.raises(FieldError, match=reason):
        sc.parse_list(typed)


@pytest.mark.parametrize("typed", ["988", "711", "211 988", "all", "711,411"])
def test_988_and_711_can_never_be_blocked(typed):
    with pytest.raises(FieldError, match="can never be blocked: 988 is the suicide crisis line and 711 the relay"):
        sc.parse_blocked(typed)


def test_other_codes_can_be_blocked():
    assert sc.parse_blocked("411 211 811") == "211 411 811"
    assert sc.parse_blocked("") == ""


def test_dial_forms():
    assert [sc.parse_dial_form(v) for v in ("code", "1CODE", " +1code ")] == ["code", "1code", "+1code"]
    with pytest.raises(FieldError, match="is not one of: code, 1code, \\+1code"):
        sc.parse_dial_form("e164")


def test_export_cells_import_back():
    for stored in ("", sc.ALL, "711 988", "211"):
        assert sc.parse_accepted(sc.export_list(stored, empty="none")) == stored
        assert sc.parse_list(sc.export_list(stored, empty="")) == stored


@pytest.mark.parametrize("typed, split", [
    ("1234567@sip.example", ("1234567", "sip.example")),          # the case
    ("acct_77@SIP.Provider.example.com", ("acct_77", "sip.provider.example.com")),
    ("4165550100@192.0.2.10", ("4165550100", "192.0.2.10")),
    ("user.name-1", ("user.name-1", None)),                         # no domain: as before
    (" 12345 ", ("12345", None)),
    ("a+b=c$d!e~f*g'h(i)j&k,l?m/n@example.net", ("a+b=c$d!e~f*g'h(i)j&k,l?m/n", "example.net")),
])
def test_usernames_split_into_user_and_registrar_domain(typed, split):
    assert split_username(typed) == split


@pytest.mark.parametrize("typed, reason", [
    ("12 34@sip.example", "a space cannot stand in the user part of a SIP URI"),
    ("joe<x>@sip.example", "'<', '>' cannot stand in the user part of a SIP URI"),
    ('"joe"', "'\"' cannot stand in the user part"),
    ("caf\u00e9@sip.example", "'\u00e9' cannot stand in the user part"),
    ("a;b@sip.example", "';' cannot be used in the user: Asterisk's realtime"),
    ("%41bc", "'%' cannot stand in the user part"),
    ("@sip.example", "has no user before the @"),
    ("a@b@sip.example", "has more than one @"),
    ("1234567@sip_example!", "'sip_example!' after the @ is not a host name or IP address"),
    ("1234567@", "'' after the @ is not a host name"),
    ("x" * 41, "the user part is 41 characters"),
])
def test_usernames_that_cannot_stand_in_a_sip_uri_are_refused_with_the_reason(typed, reason):
    with pytest.raises(FieldError, match=reason.replace("(", "\\(").replace("$", "\\$")):
        split_username(typed)
