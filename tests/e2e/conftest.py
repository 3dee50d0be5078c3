"""The end-to-end platform, started once per test session (two Asterisk nodes, SIPp, MariaDB).

With CI=true a platform that cannot be had fails the tests; otherwise they are skipped.
"""

from __future__ import annotations

import os

import pytest

from tests.e2e.harness import Platform, Unavailable

IN_CI = os.environ.get("CI", "").lower() == "true"


@pytest.fixture(scope="session", params=["switch", "odbc"])
def platform(request, tmp_path_factory):
    """The running sandbox, once per way the dialplan reads realtime keys (`node render --lookup`);
    torn down (processes, database, mounts) after its tests."""
    plat = Platform(tmp_path_factory.mktemp(f"e2e-{request.param}"), lookup=request.param)
    try:
        plat.start()
    except Unavailable as exc:
        plat.stop()
        if IN_CI:
            pytest.fail(f"the Asterisk sandbox is required when CI=true: {exc}", pytrace=False)
        pytest.skip(f"Asterisk sandbox unavailable: {exc}")
    except BaseException:
        plat.stop()
        raise
    yield plat
    plat.stop()
