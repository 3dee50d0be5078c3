"""Reading an uploaded CSV file: encoding, header, row cap, cell counts; rows come out one at a time.

Everything wrong with the file as a whole is a CsvFileError (one clear sentence); what is wrong with
one row is left to the importer, which reports every bad row.
"""

from __future__ import annotations

import csv
import io
import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO

from app.csvio.result import CsvFileError
from app.csvio.specs import KindSpec

_CHUNK = 1 << 20


@dataclass
class Row:
    """One data row: its first line in the file, and its cells by column (or the reason it cannot be read)."""

    line: int
    cells: dict[str, str]
    problem: str | None = None
    cell_problems: tuple[tuple[str, str], ...] = ()  # (column, reason) of cells that cannot be trusted


def double_decoded(text: str) -> str | None:
    """What `text` was meant to say when it is UTF-8 read as Windows-1252 (mojibake), else None.

    Excel opens a CSV without a byte-order mark as Windows-1252; saved again as "CSV UTF-8", the
    two bytes of `é` come back as `Ã©`. Re-encoding the characters as Windows-1252 (Latin-1 for the
    five bytes it leaves undefined) gives the original bytes; if those are valid UTF-8 and differ,
    the cell was decoded twice. Real text practically never passes this test (`Ã` followed by `©`).
    """
    if text.isascii():
        return None
    raw = bytearray()
    for ch in text:
        try:
            raw += ch.encode("cp1252")
        except UnicodeEncodeError:
            if ord(ch) > 0xFF:
                return None
            raw.append(ord(ch))
    try:
        fixed = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return fixed if fixed != text else None


MOJIBAKE_FIX = ("the file was opened in Excel as Windows-1252 and saved again as UTF-8; import the original "
                "export instead (it starts with a UTF-8 mark, which Excel reads right), or in Excel use "
                "Data > From Text/CSV with File origin '65001: Unicode (UTF-8)' and save as 'CSV UTF-8'")


def _is_binary(file_obj: IO) -> bool:
    if isinstance(file_obj, io.TextIOBase):
        return False
    mode = getattr(file_obj, "mode", "b")
    return not isinstance(mode, str) or "b" in mode


def _text_lines(file_obj: IO) -> Iterator[str]:
    """Physical lines of text, decoded strictly as UTF-8 (a leading byte-order mark is dropped)."""
    if not _is_binary(file_obj):
        first = True
        for line in file_obj:
            if first:
                line, first = line.removeprefix("\ufeff"), False
            yield line
        return
    for number, raw in enumerate(file_obj, start=1):
        if number == 1:
            _sniff(raw)
            raw = raw.removeprefix(b"\xef\xbb\xbf")
        try:
            yield raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            as_ansi = raw.decode("cp1252", errors="replace").strip()
            raise CsvFileError(
                f"line {number} is not UTF-8 text (byte 0x{raw[exc.start]:02x} at character {exc.start + 1}): "
                "save the file as UTF-8 (in a spreadsheet: 'CSV UTF-8'); it looks like Windows-1252, which Excel's "
                f"plain 'CSV' save writes, where the line reads: {as_ansi[:120]}") from None


def _sniff(first: bytes) -> None:
    """Recognise files that are not CSV text at all, to say what they are."""
    if first.startswith(b"PK\x03\x04"):
        raise CsvFileError("this is a spreadsheet workbook (.xlsx), not a CSV file: save it as 'CSV UTF-8' first")
    if first.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise CsvFileError("the file is UTF-16 text: save it as UTF-8 (in a spreadsheet: 'CSV UTF-8')")
    if b"\x00" in first:
        raise CsvFileError("the file contains NUL bytes: it is not a UTF-8 CSV text file")


_SEP_HINT_RE = re.compile(r"^sep=(.)\s*$", re.IGNORECASE)


def _delimiter(first_line: str | None, spec: KindSpec) -> tuple[str, bool]:
    """The cell separator of a file from its first line, and whether that line is Excel's `sep=` hint.

    Excel in French-Canadian (and most European) settings saves "CSV" with `;` between cells, because
    `,` is its decimal separator; it also honours (and some tools write) a first line `sep=;`. The
    header decides: the separator (`,`, `;` or a tab) under which more of its cells are column names
    of this kind wins, `,` on a tie (a one-column header is the same either way).
    """
    if first_line is None:
        return ",", False
    hint = _SEP_HINT_RE.match(first_line.strip("\r\n"))
    if hint:
        return hint.group(1), True

    def known(sep: str) -> int:
        cells = next(csv.reader([first_line], delimiter=sep), [])
        return sum(1 for c in cells if spec.column(c.strip().lower()) is not None)

    counts = {sep: known(sep) for sep in (",", ";", "\t")}
    best = max(counts, key=lambda sep: counts[sep])  # the first of equals: "," on a tie
    return best, False


def _records(lines: Iterator[str], delimiter: str = ",", first_line: int = 1) -> Iterator[tuple[int, list[str]]]:
    """(first line number, cells) of every non-blank CSV record; lines are numbered from first_line."""
    reader = csv.reader(lines, delimiter=delimiter)
    previous = first_line - 1
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise CsvFileError(f"line {reader.line_num + first_line - 1}: the file is not valid CSV ({exc})") from None
        start, previous = previous + 1, reader.line_num + first_line - 1
        if any(c.strip() for c in cells):
            yield start, cells


def count_rows(file_obj: IO) -> int | None:
    """Quick upper bound of the data rows of a seekable file (its line count minus the header), or None."""
    try:
        if not file_obj.seekable():
            return None
        start = file_obj.tell()
    except (AttributeError, OSError, ValueError):
        return None
    newlines, last = 0, b""
    while True:
        chunk = file_obj.read(_CHUNK)
        if not chunk:
            break
        newlines += chunk.count(b"\n" if isinstance(chunk, bytes) else "\n")
        last = chunk
    file_obj.seek(start)
    lines = newlines + (1 if last and last[-1:] not in (b"\n", "\n") else 0)
    return max(lines - 1, 0)


class CsvReader:
    """Checks the header of `file_obj` against `spec` at once, then yields its rows with rows()."""

    def __init__(self, file_obj: IO, spec: KindSpec, max_rows: int, filename: str | None = None):
        self.spec = spec
        self.max_rows = max_rows
        self.filename = filename or spec.filename
        self.estimate = count_rows(file_obj)
        if self.estimate is not None and self.estimate > max_rows:
            self._exact_cap_check(file_obj)
        self.delimiter = ","
        self._records = self._open(file_obj)
        self.header = self._read_header()

    def _open(self, file_obj: IO) -> Iterator[tuple[int, list[str]]]:
        """The records of the file, read with the separator its first line shows (see _delimiter)."""
        lines = _text_lines(file_obj)
        first = next(lines, None)
        self.delimiter, hint = _delimiter(first, self.spec)
        if hint:
            return _records(lines, self.delimiter, first_line=2)
        return _records(itertools.chain([first] if first is not None else [], lines), self.delimiter)

    def _exact_cap_check(self, file_obj: IO) -> None:
        # More lines than the cap: count real rows (quoted cells may span lines) before doing any work.
        start = file_obj.tell()
        rows = sum(1 for _ in self._open(file_obj)) - 1
        file_obj.seek(start)
        if rows > self.max_rows:
            raise CsvFileError(self._too_many())
        self.estimate = rows

    def _too_many(self) -> str:
        return (f"the file has more than {self.max_rows} rows, the most one import takes (IMPORT_MAX_ROWS): "
                "split it into smaller files")

    def _read_header(self) -> list[str]:
        spec = self.spec
        expected = ",".join(c.name for c in spec.columns if not c.secret)
        first = next(self._records, None)
        if first is None:
            raise CsvFileError(f"the file is empty: a {spec.filename} starts with the header line {expected}")
        _line, cells = first
        if cells and cells[0].startswith("\u00ef\u00bb\u00bf"):  # ï»¿: the UTF-8 byte-order mark read as Windows-1252
            raise CsvFileError(f"the file starts with 'ï»¿', a UTF-8 byte-order mark decoded as Windows-1252: its text "
                               f"was decoded twice and accented letters are mangled; {MOJIBAKE_FIX}")
        header = [c.strip().lower() for c in cells]
        problems = []
        if "" in header:
            problems.append(f"column {header.index('') + 1} of the header has no name")
        duplicates = sorted({h for h in header if h and header.count(h) > 1})
        if duplicates:
            problems.append(f"column(s) {', '.join(duplicates)} appear more than once")
        unknown = [h for h in header if h and spec.column(h) is None]
        if unknown:
            problems.append(f"unknown column(s) {', '.join(unknown)}")
        missing = [c for c in spec.required if c not in header]
        if missing:
            problems.append(f"missing column(s) {', '.join(missing)}")
        if problems:
            raise CsvFileError(f"the header is wrong: {'; '.join(problems)}. "
                               f"The columns of {spec.filename} are: {','.join(c.name for c in spec.columns)} "
                               f"({', '.join(spec.required)} required)")
        return header

    def rows(self) -> Iterator[Row]:
        """Data rows, one at a time; raises CsvFileError past the row cap or on a decoding error."""
        header, width, count = self.header, len(self.header), 0
        for line, cells in self._records:
            count += 1
            if count > self.max_rows:
                raise CsvFileError(self._too_many())
            if len(cells) != width:
                yield Row(line, {}, f"has {len(cells)} cell(s) but the header has {width} column(s)")
                continue
            row = Row(line, dict(zip(header, cells, strict=True)))
            if not "".join(cells).isascii():  # one C call per row: the common all-ASCII row costs nothing more
                row.cell_problems = tuple(
                    (column, f"'{value}' looks like UTF-8 text decoded twice (it should probably read '{fixed}'): {MOJIBAKE_FIX}")
                    for column, value in row.cells.items() if (fixed := double_decoded(value)) is not None)
            yield row
