"""The Import / export page: export per kind, upload -> preview (writes nothing) -> confirm (writes, one audit entry)."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import re
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select

from app.models import AuditEntry, PhoneNumber
from app.services import carriers, numbers
from tests.web.scenarios import CSV_NUMBERS, SETUP, audit_count, csv_upload, last_audit, preview_token

NEW = ["+12045551296", "+12045551295"]
BAD_NUMBERS = (b"number,carrier,port_status\n"
               b"204-555-1296,telus,active\n"
               b"204555129,telus,active\n"
               b"204-555-1294,nope,active\n"
               b"(204) 555-1296,bell,active\n"
               b"204-555-1293,telus,sideways\n")


def new_numbers(db) -> int:
    return db.scalar(select(func.count()).select_from(PhoneNumber).where(PhoneNumber.e164.in_(NEW)))


def uploads(app) -> list[Path]:
    """The uploaded files the server still keeps (not the metadata, status and error reports of their jobs)."""
    folder = Path(app.config["IMPORT_UPLOAD_DIR"])
    return sorted(p for p in folder.iterdir() if p.suffix == ".importing" or p.name.count(".") == 1 and p.suffix == ".csv") \
        if folder.exists() else []


def refused(response) -> bool:
    """A POST refused at once (followed): 303 to the import page, whose GET says why (redirect after POST: a refresh
    uploads or confirms nothing again)."""
    first = response.history[0] if response.history else response
    return (first.status_code == 303 and urlsplit(first.headers["Location"]).path == "/admin/csv/"
            and response.request.path == "/admin/csv/" and 'id="tl-csv-problem"' in response.text)


def refused_at_once(response) -> bool:
    """The same, not followed: 303 to the import page."""
    return response.status_code == 303 and urlsplit(response.headers["Location"]).path == "/admin/csv/"


def confirm(browser, token: str, **kw):
    """POST the confirm and follow to the import's page."""
    return browser.post("/admin/csv/confirm/", {"token": token}, follow_redirects=True, **kw)


def test_preview_writes_nothing_and_confirm_imports_the_same_file(app, as_role, web, accounts):
    browser = as_role("operator")
    before = audit_count(web)
    preview = csv_upload(browser)
    assert preview.status_code == 200, preview.text[:2000]
    page = preview.text
    assert "Preview of numbers.csv (numbers)" in page and "nothing has been written yet" in page
    assert 'id="tl-csv-rows">2<' in page and 'id="tl-csv-created">2<' in page and 'id="tl-csv-updated">0<' in page
    assert "dry run: all 2 row(s) are valid" in page
    assert new_numbers(web) == 0 and audit_count(web) == before
    token = preview_token(page)
    assert token and [p.name for p in uploads(app)] == [f"{token}.csv"]  # the file, server-side

    done = confirm(browser, token)
    assert done.status_code == 200, done.text[:2000]
    assert "2 row(s) imported: 2 created, 0 updated, 0 unchanged" in done.text
    assert 'id="tl-csv-created">2<' in done.text and "tl-csv-done" in done.text
    assert new_numbers(web) == 2
    assert numbers.get(web, "2045551295").carrier.name == "bell"
    assert audit_count(web) == before + 1  # created numbers: the one import entry
    entry = last_audit(web)
    assert (entry.actor, entry.channel, entry.action, entry.entity, entry.entity_key) == (
        accounts["operator"], "csv", "import", "numbers", "numbers.csv")
    assert json.loads(entry.after) == {"rows": 2, "created": 2, "updated": 0, "unchanged": 0}
    assert uploads(app) == []

    again = confirm(browser, token)  # double submit: imported once
    assert refused(again) and "expired or was already imported" in again.text
    assert audit_count(web) == before + 1

    second = csv_upload(browser)  # the same file again changes nothing, and says so
    assert 'id="tl-csv-unchanged">2<' in second.text and "Nothing to import" in second.text
    assert 'id="tl-csv-confirm"' not in second.text and 'id="tl-csv-discard"' in second.text  # no "Import now" for nothing
    result = confirm(browser, preview_token(second.text))
    assert "nothing changed: all 2 row(s) already match" in result.text


def test_every_wrong_row_is_listed_and_nothing_can_be_confirmed(app, as_role, web):
    browser = as_role("admin")
    before = audit_count(web)
    response = csv_upload(browser, content=BAD_NUMBERS)
    assert response.status_code == 200
    page = response.text
    assert "4 of 5 row(s) are wrong" in page and "nothing was imported" in page
    rows = page.split('id="tl-csv-errors"')[1].split("</table>")[0]
    assert "<td>3</td><td>number</td>" in rows and "9 digits" in rows
    assert "<td>4</td><td>carrier</td>" in rows and "no carrier named" in rows
    assert "<td>5</td>" in rows and "already on line 2" in rows
    assert "<td>6</td><td>port_status</td>" in rows
    assert preview_token(page) is None and "tl-csv-confirm" not in page
    assert new_numbers(web) == 0 and audit_count(web) == before
    assert uploads(app) == []


@pytest.mark.parametrize(("content", "filename", "message"), [
    (b"", "empty.csv", "the file is empty"),
    (b"number,carrier\n204-555-1296,t\xe9lus\n", "latin1.csv", "is not UTF-8 text"),
    (b"\xff\xfen\x00u\x00m\x00", "utf16.csv", "UTF-16"),
    (b"PK\x03\x04rest-of-a-workbook", "numbers.xlsx", "spreadsheet workbook"),
    (b"number,carrier,colour\n204-555-1296,telus,red\n", "extra.csv", "unknown column(s) colour"),
    (b"carrier\ntelus\n", "nokey.csv", "missing column(s) number"),
    (b"number,carrier\n" + b"204-555-1296,telus\n" * 4, "big.csv", "more than 3 rows"),
])
def test_bad_files_get_one_clear_sentence(app, as_role, web, content, filename, message):
    app.config["IMPORT_MAX_ROWS"] = 3
    before = audit_count(web)
    response = csv_upload(as_role("operator"), content=content, filename=filename)
    # Said at once (the file as a whole) or by the check job's page.
    assert refused(response) or (response.status_code == 400 and "/job/" in response.request.path)
    assert message in response.text and "Nothing was imported." in response.text
    assert f"{filename}: " in response.text
    assert "Traceback" not in response.text and preview_token(response.text) is None
    assert audit_count(web) == before and uploads(app) == []


def test_a_missing_kind_or_file_is_asked_for(as_role, web):
    browser = as_role("operator")
    response = browser.post("/admin/csv/preview/", {"kind": "phones"}, follow_redirects=True)
    assert refused(response) and "Choose what the file holds" in response.text
    response = browser.post("/admin/csv/preview/", {"kind": "numbers"}, follow_redirects=True)
    assert refused(response) and "Choose a CSV file" in response.text
    assert 'value="numbers" selected' in response.text  # the kind chosen stays chosen
    again = browser.get("/admin/csv/?kind=numbers")  # a refresh: a GET, the problem said once
    assert again.status_code == 200 and "Choose a CSV file" not in again.text


def test_the_confirm_imports_what_is_true_then_not_the_preview(as_role, web):
    """Data changed between preview and confirm: the confirm checks again and writes nothing."""
    carriers.save(web, {"name": "spare", "signalling_addresses": "203.0.113.99"}, SETUP)
    web.commit()
    browser = as_role("operator")
    preview = csv_upload(browser, content=b"number,carrier\n204-555-1296,spare\n")
    assert "all 1 row(s) are valid" in preview.text
    carriers.delete(web, carriers.get(web, "spare"), SETUP)
    web.commit()
    before = audit_count(web)
    done = confirm(browser, preview_token(preview.text))
    assert "no carrier named" in done.text and "nothing was imported" in done.text
    assert new_numbers(web) == 0 and audit_count(web) == before


def test_a_preview_is_confirmed_only_by_its_uploader_and_not_after_it_expires(app, as_role, web, monkeypatch):
    operator, admin = as_role("operator"), as_role("admin")
    token = preview_token(csv_upload(operator).text)
    assert refused_at_once(admin.post("/admin/csv/confirm/", {"token": token}))
    assert refused_at_once(admin.post("/admin/csv/confirm/", {"token": "../../secret_key"}))
    assert new_numbers(web) == 0
    from app.web.views import csv_page

    monkeypatch.setattr(csv_page, "UPLOAD_TTL", -1)
    assert refused_at_once(operator.post("/admin/csv/confirm/", {"token": token}))
    assert new_numbers(web) == 0 and uploads(app) == []


def test_viewer_exports_but_cannot_import(as_role, web):
    viewer, operator = as_role("viewer"), as_role("operator")
    page = viewer.get("/admin/csv/")
    assert page.status_code == 200 and "tl-export-numbers" in page.text
    assert "tl-csv-upload" not in page.text and "can export but not import" in page.text
    assert "tl-csv-upload" in operator.get("/admin/csv/").text
    before = audit_count(web)
    assert csv_upload(viewer).status_code == 403
    token = preview_token(csv_upload(operator).text)
    assert viewer.post("/admin/csv/confirm/", {"token": token}).status_code == 403
    assert new_numbers(web) == 0 and audit_count(web) == before
    assert confirm(operator, token).status_code == 200  # the refusal did not consume it
    assert new_numbers(web) == 2


def test_csrf_is_required_on_preview_and_confirm(as_role, web):
    browser = as_role("operator")
    response = browser.post("/admin/csv/preview/", {"kind": "numbers", "file": (io.BytesIO(CSV_NUMBERS), "n.csv")}, csrf=False)
    assert response.status_code == 400 and "CSRF" in response.text
    token = preview_token(csv_upload(browser).text)
    before = audit_count(web)
    response = browser.post("/admin/csv/confirm/", {"token": token}, csrf=False)
    assert response.status_code == 400 and "CSRF" in response.text
    assert browser.post("/admin/csv/confirm/", {"token": token, "csrf_token": "forged"}).status_code == 400
    assert new_numbers(web) == 0 and audit_count(web) == before


@pytest.mark.parametrize("kind", ["carriers", "nodes", "clients", "trunks", "numbers"])
def test_export_downloads_csv_without_secrets_that_imports_unchanged(as_role, web, kind):
    viewer = as_role("viewer")
    response = viewer.get(f"/admin/csv/export/?kind={kind}")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"].startswith(f'attachment; filename="{kind}-')
    rows = list(csv.reader(io.StringIO(response.text)))
    assert "password" not in rows[0] and len(rows) > 1
    preview = csv_upload(as_role("operator"), kind=kind, content=response.data, filename=f"{kind}.csv")
    assert f"all {len(rows) - 1} row(s) are valid" in preview.text and "Nothing to import" in preview.text


def test_export_of_an_unknown_kind_is_404(as_role, web):
    assert as_role("viewer").get("/admin/csv/export/?kind=users").status_code == 404


@pytest.mark.parametrize("url", ["/admin/csv/", "/admin/csv/export/?kind=numbers"])
def test_the_page_needs_sign_in(browser, web, url):
    response = browser.get(url)
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_too_large_an_upload_gets_a_plain_413_page(app, as_role, web):
    app.config["MAX_CONTENT_LENGTH"] = 2 * 1024 * 1024
    before = audit_count(web)
    big = b"number,carrier\n" + b"204-555-1296,telus\n" * (3 * 1024 * 1024 // 19)
    response = csv_upload(as_role("operator"), content=big)
    assert response.status_code == 413
    assert "File too large" in response.text and "limit of 2 MB" in response.text
    assert "Traceback" not in response.text and "Content-Security-Policy" in response.headers
    assert audit_count(web) == before and uploads(app) == []


def test_the_menu_links_the_page(as_role, web):
    page = as_role("viewer").get("/admin/").text
    assert 'href="/admin/csv/"' in page and "Import / export" in page


def test_an_import_entry_is_in_the_audit_log_page(as_role, web, accounts):
    browser = as_role("operator")
    confirm(browser, preview_token(csv_upload(browser).text))
    entry = web.scalar(select(AuditEntry).where(AuditEntry.channel == "csv", AuditEntry.action == "import"))
    assert entry is not None and entry.actor == accounts["operator"]
    assert "numbers.csv: 2 row(s) imported: 2 created" in browser.get("/admin/audit/").text


def job_status(browser, token: str) -> dict:
    response = browser.get(f"/admin/csv/job/{token}/status")
    assert response.status_code == 200 and response.mimetype == "application/json", response.text[:500]
    return response.get_json()


def test_the_preview_and_the_import_are_jobs_with_a_page_and_a_status(as_role, web):
    browser = as_role("operator")
    posted = csv_upload(browser, follow_redirects=False)
    assert posted.status_code == 303
    page_url = posted.headers["Location"]
    token = page_url.rstrip("/").split("/")[-1]
    assert page_url.endswith(f"/admin/csv/job/{token}/")
    status = job_status(browser, token)
    assert status == {"stage": "preview", "state": "done", "finished": True, "failed": False, "done": 2, "estimate": 2,
                      "problem": None, "error_count": 0,
                      "summary": "numbers.csv: dry run: all 2 row(s) are valid (2 created, 0 updated, 0 unchanged); "
                                 "these changes would be made; nothing was written"}
    page = browser.get(page_url)  # the same page again (a refresh) shows the same preview
    assert page.status_code == 200 and preview_token(page.text) == token and "tl-csv-progress" not in page.text

    done = browser.post("/admin/csv/confirm/", {"token": token})
    assert done.status_code == 303 and done.headers["Location"] == page_url
    status = job_status(browser, token)
    assert (status["stage"], status["state"], status["done"]) == ("import", "done", 2)
    assert status["summary"] == "numbers.csv: 2 row(s) imported: 2 created, 0 updated, 0 unchanged"
    assert "tl-csv-done" in browser.get(page_url).text and new_numbers(web) == 2


def test_a_job_that_stopped_writing_its_status_is_reported_as_failed(app, as_role, web):
    """A worker that died mid-job (status untouched for 10 minutes while "running") is a failure, never "running" forever."""
    browser = as_role("operator")
    token = preview_token(csv_upload(browser).text)
    path = Path(app.config["IMPORT_UPLOAD_DIR"]) / f"{token}.status.json"
    state = json.loads(path.read_text())
    state.update(state="running", done=1, result=None, updated=time.time() - 599)
    path.write_text(json.dumps(state))
    running = job_status(browser, token)
    assert (running["state"], running["finished"], running["done"], running["estimate"]) == ("running", False, 1, 2)
    page = browser.get(f"/admin/csv/job/{token}/")
    assert page.status_code == 200 and "1 of 2 rows checked" in page.text and 'id="tl-csv-bar"' in page.text
    assert "refresh this page" in page.text and "tl-csv-confirm" not in page.text
    assert 'nonce="' in page.text.split('id="tl-csv-progress"')[1]  # the poller runs under the CSP
    assert refused(confirm(browser, token))  # not confirmable while it is being checked

    state["updated"] = time.time() - 601
    path.write_text(json.dumps(state))
    stale = job_status(browser, token)
    assert (stale["state"], stale["finished"], stale["failed"]) == ("failed", True, True)
    assert "stopped working on this file" in stale["problem"]
    page = browser.get(f"/admin/csv/job/{token}/")
    assert page.status_code == 400 and "stopped working on this file" in page.text and "tl-csv-progress" not in page.text
    assert refused(confirm(browser, token)) and new_numbers(web) == 0


def test_the_page_lists_the_first_200_errors_and_the_download_has_them_all(as_role, web):
    browser = as_role("operator")
    rows = b"".join(b"204-555-%04d,nope,active\n" % n for n in range(2000, 2250))
    page = csv_upload(browser, content=b"number,carrier,port_status\n" + rows).text
    assert "250 of 250 row(s) are wrong (250 problem(s))" in page
    listed = page.split('id="tl-csv-errors"')[1].split("</table>")[0]
    assert listed.count("<tr>") == 201  # the header row and the first 200 errors
    assert "<td>2</td><td>carrier</td>" in listed and "<td>201</td>" in listed and "<td>202</td>" not in listed
    assert "50 more are in the" in page and preview_token(page) is None
    link = re.search(r'href="(/admin/csv/job/[0-9a-f]{32}/errors\.csv)"', page).group(1)
    download = browser.get(link)
    assert download.status_code == 200 and download.mimetype == "text/csv"
    assert download.headers["Content-Disposition"].startswith("attachment; filename=numbers-errors.csv")
    lines = list(csv.reader(io.StringIO(download.text)))
    assert lines[0] == ["line", "column", "reason"] and len(lines) == 251
    assert [int(line) for line, _c, _r in lines[1:]] == list(range(2, 252))
    assert lines[-1][1] == "carrier" and "no carrier named 'nope'" in lines[-1][2]


def test_discard_forgets_the_upload(app, as_role, web):
    browser = as_role("operator")
    token = preview_token(csv_upload(browser).text)
    page = browser.post("/admin/csv/discard/", {"token": token}, follow_redirects=True)
    assert page.status_code == 200 and "numbers.csv was discarded" in page.text and "tl-csv-result" not in page.text
    assert not list(Path(app.config["IMPORT_UPLOAD_DIR"]).glob(f"{token}*"))
    assert refused(confirm(browser, token)) and new_numbers(web) == 0
    assert browser.get(f"/admin/csv/job/{token}/status").status_code == 404
    assert browser.post("/admin/csv/discard/", {"token": token}).status_code == 404  # twice: it is unknown now


def test_an_imported_upload_cannot_be_discarded(as_role, web):
    browser = as_role("operator")
    token = preview_token(csv_upload(browser).text)
    confirm(browser, token)
    page = browser.post("/admin/csv/discard/", {"token": token}, follow_redirects=True)
    assert refused(page) and "cannot be discarded" in page.text and new_numbers(web) == 2


@pytest.mark.parametrize("url", ["/admin/csv/job/{token}/", "/admin/csv/job/{token}/status", "/admin/csv/job/{token}/errors.csv"])
def test_another_users_job_is_404(as_role, web, url):
    operator, admin = as_role("operator"), as_role("admin")
    token = re.search(r"/job/([0-9a-f]{32})/", csv_upload(operator, content=BAD_NUMBERS).text).group(1)
    assert operator.get(url.format(token=token)).status_code == 200
    assert admin.get(url.format(token=token)).status_code == 404
    assert admin.get(url.format(token="0" * 32)).status_code == 404
    assert admin.get(url.format(token="..%2F..%2Fsecret_key")).status_code == 404


def test_discard_refuses_other_users_viewers_and_missing_csrf(app, as_role, web):
    operator, admin, viewer = as_role("operator"), as_role("admin"), as_role("viewer")
    token = preview_token(csv_upload(operator).text)
    assert admin.post("/admin/csv/discard/", {"token": token}).status_code == 404
    assert admin.post("/admin/csv/discard/", {"token": "../../secret_key"}).status_code == 404
    assert viewer.post("/admin/csv/discard/", {"token": token}).status_code == 403
    response = operator.post("/admin/csv/discard/", {"token": token}, csrf=False)
    assert response.status_code == 400 and "CSRF" in response.text
    assert [p.name for p in uploads(app)] == [f"{token}.csv"]  # none of the refusals touched it
    assert confirm(operator, token).status_code == 200 and new_numbers(web) == 2


@pytest.fixture(params=["sqlite", "mariadb"])
def threaded_app(request, tmp_path):
    """An app with real job threads: its own migrated, seeded database (SQLite file or a fresh MariaDB database) and engine."""
    from sqlalchemy.orm import Session as OrmSession

    from app import create_app
    from app.db import Session
    from app.migrations import upgrade
    from app.projection import apply_pending
    from app.services import users
    from seeds.demo import load
    from tests.conftest import scratch_mariadb
    from tests.web.conftest import PASSWORD

    with contextlib.ExitStack() as stack:
        if request.param == "sqlite":
            url = f"sqlite:///{tmp_path / 'jobs.db'}"
        else:
            request.applymarker(pytest.mark.mariadb)
            url = stack.enter_context(scratch_mariadb("trunkline_jobs"))
        upgrade(url)
        Session.remove()  # the shared scoped Session may still carry another test's connection
        Session.configure(bind=None, join_transaction_mode="conditional_savepoint")
        app = create_app({"DATABASE_URL": url, "SECRET_KEY": "test", "TESTING": True, "WTF_CSRF_ENABLED": True,
                          "IMPORT_UPLOAD_DIR": str(tmp_path / "uploads")})
        engine = app.extensions["trunkline_engine"]
        with OrmSession(engine) as db:
            load(db)
            apply_pending(db)
            users.create(db, "jobs@example.test", "operator", PASSWORD, SETUP)
            db.commit()
        try:
            yield app, engine
        finally:
            if app.extensions.get("trunkline_replicas") is not None:
                app.extensions["trunkline_replicas"].stop()  # its watcher probes the primary (app.dbreplica)
            Session.remove()
            engine.dispose()

def wait_for(browser, token: str, finished: bool = True, timeout: float = 60) -> dict:
    """Poll the status route like the page does, until the job has (or has not yet) finished."""
    deadline = time.monotonic() + timeout
    while True:
        status = job_status(browser, token)
        if status["finished"] == finished or time.monotonic() > deadline:
            return status
        time.sleep(0.1)


def hold_after_first_batch(monkeypatch):
    """Make a job thread stop after its first progress step: (held: set once it waits, release: lets it go on)."""
    import threading

    from app.web import csv_jobs

    release, held = threading.Event(), threading.Event()
    advance = csv_jobs.Job.advance

    def held_advance(job, rows):
        advance(job, rows)
        if not held.is_set():
            held.set()
            release.wait(30)
    monkeypatch.setattr(csv_jobs.Job, "advance", held_advance)
    monkeypatch.setattr(csv_jobs, "WRITE_EVERY", 0)
    return held, release


def test_a_real_job_thread_reports_progress_then_the_preview_then_imports(threaded_app, monkeypatch):
    """No inline jobs here: the check and the import run in threads with their own sessions while the test polls."""

    from sqlalchemy.orm import Session as OrmSession

    from tests.web.conftest import Browser

    app, engine = threaded_app
    browser = Browser(app.test_client())
    assert browser.sign_in("jobs@example.test").status_code == 302
    # Hold the check after its first batch, so the running state is seen for sure (a small file may finish before a poll).
    held, release = hold_after_first_batch(monkeypatch)

    count = 3000
    content = b"number,carrier\n" + b"".join(b"431-555-%04d,telus\n" % (2000 + n) for n in range(count))
    posted = csv_upload(browser, content=content, follow_redirects=False)
    assert posted.status_code == 303
    token = posted.headers["Location"].rstrip("/").split("/")[-1]
    assert held.wait(30)
    running = job_status(browser, token)
    assert (running["stage"], running["state"], running["finished"], running["estimate"]) == ("preview", "running", False, count)
    assert 0 < running["done"] < count
    page = browser.get(posted.headers["Location"]).text
    assert f"{running['done']:,} of 3,000 rows checked" in page and "tl-csv-confirm" not in page and "refresh this page" in page
    release.set()

    done = wait_for(browser, token)
    assert (done["state"], done["done"], done["error_count"]) == ("done", count, 0), done
    page = browser.get(posted.headers["Location"]).text
    assert f"dry run: all {count} row(s) are valid ({count} created" in page and preview_token(page) == token
    with OrmSession(engine) as db:
        assert db.scalar(select(func.count()).select_from(PhoneNumber).where(PhoneNumber.e164.like("+1431555%"))) == 0

    assert browser.post("/admin/csv/confirm/", {"token": token}).status_code == 303
    assert refused_at_once(browser.post("/admin/csv/confirm/", {"token": token}))  # while it runs, or after: once
    done = wait_for(browser, token)
    assert (done["stage"], done["state"], done["done"]) == ("import", "done", count), done
    assert f"{count} row(s) imported: {count} created" in browser.get(posted.headers["Location"]).text
    with OrmSession(engine) as db:
        assert db.scalar(select(func.count()).select_from(PhoneNumber).where(PhoneNumber.e164.like("+1431555%"))) == count
        entry = db.scalar(select(AuditEntry).where(AuditEntry.channel == "csv", AuditEntry.action == "import"))
        assert entry.actor == "jobs@example.test"
    assert not list(Path(app.config["IMPORT_UPLOAD_DIR"]).glob("*.importing"))


def test_discarding_a_check_that_is_running_stops_it_and_leaves_nothing(threaded_app, monkeypatch):

    from tests.web.conftest import Browser

    app, _engine = threaded_app
    browser = Browser(app.test_client())
    assert browser.sign_in("jobs@example.test").status_code == 302
    held, release = hold_after_first_batch(monkeypatch)

    content = b"number,carrier\n" + b"".join(b"431-555-%04d,telus\n" % (2000 + n) for n in range(3000))
    token = csv_upload(browser, content=content, follow_redirects=False).headers["Location"].rstrip("/").split("/")[-1]
    assert held.wait(30)
    page = browser.get(f"/admin/csv/job/{token}/").text
    assert "Stop and discard this upload" in page
    discarded = browser.post("/admin/csv/discard/", {"token": token}, follow_redirects=True)
    assert discarded.status_code == 200 and "numbers.csv was discarded" in discarded.text
    release.set()
    folder = Path(app.config["IMPORT_UPLOAD_DIR"])
    deadline = time.monotonic() + 30
    while list(folder.glob(f"{token}*")) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not list(folder.glob(f"{token}*"))  # the job stopped at its next progress write and wrote nothing back
    time.sleep(0.5)
    assert not list(folder.glob(f"{token}*"))
    assert browser.get(f"/admin/csv/job/{token}/status").status_code == 404
    assert refused(confirm(browser, token))
