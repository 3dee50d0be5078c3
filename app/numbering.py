"""NANP number rules and formats: the one place that parses and formats phone numbers."""

from __future__ import annotations

import re
import unicodedata
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
_EXTENSION_RE = re.compile(r"(?:ext\.?|x|#|;ext=)\s*\d+\s*$", re.IGNORECASE | re.ASCII)
_ALLOWED_CHARS_RE = re.compile(r"^[\d\s().+\-]+$", re.ASCII)
# What a spreadsheet makes of a number it stored as a number: 2045551220.0, 2.04556E+09 (2,04556E+09 in
# French-Canadian settings, where the decimal separator is a comma).
_SPREADSHEET_FLOAT_RE = re.compile(r"^\+?\d{10,11}[.,]0+$", re.ASCII)
_SPREADSHEET_SCI_RE = re.compile(r"^\+?\d(?:[.,]\d+)?E\+?\d{1,2}$", re.ASCII | re.IGNORECASE)
_DASHES = dict.fromkeys(map(ord, "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe63"), "-")
_FULLWIDTH_OFFSET = 0xFF01 - 0x21  # U+FF01..U+FF5E are full-width twins of ASCII ! .. ~


def ascii_forms(text: str) -> str:
    """The text with every character that has an ASCII twin replaced by it; anything else is kept.

    The one normalisation every input goes through before any rule runs (fields.clean for every field
    of every service, so forms, CSV and CLI alike; parse_nanp for direct callers): decimal digits of
    any script (Unicode category Nd: full-width ２, Arabic-Indic ٢, Extended Arabic-Indic ۲, Devanagari
    २, ...) become 0-9, full-width forms (U+FF01..U+FF5E, typed by Japanese, Chinese and Korean IMEs)
    their ASCII letters and signs, and every space separator (no-break U+00A0, narrow no-break U+202F,
    which French-Canadian settings put between thousands, ideographic U+3000) a plain space. What is
    left that is not ASCII is refused by the parsers of numbers, ports, counts, names and addresses,
    which accept ASCII only; free text (an E911 address) keeps its accents.
    """
    if text.isascii():
        return text
    out = []
    for ch in text:
        if ch.isascii():
            out.append(ch)
            continue
        digit = unicodedata.decimal(ch, None)
        if digit is not None:
            out.append(str(digit))
        elif 0xFF01 <= ord(ch) <= 0xFF5E:
            out.append(chr(ord(ch) - _FULLWIDTH_OFFSET))
        elif unicodedata.category(ch) == "Zs":
            out.append(" ")
        else:
            out.append(ch)
    return "".join(out)


def foreign_character(text: str) -> str | None:
    """Plain words for the first non-ASCII character of text (`'²' (SUPERSCRIPT TWO)`), or None."""
    for ch in text:
        if not ch.isascii():
            return f"'{ch}' ({unicodedata.name(ch, f'U+{ord(ch):04X}')})"
    return None


def spreadsheet_number(raw: str) -> str | None:
    """The reason a value looks like a phone number a spreadsheet turned into a number, or None.

    A spreadsheet that reads 2045551220 as a number writes it back as 2045551220.0 (pandas, some
    exports) or, in a narrow column, 2.04556E+09, which has lost the last digits for good.
    """
    keep = ("format the column as Text before typing or pasting the numbers (or type a leading apostrophe: "
            "'2045551234), then save again")
    if _SPREADSHEET_FLOAT_RE.match(raw):
        digits = re.split(r"[.,]", raw)[0]
        return f"'{raw}' looks like a spreadsheet number (it added '{raw[len(digits):]}'): did you mean {digits}? To keep numbers as text, {keep}"
    if _SPREADSHEET_SCI_RE.match(raw):
        return (f"'{raw}' is a number in a spreadsheet's scientific notation: its last digits are lost. "
                f"Take the numbers from the original source and {keep}")
    return None


def parse_nanp(text: str | None) -> str:
    """Return the E.164 form of a NANP number written in any usual way, or raise InvalidNumber."""
    raw = ascii_forms(text or "").strip()
    if not raw:
        raise InvalidNumber("a phone number is required")
    if not raw.isascii():
        # Dashes of word processors; invisible format characters (Unicode Cf: zero-width space, the
        # left-to-right and right-to-left marks that come with numbers copied from Arabic text).
        raw = "".join(ch for ch in raw.translate(_DASHES) if unicodedata.category(ch) != "Cf")
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
    reason = spreadsheet_number(raw)
    if reason:
        raise InvalidNumber(reason)
    if not _ALLOWED_CHARS_RE.match(raw):
        foreign = foreign_character(raw)
        if foreign:
            raise InvalidNumber(f"'{raw}' is not a phone number: {foreign} is not a digit, space, dash, dot or bracket")
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
