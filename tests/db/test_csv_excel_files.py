"""Files as spreadsheets really save them: Excel's semicolons (French-Canadian settings), BOM, CRLF,
quoted cells with accents, `sep=` hints; every one of them reads exactly like the plain comma file."""

from __future__ import annotations

from sqlalchemy import select

from app.models import PhoneNumber
from app.projection import drift
from tests.db.csv_support import run_import

BOM = b"\xef\xbb\xbf"

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
