"""Sending 911 alerts: one email per address (SMTP), one JSON POST per webhook; failures are retried with backoff.

A delivery is `pending` until its first attempt, `sent` once the SMTP server accepted the message or the webhook
answered 2xx, `retrying` after a failed attempt (shown in red, with the error), `failed` after MAX_ATTEMPTS.
"""

from __future__ import annotations

import json
import smtplib
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from app.alerts.words import known
from app.db import utc_now
from app.errors import DomainError
from app.models import AlertDelivery, E911Call

# Seconds to wait after each failed attempt; the last failure gives up (about 2 h 40 min after the call).
BACKOFF = (5, 15, 30, 60, 120, 300, 600, 900, 1800, 3600)
MAX_ATTEMPTS = len(BACKOFF) + 1
TIMEOUT = 5.0  # seconds for one SMTP conversation or one webhook POST



class AlertSettingsError(DomainError):
    """An ALERT_* setting that cannot be used; str() is one line naming the variable, its value and what it takes."""


class SmtpFailure(OSError):
    """An SMTP conversation that failed; str() names the server tried (host:port) and the reason."""


_YES, _NO = ("1", "yes", "true", "on"), ("0", "no", "false", "off", "")


@dataclass(frozen=True)
class SmtpSettings:
    """Where alert emails go: an SMTP server (STARTTLS and login when configured)."""

    host: str = "localhost"
    port: int = 25
    sender: str = "trunkline@localhost"
    user: str = ""
    password: str = ""
    starttls: bool = False

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"

    @classmethod
    def from_config(cls, config) -> SmtpSettings:
        """The settings from the app config (the environment, app.config): ALERT_SMTP_HOST (default localhost),
        ALERT_SMTP_PORT (25), ALERT_FROM (trunkline@localhost), ALERT_SMTP_USER, ALERT_SMTP_PASSWORD,
        ALERT_SMTP_STARTTLS (1/yes/true/on or 0/no/false/off, default 0).

        Raises AlertSettingsError, one line naming the first wrong variable: an empty host or sender, a port that is
        not a whole number 1-65535, a STARTTLS value that is not yes or no.
        """
        host = str(config.get("ALERT_SMTP_HOST", "localhost") or "").strip()
        if not host:
            raise AlertSettingsError("ALERT_SMTP_HOST is set but empty: give the SMTP server's name or address, or leave"
                                     " it unset for localhost")
        raw_port = config.get("ALERT_SMTP_PORT", 25)
        try:
            port = int(str(raw_port).strip())
        except ValueError:
            port = 0
        if not 1 <= port <= 65535:
            raise AlertSettingsError(f"ALERT_SMTP_PORT={raw_port!r} is not a port number: give a whole number from 1 to"
                                     " 65535 (25, 587 with ALERT_SMTP_STARTTLS=1), or leave it unset for 25")
        sender = str(config.get("ALERT_FROM", "trunkline@localhost") or "").strip()
        if not sender:
            raise AlertSettingsError("ALERT_FROM is set but empty: give the address alerts come from, or leave it unset"
                                     " for trunkline@localhost")
        raw_tls = config.get("ALERT_SMTP_STARTTLS", False)
        if isinstance(raw_tls, bool):
            starttls = raw_tls
        elif str(raw_tls).strip().lower() in _YES + _NO:
            starttls = str(raw_tls).strip().lower() in _YES
        else:
            raise AlertSettingsError(f"ALERT_SMTP_STARTTLS={raw_tls!r} is neither yes nor no: give 1 (use STARTTLS) or 0")
        return cls(host=host, port=port, sender=sender, user=str(config.get("ALERT_SMTP_USER", "") or ""),
                   password=str(config.get("ALERT_SMTP_PASSWORD", "") or ""), starttls=starttls)


def payload(call: E911Call) -> dict:
    """The webhook body (JSON) of a 911 call: the recorded fields (keys kept as they were), then what is known in
    words (app.alerts.words.Known.as_json: level_words, number_words, address_words, warning, presented_number,
    cascade_today)."""
    return {
        "event": "e911_call", "call_id": call.call_id, "started_at": call.started_at.isoformat() + "Z",
        "client": {"account_code": call.account_code, "name": call.client.name if call.client else ""},
        "trunk": call.trunk, "presented": call.presented, "number": call.number, "sent": call.sent,
        "carrier": call.carrier, "level": call.level, "address": call.address, "node": call.node,
        "source": call.source, **known(call).as_json(),
    }


def email_text(call: E911Call) -> tuple[str, str]:
    """(subject, body) of the alert email."""
    who = f"{call.account_code} ({call.client.name})" if call.client else (call.account_code or "an unknown client")
    when = f"{call.started_at:%Y-%m-%d %H:%M:%S} UTC"
    subject = f"911 call from {who}, {call.trunk or 'unknown trunk'}, at {when}"
    if call.source == "test":
        subject = "TEST (no 911 call was placed): " + subject
    words = known(call)
    lines = [
        f"A 911 call was placed through Trunkline at {when}.", "",
        f"Client:               {who}",
        f"Trunk:                {call.trunk or 'not known'}",
        f"Caller ID presented:  {words.presented}",
        f"Number sent to 911:   {words.number}",
        f"Registered address:   {words.address}",
        f"Chosen from:          {words.level}",
        f"Carrier:              {call.carrier or 'not known'}",
        f"Node:                 {call.node or 'not known'}",
        f"Call id:              {call.call_id}",
    ]
    if call.source == "test":
        lines = ["THIS IS A TEST of the 911 alerts (flask --app wsgi alerts test): no 911 call was placed.", ""] + lines
    if call.source == "cdr":
        lines += ["", "This call was found in the call records after it ended: the alert watcher did not hear of it"
                      " while it was starting."]
    if words.warning:
        lines += ["", words.warning]
    return subject, "\n".join(lines) + "\n"


def send_email(settings: SmtpSettings, to: str, call: E911Call) -> None:
    """Hand one alert email to the SMTP server; raises SmtpFailure (an OSError naming host:port) on failure."""
    subject, body = email_text(call)
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = settings.sender, to, subject
    msg["X-Trunkline-Call-Id"] = call.call_id
    msg.set_content(body)
    try:
        with smtplib.SMTP(settings.host, settings.port, timeout=TIMEOUT) as smtp:
            if settings.starttls:
                smtp.starttls()
            if settings.user:
                smtp.login(settings.user, settings.password)
            smtp.send_message(msg)
    except (OSError, smtplib.SMTPException) as exc:
        # Name the server tried: "[Errno 111] Connection refused" alone does not say it was localhost:25.
        raise SmtpFailure(f"SMTP server {settings}: {exc or type(exc).__name__}") from exc


def send_webhook(url: str, call: E911Call) -> None:
    """POST the call as JSON; anything but a 2xx answer raises OSError."""
    request = urllib.request.Request(url, data=json.dumps(payload(call)).encode(), method="POST",
                                     headers={"Content-Type": "application/json", "User-Agent": "Trunkline-E911-alert/1"})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:  # noqa: S310 - http(s) only, checked on save
            if not 200 <= response.status < 300:
                raise OSError(f"the webhook answered HTTP {response.status}")
    except urllib.error.HTTPError as exc:
        raise OSError(f"the webhook answered HTTP {exc.code}") from exc
    except urllib.error.URLError as exc:
        raise OSError(f"the webhook could not be reached: {exc.reason}") from exc


def _due(now: datetime):
    return AlertDelivery.status.in_(("pending", "retrying")), AlertDelivery.next_attempt_at <= now


def deliver_due(session: Session, settings: SmtpSettings, now: datetime | None = None, limit: int = 50) -> list[AlertDelivery]:
    """Attempt every delivery that is due (oldest first), each under its own row lock and committed on its own:
    two watchers never send one alert twice, and a crash resends at most the one in flight."""
    now = now or utc_now()
    ids = list(session.scalars(select(AlertDelivery.id).where(*_due(now))
                               .order_by(AlertDelivery.next_attempt_at, AlertDelivery.id).limit(limit)))
    session.commit()
    done = []
    for delivery_id in ids:
        query = (select(AlertDelivery).where(AlertDelivery.id == delivery_id, *_due(now))
                 .options(selectinload(AlertDelivery.call).selectinload(E911Call.client)))
        if session.get_bind().dialect.name != "sqlite":
            query = query.with_for_update(skip_locked=True)
        delivery = session.scalar(query)
        if delivery is None:
            session.commit()
            continue  # sent meanwhile, or being sent by another watcher
        try:
            if delivery.channel == "email":
                send_email(settings, delivery.target, delivery.call)
            else:
                send_webhook(delivery.target, delivery.call)
        except (OSError, smtplib.SMTPException) as exc:
            delivery.attempts += 1
            delivery.last_error = f"{utc_now():%Y-%m-%d %H:%M:%S} UTC, attempt {delivery.attempts}: {exc}"[:1000]
            if delivery.attempts >= MAX_ATTEMPTS:
                delivery.status = "failed"
            else:
                delivery.status = "retrying"
                delivery.next_attempt_at = utc_now() + timedelta(seconds=BACKOFF[delivery.attempts - 1])
        else:
            delivery.attempts += 1
            delivery.status, delivery.sent_at = "sent", utc_now()
        done.append(delivery)
        session.commit()
    return done


def sample_call(session: Session, client, trunk=None, caller_id: str | None = None) -> E911Call:
    """The test alert's 911 call (not added to the session): what a real 911 call from `trunk` (default: the client's
    first trunk by name) presenting `caller_id` (default: none, so the cascade starts at the trunk's own E911 number)
    would do today: level, number, carrier and digits from app.e911.resolve_e911 (the one cascade, which formats the
    digits with the carrier's 911 caller-ID format, app.numbering.format_number), the address registered for that
    number. When nothing resolves: level "unresolved" and no number (the node then falls back to the client's own
    number, unregistered: the alert says the 911 centre may not have the address).
    """
    from app.e911 import resolve_e911
    from app.errors import E911Unresolved
    from app.models import PhoneNumber

    if trunk is None:
        trunk = min(client.trunks, key=lambda t: t.name) if client.trunks else None
    fields = {"level": "unresolved", "number": "", "sent": "", "carrier": "", "address": None}
    if trunk is not None:
        try:
            route = resolve_e911(session, trunk, caller_id or None)
        except E911Unresolved:
            pass
        else:
            stored = session.scalar(select(PhoneNumber).where(PhoneNumber.e164 == route.number))
            fields = {"level": route.level, "number": route.number, "sent": route.sent, "carrier": route.carrier.name,
                      "address": stored.e911_address if stored is not None else None}
    call = E911Call(call_id="test-" + utc_now().strftime("%Y%m%d%H%M%S"), started_at=utc_now(), source="test",
                    account_code=client.account_code, trunk=trunk.endpoint_id if trunk is not None else "",
                    node=client.node.name if client.node else "", presented=caller_id or "", **fields)
    call.client = client
    return call


def send_test(call: E911Call, settings: SmtpSettings) -> list[tuple[str, str, str | None]]:
    """Send the test alert `call` (sample_call) to each of its client's contacts now (nothing recorded):
    [(channel, target, error or None)]. Marked as a test in the subject, the body and the webhook's `source` ("test").
    """
    from app.alerts import _contacts

    results = []
    for channel, target in _contacts(call.client):
        try:
            if channel == "email":
                send_email(settings, target, call)
            else:
                send_webhook(target, call)
            results.append((channel, target, None))
        except (OSError, smtplib.SMTPException) as exc:
            results.append((channel, target, str(exc)))
    return results
