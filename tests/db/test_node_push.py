"""The after-commit push is best effort: an unreachable node is logged, never raised."""

from __future__ import annotations

import logging
import socket

from sqlalchemy.orm import Session as OrmSession

from app import node_push
from app.db import make_engine
from app.migrations import upgrade
from app.services import nodes
from app.services.audit import Actor


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_an_unreachable_node_is_logged_and_the_others_are_still_tried(tmp_path, caplog):
    url = f"sqlite:///{tmp_path / 'push.db'}"
    upgrade(url)
    engine = make_engine(url)
    with OrmSession(engine) as session:
        for name, ip in (("cl-down-1", "127.0.0.1"), ("cl-down-2", "127.0.0.2")):
            nodes.save(session, {"name": name, "role": "client", "public_ip": ip, "hosting_provider": "Vultr"}, Actor("t", "cli"))
        session.commit()
    caplog.set_level(logging.WARNING, logger="app.node_push")
    node_push.push(engine, {"endpoint": {"trunk-ACME-main"}}, "secret", _free_port())
    warned = [r.getMessage() for r in caplog.records]
    assert len(warned) == 2 and all("not told to expire its cache" in m for m in warned), warned
    assert {"cl-down-1", "cl-down-2"} == {m.split()[1] for m in warned}
    engine.dispose()

