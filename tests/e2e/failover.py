"""Database failure drills on the e2e platform: a loopback GTID primary and replica (scripts/db_loopback.py),
steady SIPp load whose every call logs when it started and how it ended, faults injected into one server
(kill -9, SIGSTOP, an nftables drop rule), a per-second timeline, and the CDR check after recovery.

Used by tests/e2e/test_db_failover.py (pass/fail) and bench/bench_db_failover.py (figures)."""

from __future__ import annotations

import contextlib
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from tests.e2e import data
from tests.e2e.dbcluster import loopback
from tests.e2e.harness import SIP_PORT, UAC_PORT, Platform
from tests.e2e.sipp import _HEAD, _SDP, _send

# Final answers a failing call may get; anything else aborts the SIPp call (counted as "other").
FAIL_CODES = ("400", "401", "403", "404", "407", "408", "480", "484", "486", "488", "500", "502", "503", "504", "603")


def db_servers_prepare(primary, replica, provider: str):
    """A Platform `prepare` hook: record the two servers (the replica at the nodes' hosting provider)."""
    def prepare(platform, session):
        from app.services import db_servers
        from app.services.audit import Actor

        actor = Actor("e2e", "cli")
        db_servers.save(session, {"name": "db-primary", "host": primary.host, "port": primary.port, "role": "primary",
                                  "hosting_provider": "elsewhere"}, actor)
        db_servers.save(session, {"name": "db-replica", "host": replica.host, "port": replica.port, "role": "replica",
                                  "hosting_provider": provider}, actor)
    return prepare


def logged_uac(dialled: str, caller: str, hold_ms: int) -> str:
    """A UAC scenario that accepts any of FAIL_CODES as the final answer (ACKs it and ends the call), so a failing
    call is recorded with its code in SIPp's short message trace instead of aborting the scenario."""
    common = f"""From: "Load" <sip:{caller}@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
Call-ID: [call_id]"""
    ack = f"""ACK sip:{dialled}@[remote_ip]:[remote_port] SIP/2.0
[last_Via:]
{common}
[last_To:]
CSeq: 1 ACK
Max-Forwards: 70
Content-Length: 0"""
    xml = _HEAD + '<scenario name="failover-uac">\n'
    xml += _send(f"""INVITE sip:{dialled}@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
{common}
To: <sip:{dialled}@[remote_ip]:[remote_port]>
CSeq: 1 INVITE
Contact: <sip:{caller}@[local_ip]:[local_port]>
Max-Forwards: 70
Content-Type: application/sdp
Content-Length: [len]

{_SDP}""", retrans=True)
    for code in ("100", "180", "183"):
        xml += f'  <recv response="{code}" optional="true"/>\n'
    for code in FAIL_CODES:
        xml += f'  <recv response="{code}" optional="true" next="c{code}"/>\n'
    xml += '  <recv response="200" timeout="15000" ontimeout="tmo"/>\n'
    xml += _send(ack.replace("[last_Via:]", "Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]"))
    xml += f'  <pause milliseconds="{hold_ms}"/>\n'
    xml += _send(f"""BYE sip:{dialled}@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
{common}
[last_To:]
CSeq: 2 BYE
Max-Forwards: 70
Content-Length: 0""", retrans=True)
    xml += '  <recv response="200" timeout="15000"/>\n  <nop next="end"/>\n'
    for code in FAIL_CODES:
        xml += f'  <label id="c{code}"/>\n'
        xml += _send(ack) + '  <nop next="end"/>\n'
    xml += '  <label id="tmo"/>\n'
    xml += '  <label id="end"/>\n</scenario>\n'
    return xml


@dataclass
class Load:
    """SIPp placing calls at a steady rate from the main PBX through both nodes (PBX -> cl1 -> cn1 -> carrier)."""

    platform: Platform
    rate: int
    seconds: int
    hold_ms: int = 300
    proc: subprocess.Popen | None = None
    started: float = 0.0
    log: Path | None = None

    def start(self) -> None:
        work = self.platform.workdir
        xml = work / f"failover-{self.rate}.xml"
        xml.write_text(logged_uac("3125550123", "2045552001", self.hold_ms))
        self.log = work / f"failover-{self.rate}-messages.log"
        self.log.unlink(missing_ok=True)
        calls = self.rate * self.seconds
        self.proc = subprocess.Popen(
            ["sipp", "-sf", str(xml), "-i", data.PBX["main"], "-p", str(UAC_PORT), "-mp", "6500", "-r", str(self.rate),
             "-rp", "1000", "-m", str(calls), "-l", str(self.rate * 40), "-timeout", str(self.seconds * 3 + 60),
             "-trace_shortmsg", "-shortmessage_file", str(self.log), "-nostdin", "-aa",
             f"{data.CLIENT_NODE['public_ip']}:{SIP_PORT}"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        self.started = time.monotonic()

    def wait(self) -> int:
        return self.proc.wait(timeout=self.seconds * 3 + 90)

    def calls(self) -> list[dict]:
        """One dict per call: start (s since the load began), code (final answer to the INVITE; None: none came),
        pdd (s from the INVITE to the 200). Read from SIPp's short message trace (one line per message)."""
        starts, ends = {}, {}
        lines = self.log.read_text(errors="replace").splitlines() if self.log.exists() else []
        for line in lines:
            parts = line.split("\t")
            if len(parts) < 7 or parts[5] != "CSeq:1 INVITE":
                continue
            stamp, direction, call_id, first = float(parts[2]), parts[3], parts[4], parts[6]
            if direction == "S" and first.startswith("INVITE "):
                starts.setdefault(call_id, stamp)
            elif direction == "R" and first.startswith("SIP/2.0 "):
                code = int(first.split()[1])
                if code >= 200:
                    ends.setdefault(call_id, (stamp, code))
        if not starts:
            return []
        base = min(starts.values())
        out = []
        for call_id, t0 in sorted(starts.items(), key=lambda item: item[1]):
            t1, code = ends.get(call_id, (None, None))
            out.append({"call": call_id, "start": t0 - base, "code": code,
                        "pdd": t1 - t0 if t1 is not None and code == 200 else None})
        return out


def timeline(calls: list[dict]) -> list[dict]:
    """Per second of the run: attempted, answered, failed by SIP code, post-dial delay p50/p99 (ms)."""
    per = defaultdict(list)
    for c in calls:
        per[int(c["start"])].append(c)
    rows = []
    for second in range(0, (max(per) + 1) if per else 0):
        group = per.get(second, [])
        pdds = sorted(c["pdd"] * 1000 for c in group if c["pdd"] is not None)
        failed = Counter(str(c["code"] if c["code"] is not None else "none") for c in group if c["code"] != 200)
        rows.append({"second": second, "attempted": len(group), "answered": sum(c["code"] == 200 for c in group),
                     "failed": dict(failed), "pdd_p50": _pct(pdds, 50), "pdd_p99": _pct(pdds, 99)})
    return rows


def _pct(values: list[float], p: int) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[p - 1] if p < 100 else values[-1]


@dataclass
class FaultLog:
    """When each fault began (seconds since the load started) and what it was."""

    events: list[tuple[float, str]] = field(default_factory=list)

    def mark(self, load: Load, what: str) -> None:
        self.events.append((time.monotonic() - load.started, what))


class Faults:
    """Faults injected into one loopback MariaDB server."""

    def __init__(self, table: str):
        self.table = table  # our own nftables table: removed whole afterwards, nothing else touched

    def kill(self, inst) -> None:
        os.kill(inst.pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(inst.pid, 0)
        inst.pid = None

    def restart(self, inst, *, replica: bool) -> None:
        loopback.restart(inst, replica=replica)
        if replica:
            inst.sql("START SLAVE")

    def freeze(self, inst) -> None:
        os.kill(inst.pid, signal.SIGSTOP)

    def thaw(self, inst) -> None:
        os.kill(inst.pid, signal.SIGCONT)

    def block(self, inst) -> None:
        rules = (f"table inet {self.table} {{\n chain out {{ type filter hook output priority -10; policy accept;\n"
                 f"  ip daddr {inst.host} tcp dport {inst.port} drop\n }}\n}}\n")
        subprocess.run(["nft", "-f", "-"], input=rules, text=True, check=True, capture_output=True)

    def unblock(self) -> None:
        subprocess.run(["nft", "delete", "table", "inet", self.table], capture_output=True, check=False)


def run_in_background(fn) -> threading.Thread:
    thread = threading.Thread(target=fn, daemon=True)
    thread.start()
    return thread


def wait_until(load: Load, second: float) -> None:
    delay = load.started + second - time.monotonic()
    if delay > 0:
        time.sleep(delay)


def spool_records(platform: Platform) -> list[dict]:
    """Every CDR the nodes wrote to their local spools."""
    import json

    out = []
    for node in platform.nodes.values():
        path = node.cdr_spool
        if path.exists():
            out += [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return out


def ship(platform: Platform, urls: list[str]) -> None:
    """Run scripts/cdr_ship.py once for each node's spool (as the node's timer would)."""
    from tests.e2e.dbcluster import ROOT

    for node in platform.nodes.values():
        result = subprocess.run([sys.executable, str(ROOT / "scripts" / "cdr_ship.py"),
                                 "--spool", str(node.cdr_spool), *sum((["--db", u] for u in urls), [])],
                                capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            raise RuntimeError(f"cdr_ship for {node.name}: {result.stderr.strip()}")
