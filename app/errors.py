"""Typed domain errors: every caller (form, CSV, CLI) turns these into plain-words messages."""

from __future__ import annotations


class DomainError(Exception):
    """Base of all errors a user can cause; str() is a one-line, plain-words message."""


class ValidationError(DomainError):
    """One or more fields are wrong; `errors` maps field name to its messages."""

    def __init__(self, errors: dict[str, list[str]] | None = None, **field_messages: str):
        self.errors: dict[str, list[str]] = {k: list(v) for k, v in (errors or {}).items()}
        for field, message in field_messages.items():
            self.errors.setdefault(field, []).append(message)
        super().__init__(self.one_line())

    def one_line(self) -> str:
        """All messages on one line, each prefixed by its field."""
        return "; ".join(f"{field}: {msg}" for field, msgs in self.errors.items() for msg in msgs)


class NotFound(DomainError):
    """A referenced object does not exist."""


class Conflict(DomainError):
    """The change would break a dependency (deleting something others use, for instance)."""


class E911Unresolved(DomainError):
    """No 911 number resolves for a trunk; `reasons` says why at each cascade level."""

    def __init__(self, trunk_label: str, reasons: list[str]):
        self.trunk_label = trunk_label
        self.reasons = reasons
        super().__init__(f"no E911 number resolves for trunk {trunk_label}: " + "; ".join(reasons))


class ConfigError(Exception):
    """A setting (environment variable, instance/ file) that cannot work; str() is one line naming it."""
