"""`flask calls ...`: call counts from the call records (each call once), the rollup behind them, monthly usage."""

from __future__ import annotations

import csv
import json
import sys
from datetime import date

import click
from flask import Flask

from app import calls
from app.cli import domain_command, fail, read_command
from app.db import Session
from app.dbreplica import serving_replica


def _day(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        fail(f"{option} must be a date as YYYY-MM-DD, not '{value}'")


def _month(value: str) -> date:
    try:
        year, month = value.strip().split("-")
        return date(int(year), int(month), 1)
    except ValueError:
        fail(f"--month must be YYYY-MM, not '{value}'")


def _refresh(session) -> None:
    """Read the new call records into the rollup; from a replica (primary down) it cannot be written: the counts are
    those of the last refresh, and stderr says as of when."""
    if serving_replica():
        when = calls.freshness(session)["refreshed_at"]
        click.echo(f"note: counts as of the last rollup refresh ({f'{when:%Y-%m-%d %H:%M:%S} UTC' if when else 'never'}); "
                   "newer call records are counted once the primary is back", err=True)
        return
    calls.refresh(session)
    session.commit()


def register(app: Flask) -> None:
    """Attach the calls group."""

    @app.cli.group("calls")
    def calls_group():
        """Call counts from the nodes' call records (cdr), each call counted once."""

    @calls_group.command("summary")
    @click.option("--since", metavar="YYYY-MM-DD", help="First UTC day counted (default: the first call).")
    @click.option("--until", metavar="YYYY-MM-DD", help="Last UTC day counted, included (default: today).")
    @click.option("--json", "as_json", is_flag=True,
                  help="Print one JSON object: calls, by_client, by_carrier, e911_calls (and answered, billed_minutes, "
                       "inbound, outbound).")
    @domain_command
    @read_command
    def summary_cmd(since: str | None, until: str | None, as_json: bool):
        """Print the counts the dashboard shows: calls, per client account code, per carrier, 911 calls.

        Reads the new call records first (the same refresh as `calls rollup`), so the counts are current.
        """
        first, last = _day(since, "--since"), _day(until, "--until")
        if first and last and first > last:
            fail(f"--since {first} is after --until {last}")
        session = Session()
        _refresh(session)
        counts = calls.summary(session, first, last)
        if as_json:
            click.echo(json.dumps(counts, sort_keys=False))
            return
        span = (f"from {first} to {last}" if first and last else f"since {first}" if first
                else f"up to {last}" if last else "all calls recorded")
        click.echo(f"period:     {span} (UTC days, both ends included)")
        click.echo(f"calls:      {counts['calls']}  ({counts['outbound']} outbound, {counts['inbound']} inbound)")
        click.echo(f"answered:   {counts['answered']}  ({counts['billed_minutes']} billed minutes)")
        click.echo(f"911 calls:  {counts['e911_calls']}")
        for title, table in (("by client", counts["by_client"]), ("by carrier", counts["by_carrier"])):
            if not table:
                click.echo(f"{title}: none")
                continue
            click.echo(f"{title}:")
            for name, n in sorted(table.items(), key=lambda kv: (-kv[1], kv[0])):
                click.echo(f"  {name:<20} {n}")

    @calls_group.command("rollup")
    @click.option("--rebuild", is_flag=True, help="Recompute every day from the whole cdr table instead of the new records.")
    def rollup_cmd(rebuild: bool):
        """Count the call records that arrived since the last run (run it every minute from a timer)."""
        session = Session()
        result = calls.rebuild(session) if rebuild else calls.refresh(session)
        session.commit()
        days = ", ".join(str(d) for d in result.days) or "none"
        click.echo(f"calls rollup: {result.new_records} call record(s) read; days recomputed: {days}")

    @calls_group.command("usage")
    @click.option("--month", "month_text", required=True, metavar="YYYY-MM", help="The calendar month (UTC).")
    @click.option("--by", type=click.Choice(["client", "carrier"]), default="client", show_default=True)
    @click.option("--out", type=click.Path(dir_okay=False, writable=True), help="Write the CSV here instead of stdout.")
    @domain_command
    @read_command
    def usage_cmd(month_text: str, by: str, out: str | None):
        """Monthly usage per client or per carrier as CSV (calls, inbound, outbound, answered, billed minutes, 911)."""
        month = _month(month_text)
        session = Session()
        _refresh(session)
        rows = calls.monthly_usage(session, month)["clients" if by == "client" else "carriers"]
        fh = open(out, "w", newline="", encoding="utf-8") if out else sys.stdout  # noqa: SIM115 - closed below
        try:
            writer = csv.writer(fh)
            writer.writerow([by, "month", *calls.USAGE_COLUMNS])
            for row in rows:
                writer.writerow([row["name"] or "(none)", f"{month:%Y-%m}", *(row[c] for c in calls.USAGE_COLUMNS)])
        finally:
            if out:
                fh.close()
