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
    from app.alerts.deliver import SmtpSettings

    return SmtpSettings.from_config(current_app.config)


def register(app: Flask) -> None:
    """Attach the alerts group."""

    @app.cli.group("alerts")
    def alerts_group():
        """911 call alerts: record every 911 call as it starts and tell each client's alert contacts."""

    @alerts_group.command("watch")
    @click.option("--seconds", type=float, default=None, help="Stop after this many seconds (default: run until stopped).")
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

        secret, port = ami_settings()
        if not secret:
            fail("TRUNKLINE_AMI_SECRET is not set: the watcher cannot log in to the nodes' manager interface")
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        stop = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
        engine = current_app.extensions.get("trunkline_engine") or Session().get_bind()
        click.echo(f"alerts: watching the client nodes' manager interfaces (port {port}); SMTP "
                   f"{current_app.config.get('ALERT_SMTP_HOST')}:{current_app.config.get('ALERT_SMTP_PORT')}", err=True)
        Watcher(engine, secret, port, _smtp()).run(stop, seconds)

    @alerts_group.command("deliver")
    def deliver_cmd():
        """Send the alerts that are due now (first attempts and retries), once."""
        from app.alerts.deliver import deliver_due

        done = deliver_due(Session(), _smtp())
        failed = [d for d in done if d.status != "sent"]
        click.echo(f"alerts: {len(done) - len(failed)} sent, {len(failed)} failed (will be retried unless given up)")
        for d in failed:
            click.echo(f"  {d.channel} {d.target}: {d.last_error}", err=True)

    @alerts_group.command("reconcile")
    def reconcile_cmd():
        """Record the 911 calls the call records show and no event announced (then `alerts deliver`)."""
        from app.alerts import reconcile_from_cdr

        calls = reconcile_from_cdr(Session())
        Session.commit()
        click.echo(f"alerts: {len(calls)} 911 call(s) found in the call records that were not recorded yet")

    @alerts_group.command("test")
    @click.argument("account_code")
    @domain_command
    def test_cmd(account_code: str):
        """Send a test alert (marked TEST; no call is recorded) to every 911 alert contact of client ACCOUNT_CODE.

        Checks the SMTP settings, the webhook and the client's addresses before a real 911 call needs them.
        Exit status 1 when a contact could not be reached, or the client has none.
        """
        from app.alerts.deliver import send_test
        from app.services import clients

        client = clients.get(Session(), account_code)
        results = send_test(client, _smtp())
        if not results:
            fail(f"client {account_code} has no 911 alert contact: set its 911 alert emails (or webhook) first")
        for channel, target, error in results:
            click.echo(f"{channel} {target}: {'sent' if error is None else 'FAILED: ' + error}")
        if any(error for _c, _t, error in results):
            raise SystemExit(1)
