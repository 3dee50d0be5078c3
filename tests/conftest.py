"""Test fixtures: one database per backend per session (migrated once), a rolled-back transaction per test.

Backends: SQLite (a temp file) and the real MariaDB on 127.0.0.1:3306. With CI=true a MariaDB that
cannot be reached fails the tests instead of skipping them.
"""

from __future__ import annotations

import os
import uuid
from contextlib import contextmanager

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session as OrmSession

from app.db import Session, make_engine
from app.migrations import upgrade

MARIADB_URL = os.environ.get("TEST_MARIADB_URL", "mysql+mysqldb://root@127.0.0.1:3306")
IN_CI = os.environ.get("CI", "").lower() == "true"
BACKENDS = ["sqlite", "mariadb"]


def _unavailable(reason: str):
    if IN_CI:
        pytest.fail(f"MariaDB is required when CI=true: {reason}", pytrace=False)
    pytest.skip(f"MariaDB not reachable: {reason}")


@contextmanager
def scratch_mariadb(prefix: str):
    """A fresh, empty MariaDB database for one test (its URL), dropped afterwards; unreachable: skip (fail with CI=true)."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    try:
        admin = create_engine(MARIADB_URL)
        with admin.connect() as conn:
            conn.execute(text(f"CREATE DATABASE {name} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"))
    except Exception as exc:  # noqa: BLE001 - any connection failure means "unreachable"
        _unavailable(str(exc).splitlines()[0])
    try:
        yield f"{MARIADB_URL}/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {name}"))
        admin.dispose()


@pytest.fixture(scope="session")
def _engines(tmp_path_factory):
    """Lazily created, migrated engines keyed by backend; dropped at the end of the session."""
    engines: dict[str, object] = {}
    created_dbs: list[str] = []

    def get(backend: str):
        if backend in engines:
            return engines[backend]
        if backend == "sqlite":
            url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
        else:
            name = f"trunkline_test_{uuid.uuid4().hex[:10]}"
            try:
                admin = create_engine(MARIADB_URL)
                with admin.connect() as conn:
                    conn.execute(text(f"CREATE DATABASE {name} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"))
                admin.dispose()
            except Exception as exc:  # noqa: BLE001 - any connection failure means "unreachable"
                _unavailable(str(exc).splitlines()[0])
            created_dbs.append(name)
            url = f"{MARIADB_URL}/{name}"
        upgrade(url)
        engines[backend] = make_engine(url)
        return engines[backend]

    yield get
    for engine in engines.values():
        engine.dispose()
    if created_dbs:
        admin = create_engine(MARIADB_URL)
        with admin.connect() as conn:
            for name in created_dbs:
                conn.execute(text(f"DROP DATABASE IF EXISTS {name}"))
        admin.dispose()


@pytest.fixture(params=BACKENDS)
def backend(request):
    """Each test using the database runs once on SQLite and once on MariaDB."""
    if request.param == "mariadb":
        request.applymarker(pytest.mark.mariadb)
    return request.param


@pytest.fixture
def engine(_engines, backend):
    """The migrated engine of this test's backend."""
    return _engines(backend)


@pytest.fixture
def session(engine):
    """The shared scoped Session bound to one connection whose transaction is rolled back after the test."""
    connection = engine.connect()
    outer = connection.begin()
    Session.remove()
    Session.configure(bind=connection, join_transaction_mode="create_savepoint")
    db = Session()
    try:
        yield db
    finally:
        Session.remove()
        if outer.is_active:
            outer.rollback()
        connection.close()
        Session.configure(bind=None, join_transaction_mode="conditional_savepoint")


@pytest.fixture
def seeded(session):
    """The demo data set, loaded through the services."""
    from app.projection import apply_pending
    from seeds.demo import load

    load(session)
    apply_pending(session)
    session.commit()  # releases the test's savepoint only; the outer transaction is still rolled back
    return session


@pytest.fixture
def app(session):
    """The Flask app using this test's session."""
    from app import create_app

    application = create_app({"TESTING": True, "_ENGINE_BOUND": True, "SECRET_KEY": "test", "WTF_CSRF_ENABLED": True})
    return application


__all__ = ["OrmSession"]
