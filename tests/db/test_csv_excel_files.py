"""Files as spreadsheets really save them: Excel's semicolons (French-Canadian settings), BOM, CRLF,
quoted cells with accents, `sep=` hints; every one of them reads exactly like the plain comma file."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.csvio import CsvFileError
from app.models import PhoneNumber
from app.projection import drift
from app.services import numbers
from app.services.audit import Actor
from tests.db.csv_support import run_import

BOM = b"\xef\xbb\xbf"
ACTOR = Actor("tester", "form")

# What Excel (Windows, French-Canadian regional settings) writes for "CSV UTF-8 (délimité par des virgules)":
# a BOM, CRLF line ends, `;` between cells, quotes only around cells that need them.
EXCEL_FR_CA = BOM + (
    "number;carrier;client;trunk;e911_registered;e911_address;port_status\r\n"
    "204-555-1370;telus;ACME;main;yes;\"7 rue Principale; app. 3, Saint-Boniface MB\";active\r\n"
    "(204) 555-1371;bell;ACME;branch;no;;active\r\n"
    "2045551372;telus;;;no;\"Montréal, \"\"Québec\"\"\";active\r\n"
).encode()


def _number(session, e164):
    return session.scalar(select(PhoneNumber).where(PhoneNumber.e164 == e164))


def test_semicolon_file_from_french_canadian_excel_is_read_like_a_comma_file(seeded):
    result = run_import(seeded, "numbers", EXCEL_FR_CA)
    assert result.ok, [str(e) for e in result.errors]
    assert (result.rows, result.created) == (3, 3)
    first = _number(seeded, "+12045551370")
    assert first.e911_registered and first.e911_address == "7 rue Principale; app. 3, Saint-Boniface MB"
    assert _number(seeded, "+12045551371").trunk.name == "branch"
    assert _number(seeded, "+12045551372").e911_address == 'Montréal, "Québec"'
    assert drift(seeded) == []


def test_semicolon_file_errors_name_the_right_line_and_column(seeded):
    content = BOM + (b"number;carrier;client\r\n2045551373;nope;ACME\r\n204555137;telus;ACME\r\n")
    result = run_import(seeded, "numbers", content)
    assert [str(e) for e in result.errors] == [
        "line 2, column carrier: there is no carrier named 'nope'",
        "line 3, column number: '204555137' has 9 digits: a NANP number has 10 (or 11 starting with 1)",
    ]


def test_excel_sep_hint_line_is_honoured_and_counted(seeded):
    # Excel writes and reads a first line `sep=;`; the header is then line 2.
    content = (b"sep=;\r\nnumber;carrier;client\r\n2045551374;telus;ACME\r\n20455513;telus;ACME\r\n")
    result = run_import(seeded, "numbers", content)
    assert [(e.line, e.column) for e in result.errors] == [(4, "number")]
    ok = run_import(seeded, "numbers", content.rsplit(b"\r\n", 2)[0] + b"\r\n")
    assert ok.ok and ok.created == 1


def test_tab_separated_file_is_read(seeded):
    content = b"name\taccount_code\tnode\tmax_channels\tstatus\nTabby Cat Inc\tTABBY\t\t4\tsuspended\n"
    result = run_import(seeded, "clients", content, dry_run=True)
    assert result.ok and result.created == 1, [str(e) for e in result.errors]


def test_a_comma_file_whose_cells_hold_semicolons_stays_a_comma_file(seeded):
    content = (b"number,carrier,e911_address\n2045551375,telus,\"a;b;c\"\n")
    result = run_import(seeded, "numbers", content)
    assert result.ok and _number(seeded, "+12045551375").e911_address == "a;b;c"


# --- Excel round trips: what Excel does to a file without a byte-order mark ------------------------------

def test_every_export_starts_with_a_utf8_bom_and_imports_unchanged(seeded):
    from tests.db.csv_support import export_text

    numbers.save(seeded, {"e911_address": "1 rue de Montréal, Québec QC"}, ACTOR, numbers.get(seeded, "2045551202"))
    for kind in ("carriers", "nodes", "clients", "trunks", "numbers"):
        text = export_text(seeded, kind)
        assert text.startswith("\ufeff") and not text.startswith("\ufeff\ufeff")
        data = text.encode("utf-8")
        assert data.startswith(BOM)  # what Excel looks for to read UTF-8
        result = run_import(seeded, kind, data)
        assert result.ok and (result.created, result.updated) == (0, 0), [str(e) for e in result.errors]


def _excel_without_bom(text: str) -> bytes:
    """What Excel does to a UTF-8 file without a BOM: reads it as Windows-1252, then saves it as 'CSV UTF-8'."""
    return BOM + text.encode("utf-8").decode("cp1252").encode("utf-8")


def test_a_file_utf8_decoded_twice_is_refused_with_line_column_and_fix(seeded):
    original = ("number,carrier,client,trunk,e911_registered,e911_address\n"
                "2045551202,telus,ACME,main,yes,\"100 rue Saint-François, Montréal QC\"\n"
                "2045551376,telus,ACME,main,no,\n"
                "2045551377,bell,ACME,main,no,Trois-Rivières – école\n")
    mangled = _excel_without_bom(original)
    assert "MontrÃ©al".encode() in mangled
    before = numbers.get(seeded, "2045551202").e911_address
    result = run_import(seeded, "numbers", mangled)
    assert [(e.line, e.column) for e in result.errors] == [(2, "e911_address"), (4, "e911_address")]
    first = result.errors[0].message
    assert first.startswith("'100 rue Saint-FranÃ§ois, MontrÃ©al QC' looks like UTF-8 text decoded twice "
                            "(it should probably read '100 rue Saint-François, Montréal QC'): the file was opened in Excel")
    assert "import the original export instead" in first
    assert numbers.get(seeded, "2045551202").e911_address == before  # the 911 address is not corrupted
    # The same rows, saved right, import.
    assert run_import(seeded, "numbers", BOM + original.encode()).ok


def test_the_bulk_and_row_paths_both_refuse_mojibake(seeded):
    mangled = _excel_without_bom("name,account_code,node,status\nCafé Montréal,CAFE,,suspended\n")
    result = run_import(seeded, "clients", mangled)
    assert [(e.line, e.column) for e in result.errors] == [(2, "name")]
    assert "it should probably read 'Café Montréal'" in result.errors[0].message


def test_a_windows_1252_save_is_refused_with_the_line_as_excel_meant_it(seeded):
    # Excel's plain "CSV (comma delimited)" / "CSV (séparateur: point-virgule)" writes Windows-1252.
    content = ("number;carrier;e911_address\r\n2045551378;telus;12 rue Émile, Montréal\r\n").encode("cp1252")
    with pytest.raises(CsvFileError) as caught:
        run_import(seeded, "numbers", content)
    message = str(caught.value)
    assert message.startswith("line 2 is not UTF-8 text (byte 0xc9 at character 25): save the file as UTF-8 (in a spreadsheet: 'CSV UTF-8')")
    assert message.endswith("it looks like Windows-1252, which Excel's plain 'CSV' save writes, where the line reads: "
                            "2045551378;telus;12 rue Émile, Montréal")


def test_excel_semicolon_file_with_full_width_digits_and_spreadsheet_numbers(seeded):
    content = BOM + ("number;carrier;client;trunk\r\n"
                     "２０４５５５１３７９;telus;ACME;main\r\n"
                     "2045551380,0;telus;ACME;main\r\n"
                     "2,04555E+09;telus;ACME;main\r\n").encode()
    result = run_import(seeded, "numbers", content)
    assert [(e.line, e.column) for e in result.errors] == [(3, "number"), (4, "number")]
    assert "did you mean 2045551380?" in result.errors[0].message
    assert "scientific notation" in result.errors[1].message
    ok = run_import(seeded, "numbers", content.split(b"\r\n2045551380")[0] + b"\r\n")
    assert ok.ok and ok.created == 1
    assert numbers.get(seeded, "2045551379").e164 == "+12045551379"
