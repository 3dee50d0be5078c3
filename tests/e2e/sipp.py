"""SIPp scenarios (generated XML) and the parser of SIPp's -trace_msg message log."""

from __future__ import annotations

import re
from dataclasses import dataclass

_HEAD = '<?xml version="1.0" encoding="ISO-8859-1" ?>\n<!DOCTYPE scenario SYSTEM "sipp.dtd">\n'

_SDP = """v=0
o=pbx 53655765 2353687637 IN IP[local_ip_type] [local_ip]
s=-
c=IN IP[media_ip_type] [media_ip]
t=0 0
m=audio [media_port] RTP/AVP 0
a=rtpmap:0 PCMU/8000"""


def _send(text: str, retrans: bool = False) -> str:
    attr = ' retrans="500"' if retrans else ""
    return f"  <send{attr}><![CDATA[\n{text.strip()}\n\n  ]]></send>\n"


def uas_scenario(reject_503: str | None = None, reject_486: str | None = None) -> str:
    """A long-running answering side (carrier or PBX): answers OPTIONS, and INVITEs with 200, or with
    503/486 when the INVITE contains the given trigger digits."""
    ok_headers = """[last_Via:]
[last_From:]
[last_To:];tag=[pid]SIPpTag01[call_number]
[last_Call-ID:]
[last_CSeq:]"""
    checks = ""
    if reject_503:
        checks += f'      <ereg regexp="{reject_503}" search_in="msg" check_it="false" assign_to="r503"/>\n'
    if reject_486:
        checks += f'      <ereg regexp="{reject_486}" search_in="msg" check_it="false" assign_to="r486"/>\n'
    xml = _HEAD + '<scenario name="uas">\n'
    xml += '  <recv request="OPTIONS" optional="true" next="options"/>\n'
    xml += f'  <recv request="INVITE" crlf="true">\n    <action>\n{checks}    </action>\n  </recv>\n' if checks \
        else '  <recv request="INVITE" crlf="true"/>\n'
    xml += _send(f"SIP/2.0 100 Trying\n{ok_headers}\nContent-Length: 0")
    if reject_503:
        xml += '  <nop test="r503" next="rej503"/>\n'
    if reject_486:
        xml += '  <nop test="r486" next="rej486"/>\n'
    xml += _send(f"SIP/2.0 180 Ringing\n{ok_headers}\nContact: <sip:[local_ip]:[local_port]>\nContent-Length: 0")
    xml += _send(f"SIP/2.0 200 OK\n{ok_headers}\nContact: <sip:[local_ip]:[local_port]>\n"
                 f"Content-Type: application/sdp\nContent-Length: [len]\n\n{_SDP}", retrans=True)
    # Up: a re-INVITE (a connected-line update...) is answered like a real carrier does, then the BYE.
    xml += '  <recv request="ACK" crlf="true"/>\n  <label id="up"/>\n'
    xml += '  <recv request="INVITE" optional="true" next="reinvite"/>\n  <recv request="BYE"/>\n'
    xml += _send(f"SIP/2.0 200 OK\n{ok_headers}\nContent-Length: 0")
    xml += '  <nop next="end"/>\n'
    xml += '  <label id="reinvite"/>\n'
    xml += _send(f"SIP/2.0 200 OK\n[last_Via:]\n[last_From:]\n[last_To:]\n[last_Call-ID:]\n[last_CSeq:]\n"
                 f"Contact: <sip:[local_ip]:[local_port]>\nContent-Type: application/sdp\nContent-Length: [len]\n\n{_SDP}",
                 retrans=True)
    xml += '  <recv request="ACK" next="up"/>\n'
    for code, reason in (("503", "Service Unavailable"), ("486", "Busy Here")):
        if (code == "503" and reject_503) or (code == "486" and reject_486):
            xml += f'  <label id="rej{code}"/>\n'
            xml += _send(f"SIP/2.0 {code} {reason}\n{ok_headers}\nContent-Length: 0", retrans=True)
            xml += '  <recv request="ACK" next="end"/>\n'
    xml += '  <label id="options"/>\n'
    xml += _send(f"SIP/2.0 200 OK\n{ok_headers}\nContent-Length: 0")
    xml += '  <label id="end"/>\n</scenario>\n'
    return xml


def uac_scenario(dialled: str, caller: str, expect: int, *, display: str = "Caller", hold_ms: int = 300,
                 from_value: str | None = None, headers: tuple[str, ...] = (), auth: tuple[str, str] | None = None,
                 mid_call: str | None = None, mid_call_from: str | None = None,
                 mid_call_headers: tuple[str, ...] = ()) -> str:
    """One call: INVITE sip:DIALLED@node with From CALLER; expect final answer EXPECT (200: ACK, then BYE).

    from_value: the whole From header value before its tag, as a real PBX writes it (e.g.
    '"Anonymous" <sip:anonymous@anonymous.invalid>'); headers: extra header lines (P-Asserted-Identity,
    Privacy...); auth: (username, password) to answer a 401 challenge with, as a registering PBX does.
    mid_call: "INVITE" or "UPDATE": once answered, send that in-dialog request (a re-INVITE with the same SDP,
    or an UPDATE without a body), with mid_call_headers and From mid_call_from (value before its tag; default
    unchanged), expect 200 (ACK it for a re-INVITE), wait 1.5 s for whatever it sets off, then BYE."""
    from_value = from_value or f'"{display}" <sip:{caller}@[local_ip]:[local_port]>'
    common = f"""From: {from_value};tag=[pid]SIPpTag00[call_number]
Call-ID: [call_id]"""
    extra = "".join(f"{line}\n" for line in headers)

    def invite(cseq: int, auth_line: str = "") -> str:
        return f"""INVITE sip:{dialled}@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
{common}
To: <sip:{dialled}@[remote_ip]:[remote_port]>
CSeq: {cseq} INVITE
Contact: <sip:{caller}@[local_ip]:[local_port]>
{extra}{auth_line}Max-Forwards: 70
Content-Type: application/sdp
Content-Length: [len]

{_SDP}"""

    def ack(cseq: int, via: str = "Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]") -> str:
        return f"""ACK sip:{dialled}@[remote_ip]:[remote_port] SIP/2.0
{via}
{common}
[last_To:]
CSeq: {cseq} ACK
Max-Forwards: 70
Content-Length: 0"""

    xml = _HEAD + '<scenario name="uac">\n'
    xml += _send(invite(1), retrans=True)
    cseq = 1
    if auth is not None:
        xml += '  <recv response="100" optional="true"/>\n'
        xml += '  <recv response="401" auth="true"/>\n'
        xml += _send(ack(1, "[last_Via:]"))
        cseq = 2
        xml += _send(invite(2, f"[authentication username={auth[0]} password={auth[1]}]\n"), retrans=True)
    for code in ("100", "180", "183"):
        if int(code) != expect:
            xml += f'  <recv response="{code}" optional="true"/>\n'
    if expect == 200:
        xml += '  <recv response="200" rtd="true"/>\n'
        xml += _send(ack(cseq))
        xml += f'  <pause milliseconds="{hold_ms}"/>\n'
        if mid_call is not None:
            cseq += 1
            mid_from = f"From: {mid_call_from};tag=[pid]SIPpTag00[call_number]" if mid_call_from else common.split("\n")[0]
            mid_extra = "".join(f"{line}\n" for line in mid_call_headers)
            body = f"Content-Type: application/sdp\nContent-Length: [len]\n\n{_SDP}" if mid_call == "INVITE" \
                else "Content-Length: 0"
            xml += _send(f"""{mid_call} sip:{dialled}@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
{mid_from}
Call-ID: [call_id]
[last_To:]
CSeq: {cseq} {mid_call}
Contact: <sip:{caller}@[local_ip]:[local_port]>
{mid_extra}Max-Forwards: 70
{body}""", retrans=True)
            xml += '  <recv response="100" optional="true"/>\n  <recv response="200"/>\n'
            if mid_call == "INVITE":
                xml += _send(ack(cseq))
            xml += '  <pause milliseconds="1500"/>\n'
        xml += _send(f"""BYE sip:{dialled}@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
{common}
[last_To:]
CSeq: {cseq + 1} BYE
Max-Forwards: 70
Content-Length: 0""", retrans=True)
        xml += '  <recv response="200"/>\n'
    else:
        xml += f'  <recv response="{expect}"/>\n'
        xml += _send(ack(cseq, "[last_Via:]"))
    xml += "</scenario>\n"
    return xml


def register_scenario(user: str, password: str, expect: tuple[int, ...], user_agent: str | None = None) -> str:
    """REGISTER as USER, answer the challenge with PASSWORD, expect one of the final answers
    (with a User-Agent header when user_agent is given, as real PBXs send one)."""
    def register(cseq: int, auth: bool) -> str:
        auth_line = f"[authentication username={user} password={password}]\n" if auth else ""
        auth_line += f"User-Agent: {user_agent}\n" if user_agent else ""
        return f"""REGISTER sip:[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:{user}@[remote_ip]:[remote_port]>;tag=[pid]SIPpTag00[call_number]
To: <sip:{user}@[remote_ip]:[remote_port]>
Call-ID: [call_id]
CSeq: {cseq} REGISTER
Contact: <sip:{user}@[local_ip]:[local_port]>
Expires: 300
Max-Forwards: 70
{auth_line}Content-Length: 0"""
    xml = _HEAD + '<scenario name="register">\n'
    xml += _send(register(1, False), retrans=True)
    xml += '  <recv response="401" auth="true"/>\n'
    xml += _send(register(2, True), retrans=True)
    *optional, last = expect
    for code in optional:
        xml += f'  <recv response="{code}" optional="true" next="done"/>\n'
    xml += f'  <recv response="{last}"/>\n  <label id="done"/>\n</scenario>\n'
    return xml


def registrar_scenario() -> str:
    """A registrar (a registration-based carrier): answers OPTIONS; challenges the first REGISTER of a
    dialog (401, digest) and accepts the next one with 200 (the digest itself is not checked: the
    assertions read the Authorization header received)."""
    reply = """[last_Via:]
[last_From:]
[last_To:];tag=[pid]SIPpReg[call_number]
[last_Call-ID:]
[last_CSeq:]"""
    xml = _HEAD + '<scenario name="registrar">\n'
    xml += '  <recv request="OPTIONS" optional="true" next="options"/>\n'
    xml += '  <recv request="REGISTER"/>\n'
    xml += _send(f'SIP/2.0 401 Unauthorized\n{reply}\nWWW-Authenticate: Digest realm="sip.example", '
                 f'nonce="[pid]n[call_number]", algorithm=MD5\nContent-Length: 0')
    xml += '  <recv request="REGISTER"/>\n'
    xml += _send(f"SIP/2.0 200 OK\n{reply}\n[last_Contact:];expires=3600\nContent-Length: 0")
    xml += '  <nop next="end"/>\n  <label id="options"/>\n'
    xml += _send(f"SIP/2.0 200 OK\n{reply}\nContent-Length: 0")
    xml += '  <label id="end"/>\n</scenario>\n'
    return xml


@dataclass
class Message:
    """One SIP message from a SIPp message log."""

    direction: str  # "received" or "sent"
    text: str

    @property
    def first_line(self) -> str:
        return self.text.split("\n", 1)[0].strip()

    @property
    def method(self) -> str | None:
        line = self.first_line
        return None if line.startswith("SIP/2.0") else line.split(" ", 1)[0]

    @property
    def status(self) -> int | None:
        line = self.first_line
        return int(line.split()[1]) if line.startswith("SIP/2.0") else None

    @property
    def request_user(self) -> str:
        """User part of the Request-URI."""
        match = re.match(r"\S+ sips?:([^@;>\s]+)@", self.first_line)
        return match.group(1) if match else ""

    def header(self, name: str) -> str | None:
        """The first value of a header (long or compact name), or None."""
        compact = {"from": "f", "to": "t", "call-id": "i", "via": "v", "contact": "m"}.get(name.lower())
        for line in self.text.split("\n")[1:]:
            if not line.strip():
                break
            key, _, value = line.partition(":")
            if key.strip().lower() in (name.lower(), compact):
                return value.strip()
        return None

    def header_user(self, name: str) -> str | None:
        """User part of the URI in a From/To/P-Asserted-Identity header."""
        value = self.header(name)
        if value is None:
            return None
        match = re.search(r"sips?:([^@;>\s]+)@", value)
        return match.group(1) if match else None


_SPLIT = re.compile(r"^-{20,}.*?\n(UDP|TCP) message (received|sent)[^\n]*:\n", re.M)


def parse_messages(text: str) -> list[Message]:
    """Split a SIPp -trace_msg log into messages."""
    parts = _SPLIT.split(text)
    out = []
    # parts: [preamble, proto, direction, body, proto, direction, body, ...]
    for i in range(1, len(parts) - 2, 3):
        body = parts[i + 2].replace("\r\n", "\n").strip("\n")
        out.append(Message(parts[i + 1], body))
    return out
