"""The Import / export page: export per kind, upload -> preview (writes nothing) -> confirm (writes, one audit entry)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

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
    folder = Path(app.config["IMPORT_UPLOAD_DIR"])
    return sorted(folder.iterdir()) if folder.exists() else []


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
    assert token and len(uploads(app)) == 2  # the file and its metadata, server-side

    done = browser.post("/admin/csv/confirm/", {"token": token})
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

    again = browser.post("/admin/csv/confirm/", {"token": token})  # double submit: imported once
    assert again.status_code == 409 and "expired or was already imported" in again.text
    assert audit_count(web) == before + 1

    second = csv_upload(browser)  # the same file again changes nothing, and says so
    assert 'id="tl-csv-unchanged">2<' in second.text and "nothing would change" in second.text
    result = browser.post("/admin/csv/confirm/", {"token": preview_token(second.text)})
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
    assert response.status_code == 400
    assert message in response.text and "Nothing was imported." in response.text
    assert f"{filename}: " in response.text
    assert "Traceback" not in response.text and preview_token(response.text) is None
    assert audit_count(web) == before and uploads(app) == []


def test_a_missing_kind_or_file_is_asked_for(as_role, web):
    browser = as_role("operator")
    assert "Choose what the file holds" in browser.post("/admin/csv/preview/", {"kind": "phones"}).text
    response = browser.post("/admin/csv/preview/", {"kind": "numbers"})
    assert response.status_code == 400 and "Choose a CSV file" in response.text


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
    done = browser.post("/admin/csv/confirm/", {"token": preview_token(preview.text)})
    assert "no carrier named" in done.text and "nothing was imported" in done.text
    assert new_numbers(web) == 0 and audit_count(web) == before


def test_a_preview_is_confirmed_only_by_its_uploader_and_not_after_it_expires(app, as_role, web, monkeypatch):
    operator, admin = as_role("operator"), as_role("admin")
    token = preview_token(csv_upload(operator).text)
    assert admin.post("/admin/csv/confirm/", {"token": token}).status_code == 409
    assert admin.post("/admin/csv/confirm/", {"token": "../../secret_key"}).status_code == 409
    assert new_numbers(web) == 0
    from app.web.views import csv_page

    monkeypatch.setattr(csv_page, "UPLOAD_TTL", -1)
    assert operator.post("/admin/csv/confirm/", {"token": token}).status_code == 409
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
    assert operator.post("/admin/csv/confirm/", {"token": token}).status_code == 200  # the refusal did not consume it
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
    assert f"all {len(rows) - 1} row(s) are valid" in preview.text and "nothing would change" in preview.text


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
    browser.post("/admin/csv/confirm/", {"token": preview_token(csv_upload(browser).text)})
    entry = web.scalar(select(AuditEntry).where(AuditEntry.channel == "csv", AuditEntry.action == "import"))
    assert entry is not None and entry.actor == accounts["operator"]
    assert "numbers.csv: 2 row(s) imported: 2 created" in browser.get("/admin/audit/").text
