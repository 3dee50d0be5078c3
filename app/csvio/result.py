"""What an import reports: counts, and every wrong row with its line, column and reason."""

from __future__ import annotations

from dataclasses import dataclass, field

from app.errors import DomainError


class CsvFileError(DomainError):
    """The file as a whole cannot be imported (encoding, header, empty, too many rows); str() says why."""


@dataclass(frozen=True)
class RowError:
    """One problem on one line of the file (line numbers count the header as line 1)."""

    line: int
    column: str  # "" when the problem is the row as a whole
    message: str

    def __str__(self) -> str:
        where = f"line {self.line}, column {self.column}" if self.column else f"line {self.line}"
        return f"{where}: {self.message}"


@dataclass
class ImportResult:
    """The outcome of one import (or dry run) of one file."""

    kind: str
    filename: str
    dry_run: bool = False
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every row was valid (and, unless a dry run, everything was written)."""
        return not self.errors

    @property
    def bad_rows(self) -> int:
        """How many distinct lines have at least one problem."""
        return len({e.line for e in self.errors})

    @property
    def changed(self) -> int:
        """Rows that created or changed something."""
        return self.created + self.updated

    def count(self, outcome: str) -> None:
        """Add one row's outcome (created, updated or unchanged)."""
        setattr(self, outcome, getattr(self, outcome) + 1)

    def summary(self) -> str:
        """One plain line for the CLI, the admin page and the audit log."""
        if self.errors:
            return (f"{self.filename}: {self.bad_rows} of {self.rows} row(s) are wrong "
                    f"({len(self.errors)} problem(s)); nothing was imported")
        counts = f"{self.created} created, {self.updated} updated, {self.unchanged} unchanged"
        if self.dry_run:
            verdict = "nothing would change" if not self.changed else "these changes would be made"
            return f"{self.filename}: dry run: all {self.rows} row(s) are valid ({counts}); {verdict}; nothing was written"
        if not self.changed:
            return f"{self.filename}: nothing changed: all {self.rows} row(s) already match"
        return f"{self.filename}: {self.rows} row(s) imported: {counts}"
