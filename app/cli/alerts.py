"""`flask alerts ...`: the 911 alert watcher (a service of its own) and one-shot delivery / reconciliation."""

from __future__ import annotations

import logging
import signal
import threading

import click
from flask import Flask, current_app

from app.cli import domain_command, fail
from app.db import Session


def _smtp():
    """The SMTP settings; a wrong one raises AlertSettingsError (a DomainError: one line, exit 1 under domain_command)."""
    from app.alerts.deliver import SmtpSettings

    return SmtpSettings.from_config(current_app.config)


def register(app: Flask) -> None:
    """Attach the alerts group."""

    @app.cli.group("alerts")
    def alerts_group():
        """911 call alerts: record every 911 call as it starts and tell each client's alert contacts."""

    @alerts_group.command("watch")
    @click.option("--seconds", type=float, default=None, help="Stop after this many seconds (default: run until stopped).")
    @domain_command
    def watch_cmd(seconds: float | None):
        """Listen to every live client node (AMI), record each 911 call and send its alerts; retry failures.

        Also tells live nodes the cache expiries they missed (node_push_pending, every 15 s) and has each node that
        (re)started read every endpoint it serves into its caches (checked every 60 s): app.node_push.run_retrier.

        Needs TRUNKLINE_AMI_SECRET (the nodes' manager secret) and the SMTP settings ALERT_SMTP_HOST, ALERT_SMTP_PORT,
        ALERT_FROM (ALERT_SMTP_USER, ALERT_SMTP_PASSWORD, ALERT_SMTP_STARTTLS=1 when the server wants them).
        Stops cleanly on SIGTERM or Ctrl-C.
        """
        from app.alerts.watcher import Watcher
        from app.node_push import ami_settings

        smtp = _smtp()  # a wrong ALERT_* setting: one line and exit 1, before anything starts
        secret, port = ami_settings()
        if not secret:
            fail("TRUNKLINE_AMI_SECRET is not set: the watcher cannot log in to the nodes' manager interface")
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        stop = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
        engine = current_app.extensions.get("trunkline_engine") or Session().get_bind()
        click.echo(f"alerts: watching the client nodes' manager interfaces (port {port}); SMTP server {smtp}", err=True)
        Watcher(engine, secret, port, smtp).run(stop, seconds)

    @alerts_group.command("deliver")
    @domain_command
    def deliver_cmd():
        """Send the alerts that are due now (first attempts and retries), once.

        Exit status: 0 when every alert tried was sent (or none was due); 1 when one failed for good (its last
        attempt: given up, shown as failed); 3 when one failed and will be retried later (none given up).
        """
        from app.alerts.deliver import deliver_due

        done = deliver_due(Session(), _smtp())
        gave_up = [d for d in done if d.status == "failed"]
        retrying = [d for d in done if d.status == "retrying"]
        sent = len(done) - len(gave_up) - len(retrying)
        click.echo(f"alerts: {sent} sent, {len(retrying)} failed and will be retried, {len(gave_up)} failed for good"
                   " (given up)")
        for d in retrying:
            click.echo(f"  {d.channel} {d.target}: {d.last_error} (next try at {d.next_attempt_at:%Y-%m-%d %H:%M:%S} UTC)",
                       err=True)
        for d in gave_up:
            click.echo(f"  {d.channel} {d.target}: GIVEN UP after {d.attempts} attempts: {d.last_error}", err=True)
        if gave_up:
            raise SystemExit(1)
        if retrying:
            raise SystemExit(3)

    @alerts_group.command("reconcile")
    def reconcile_cmd():
        """Record the 911 calls the call records show and no event announced (then `alerts deliver`)."""
        from app.alerts import reconcile_from_cdr

        calls = reconcile_from_cdr(Session())
        Session.commit()
        click.echo(f"alerts: {len(calls)} 911 call(s) found in the call records that were not recorded yet")

    @alerts_group.command("test")
    @click.argument("account_code")
    @click.option("--trunk", "trunk_name", default=None, help="The trunk the sample call comes from (its name, as in"
                  " ACME/main: main). Default: the client's first trunk by name.")
    @click.option("--caller-id", default=None, help="The caller ID the sample call presents (default: none, so the"
                  " cascade starts at the trunk's E911 number).")
    @domain_command
    def test_cmd(account_code: str, trunk_name: str | None, caller_id: str | None):
        """Send a test alert (marked TEST; no call is recorded) to every 911 alert contact of client ACCOUNT_CODE.

        The sample is what a real 911 call from that trunk would do today: the cascade level, the number, the
        carrier and the digits in that carrier's 911 format (app.e911.resolve_e911), the address registered.
        Checks the SMTP settings, the webhook and the client's addresses before a real 911 call needs them.
        Exit status 1 when a contact could not be reached, or the client has none.
        """
        from app.alerts.deliver import sample_call, send_test
        from app.alerts.words import known, trunk_label
        from app.services import clients, trunks

        session = Session()
        client = clients.get(session, account_code)
        trunk = None
        if trunk_name:
            account, _, name = trunk_name.rpartition("/")  # main, or ACME/main as the pages write it
            if account and account.upper() != client.account_code.upper():
                fail(f"trunk {trunk_name} is not a trunk of client {client.account_code}")
            trunk = trunks.get(session, client.account_code, name)
        settings = _smtp()
        call = sample_call(session, client, trunk, caller_id)
        words = known(call)
        click.echo(f"sample: a 911 call from {trunk_label(call.trunk) or 'no trunk'} presenting {caller_id or 'no caller ID'}"
                   f" -> {words.number} via {call.carrier or 'no carrier'}; from {words.level}; address {words.address}")
        results = send_test(call, settings)
        if not results:
            fail(f"client {account_code} has no 911 alert contact: set its 911 alert emails (or webhook) first")
        for channel, target, error in results:
            click.echo(f"{channel} {target}: {'sent' if error is None else 'FAILED: ' + error}")
        if any(error for _c, _t, error in results):
            raise SystemExit(1)
