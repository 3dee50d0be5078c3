"""Scratch MariaDB databases for the benchmarks: created empty, dropped afterwards."""

from __future__ import annotations

import uuid

from sqlalchemy import create_engine, text


def create_scratch_db(admin_url: str, prefix: str = "trunkline_bench") -> tuple[str, str]:
    """Create an empty utf8mb4 database on the server at admin_url; returns (name, url)."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url)
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"))
    admin.dispose()
    return name, f"{admin_url}/{name}"


def drop_scratch_db(admin_url: str, name: str) -> None:
    """Drop a scratch database (no error when it is already gone)."""
    admin = create_engine(admin_url)
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {name}"))
    admin.dispose()
