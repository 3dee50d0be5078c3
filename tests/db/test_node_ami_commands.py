"""`node expire-caches` and `node warm-caches`: which nodes they talk to, and their one-line failures (the nodes'
manager interface off, a name that is not a live node, a node that does not answer)."""

from __future__ import annotations

import socket

import pytest
from sqlalchemy import update

from app.models import Node


@pytest.fixture
def run(app, seeded):
    runner = app.test_cli_runner()
    return lambda *args: runner.invoke(args=list(args))


@pytest.mark.parametrize("command", ["expire-caches", "warm-caches"])
def test_node_ami_commands_fail_in_one_line(run, seeded, monkeypatch, command):
    monkeypatch.delenv("TRUNKLINE_AMI_SECRET", raising=False)
    off = run("node", command)
    assert off.exit_code == 1 and off.output == ("Error: TRUNKLINE_AMI_SECRET (or AMI_SECRET) is not set: the nodes' "
                                                 "manager interface is off\n")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    monkeypatch.setenv("TRUNKLINE_AMI_SECRET", "s3cret")
    monkeypatch.setenv("TRUNKLINE_AMI_PORT", str(closed))
    unknown = run("node", command, "cl-ovh-bhs7", "nosuch")
    assert unknown.exit_code == 1 and unknown.output == "Error: no live node nosuch\n"
    seeded.execute(update(Node).where(Node.name == "cl-ovh-bhs7").values(public_ip="127.0.0.1"))
    seeded.commit()
    down = run("node", command, "cl-ovh-bhs7")
    assert down.exit_code == 1 and "cl-ovh-bhs7: not reached" in down.output and "Traceback" not in down.output
