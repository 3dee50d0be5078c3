"""NANP service codes (N11 and 988): which exist, how a carrier wants them dialled, which a client may block.

Sources: the CRTC's N11 assignments in Canada (211 community information, 311 municipal services,
411 directory, 511 traveller information, 611 repair, 711 relay service for deaf and hard-of-hearing
callers, 811 health information, 911 emergency) and Telecom Regulatory Policy CRTC 2022-234 (988,
the suicide crisis line, mandatory since 2023-11-30). 911 is not handled here: it follows the E911
cascade (app/e911.py).

A list of codes is stored and written as the codes separated by single spaces, in the order of CODES
(`"211 311 988"`); the words `all` and `none` may be typed. The database constraints that mirror these
rules are `service_codes_check_sql` and `blocked_codes_check_sql`.
"""

from __future__ import annotations

import re
from typing import Any

from app.services.fields import FieldError

CODES = ("211", "311", "411", "511", "611", "711", "811", "988")
ALL = " ".join(CODES)
# 988 (suicide crisis line) and 711 (relay for deaf and hard-of-hearing callers) reach people in need
# of help or who have no other way to call: a client may never block them.
NEVER_BLOCKED = ("711", "988")
# Uncounted and never refused by a channel cap: emergency and crisis calls (issue 9).
UNCAPPED = ("988",)

# How a carrier wants a service code written in the Request-URI: the 3 digits (default), 1 + the
# 3 digits, or +1 + the 3 digits.
DIAL_FORMS = {"code": "the 3 digits (311)", "1code": "1 + the 3 digits (1311)", "+1code": "+1 + the 3 digits (+1311)"}
DIAL_FORM_CODES = {"code": "3", "1code": "4", "+1code": "p"}  # how the static dialplan spells a dial form


def parse_list(value: Any) -> str:
    """Codes separated by spaces or commas (any order, repeats ignored; `all`, `none`) -> stored form.

    Raises FieldError naming every unknown code.
    """
    items = value if isinstance(value, (list, tuple)) else re.split(r"[\s,;]+", str(value or "").strip())
    words = [str(i).strip().lower() for i in items if str(i).strip()]
    if words in (["none"], []):
        return ""
    if words == ["all"]:
        return ALL
    wrong = [w for w in words if w not in CODES]
    if wrong:
        if "911" in wrong:
            raise FieldError("911 is not a service code here: it always follows the E911 cascade")
        raise FieldError(f"{', '.join(wrong)}: not a service code; use any of {', '.join(CODES)} (or all, none)")
    return " ".join(c for c in CODES if c in words)


def parse_accepted(value: Any) -> str:
    """A carrier's accepted codes (blank: all, the default; `none` for none)."""
    return parse_list(value)


def parse_blocked(value: Any) -> str:
    """A client's blocked codes; 711 and 988 refused with the reason."""
    codes = parse_list(value)
    never = [c for c in NEVER_BLOCKED if c in codes.split()]
    if never:
        raise FieldError(f"{' and '.join(never)} can never be blocked: 988 is the suicide crisis line and 711 the relay "
                         "service for deaf and hard-of-hearing callers (CRTC)")
    return codes


def parse_dial_form(value: Any) -> str:
    """One of DIAL_FORMS."""
    word = str(getattr(value, "value", value)).strip().lower()
    if word not in DIAL_FORMS:
        raise FieldError(f"'{value}' is not one of: {', '.join(DIAL_FORMS)}")
    return word


def export_list(codes: str, *, empty: str) -> str:
    """The CSV cell of a stored list: `all` for every code, EMPTY ('none' or '') for no code."""
    if not codes:
        return empty
    return "all" if codes == ALL else codes


def _leftover_sql(column: str) -> str:
    expr = column
    for code in CODES:
        expr = f"REPLACE({expr}, '{code}', '')"
    return f"REPLACE({expr}, ' ', '')"


def service_codes_check_sql(column: str) -> str:
    """SQL (SQLite and MariaDB) true when COLUMN holds only known codes and spaces."""
    return f"{_leftover_sql(column)} = ''"


def blocked_codes_check_sql(column: str) -> str:
    """Like service_codes_check_sql, and neither 711 nor 988 in it."""
    never = " AND ".join(f"{column} NOT LIKE '%{c}%'" for c in NEVER_BLOCKED)
    return f"{service_codes_check_sql(column)} AND {never}"
