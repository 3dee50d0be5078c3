"""Migration 0002 (users, sign-in attempts, port orders) goes up, down and up again on SQLite and MariaDB."""

from __future__ import annotations

import pytest
from alembic import command
from sqlalchemy import create_engine, inspect

from app.migrations import alembic_config, current_revision, upgrade

NEW_TABLES = {"users", "sign_in_attempts", "port_orders", "port_order_numbers"}


@pytest.fixture(params=["sqlite", "mariadb"])
def scratch_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'migrate.db'}"
        return
    from tests.conftest import scratch_mariadb

    request.applymarker(pytest.mark.mariadb)
    with scratch_mariadb("trunkline_mig") as url:
        yield url

def _tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_0002_up_down_up(scratch_url):
    upgrade(scratch_url, "0002")
    assert current_revision(scratch_url) == "0002"
    assert _tables(scratch_url) >= NEW_TABLES
    command.downgrade(alembic_config(scratch_url), "0001")
    assert current_revision(scratch_url) == "0001"
    assert not NEW_TABLES & _tables(scratch_url)
    upgrade(scratch_url, "0002")
    assert _tables(scratch_url) >= NEW_TABLES
