"""The rendered nftables rule set, applied in network namespaces of its own: SIP from a whitelisted
address gets through, from any other address it is dropped; management only from the admin network.

Two private namespaces joined by a veth pair, addressed in 127.77.0.0/24 (loopback range, routed
with route_localnet), so no traffic can leave the machine.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid

import pytest

from app.nodeconf import NodeSettings, render_node
from app.services import carriers, nodes
from app.services.audit import Actor

pytestmark = pytest.mark.asterisk
IN_CI = os.environ.get("CI", "").lower() == "true"
NODE_IP, CARRIER_IP, OTHER_IP, ADMIN_IP = "127.77.0.10", "127.77.0.1", "127.77.0.3", "127.77.0.5"
LISTENER = """
import socket, sys
udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); udp.bind((sys.argv[1], 5060))
tcp = socket.socket(); tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); tcp.bind((sys.argv[1], 22)); tcp.listen()
tcp.settimeout(0.2); udp.settimeout(0.2)
print("ready", flush=True)
import time
end = time.time() + 3.5
while time.time() < end:
    try:
        data, addr = udp.recvfrom(2000); print("udp", addr[0], flush=True)
    except OSError:
        pass
    try:
        conn, addr = tcp.accept(); print("tcp", addr[0], flush=True); conn.close()
    except OSError:
        pass
"""
SENDER = """
import socket, sys
for src in sys.argv[2:]:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind((src, 0))
    s.sendto(b"OPTIONS sip:probe@x SIP/2.0\\r\\n\\r\\n", (sys.argv[1], 5060))
    t = socket.socket(); t.bind((src, 0)); t.settimeout(0.5)
    try:
        t.connect((sys.argv[1], 22))
    except OSError:
        pass
    t.close()
"""


def sh(*cmd, check=True):
    return subprocess.run(list(cmd), capture_output=True, text=True, check=check, timeout=30)


@pytest.fixture
def namespaces():
    if os.geteuid() != 0 or not shutil.which("nft") or not shutil.which("ip"):
        if IN_CI:
            pytest.fail("the firewall test needs root, nft and ip when CI=true", pytrace=False)
        pytest.skip("needs root, nft and ip")
    tag = uuid.uuid4().hex[:6]
    outside, node = f"tlfw-o-{tag}", f"tlfw-n-{tag}"
    va, vb = f"tlo{tag}", f"tln{tag}"
    try:
        sh("ip", "netns", "add", outside)
        sh("ip", "netns", "add", node)
        sh("ip", "link", "add", va, "type", "veth", "peer", "name", vb)
        sh("ip", "link", "set", va, "netns", outside)
        sh("ip", "link", "set", vb, "netns", node)
        for ns, dev, addrs in ((outside, va, (CARRIER_IP, OTHER_IP, ADMIN_IP)), (node, vb, (NODE_IP,))):
            sh("ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv4.conf.all.route_localnet=1",
               f"net.ipv4.conf.{dev}.route_localnet=1")
            for addr in addrs:
                sh("ip", "-n", ns, "addr", "add", f"{addr}/24", "dev", dev)
            sh("ip", "-n", ns, "link", "set", dev, "up")
            sh("ip", "-n", ns, "link", "set", "lo", "up")
        yield outside, node
    finally:
        sh("ip", "netns", "del", outside, check=False)
        sh("ip", "netns", "del", node, check=False)


def received(outside, node, ruleset_path=None):
    """Send SIP (UDP 5060) and SSH (TCP 22) probes from each outside address; what the node saw."""
    if ruleset_path:
        sh("ip", "netns", "exec", node, "nft", "-f", str(ruleset_path))
    listener = subprocess.Popen(["ip", "netns", "exec", node, "python3", "-c", LISTENER, NODE_IP],
                                stdout=subprocess.PIPE, text=True)
    try:
        assert listener.stdout.readline().strip() == "ready"
        sh("ip", "netns", "exec", outside, "python3", "-c", SENDER, NODE_IP, CARRIER_IP, OTHER_IP, ADMIN_IP)
        out, _ = listener.communicate(timeout=15)
    finally:
        if listener.poll() is None:
            listener.kill()
    return {tuple(line.split()) for line in out.splitlines()}


def test_5_firewall_drops_sip_from_addresses_on_no_whitelist(seeded, namespaces, tmp_path):
    actor = Actor("test", "cli")
    carriers.save(seeded, {"name": "fwtest", "signalling_addresses": CARRIER_IP}, actor)
    nodes.save(seeded, {"name": "cn-fw", "role": "carrier", "public_ip": NODE_IP, "hosting_provider": "test"}, actor)
    nft = render_node(seeded, "cn-fw", NodeSettings(admin_networks=[f"{ADMIN_IP}/32"]))["nftables.conf"]
    path = tmp_path / "cn-fw.nft"
    path.write_text(nft)
    outside, node = namespaces
    # Without the rule set every probe arrives: the probes themselves work.
    assert received(outside, node) == {("udp", CARRIER_IP), ("udp", OTHER_IP), ("udp", ADMIN_IP),
                                       ("tcp", CARRIER_IP), ("tcp", OTHER_IP), ("tcp", ADMIN_IP)}
    # With it: SIP only from the carrier, SSH only from the admin network.
    assert received(outside, node, path) == {("udp", CARRIER_IP), ("tcp", ADMIN_IP)}
