"""The demo data projects cleanly on both backends."""

from app.projection import drift


def test_seeded_database_has_no_drift(seeded):
    assert drift(seeded) == []
