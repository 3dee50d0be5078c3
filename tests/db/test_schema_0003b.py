"""Migration 0003b (service codes, longer carrier usernames) goes up, down and up again on SQLite and MariaDB,
and keeps existing carriers and clients with the defaults (all codes accepted, 3 digits, nothing blocked)."""

from __future__ import annotations

import pytest
from alembic import command
from sqlalchemy import create_engine, inspect, text

from app.migrations import alembic_config, current_revision, upgrade


@pytest.fixture(params=["sqlite", "mariadb"])
def scratch_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'migrate.db'}"
        return
    from tests.conftest import scratch_mariadb

    with scratch_mariadb("trunkline_mig3b") as url:
        yield url


def _columns(url: str, table: str) -> dict[str, object]:
    engine = create_engine(url)
    try:
        return {c["name"]: c["type"] for c in inspect(engine).get_columns(table)}
    finally:
        engine.dispose()


def test_0003b_up_down_up_keeps_rows_with_the_defaults(scratch_url):
    upgrade(scratch_url, "0002")
    engine = create_engine(scratch_url)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO carriers (name, tier, auth_mode, signalling_addresses, port, callerid_format, "
                          "e911_callerid_format, dial_format, send_pai, provides_911, priority, max_channels, enabled) "
                          "VALUES ('telus', 1, 'ip', '192.0.2.10', 5060, 'e164', 'e164', 'e164', 0, 1, 10, 0, 1)"))
        conn.execute(text("INSERT INTO clients (name, account_code, status, max_channels) VALUES ('Acme', 'ACME', 'active', 5)"))
    upgrade(scratch_url, "0003b")
    assert current_revision(scratch_url) == "0003b"
    with engine.connect() as conn:
        assert conn.execute(text("SELECT service_codes, service_code_format FROM carriers")).one() == (
            "211 311 411 511 611 711 811 988", "code")
        assert conn.execute(text("SELECT blocked_service_codes FROM clients")).scalar() == ""
    assert getattr(_columns(scratch_url, "carriers")["username"], "length", None) == 128
    command.downgrade(alembic_config(scratch_url), "0002")
    assert "service_codes" not in _columns(scratch_url, "carriers")
    assert "blocked_service_codes" not in _columns(scratch_url, "clients")
    upgrade(scratch_url, "0003b")
    assert current_revision(scratch_url) == "0003b"
    engine.dispose()
