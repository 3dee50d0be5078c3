"""Files that cannot be imported at all get one clear sentence, and nothing is written."""

from __future__ import annotations

import io

import pytest

from app.csvio import CsvFileError, import_csv
from tests.db.csv_support import ACTOR, audit_count, run_import, snapshot

NUMBERS_HEADER = "number,carrier,client,trunk,e911_registered,e911_address,port_status\n"


@pytest.mark.parametrize(("content", "message"), [
    (b"", "the file is empty: a numbers.csv starts with the header line number,carrier,client,trunk,"),
    (b"\xef\xbb\xbf", "the file is empty"),
    (b"\n\n  \n", "the file is empty"),
    (NUMBERS_HEADER.encode() + "2045550123,telus,ACME,main,no,Caf\u00e9 Street,active\n".encode("latin-1"),
     "line 2 is not UTF-8 text (byte 0xe9 at character 34): save the file as UTF-8"),
    ("number,carrier\n2045551299,telus\n".encode("utf-16"), "the file is UTF-16 text: save it as UTF-8"),
    (b"PK\x03\x04\x14\x00\x06\x00rest-of-a-workbook", "this is a spreadsheet workbook (.xlsx), not a CSV file"),
    (b"number,carrier,colour\n2045551299,telus,red\n",
     "the header is wrong: unknown column(s) colour. The columns of numbers.csv are: number,carrier,"),
    (b"number,client\n2045551299,ACME\n", "the header is wrong: missing column(s) carrier."),
    (b"2045551299,telus\n", "unknown column(s) 2045551299, telus; missing column(s) number, carrier"),
    (b"number,carrier,number\n2045551299,telus,2045551299\n", "column(s) number appear more than once"),
    (b"number,,carrier\n2045551299,,telus\n", "column 2 of the header has no name"),
])
def test_bad_files_are_refused_with_a_clear_message(seeded, content, message):
    before = snapshot(seeded)
    with pytest.raises(CsvFileError) as caught:
        run_import(seeded, "numbers", content)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)
    assert snapshot(seeded) == before


def test_unknown_kind_is_refused(seeded):
    with pytest.raises(CsvFileError, match="unknown kind 'widgets': choose one of carriers, nodes, clients, trunks, numbers"):
        run_import(seeded, "widgets", "name\nx\n")


def test_a_file_beyond_the_row_cap_is_refused_before_any_row_is_read(seeded, monkeypatch):
    from app.csvio import importer

    text = NUMBERS_HEADER + "".join(f"204555{1300 + i},telus,,,no,,active\n" for i in range(6))
    # Nothing may be validated: the cap is checked first (a row that would fail proves it).
    bad_first = NUMBERS_HEADER + "not-a-number,telus,,,no,,active\n" + text.split("\n", 1)[1]
    for content in (text, bad_first):
        with pytest.raises(CsvFileError, match=r"the file has more than 5 rows, the most one import takes \(IMPORT_MAX_ROWS\)"):
            run_import(seeded, "numbers", content, max_rows=5)
    # The configured cap applies when none is given.
    monkeypatch.setattr(importer.Config, "IMPORT_MAX_ROWS", 5)
    with pytest.raises(CsvFileError, match="more than 5 rows"):
        run_import(seeded, "numbers", text)
    # Exactly at the cap is fine.
    assert run_import(seeded, "numbers", NUMBERS_HEADER + "".join(text.splitlines(True)[1:6]), max_rows=5).created == 5


def test_the_row_cap_also_holds_for_a_stream_that_cannot_be_measured(seeded):
    class Pipe(io.BytesIO):
        def seekable(self):
            return False

    text = NUMBERS_HEADER + "".join(f"204555{1300 + i},telus,,,no,,active\n" for i in range(4))
    with pytest.raises(CsvFileError, match="more than 3 rows"):
        import_csv(seeded, "numbers", Pipe(text.encode()), ACTOR, max_rows=3)
    assert audit_count(seeded, action="import") == 0


def test_a_header_only_file_imports_nothing_without_error(seeded):
    result = run_import(seeded, "numbers", NUMBERS_HEADER)
    assert result.ok and result.rows == 0
    assert "nothing changed" in result.summary()


@pytest.mark.parametrize("variant", ["bom", "crlf", "quoted", "text stream", "blank lines", "upper-case header", "no trailing newline"])
def test_ordinary_csv_variants_are_accepted(seeded, variant):
    rows = ['2045551310,telus,ACME,main,yes,"1 Main St, Unit 2\nWinnipeg MB",active', "2045551311,bell,,,no,,active"]
    text = NUMBERS_HEADER + "\n".join(rows) + "\n"
    if variant == "bom":
        content = b"\xef\xbb\xbf" + text.encode()
    elif variant == "crlf":
        content = text.replace("\n", "\r\n").encode()
    elif variant == "quoted":
        content = text.replace("telus", '"telus"').encode()
    elif variant == "blank lines":
        content = text.replace("2045551311", "\n,,,,,,\n2045551311").encode()
    elif variant == "upper-case header":
        content = (NUMBERS_HEADER.upper() + text.split("\n", 1)[1]).encode()
    elif variant == "no trailing newline":
        content = text.rstrip("\n").encode()
    else:
        result = import_csv(seeded, "numbers", io.StringIO("\ufeff" + text), ACTOR)
        content = None
    if content is not None:
        result = run_import(seeded, "numbers", content)
    assert result.ok, [str(e) for e in result.errors]
    assert (result.rows, result.created) == (2, 2)
    from app.services import numbers

    address = numbers.get(seeded, "2045551310").e911_address
    assert address.replace("\r\n", "\n") == "1 Main St, Unit 2\nWinnipeg MB"


def test_a_bad_byte_deep_in_a_big_numbers_file_leaves_nothing_written(seeded):
    """Thousands of rows are already handed to the background writer when line 9,002 turns out not to be UTF-8."""
    before = snapshot(seeded)
    good = "".join(f"+1416{3000000 + i:07d},telus,ACME,main,no,,active\n" for i in range(9000))
    data = ("number,carrier,client,trunk,e911_registered,e911_address,port_status\n" + good).encode() + b"+14165550000,t\xe9lus,,,no,,active\n"
    with pytest.raises(CsvFileError, match="line 9002 is not UTF-8"):
        run_import(seeded, "numbers", data)
    assert snapshot(seeded) == before


def test_wrong_rows_after_batches_were_written_roll_everything_back_and_all_are_reported(seeded):
    before = snapshot(seeded)
    rows = [f"+1416{3000000 + i:07d},telus,ACME,main,no,,active" for i in range(9000)]
    rows[6999] = rows[6999].replace("telus", "nosuchcarrier")  # three batches are written by then
    rows[8998] = rows[8998].replace("ACME", "NOSUCHCLIENT")
    result = run_import(seeded, "numbers", "number,carrier,client,trunk,e911_registered,e911_address,port_status\n" + "\n".join(rows))
    assert not result.ok
    assert [(e.line, e.column) for e in result.errors] == [(7001, "carrier"), (9000, "client")]
    assert snapshot(seeded) == before
