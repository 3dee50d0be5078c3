"""The identify row of a registering trunk matches its digest username, and only that username."""

from __future__ import annotations

import re

import pytest

from app.projection.rows import auth_match_header


def _regex(username: str) -> re.Pattern:
    name, _, value = auth_match_header(username).partition(":")
    assert name == "Authorization"
    value = value.strip()
    assert value.startswith("/") and value.endswith("/")
    return re.compile(value[1:-1])  # a POSIX ERE of plain characters and a bracket: same meaning in Python


@pytest.mark.parametrize("printed, matches", [
    # how pjproject prints a parsed Authorization header (res_pjsip_endpoint_identifier_ip matches the value)
    ('Digest username="acme_branch", realm="asterisk", nonce="1/abc", uri="sip:203.0.113.5", response="0f"', True),
    ('Digest realm="asterisk",username="acme_branch",nonce="x"', True),
    ('Digest username="acme_branch2", realm="asterisk"', False),   # another trunk's username
    ('Digest username="xacme_branch", realm="asterisk"', False),
    ('Digest xusername="acme_branch", realm="asterisk"', False),
    ('Digest username="ACME_BRANCH", realm="asterisk"', False),    # digest usernames are case-sensitive
])
def test_auth_match_header_matches_exactly_the_trunks_username(printed, matches):
    assert bool(_regex("acme_branch").search(printed)) is matches
