"""Bulk CSV import and export of carriers, nodes, clients, trunks and numbers (formats: docs/csv.md)."""

from app.csvio.exporter import export_csv
from app.csvio.importer import import_csv, open_reader
from app.csvio.result import CsvFileError, ImportResult, RowError
from app.csvio.specs import KINDS, SPECS

__all__ = ["KINDS", "SPECS", "CsvFileError", "ImportResult", "RowError", "export_csv", "import_csv", "open_reader"]
