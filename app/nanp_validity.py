"""phonenumbers' validity answer for 10-digit NANP numbers, memoised per area code + exchange.

phonenumbers.is_valid_number walks the regular expressions of the 25 NANP regions for every number
(15-25 us each, the largest single cost of a bulk import). For a number of exactly ten digits its
answer is a function of which of those expressions match (the lengths are fixed), so a memo keyed by
the first K digits is exact whenever every expression's match on ten digits is decided by those K
digits. That is checked here, not assumed: each expression of the metadata is expanded into its
finite set of digit-class sequences (it may only use literals, classes, groups, alternation and
bounded repetition; anything else turns the memo off), and a number's key is its shortest prefix
after which no sequence compatible with it constrains a digit. For Canada and the US that is the
area code and the exchange's first digit; a few Barbados and Jamaica exchanges need a line digit.
The answers in the memo are phonenumbers' own, computed on the first number seen with each key.
"""

from __future__ import annotations

import re._constants as sre
import re._parser as sre_parse

import phonenumbers
from phonenumbers.phonenumberutil import COUNTRY_CODE_TO_REGION_CODE, PhoneMetadata

LENGTH = 10
BASE_KEY = 6  # NPA-NXX: deciding prefixes up to this long are remembered per NPA-NXX
DIGITS = frozenset("0123456789")
_DESCS = ("general_desc", "premium_rate", "toll_free", "shared_cost", "voip", "personal_number", "pager", "uan",
          "voicemail", "fixed_line", "mobile", "no_international_dialling", "emergency", "standard_rate",
          "short_code", "carrier_specific", "sms_services")
_MAX_SEQUENCES = 100_000

Sequence = tuple[frozenset, ...]


class Unsupported(ValueError):
    """A pattern this analysis cannot expand exactly (the memo is then not used)."""


def _class(items) -> frozenset:
    chars, negate = set(), False
    for op, arg in items:
        if op is sre.LITERAL:
            chars.add(chr(arg))
        elif op is sre.RANGE:
            chars.update(chr(c) for c in range(arg[0], arg[1] + 1))
        elif op is sre.CATEGORY and arg is sre.CATEGORY_DIGIT:
            chars |= DIGITS
        elif op is sre.NEGATE:
            negate = True
        else:
            raise Unsupported(f"character class item {op}")
    return DIGITS - chars if negate else DIGITS & chars


def _expand(parsed) -> set[Sequence]:
    """Every digit-class sequence of at most LENGTH positions the parsed pattern matches in full."""
    out: set[Sequence] = {()}
    for op, arg in parsed:
        if op is sre.LITERAL:
            alternatives = {(DIGITS & {chr(arg)},)}
        elif op is sre.IN:
            alternatives = {(_class(arg),)}
        elif op is sre.SUBPATTERN:
            alternatives = _expand(arg[3])
        elif op is sre.BRANCH:
            alternatives = set().union(*(_expand(branch) for branch in arg[1]))
        elif op in (sre.MAX_REPEAT, sre.MIN_REPEAT):
            low, high, item = arg
            inner, current, alternatives = _expand(item), {()}, set()
            for count in range(min(high, LENGTH) + 1):
                if count >= low:
                    alternatives |= current
                current = {a + b for a in current for b in inner if len(a) + len(b) <= LENGTH}
                if not current:
                    break
        else:
            raise Unsupported(f"pattern element {op}")
        out = {a + b for a in out for b in alternatives if len(a) + len(b) <= LENGTH}
        if len(out) > _MAX_SEQUENCES:
            raise Unsupported("pattern too large to expand")
    return {s for s in out if all(s)}  # a position no digit can fill never matches


def _last_constrained(sequence: Sequence) -> int:
    return max((i for i, c in enumerate(sequence) if c != DIGITS), default=-1)


def nanp_patterns() -> list[tuple[str, bool]]:
    """Every expression is_valid_number may consult for +1 numbers: (pattern, matched as a prefix only)."""
    patterns = []
    for region in COUNTRY_CODE_TO_REGION_CODE[1]:
        metadata = PhoneMetadata.metadata_for_region(region, None)
        if metadata is None:
            continue
        if metadata.leading_digits:
            patterns.append((metadata.leading_digits, True))
        for name in _DESCS:
            desc = getattr(metadata, name, None)
            if desc is not None and desc.national_number_pattern:
                patterns.append((desc.national_number_pattern, False))
    return patterns


def constraining_sequences(patterns: list[tuple[str, bool]]) -> list[tuple[Sequence, int]]:
    """(sequence, its last constrained position) of every ten-position sequence that constrains a digit."""
    found: set[Sequence] = set()
    for pattern, prefix in patterns:
        for sequence in _expand(sre_parse.parse(pattern)):
            if prefix:
                sequence = sequence + (DIGITS,) * (LENGTH - len(sequence))
            if len(sequence) == LENGTH:
                found.add(sequence)
    return [(s, _last_constrained(s)) for s in found if _last_constrained(s) >= 0]


class ValidityMemo:
    """is_valid(ten digits) == phonenumbers.is_valid_number(+1 ten digits), remembered per deciding prefix.

    A prefix q decides when no sequence compatible with q constrains a digit after q: then every
    expression matches all numbers starting with q or none of them, so phonenumbers' answer is the
    same for all of them. `live` caches, per prefix walked, the sequences that still constrain later
    digits (a child's are a subset of its parent's, so each is computed from the parent).
    """

    def __init__(self, patterns: list[tuple[str, bool]] | None = None):
        try:
            root = constraining_sequences(nanp_patterns() if patterns is None else patterns)
        except Unsupported:
            root = None  # cannot prove the memo exact: ask phonenumbers every time
        self.live: dict[str, list[tuple[Sequence, int]]] | None = None if root is None else {"": root}
        self.key_length: dict[str, int] = {}  # six-digit prefix -> length of its deciding prefix (when <= 6)
        self.answers: dict[str, bool] = {}

    def deciding_prefix(self, ten: str) -> str:
        """The shortest prefix of `ten` that decides its validity."""
        live = self.live[""]
        for depth in range(LENGTH):
            if not live:
                return ten[:depth]
            prefix = ten[:depth + 1]
            child = self.live.get(prefix)
            if child is None:
                digit = ten[depth]
                child = self.live[prefix] = [(s, last) for s, last in live if digit in s[depth] and last > depth]
            live = child
        return ten

    def is_valid(self, ten: str) -> bool:
        """True when phonenumbers calls +1 followed by these ten digits a valid number."""
        if self.live is None or len(ten) != LENGTH or not ten.isascii() or not ten.isdigit():
            return _phonenumbers_valid(ten)
        length = self.key_length.get(ten[:BASE_KEY])
        if length is not None:
            key = ten[:length]
        else:
            key = self.deciding_prefix(ten)
            if len(key) <= BASE_KEY:
                self.key_length[ten[:BASE_KEY]] = len(key)
        answer = self.answers.get(key)
        if answer is None:
            answer = self.answers[key] = _phonenumbers_valid(ten)
        return answer


def _phonenumbers_valid(ten: str) -> bool:
    return phonenumbers.is_valid_number(phonenumbers.PhoneNumber(country_code=1, national_number=int(ten)))


_MEMO: ValidityMemo | None = None


def is_valid_nanp(ten: str) -> bool:
    """phonenumbers' validity of +1 followed by ten digits, through the shared memo."""
    global _MEMO
    if _MEMO is None:
        _MEMO = ValidityMemo()
    return _MEMO.is_valid(ten)
