"""export_csv: every object of a kind as CSV, in the import format (so an export imports as it is)."""

from __future__ import annotations

import csv
from collections.abc import Callable
from typing import IO, Any

from sqlalchemy.orm import Session

from app.csvio.importer import spec_of

BOM = "\ufeff"


def export_csv(session: Session, kind: str, out: IO[str], *, with_secrets: bool = False, bom: bool = True,
               keep: Callable[[dict[str, Any]], bool] | None = None) -> int:
    """Write the header and one row per object of `kind` to the text stream `out`; returns the row count.

    The text starts with a UTF-8 byte-order mark unless bom=False: without it Excel opens a CSV as
    Windows-1252 and shows (then saves) `Montréal` as `MontrÃ©al`; with it Excel reads UTF-8, and
    every reader here (and most tools) skips it.

    Passwords (carriers, trunks) are left out unless with_secrets: without the column, an import
    keeps the stored passwords, so the export still round-trips.
    """
    spec = spec_of(kind)
    columns = [c.name for c in spec.export_columns(with_secrets)]
    if bom:
        out.write(BOM)
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    count = 0
    for row in spec.export_rows(session):
        if keep is not None and not keep(row):
            continue
        writer.writerow([row[c] for c in columns])
        count += 1
    return count
