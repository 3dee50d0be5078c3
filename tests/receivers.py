"""Real receivers on loopback for the alert tests: an SMTP server (aiosmtpd) and an HTTP server that records POSTs."""

from __future__ import annotations

import json
import socket
import threading
import time
from contextlib import contextmanager
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from aiosmtpd.controller import Controller


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


class _Inbox:
    def __init__(self):
        self.messages: list[tuple[float, object]] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        self.messages.append((time.time(), message_from_bytes(envelope.content)))
        return "250 Message accepted for delivery"


@contextmanager
def smtp_server(host: str = "127.0.0.1"):
    """A real SMTP server; yields (host, port, inbox) where inbox.messages is [(arrival time, email.message)]."""
    inbox = _Inbox()
    port = free_port(host)
    controller = Controller(inbox, hostname=host, port=port)
    controller.start()
    try:
        yield host, port, inbox
    finally:
        controller.stop()


class _Hook(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 - http.server's hook name
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.received.append((time.time(), self.path, dict(self.headers), body))
        status = self.server.answers.pop(0) if self.server.answers else 200
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@contextmanager
def http_receiver(host: str = "127.0.0.1"):
    """A real HTTP server; yields (url, server): server.received is [(time, path, headers, body)], and
    server.answers a list of status codes to answer with first (then 200)."""
    server = ThreadingHTTPServer((host, 0), _Hook)
    server.received, server.answers = [], []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{host}:{server.server_address[1]}/hooks/911", server
    finally:
        server.shutdown()
        server.server_close()


def json_bodies(server) -> list[dict]:
    return [json.loads(body) for _t, _p, _h, body in server.received]
