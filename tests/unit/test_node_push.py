"""Which AMI actions a set of changed cached objects becomes."""

from __future__ import annotations

from app.node_push import actions_for


def test_each_changed_object_is_expired_by_name_and_identify_as_a_whole():
    actions = actions_for({"endpoint": {"trunk-ACME-main", "carrier-telus"}, "aor": {"trunk-ACME-main"}, "auth": set(),
                           "identify": {"trunk-ACME-main-ip1", "trunk-ACME-main-ip2"}})
    assert actions == [
        {"Action": "SorceryMemoryCacheExpireObject", "Cache": "endpoint", "Object": "carrier-telus"},
        {"Action": "SorceryMemoryCacheExpireObject", "Cache": "endpoint", "Object": "trunk-ACME-main"},
        {"Action": "SorceryMemoryCacheExpireObject", "Cache": "aor", "Object": "trunk-ACME-main"},
        {"Action": "SorceryMemoryCacheExpire", "Cache": "identify"},
    ]


def test_nothing_changed_means_nothing_to_send():
    assert actions_for({}) == []
    assert actions_for({"endpoint": set(), "identify": set()}) == []
