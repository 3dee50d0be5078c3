"""Digits that are not ASCII, spreadsheet numbers and mojibake: what real tools and keyboards produce."""

from __future__ import annotations

import re

import pytest

from app.csvio.reader import double_decoded
from app.errors import ValidationError
from app.numbering import InvalidNumber, ascii_forms, parse_nanp, spreadsheet_number
from app.services import carriers, nodes, numbers
from app.services import fields as F

# Each spelling as a keyboard, an IME or a word processor really produces it.
SPELLINGS = [
    "２０４５５５１２３４",                # Japanese IME, full width
    "２０４－５５５－１２３４",              # full-width hyphen-minus too
    "＋１ (２０４) ５５５-１２３４",         # full-width plus and digits, ASCII brackets
    "٢٠٤٥٥٥١٢٣٤",                       # Arabic-Indic (Arabic keyboard)
    "۲۰۴-۵۵۵-۱۲۳۴",                     # Extended Arabic-Indic (Persian, Urdu keyboards)
    "२०४ ५५५ १२३४",                      # Devanagari
    "204\u00a0555\u00a01234",           # no-break spaces (copied from a web page)
    "204\u202f555\u202f1234",           # narrow no-break space (French-Canadian number formatting)
    "204–555–1234",                     # en dashes (a word processor's autocorrect)
    "+1\u2212204\u2212555\u22121234",   # minus signs
    "\u200f٢٠٤٥٥٥١٢٣٤\u200e",            # with the right-to-left / left-to-right marks of copied Arabic text
    "2045551234\u200b",                 # zero-width space from a web page
]


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_every_script_of_digits_gives_the_ascii_e164(spelling):
    e164 = parse_nanp(spelling)
    assert e164 == "+12045551234" and e164.isascii()


@pytest.mark.parametrize(("spelling", "reason"), [
    ("204555123²", "'²' (SUPERSCRIPT TWO) is not a digit"),
    ("②⓪④5551234", "'②' (CIRCLED DIGIT TWO) is not a digit"),
    ("☎ 204 555 1234", "'☎' (BLACK TELEPHONE) is not a digit"),
    ("204555l234", "is not a phone number"),
])
def test_characters_that_are_not_digits_are_refused_by_name(spelling, reason):
    with pytest.raises(InvalidNumber, match=re.escape(reason)):
        parse_nanp(spelling)


@pytest.mark.parametrize(("value", "expected"), [
    ("2045551220.0", "'2045551220.0' looks like a spreadsheet number (it added '.0'): did you mean 2045551220?"),
    ("12045551220.0", "did you mean 12045551220?"),
    ("2045551220,0", "(it added ',0')"),  # French-Canadian decimal comma
    ("2.04556E+09", "'2.04556E+09' is a number in a spreadsheet's scientific notation: its last digits are lost"),
    ("2,04556E+09", "scientific notation"),
    ("2.045551234e9", "scientific notation"),
])
def test_spreadsheet_numbers_are_recognised_and_say_how_to_keep_text(value, expected):
    with pytest.raises(InvalidNumber) as caught:
        parse_nanp(value)
    assert expected in str(caught.value)
    assert "format the column as Text" in str(caught.value)
    assert spreadsheet_number(value) == str(caught.value)


@pytest.mark.parametrize("value", ["204.555.1234", "2045551234", "(204) 555-1234", "1.204.555.1234"])
def test_real_spellings_are_not_taken_for_spreadsheet_numbers(value):
    assert spreadsheet_number(value) is None
    assert parse_nanp(value) == "+12045551234"


def test_ascii_forms_keeps_accents_and_ascii_unchanged():
    assert ascii_forms("Montréal, Québec") == "Montréal, Québec"
    assert ascii_forms("１２３ rue Ｓｔ-Ｊｅａｎ\u3000Ｏｕｅｓｔ") == "123 rue St-Jean Ouest"
    text = "plain ascii 123"
    assert ascii_forms(text) is text  # the fast path of 100,000-row imports


@pytest.mark.parametrize(("parser", "raw", "expected"), [
    (F.integer(1, 65535), "５０６０", 5060),
    (F.integer(1, 65535), "٥٠٦٠", 5060),
    (F.integer(0, 100000), "３０", 30),
    (F.ip_address, "１９２.０.２.１", "192.0.2.1"),
    (F.networks, "２０３.０.１１３.５ ٢٠٣.٠.١١٣.٠/٢٨", "203.0.113.5 203.0.113.0/28"),
    (F.ident, "ｔｅｌｕｓ", "telus"),
    (F.boolean, "ｙｅｓ", True),
])
def test_every_field_kind_reads_non_ascii_digits_as_ascii(parser, raw, expected):
    # clean() is the one place every service field goes through (forms, CSV and CLI).
    assert F.clean({"x": F.Field(parser)}, {"x": raw})["x"] == expected


@pytest.mark.parametrize(("raw", "message"), [
    ("30.0", "'30.0' looks like a spreadsheet number: write the whole number 30"),
    ("3²", "'3²' is not a whole number"),
    ("1_000", "'1_000' is not a whole number"),  # int() would take it
    ("-5", "-5 is out of range (0 to 100000)"),
])
def test_integers_are_ascii_whole_numbers(raw, message):
    with pytest.raises(ValidationError) as caught:
        F.clean({"x": F.Field(F.integer(0, 100000))}, {"x": raw})
    assert caught.value.errors["x"] == [message]


def test_every_bad_address_of_a_list_is_reported():
    with pytest.raises(F.FieldError) as caught:
        F.networks("198.51.100.10 10.0.0.1/8 nonsense 198.51.100.300 203.0.113.0/28")
    assert str(caught.value) == ("'10.0.0.1/8' has host bits set: did you mean 10.0.0.0/8?; "
                                 "'nonsense' is not an IP address or CIDR network; "
                                 "'198.51.100.300' is not an IP address or CIDR network")


def test_a_list_of_networks_only_names_the_missing_host():
    assert F.needs_host("203.0.113.0/28", "the carrier") == (
        "203.0.113.0/28 only lists network(s): calls to the carrier are sent to one address, the first single IP in "
        "the list; add the host that receives calls (for example 203.0.113.1), before or beside the networks")
    assert F.needs_host("203.0.113.5 203.0.113.0/28", "the carrier") is None
    assert F.needs_host("2001:db8::/64", "the PBX").endswith("(for example 2001:db8::1), before or beside the networks")


@pytest.mark.parametrize(("seen", "meant"), [
    ("MontrÃ©al", "Montréal"),
    ("QuÃ©bec, rue Saint-FranÃ§ois", "Québec, rue Saint-François"),
    ("TroisRiviÃ¨res â€“ Ã‰cole", "TroisRivières – École"),
    ("Ã\x81lvaro", "Álvaro"),  # 0xC1 0x81: a byte Windows-1252 leaves undefined
])
def test_double_decoded_utf8_is_recognised(seen, meant):
    assert double_decoded(seen) == meant


@pytest.mark.parametrize("text", ["Montréal", "Saint-François", "São Paulo", "Łódź", "東京", "plain", "Café ©", "naïve – déjà"])
def test_real_text_is_not_taken_for_mojibake(text):
    assert double_decoded(text) is None


def test_services_name_their_fields():
    # Guard: the fields the CSV and forms rely on still go through F.clean (hence through ascii_forms).
    assert {"port", "max_channels", "signalling_addresses"} <= set(carriers.FIELDS)
    assert {"sip_port", "public_ip"} <= set(nodes.FIELDS)
    assert "number" in numbers.FIELDS
