"""Field parsers shared by every service: strings (CSV, CLI) or typed values (forms) in, clean values out."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from app.errors import ValidationError
from app.numbering import ascii_forms

_IDENT_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
_ACCOUNT_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_]{1,19}$")
_HOST_RE = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+$")
_TRUE = {"1", "yes", "true", "y", "on"}
_FALSE = {"0", "no", "false", "n", "off", ""}

CODECS = ("ulaw", "alaw", "g722", "g729", "opus", "gsm")


class FieldError(ValueError):
    """A single field's value is wrong; str() is the plain-words reason."""


def blank(value: Any) -> bool:
    """True for None and whitespace-only strings."""
    return value is None or (isinstance(value, str) and not value.strip())


def text(value: Any, max_len: int = 255) -> str:
    """Trimmed text of at most max_len characters."""
    value = str(value).strip()
    if len(value) > max_len:
        raise FieldError(f"is too long ({len(value)} characters, at most {max_len})")
    return value


def ident(value: Any) -> str:
    """A short lowercase name used inside Asterisk object names."""
    value = str(value).strip()
    if not _IDENT_RE.match(value):
        raise FieldError(f"'{value}' is not allowed: use 1-32 lowercase letters, digits, '-' or '_', starting with a letter or digit")
    return value


def account_code(value: Any) -> str:
    """A client account code (letters, digits, underscore; 2-20)."""
    value = str(value).strip()
    if not _ACCOUNT_RE.match(value):
        raise FieldError(f"'{value}' is not allowed: use 2-20 letters, digits or '_', starting with a letter or digit")
    return value


def boolean(value: Any) -> bool:
    """yes/no, true/false, 1/0 (any case) or a bool."""
    if isinstance(value, bool):
        return value
    word = str(value).strip().lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise FieldError(f"'{value}' is not yes/no, true/false or 1/0")


def normalise(value: Any) -> Any:
    """Input as given, with characters that have an ASCII twin made ASCII (numbering.ascii_forms).

    Applied to every value before its parser runs (clean, and the CSV natural keys), so full-width or
    Arabic-Indic digits in a port, a channel count, an address or a name are read as 0-9, in forms,
    CSV and CLI alike. Lists are normalised item by item; other types are returned unchanged.
    """
    if isinstance(value, str):
        return ascii_forms(value)
    if isinstance(value, (list, tuple)):
        return type(value)(ascii_forms(v) if isinstance(v, str) else v for v in value)
    return value


_FLOAT_INT_RE = re.compile(r"^\d+[.,]0+$", re.ASCII)
_INT_RE = re.compile(r"^[+-]?\d+$", re.ASCII)


def integer(low: int, high: int) -> Callable[[Any], int]:
    """A parser for a whole number between low and high (ASCII digits)."""
    def parse(value: Any) -> int:
        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        else:
            word = str(value).strip()
            if not _INT_RE.match(word):
                if _FLOAT_INT_RE.match(word):
                    raise FieldError(f"'{word}' looks like a spreadsheet number: write the whole number {re.split('[.,]', word)[0]}")
                raise FieldError(f"'{value}' is not a whole number")
            number = int(word)
        if not low <= number <= high:
            raise FieldError(f"{number} is out of range ({low} to {high})")
        return number
    return parse


def choice(options: list[str] | tuple[str, ...]) -> Callable[[Any], str]:
    """A parser accepting one of the options (case-insensitive)."""
    def parse(value: Any) -> str:
        word = str(getattr(value, "value", value)).strip().lower()
        if word not in options:
            raise FieldError(f"'{value}' is not one of: {', '.join(options)}")
        return word
    return parse


def ip_address(value: Any) -> str:
    """A single IPv4/IPv6 address."""
    try:
        return str(ipaddress.ip_address(str(value).strip()))
    except ValueError:
        raise FieldError(f"'{value}' is not an IP address") from None


def _network_problem(item: str) -> str:
    try:
        ipaddress.ip_network(item, strict=True)
    except ValueError as exc:
        if "host bits set" in str(exc):
            return f"'{item}' has host bits set: did you mean {ipaddress.ip_network(item, strict=False)}?"
        return f"'{item}' is not an IP address or CIDR network"
    return ""


def networks(value: Any) -> str:
    """Space- or comma-separated IPs/CIDRs, normalised (host bits refused) and de-duplicated.

    Raises FieldError naming every bad item of the list, not only the first.
    """
    items = value if isinstance(value, (list, tuple)) else re.split(r"[\s,]+", str(value or "").strip())
    out: list[str] = []
    problems: list[str] = []
    for item in filter(None, items):
        problem = _network_problem(item)
        if problem:
            problems.append(problem)
            continue
        net = ipaddress.ip_network(item, strict=True)
        text_form = str(net.network_address) if net.prefixlen == net.max_prefixlen else str(net)
        if text_form not in out:
            out.append(text_form)
    if problems:
        raise FieldError("; ".join(problems))
    return " ".join(out)


def is_host(network: str) -> bool:
    """True when a normalised address of `networks()` is one host (a bare IP) rather than a network."""
    return "/" not in network


def needs_host(addresses: str, what: str) -> str | None:
    """The reason an address list cannot be sent calls (networks only), or None.

    Calls to a carrier or an IP-authenticated PBX go to one address, the first single host of its list
    (the AOR's contact); networks only say where calls may come from.
    """
    items = addresses.split()
    if not items or any(is_host(a) for a in items):
        return None
    example = ipaddress.ip_network(items[0])
    first = next(example.hosts(), example.network_address)
    return (f"{' '.join(items)} only lists network(s): calls to {what} are sent to one address, the first "
            f"single IP in the list; add the host that receives calls (for example {first}), before or "
            "beside the networks")


def hostname(value: Any) -> str:
    """A DNS host name (lowercased)."""
    value = str(value).strip().lower().rstrip(".")
    if not _HOST_RE.match(value):
        raise FieldError(f"'{value}' is not a valid DNS name (like sip1.example.net)")
    return value


def codecs(value: Any) -> str:
    """A comma-separated list of supported codecs, in preference order."""
    items = [c.strip().lower() for c in re.split(r"[\s,]+", str(value or "")) if c.strip()]
    if not items:
        raise FieldError("at least one codec is required")
    unknown = [c for c in items if c not in CODECS]
    if unknown:
        raise FieldError(f"unknown codec(s) {', '.join(unknown)}: choose from {', '.join(CODECS)}")
    return ",".join(dict.fromkeys(items))


@dataclass(frozen=True)
class Field:
    """How to read one input field."""

    parse: Callable[[Any], Any]
    required: bool = False
    default: Any = None
    label: str | None = None


def clean(fields: Mapping[str, Field], data: Mapping[str, Any], *, partial: bool = False) -> dict[str, Any]:
    """Parse every given field; raise one ValidationError listing every bad field."""
    errors: dict[str, list[str]] = {}
    out: dict[str, Any] = {}
    for name, spec in fields.items():
        if name not in data:
            if partial:
                continue
            if spec.required:
                errors.setdefault(name, []).append("is required")
                continue
            out[name] = spec.default
            continue
        value = normalise(data[name])
        if blank(value):
            if spec.required:
                errors.setdefault(name, []).append("is required")
            else:
                out[name] = spec.default
            continue
        try:
            out[name] = spec.parse(value)
        except FieldError as exc:
            errors.setdefault(name, []).append(str(exc))
    if errors:
        raise ValidationError(errors)
    return out
