"""NANP number rules and formats: the one place that parses and formats phone numbers."""

from __future__ import annotations

import re
from enum import StrEnum

import phonenumbers
from phonenumbers import PhoneNumberType

from app.nanp_validity import is_valid_nanp


class NumberFormat(StrEnum):
    """How a carrier (or a PBX) wants a NANP number written."""

    E164 = "e164"  # +12045551234
    NANP11 = "nanp11"  # 12045551234
    NANP10 = "nanp10"  # 2045551234


FORMAT_LABELS = {
    NumberFormat.E164: "+E.164 (+12045551234)",
    NumberFormat.NANP11: "11 digits (12045551234)",
    NumberFormat.NANP10: "10 digits (2045551234)",
}


class InvalidNumber(ValueError):
    """A number that is not an assignable NANP number; str() is the plain-words reason."""


# Extensions are refused, so anything after these markers means one was given.
_EXTENSION_RE = re.compile(r"(?:ext\.?|x|#|;ext=)\s*\d+\s*$", re.IGNORECASE)
_ALLOWED_CHARS_RE = re.compile(r"^[\d\s().+\-]+$")


def parse_nanp(text: str | None) -> str:
    """Return the E.164 form of a NANP number written in any usual way, or raise InvalidNumber."""
    raw = (text or "").strip()
    if not raw:
        raise InvalidNumber("a phone number is required")
    # Plain digits, the common spelling in bulk files, skip the pattern checks that cannot fail.
    digits = raw if raw.isascii() and raw.isdigit() else _digits_of_spelling(raw)
    if raw.startswith("+") and not digits.startswith("1"):
        raise InvalidNumber(f"'{raw}' is not a NANP number (country code +1 only)")
    if raw.startswith("011"):
        raise InvalidNumber(f"'{raw}' is an international number, not a NANP number")
    if len(digits) == 11 and digits.startswith("1"):
        digits = digits[1:]
    if len(digits) != 10:
        raise InvalidNumber(f"'{raw}' has {len(digits)} digits: a NANP number has 10 (or 11 starting with 1)")
    _check_nanp_structure(digits)
    # phonenumbers' own verdict, remembered per area code and exchange (see app/nanp_validity.py).
    if not is_valid_nanp(digits):
        raise InvalidNumber(f"'{raw}' is not a valid NANP number: {digits[:3]}-{digits[3:6]} is not an area code and exchange in service")
    return "+1" + digits


def _digits_of_spelling(raw: str) -> str:
    """The digits of a number written with punctuation; refuses extensions and foreign characters."""
    if _EXTENSION_RE.search(raw):
        raise InvalidNumber("extensions are not allowed: give the 10-digit number only")
    if not _ALLOWED_CHARS_RE.match(raw):
        raise InvalidNumber(f"'{raw}' is not a phone number (only digits, spaces, dashes, dots, brackets and a leading + are allowed)")
    return re.sub(r"\D", "", raw)


def _check_nanp_structure(ten: str) -> None:
    """Refuse what the NANP plan itself forbids, with the reason a sysadmin can act on."""
    npa, nxx, line = ten[:3], ten[3:6], ten[6:]
    if npa[0] in "01":
        raise InvalidNumber(f"area code {npa} is invalid: it cannot start with 0 or 1")
    if npa[1:] == "11":
        raise InvalidNumber(f"area code {npa} is an N11 code (service code such as 411 or 911), not a phone number")
    if nxx[0] in "01":
        raise InvalidNumber(f"exchange {nxx} is invalid: it cannot start with 0 or 1")
    if nxx[1:] == "11":
        raise InvalidNumber(f"exchange {nxx} is an N11 code (service code such as 411 or 911), not a phone number")
    if nxx == "555" and line.startswith("01"):
        raise InvalidNumber(f"555-{line} is in 555-0100..0199, reserved for fictional use and never assigned")


def try_parse_nanp(text: str | None) -> str | None:
    """Return the E.164 form, or None when the text is not a valid NANP number."""
    try:
        return parse_nanp(text)
    except InvalidNumber:
        return None


def format_number(e164: str, fmt: NumberFormat | str) -> str:
    """Write an E.164 NANP number in the given format: the digits exactly as they are sent."""
    fmt = NumberFormat(fmt)
    if not (len(e164) == 12 and e164.startswith("+1") and e164[1:].isdigit()):
        raise InvalidNumber(f"'{e164}' is not a stored E.164 NANP number")
    if fmt is NumberFormat.E164:
        return e164
    if fmt is NumberFormat.NANP11:
        return e164[1:]
    return e164[2:]


def display(e164: str) -> str:
    """Human-friendly form for screens, e.g. (204) 555-1234."""
    parsed = phonenumbers.parse(e164, None)
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)


def region_of(e164: str) -> str | None:
    """ISO region (CA, US, JM, ...) of a stored number."""
    return phonenumbers.region_code_for_number(phonenumbers.parse(e164, None))


def is_toll_free(e164: str) -> bool:
    """True for 8XX toll-free numbers."""
    return phonenumbers.number_type(phonenumbers.parse(e164, None)) == PhoneNumberType.TOLL_FREE
