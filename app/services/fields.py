"""Field parsers shared by every service: strings (CSV, CLI) or typed values (forms) in, clean values out."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from app.errors import ValidationError

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


def integer(low: int, high: int) -> Callable[[Any], int]:
    """A parser for a whole number between low and high."""
    def parse(value: Any) -> int:
        try:
            number = int(str(value).strip())
        except ValueError:
            raise FieldError(f"'{value}' is not a whole number") from None
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


def networks(value: Any) -> str:
    """Space- or comma-separated IPs/CIDRs, normalised (host bits refused) and de-duplicated."""
    items = value if isinstance(value, (list, tuple)) else re.split(r"[\s,]+", str(value or "").strip())
    out: list[str] = []
    for item in filter(None, items):
        try:
            net = ipaddress.ip_network(item, strict=True)
        except ValueError as exc:
            if "host bits set" in str(exc):
                raise FieldError(f"'{item}' has host bits set: did you mean {ipaddress.ip_network(item, strict=False)}?") from None
            raise FieldError(f"'{item}' is not an IP address or CIDR network") from None
        text_form = str(net.network_address) if net.prefixlen == net.max_prefixlen else str(net)
        if text_form not in out:
            out.append(text_form)
    return " ".join(out)


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
        value = data[name]
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
