"""`flask e911 ...`: answer "where does a 911 call from this trunk go, and with which digits?"."""

from __future__ import annotations

import json

import click
from flask import Flask

from app.cli import domain_command, fail, read_command
from app.db import Session
from app.e911 import resolve_e911
from app.errors import E911Unresolved
from app.numbering import FORMAT_LABELS, NumberFormat
from app.services import trunks

UNRESOLVED_EXIT = 3  # `e911 resolve`: nothing resolves (documented in README.md, "E911 cascade")


def register(app: Flask) -> None:
    """Attach the e911 group."""

    @app.cli.group("e911")
    def e911_group():
        """E911 cascade tools."""

    @e911_group.command("resolve")
    @click.option("--trunk", "trunk_ref", required=True, metavar="ACCOUNT_CODE/TRUNK_NAME", help="The calling trunk.")
    @click.option("--caller-id", default=None, metavar="NUMBER", help="Caller ID the PBX presents (any NANP spelling).")
    @click.option("--json", "as_json", is_flag=True, help="Print one JSON object: number, level, carrier, sent.")
    @domain_command
    @read_command
    def resolve_cmd(trunk_ref: str, caller_id: str | None, as_json: bool):
        """Show the number a 911 call would present, the level it came from, the carrier and the digits sent.

        \b
        Exit status: 0 resolved; 3 nothing resolves (the reason for each level on stderr);
        1 a wrong trunk or caller ID (one line); 2 a usage error (a missing or unknown option).
        """
        account, sep, name = trunk_ref.partition("/")
        if not sep or not account or not name:
            fail(f"--trunk must be ACCOUNT_CODE/TRUNK_NAME, not '{trunk_ref}'")
        trunk = trunks.get(Session(), account, name)
        try:
            route = resolve_e911(Session(), trunk, caller_id)
        except E911Unresolved as exc:
            # 3, not 2: click already uses 2 for usage errors, and a script must tell "no E911 route" from a typo.
            fail(str(exc), code=UNRESOLVED_EXIT)
        if as_json:
            click.echo(json.dumps(route.as_dict()))
            return
        fmt = FORMAT_LABELS[NumberFormat(route.carrier.e911_callerid_format)]
        click.echo(f"number:  {route.number}")
        click.echo(f"level:   {route.level}")
        click.echo(f"carrier: {route.carrier.name}")
        click.echo(f"sent:    {route.sent}  ({fmt}; From{' and P-Asserted-Identity' if route.send_pai else ''})")
        for reason in route.skipped:
            click.echo(f"skipped: {reason}")
