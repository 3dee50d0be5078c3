"""The fixtures' promise: what one test commits (even through the CLI) is gone in the next one."""

from sqlalchemy import func, select

from app.models import Carrier


def test_first_a_test_commits_data(seeded, backend):
    seeded.commit()
    assert seeded.scalar(select(func.count()).select_from(Carrier)) == 3


def test_then_the_next_test_starts_empty(session, backend):
    assert session.scalar(select(func.count()).select_from(Carrier)) == 0
