"""NANP parsing and formatting: property-based and real edge cases."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.numbering import InvalidNumber, NumberFormat, display, format_number, parse_nanp, region_of, try_parse_nanp

# Canadian and US area codes in which every non-N11 exchange is valid; the Caribbean is validated
# exchange by exchange, so it gets explicit cases below.
AREA_CODES = ["204", "416", "604", "613", "514", "403", "212", "415", "809"]
area = st.sampled_from(AREA_CODES)
exchange = st.integers(200, 999).filter(lambda n: n % 100 != 11 and n != 555).map(str)
line = st.integers(0, 9999).map(lambda n: f"{n:04d}")


@st.composite
def nanp_numbers(draw):
    return draw(area), draw(exchange), draw(line)


@given(nanp_numbers(), st.sampled_from(["{a}{e}{l}", "1{a}{e}{l}", "+1{a}{e}{l}", "({a}) {e}-{l}", "{a}-{e}-{l}",
                                         "1-{a}-{e}-{l}", "+1 {a} {e} {l}", "{a}.{e}.{l}", "  {a} {e} {l}  "]))
def test_every_spelling_parses_to_the_same_e164(parts, template):
    a, e, ln = parts
    assert parse_nanp(template.format(a=a, e=e, l=ln)) == f"+1{a}{e}{ln}"


@given(nanp_numbers(), st.sampled_from(list(NumberFormat)))
def test_format_round_trips_through_parse(parts, fmt):
    e164 = "+1" + "".join(parts)
    written = format_number(e164, fmt)
    assert parse_nanp(written) == e164
    assert len(written) == {"e164": 12, "nanp11": 11, "nanp10": 10}[fmt.value]


@given(st.text(max_size=20))
def test_parse_never_raises_anything_but_invalid_number(text):
    try:
        result = parse_nanp(text)
    except InvalidNumber as exc:
        assert str(exc)
    else:
        assert result.startswith("+1") and len(result) == 12


@pytest.mark.parametrize(
    ("text", "fmt", "expected"),
    [("+12045551234", "e164", "+12045551234"), ("+12045551234", "nanp11", "12045551234"), ("+12045551234", "nanp10", "2045551234")],
)
def test_formats_are_exact(text, fmt, expected):
    assert format_number(text, fmt) == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("4115551234", "N11 code"),
        ("9115551234", "N11 code"),
        ("2044111234", "N11 code"),
        ("204 911 1234", "N11 code"),
        ("2045550123", "fictional"),
        ("204-555-0199", "fictional"),
        ("2045551234 x12", "extensions are not allowed"),
        ("2045551234 ext. 5", "extensions are not allowed"),
        ("1234567890", "cannot start with 0 or 1"),
        ("2040551234", "cannot start with 0 or 1"),
        ("204555123", "has 9 digits"),
        ("120455512345", "has 12 digits"),
        ("+442071234567", "not a NANP number"),
        ("011442071234567", "international"),
        ("abc", "not a phone number"),
        ("", "required"),
        ("3705551234", "not an area code and exchange in service"),
        ("242 200 1234", "not an area code and exchange in service"),
    ],
)
def test_invalid_numbers_say_why(text, reason):
    with pytest.raises(InvalidNumber, match=reason):
        parse_nanp(text)


def test_555_numbers_outside_the_fictional_block_are_valid():
    assert parse_nanp("204-555-1234") == "+12045551234"
    assert parse_nanp("204-555-0200") == "+12045550200"


@pytest.mark.parametrize(("text", "region"), [("876-444-1234", "JM"), ("242 322 1234", "BS"), ("8092201234", "DO"), ("2045551234", "CA")])
def test_caribbean_and_canadian_regions(text, region):
    assert region_of(parse_nanp(text)) == region


def test_eleven_digits_must_start_with_one():
    with pytest.raises(InvalidNumber):
        parse_nanp("22045551234")
    assert parse_nanp("12045551234") == "+12045551234"


def test_try_parse_and_display():
    assert try_parse_nanp("nope") is None
    assert display("+12045551234") == "(204) 555-1234"


def test_format_refuses_non_e164():
    with pytest.raises(InvalidNumber):
        format_number("2045551234", "nanp10")
