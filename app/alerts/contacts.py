"""Parsers of a client's alert contacts (form, CSV, CLI): email addresses and one webhook URL."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from email_validator import EmailNotValidError, validate_email

from app.services.fields import FieldError

MAX_EMAILS = 10


def emails(value: Any) -> str:
    """Email addresses separated by spaces, commas or semicolons -> one space-separated normalised list.

    Every wrong address is named (not only the first). Shape only: no DNS look-up (email-validator).
    """
    items = [a for a in str(value or "").replace(",", " ").replace(";", " ").split() if a]
    good, bad = [], []
    for item in items:
        try:
            good.append(validate_email(item, check_deliverability=False).normalized)
        except EmailNotValidError as exc:
            bad.append(f"'{item}' ({str(exc).rstrip('.')})")
    if bad:
        raise FieldError(f"not an email address: {'; '.join(bad)}")
    if len(good) > MAX_EMAILS:
        raise FieldError(f"at most {MAX_EMAILS} addresses ({len(good)} given): use a mailing list for more")
    return " ".join(dict.fromkeys(good))


def webhook(value: Any) -> str:
    """An http(s) URL with a host, to which each 911 call is POSTed as JSON."""
    url = str(value or "").strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise FieldError(f"'{url}' is not a web address: write it in full, like https://alerts.example.com/911")
    if len(url) > 500:
        raise FieldError(f"is too long ({len(url)} characters, at most 500)")
    if any(c.isspace() for c in url):
        raise FieldError("a web address cannot contain spaces")
    return url
