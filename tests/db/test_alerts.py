"""911 call alerts: recording (once per call), contacts, delivery to a real SMTP server and HTTP receiver on loopback,
retries and give-up, and the reconciliation from the call records real calls wrote."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import insert, select

from app.alerts import contacts, node_of_record, reconcile_from_cdr, record_call
from app.alerts.deliver import MAX_ATTEMPTS, SmtpSettings, deliver_due, email_text, payload
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


# ---- Calls found afterwards in the call records: the node, and what is known of the number and address ----

NODES = {"cl1": "cl-ovh-bhs7", "cn1": "cn-ovh-bhs1"}  # the demo's node names have hyphens


def _911_rows(presented: str = "2045552001", received: str | None = "2045552001", *, carrier: str = "alpha",
              linkedid_names: bool = True, ago: timedelta = timedelta(hours=1)) -> list[dict]:
    """The records the real nodes wrote for their 911 call (fixture), started `ago` before now, the nodes renamed to
    names with hyphens, the PBX presenting `presented` and the carrier node receiving `received` (None: no carrier
    record)."""
    out = []
    for row in real_rows(day=utc_now().date()):
        if row["dcontext"] != "tl-911" and not (row["lastdata"] or "").startswith("PJSIP/911@"):
            continue
        on_carrier_node = (row["dstchannel"] or "").startswith("PJSIP/carrier-")
        if on_carrier_node and received is None:
            continue
        for key in ("channel", "dstchannel", "lastdata", "uniqueid", "linkedid", "call_id"):
            for old, new in NODES.items():
                if row[key]:
                    row[key] = row[key].replace(old, new)
            if row[key]:
                row[key] = row[key].replace("alpha", carrier)
        if not linkedid_names:  # a node without `systemname`: ids are `<epoch>.<n>` only
            for key in ("uniqueid", "linkedid", "call_id"):
                if row[key]:
                    row[key] = row[key].rsplit("-", 1)[1]
        row["src"] = received if on_carrier_node else presented
        row["clid"] = f'"Caller" <{row["src"]}>'
        out.append(row)
    shift = utc_now() - ago - min(row["start"] for row in out)
    for row in out:
        for key in ("start", "answer", "end"):
            if row[key] is not None:
                row[key] += shift
    return out


def test_a_call_from_the_records_names_its_node_with_hyphens(seeded, acme):
    seeded.execute(insert(REALTIME_TABLES["cdr"]), _911_rows())
    (call,) = reconcile_from_cdr(seeded)
    # No stamp here (SQLite has no trigger; on MariaDB root is no node's account): the linkedid's system name.
    assert call.node == "cl-ovh-bhs7" and call.call_id.startswith("cl-ovh-bhs7-")
    subject, body = email_text(call)
    assert "Node:                 cl-ovh-bhs7" in body
    assert payload(call)["node"] == "cl-ovh-bhs7"


def test_a_call_from_the_records_takes_the_node_the_database_stamped(seeded, acme, backend):
    """The name in `cdr.tl_node` wins: here the nodes have no systemname, so the linkedid names no node at all."""
    from app.models import Node, NodeAccount

    rows = _911_rows(linkedid_names=False)
    node = seeded.scalar(select(Node).where(Node.name == "cl-ovh-bhs7"))
    if backend == "mariadb":
        # The real trigger (cdr_stamp_node) stamps the node whose database account inserts the row: the test's
        # own account plays the node's.
        from sqlalchemy import text

        user = seeded.scalar(text("SELECT SUBSTRING_INDEX(USER(), '@', 1)"))
        seeded.add(NodeAccount(node_id=node.id, db_user=user, host="%"))
        seeded.flush()
    else:
        for row in rows:  # SQLite has no trigger: the row as the trigger leaves it
            row["tl_node"] = "cl-ovh-bhs7"
    seeded.execute(insert(REALTIME_TABLES["cdr"]), rows)
    assert node_of_record(None, rows[0]["linkedid"]) == ""  # the linkedid alone would not say
    (call,) = reconcile_from_cdr(seeded)
    assert call.node == "cl-ovh-bhs7"


@pytest.mark.parametrize("linkedid, node", [("cl-ovh-bhs7-1796055432.9", "cl-ovh-bhs7"), ("cl1-1796055432.9", "cl1"),
                                            ("1796055432.9", ""), ("", "")])
def test_the_node_of_a_linkedid_is_all_before_the_last_hyphen(linkedid, node):
    assert node_of_record(None, linkedid) == node
    assert node_of_record("cn-x-1", linkedid) == "cn-x-1"


def test_a_registered_number_from_the_records_is_not_called_unregistered(seeded, acme):
    """The PBX presented 2045551202 (registered) and telus received it in 10 digits: the alert says so, and that
    the level is not known; never "NONE REGISTERED"."""
    seeded.execute(insert(REALTIME_TABLES["cdr"]), _911_rows("2045551202", "2045551202", carrier="telus"))
    (call,) = reconcile_from_cdr(seeded)
    assert (call.level, call.number, call.sent, call.carrier) == ("", "+12045551202", "2045551202", "telus")
    assert call.address == "100 Main St, Suite 200, Winnipeg MB R3C 1A1"
    _subject, body = email_text(call)
    for words in ("Number sent to 911:   +12045551202 (as 2045551202: the digits the carrier received",
                  "Registered address:   100 Main St, Suite 200, Winnipeg MB R3C 1A1",
                  "Chosen from:          not known (found afterwards in the call records); the caller ID on the client node's record,"
                  " +12045551202, is registered at 100 Main St, Suite 200, Winnipeg MB R3C 1A1; for this trunk and that caller"
                  " ID the cascade today gives"
                  " the caller's own registered number, +12045551202 (as 2045551202 via telus)"):
        assert words in body, body
    assert "NONE" not in body and "may not have" not in body
    body = payload(call)
    assert {k: body[k] for k in ("number", "sent", "address", "level", "node", "source")} == {
        "number": "+12045551202", "sent": "2045551202", "address": "100 Main St, Suite 200, Winnipeg MB R3C 1A1",
        "level": "", "node": "cl-ovh-bhs7", "source": "cdr"}
    assert body["presented_number"] == {"number": "+12045551202", "on_platform": True, "e911_registered": True,
                                        "address": "100 Main St, Suite 200, Winnipeg MB R3C 1A1"}
    assert body["cascade_today"] == {"level": "number", "number": "+12045551202", "sent": "2045551202",
                                     "carrier": "telus", "address": "100 Main St, Suite 200, Winnipeg MB R3C 1A1"}
    assert body["level_words"].startswith("not known (found afterwards in the call records)") and body["warning"] == ""


def test_the_clients_default_number_from_the_records_is_named_with_its_address(seeded, acme):
    """A caller ID that is no number of the platform: the carrier received the client's default (2045551201)."""
    seeded.execute(insert(REALTIME_TABLES["cdr"]), _911_rows("2045559999", "2045551201", carrier="telus"))
    (call,) = reconcile_from_cdr(seeded)
    _subject, body = email_text(call)
    assert "Number sent to 911:   +12045551201 (as 2045551201" in body
    assert "Registered address:   100 Main St, Winnipeg MB R3C 1A1" in body
    assert ("the caller ID on the client node's record, +12045559999, is not a number of this platform; for this"
            " trunk and that caller ID the cascade today gives the"
            " client's default E911 number, +12045551201 (as 2045551201 via telus), registered at 100 Main St") in body
    assert "NONE" not in body and "may not have" not in body


def test_without_the_carriers_record_the_number_is_not_known_but_the_presented_registration_is_said(seeded, acme):
    seeded.execute(insert(REALTIME_TABLES["cdr"]), _911_rows("2045551202", None, carrier="telus"))
    (call,) = reconcile_from_cdr(seeded)
    assert (call.number, call.sent, call.address) == ("", "", None)
    _subject, body = email_text(call)
    assert "Number sent to 911:   not known (found afterwards in the call records; no carrier's record" in body
    assert ("Registered address:   not known for this call (found afterwards in the call records); the caller"
            " ID on the client node's record, +12045551202, is registered at 100 Main St, Suite 200") in body
    assert "NONE" not in body and "do not say which number and address reached the 911 centre" in body


def test_a_number_known_to_have_no_address_is_still_said_plainly(seeded, acme):
    """The carrier received 12045551204 (bell, 11 digits), a number of ACME not registered for E911."""
    seeded.execute(insert(REALTIME_TABLES["cdr"]), _911_rows("2045551204", "12045551204", carrier="bell"))
    (call,) = reconcile_from_cdr(seeded)
    _subject, body = email_text(call)
    assert "Registered address:   NONE REGISTERED for +12045551204, the number the carrier received" in body
    assert "The 911 centre may not have this caller's address" in body


# ---- The test alert: what a real call from that trunk would do ----

def test_the_test_alert_shows_what_a_real_call_from_the_trunk_would_send(app, seeded, acme):
    """ACME's first trunk by name is `branch`, which has its own E911 number (+12045551203, bell, 11 digits); `main`
    falls back to the client's default (+12045551201, telus, 10 digits); 2045551202 is registered by itself."""
    with smtp_server() as (host, port, inbox), http_receiver() as (url, hook):
        clients.save(seeded, {"alert_webhook": url}, SYSTEM, acme)
        seeded.commit()
        app.config.update(ALERT_SMTP_HOST=host, ALERT_SMTP_PORT=str(port))
        runner = app.test_cli_runner()
        cases = [([], "trunk-ACME-branch", "trunk", "+12045551203", "12045551203", "bell", "55 Portage Ave"),
                 (["--trunk", "main"], "trunk-ACME-main", "client", "+12045551201", "2045551201", "telus", "100 Main St,"),
                 (["--trunk", "ACME/main", "--caller-id", "204-555-1202"], "trunk-ACME-main", "number", "+12045551202",
                  "2045551202", "telus", "100 Main St, Suite 200")]
        for args, trunk, level, number, sent, carrier, address in cases:
            result = runner.invoke(args=["alerts", "test", "ACME", *args])
            assert result.exit_code == 0, result.output
            body = json_bodies(hook)[-1]
            assert {k: body[k] for k in ("trunk", "level", "number", "sent", "carrier", "source")} == {
                "trunk": trunk, "level": level, "number": number, "sent": sent, "carrier": carrier, "source": "test"}
            assert body["address"].startswith(address)
            text = inbox.messages[-1][1].get_payload()
            assert f"Number sent to 911:   {number} (as {sent})" in text and f"Carrier:              {carrier}" in text
            assert f"-> {number} (as {sent}) via {carrier}" in result.output
    wrong = app.test_cli_runner().invoke(args=["alerts", "test", "ACME", "--trunk", "GLOBEX/pbx"])
    assert wrong.exit_code == 1 and "not a trunk of client ACME" in wrong.output and "Traceback" not in wrong.output


# ---- SMTP settings: one line naming the variable; failures name the server tried ----

@pytest.mark.parametrize("setting, value, words", [
    ("ALERT_SMTP_PORT", "abc", "ALERT_SMTP_PORT='abc' is not a port number"),
    ("ALERT_SMTP_PORT", "70000", "ALERT_SMTP_PORT='70000' is not a port number"),
    ("ALERT_SMTP_HOST", "", "ALERT_SMTP_HOST is set but empty"),
    ("ALERT_FROM", " ", "ALERT_FROM is set but empty"),
    ("ALERT_SMTP_STARTTLS", "maybe", "ALERT_SMTP_STARTTLS='maybe' is neither yes nor no"),
])
def test_a_wrong_smtp_setting_is_one_line_naming_it(app, seeded, acme, setting, value, words):
    app.config[setting] = value
    runner = app.test_cli_runner()
    for args in (["alerts", "test", "ACME"], ["alerts", "deliver"], ["alerts", "watch", "--seconds", "0.1"]):
        result = runner.invoke(args=args)
        assert result.exit_code == 1, (args, result.output)
        assert result.output.strip().splitlines() == [f"Error: {words}" + result.output.split(words, 1)[1].splitlines()[0]]
        assert result.exception is None or isinstance(result.exception, SystemExit)


def test_an_unreachable_smtp_server_is_named_in_the_error(app, seeded, acme):
    closed = free_port()
    clients.save(seeded, {"alert_webhook": ""}, SYSTEM, acme)
    seeded.commit()
    app.config.update(ALERT_SMTP_HOST="127.0.0.1", ALERT_SMTP_PORT=str(closed))
    result = app.test_cli_runner().invoke(args=["alerts", "test", "ACME"])
    assert result.exit_code == 1 and f"FAILED: SMTP server 127.0.0.1:{closed}: [Errno 111] Connection refused" in result.output
    # The defaults, as the settings give them when nothing is set.
    assert str(SmtpSettings.from_config({})) == "localhost:25"
    assert SmtpSettings.from_config({"ALERT_SMTP_STARTTLS": "1"}).starttls is True


def test_a_wrong_smtp_setting_does_not_stop_other_commands_or_the_web(tmp_path):
    """Read at start, ALERT_SMTP_PORT=abc used to stop every flask command (and the web app) with a traceback."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "ALERT_SMTP_PORT": "abc", "DATABASE_URL": f"sqlite:///{tmp_path / 'none.db'}"}
    flask = [sys.executable, "-m", "flask", "--app", "wsgi"]
    other = subprocess.run([*flask, "calls", "--help"], cwd=root, env=env, capture_output=True, text=True, timeout=60)
    assert other.returncode == 0 and "Traceback" not in other.stderr
    alerts = subprocess.run([*flask, "alerts", "deliver"], cwd=root, env=env, capture_output=True, text=True, timeout=60)
    assert alerts.returncode == 1 and "Traceback" not in alerts.stderr
    assert alerts.stderr.strip().splitlines() == [
        "Error: ALERT_SMTP_PORT='abc' is not a port number: give a whole number from 1 to 65535 (25, 587 with"
        " ALERT_SMTP_STARTTLS=1), or leave it unset for 25"]
    web = subprocess.run([sys.executable, "-c", "from wsgi import app; print(app.test_client().get('/login').status_code)"],
                         cwd=root, env=env, capture_output=True, text=True, timeout=60)
    assert web.stdout.strip() == "200", web.stderr


# ---- alerts deliver: the exit status says whether every alert went out ----

def test_alerts_deliver_exit_status_says_sent_retrying_or_given_up(app, seeded, acme):
    with http_receiver() as (url, hook):
        clients.save(seeded, {"alert_emails": "noc@acme.example", "alert_webhook": url}, SYSTEM, acme)
        call = record_call(seeded, EVENT)
        seeded.commit()
        closed = free_port()
        app.config.update(ALERT_SMTP_HOST="127.0.0.1", ALERT_SMTP_PORT=str(closed))
        runner = app.test_cli_runner()
        first = runner.invoke(args=["alerts", "deliver"])
        assert first.exit_code == 3, first.output
        assert "alerts: 1 sent, 1 failed and will be retried, 0 failed for good" in first.output
        assert f"SMTP server 127.0.0.1:{closed}" in first.output and "next try at" in first.output
        assert runner.invoke(args=["alerts", "deliver"]).exit_code == 0  # nothing due (the backoff holds it)
        email = seeded.scalar(select(AlertDelivery).where(AlertDelivery.e911_call_id == call.id,
                                                          AlertDelivery.channel == "email"))
        email.attempts, email.next_attempt_at = MAX_ATTEMPTS - 1, utc_now() - timedelta(seconds=1)
        seeded.commit()
        last = runner.invoke(args=["alerts", "deliver"])
        assert last.exit_code == 1, last.output
        assert "0 sent, 0 failed and will be retried, 1 failed for good" in last.output
        assert f"GIVEN UP after {MAX_ATTEMPTS} attempts" in last.output
        assert len(hook.received) == 1  # the webhook was sent once, not again
