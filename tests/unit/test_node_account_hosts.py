"""`node account --host`: MariaDB takes any string as a host (999.1.1.1 is a name that never resolves), so what looks
like an IPv4 address must be one, or a pattern of octets and wildcards (app.services.node_accounts.check_host)."""

from __future__ import annotations

import pytest

from app.errors import ValidationError
from app.services import node_accounts


@pytest.mark.parametrize("host", ["999.1.1.1", "1.2.3", "10.0.0.256", "010.0.0.1", "1.2.3.4.5", "300.%", "10.0.0.1000_",
                                  "2001:db8::zz"])
def test_hosts_that_look_like_addresses_must_be_addresses(host):
    with pytest.raises(ValidationError) as caught:
        node_accounts.check_host(host)
    assert f"'{host}' is not an IPv" in str(caught.value)


@pytest.mark.parametrize("host", ["192.0.2.10", "10.0.0.%", "10.%", "192.168.1_.%", "%", "pbx-1.example.net", "localhost",
                                  "2001:db8::1", "127.0.0.1"])
def test_addresses_patterns_and_names_are_accepted(host):
    assert node_accounts.check_host(host) == host
