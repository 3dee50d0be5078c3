"""app.dbreplica's pure parts: which replicas the admin tries, in which order, the remembered list, the banner words."""

from __future__ import annotations

from app.dbdown import is_unreachable
from app.dbreplica import Server, remember_servers, remembered_servers, replica_urls, status_words

PRIMARY = "mysql+mysqldb://admin:s3cret@10.0.0.10:3306/trunkline?charset=utf8mb4"
SERVERS = [Server("db-primary", "10.0.0.10", 3306, "primary", "Vultr"),
           Server("vultr-r1", "10.1.0.11", 3306, "replica", "Vultr"),
           Server("ovh-r2", "10.2.0.12", 3307, "replica", "OVHcloud"),
           Server("ovh-r1", "10.2.0.11", 3306, "replica", "OVHcloud")]


def test_remembered_replicas_in_read_order_for_the_admins_provider_with_its_credentials():
    order = replica_urls(PRIMARY, [], SERVERS, "OVHcloud")
    assert [name for name, _ in order] == ["ovh-r1", "ovh-r2", "vultr-r1"]  # local replicas first, never the primary
    assert order[1][1] == "mysql+mysqldb://admin:s3cret@10.2.0.12:3307/trunkline?charset=utf8mb4"
    assert [name for name, _ in replica_urls(PRIMARY, [], SERVERS, None)] == ["ovh-r1", "ovh-r2", "vultr-r1"]
    assert [name for name, _ in replica_urls(PRIMARY, [], SERVERS, "Vultr")] == ["vultr-r1", "ovh-r1", "ovh-r2"]


def test_configured_urls_come_first_and_each_server_is_tried_once():
    configured = ["mysql+mysqldb://ro:pw@10.1.0.11/trunkline", "mysql+mysqldb://admin:s3cret@10.0.0.10:3306/trunkline"]
    order = replica_urls(PRIMARY, configured, SERVERS, "OVHcloud")
    assert [name for name, _ in order] == ["10.1.0.11:3306", "ovh-r1", "ovh-r2"]  # the primary's address is dropped
    assert order[0][1] == configured[0]


def test_remembered_list_round_trip_and_unreadable_file(tmp_path):
    path = tmp_path / "sub" / "db_servers.json"
    assert remembered_servers(path) == []
    remember_servers(path, SERVERS)
    assert remembered_servers(path) == SERVERS
    assert "s3cret" not in path.read_text()
    path.write_text("{not json")
    assert remembered_servers(path) == []



def test_a_list_remembered_from_another_primary_is_not_used(tmp_path):
    path = tmp_path / "db_servers.json"
    remember_servers(path, SERVERS, "mysql+mysqldb://admin:pw@10.0.0.10:3306/trunkline")
    assert "pw@" not in path.read_text()
    assert remembered_servers(path, "mysql+mysqldb://other:x@10.0.0.10:3306/trunkline") == SERVERS  # same cluster
    assert remembered_servers(path, "mysql+mysqldb://admin:pw@10.0.0.10:3306/trial") == []  # another database
    assert remembered_servers(path, "mysql+mysqldb://admin:pw@127.77.41.1:3417/trunkline") == []  # another server


def test_banner_words_from_slave_status():
    assert status_words({"Seconds_Behind_Master": 4}, "0-1-9") == (4, "replication lag 4 s (Seconds_Behind_Master)")
    lag, words = status_words({"Seconds_Behind_Master": None, "Slave_IO_Running": "Connecting", "Gtid_IO_Pos": "0-1-9"}, "0-1-9")
    assert lag is None and "Seconds_Behind_Master is NULL" in words and "applied everything it received (GTID 0-1-9)" in words
    _, words = status_words({"Seconds_Behind_Master": None, "Slave_IO_Running": "Connecting", "Gtid_IO_Pos": "0-1-12"}, "0-1-9")
    assert "received up to GTID 0-1-12 but applied only 0-1-9" in words
    assert "replicates from no server" in status_words(None, "")[1]


def test_a_write_in_a_read_only_transaction_counts_as_unreachable():
    from sqlalchemy.exc import OperationalError

    class Err(Exception):
        pass

    assert is_unreachable(OperationalError("INSERT", {}, Err(1792, "Cannot execute statement in a READ ONLY transaction")))
    assert not is_unreachable(OperationalError("INSERT", {}, Err(1062, "Duplicate entry")))
