"""911 call alerts: recording (once per call), contacts, delivery to a real SMTP server and HTTP receiver on loopback,
retries and give-up, and the reconciliation from the call records real calls wrote."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import insert, select

from app.alerts import contacts, reconcile_from_cdr, record_call
from app.alerts.deliver import MAX_ATTEMPTS, SmtpSettings, deliver_due, email_text
from app.db import utc_now
from app.errors import ValidationError
from app.models import AlertDelivery, E911Call
from app.models.realtime import REALTIME_TABLES
from app.services import clients
from app.services.audit import SYSTEM
from app.services.fields import FieldError
from tests.db.test_call_counts import real_rows
from tests.receivers import free_port, http_receiver, json_bodies, smtp_server

EVENT = {"CallId": "cl1-1796055432.9", "Trunk": "trunk-ACME-main", "Account": "ACME", "Presented": "2045551202",
         "Level": "number", "Number": "+12045551202", "Carrier": "carrier-telus", "Sent": "2045551202", "Node": "cl1"}


@pytest.fixture
def acme(seeded):
    client = clients.get(seeded, "ACME")
    clients.save(seeded, {"alert_emails": "noc@acme.example, Security@ACME.example",
                          "alert_webhook": "http://127.0.0.1:9/hooks/911"}, SYSTEM, client)
    seeded.commit()
    return client


def test_a_call_is_recorded_once_with_one_delivery_per_contact(seeded, acme):
    call = record_call(seeded, EVENT)
    seeded.commit()
    assert (call.account_code, call.client_id, call.trunk, call.level, call.number, call.sent, call.carrier, call.node) == (
        "ACME", acme.id, "trunk-ACME-main", "number", "+12045551202", "2045551202", "telus", "cl1")
    # The address registered for the number the call presents, read when the call was recorded.
    assert call.address == "100 Main St, Suite 200, Winnipeg MB R3C 1A1"
    assert sorted((d.channel, d.target, d.status) for d in call.deliveries) == [
        ("email", "noc@acme.example", "pending"), ("email", "security@acme.example", "pending"),
        ("webhook", "http://127.0.0.1:9/hooks/911", "pending")]
    assert record_call(seeded, EVENT) is None  # the same event twice (two watchers, a reconnect): one record
    assert seeded.scalar(select(E911Call).where(E911Call.call_id == EVENT["CallId"])).id == call.id


def test_the_alert_says_who_where_and_which_address(seeded, acme):
    call = record_call(seeded, EVENT)
    subject, body = email_text(call)
    assert subject.startswith("911 call from ACME (") and "trunk-ACME-main" in subject and "UTC" in subject
    for words in ("Caller ID presented:  2045551202", "Number sent to 911:   +12045551202 (as 2045551202)",
                  f"Registered address:   {call.address}", "Chosen from:          the caller's own registered number",
                  "Carrier:              telus"):
        assert words in body, body
    unresolved = record_call(seeded, {**EVENT, "CallId": "cl1-2", "Level": "unresolved", "Number": "", "Sent": "2045559999"})
    _subject, body = email_text(unresolved)
    assert "NO registered number resolved" in body and "Registered address:   NONE REGISTERED" in body
    assert "The 911 centre may not have this caller's address" in body


def test_alerts_reach_a_real_smtp_server_and_webhook(seeded, acme):
    with smtp_server() as (host, port, inbox), http_receiver() as (url, hook):
        clients.save(seeded, {"alert_webhook": url}, SYSTEM, acme)
        call = record_call(seeded, EVENT)
        seeded.commit()
        done = deliver_due(seeded, SmtpSettings(host=host, port=port, sender="alerts@trunkline.example"))
        assert sorted(d.status for d in done) == ["sent", "sent", "sent"]
        assert sorted(m["To"] for _t, m in inbox.messages) == ["noc@acme.example", "security@acme.example"]
        message = inbox.messages[0][1]
        assert message["From"] == "alerts@trunkline.example" and message["X-Trunkline-Call-Id"] == call.call_id
        assert "Number sent to 911:   +12045551202" in message.get_payload()
        (body,) = json_bodies(hook)
        assert body["event"] == "e911_call" and body["call_id"] == call.call_id
        assert {k: body[k] for k in ("trunk", "number", "sent", "carrier", "level", "node")} == {
            "trunk": "trunk-ACME-main", "number": "+12045551202", "sent": "2045551202", "carrier": "telus",
            "level": "number", "node": "cl1"}
        assert body["client"]["account_code"] == "ACME" and body["address"] == call.address
        assert deliver_due(seeded, SmtpSettings(host=host, port=port)) == []  # nothing is sent twice


def test_a_failed_alert_is_retried_then_shown_as_failed(seeded, acme):
    with http_receiver() as (url, hook):
        clients.save(seeded, {"alert_emails": "", "alert_webhook": url}, SYSTEM, acme)
        record_call(seeded, EVENT)
        seeded.commit()
        closed = SmtpSettings(host="127.0.0.1", port=free_port())
        hook.answers = [500]
        (first,) = deliver_due(seeded, closed)
        assert first.status == "retrying" and first.attempts == 1 and "HTTP 500" in first.last_error
        assert deliver_due(seeded, closed) == []  # not due yet: the backoff holds it
        (second,) = deliver_due(seeded, closed, now=utc_now() + timedelta(seconds=6))
        assert second.status == "sent" and second.attempts == 2 and len(hook.received) == 2


def test_an_unreachable_smtp_server_is_retried_until_given_up(seeded, acme):
    clients.save(seeded, {"alert_emails": "noc@acme.example", "alert_webhook": ""}, SYSTEM, acme)
    record_call(seeded, EVENT)
    seeded.commit()
    closed = SmtpSettings(host="127.0.0.1", port=free_port())
    later = utc_now()
    for attempt in range(1, MAX_ATTEMPTS + 1):
        later += timedelta(hours=2)
        (delivery,) = deliver_due(seeded, closed, now=later)
        assert delivery.attempts == attempt
    assert delivery.status == "failed" and "Connection refused" in delivery.last_error
    assert deliver_due(seeded, closed, now=later + timedelta(days=1)) == []


def test_reconciliation_records_the_911_call_the_records_show(seeded, acme):
    cdr = REALTIME_TABLES["cdr"]
    rows = real_rows(day=utc_now().date())
    for row in rows:
        row["start"] -= timedelta(days=1)  # yesterday: inside the window
    seeded.execute(insert(cdr), rows)
    found = reconcile_from_cdr(seeded)
    assert len(found) == 1
    (call,) = found
    assert (call.source, call.account_code, call.trunk, call.carrier, call.node, call.presented) == (
        "cdr", "ACME", "trunk-ACME-main", "alpha", "cl1", "2045552001")
    assert call.sent == "2045552001" and call.call_id.startswith("cl1-")
    assert len(call.deliveries) == 3
    assert reconcile_from_cdr(seeded) == []  # found once
    # A call the watcher heard of is not recorded again from its record.
    assert seeded.scalar(select(AlertDelivery.id).where(AlertDelivery.e911_call_id == call.id)) is not None


@pytest.mark.parametrize("value, message", [
    ("noc@acme, security@", "not an email address: 'noc@acme'"),
    ("noc@acme.example bad@@x.example", "'bad@@x.example'"),
])
def test_bad_alert_emails_are_all_named(value, message):
    with pytest.raises(FieldError) as exc:
        contacts.emails(value)
    assert message in str(exc.value)


def test_every_bad_email_is_listed():
    with pytest.raises(FieldError) as exc:
        contacts.emails("a@b, c@, d@example.com ,@e")
    assert "'a@b'" in str(exc.value) and "'c@'" in str(exc.value) and "'@e'" in str(exc.value)
    assert "d@example.com" not in str(exc.value)


@pytest.mark.parametrize("value", ["ftp://x.example/911", "alerts.example.com/911", "https://", "http://a b.example/"])
def test_a_webhook_must_be_a_web_address(value):
    with pytest.raises(FieldError):
        contacts.webhook(value)


def test_the_client_form_fields_refuse_bad_contacts_in_plain_words(seeded):
    with pytest.raises(ValidationError) as exc:
        clients.save(seeded, {"alert_emails": "noc-at-acme", "alert_webhook": "alerts.acme.example"}, SYSTEM,
                     clients.get(seeded, "ACME"))
    assert set(exc.value.errors) == {"alert_emails", "alert_webhook"}
    assert "write it in full, like https://" in exc.value.errors["alert_webhook"][0]


def test_alerts_test_command_reaches_every_contact_and_records_nothing(app, seeded, acme):
    with smtp_server() as (host, port, inbox), http_receiver() as (url, hook):
        clients.save(seeded, {"alert_webhook": url}, SYSTEM, acme)
        seeded.commit()
        app.config.update(ALERT_SMTP_HOST=host, ALERT_SMTP_PORT=port)
        result = app.test_cli_runner().invoke(args=["alerts", "test", "ACME"])
        assert result.exit_code == 0, result.output
        assert result.output.count(": sent") == 3
        assert sorted(m["To"] for _t, m in inbox.messages) == ["noc@acme.example", "security@acme.example"]
        assert inbox.messages[0][1]["Subject"].startswith("TEST (no 911 call was placed): 911 call from ACME")
        (body,) = json_bodies(hook)
        assert body["source"] == "test" and body["client"]["account_code"] == "ACME"
    assert seeded.scalar(select(E911Call.id)) is None  # nothing recorded
    closed = app.test_cli_runner().invoke(args=["alerts", "test", "ACME"])  # the SMTP server is gone now
    assert closed.exit_code == 1 and "FAILED" in closed.output and "Traceback" not in closed.output
    unknown = app.test_cli_runner().invoke(args=["alerts", "test", "NOPE"])
    assert unknown.exit_code == 1 and len(unknown.output.strip().splitlines()) == 1
