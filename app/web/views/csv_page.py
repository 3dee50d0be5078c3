"""Import / export page: CSV download per kind; upload -> preview (dry run) -> confirm (the same file, for real).

The uploaded file is kept server-side between preview and confirm, under IMPORT_UPLOAD_DIR (default
instance/uploads), named by a random token and bound to the user who uploaded it. The confirm step
imports that stored file again through the engine: the counts shown afterwards come from the real
import, never from the browser. A file is kept only while its preview is valid and for at most
UPLOAD_TTL seconds; a confirm claims it (atomic rename) so a double submit imports once.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from flask import Response, abort, current_app, request, url_for
from flask_admin import BaseView, expose
from flask_login import current_user
from sqlalchemy.exc import SQLAlchemyError

from app.csvio import KINDS, CsvFileError, ImportResult, export_csv, import_csv
from app.db import Session
from app.web.security import web_actor
from app.web.views.base import commit

UPLOAD_TTL = 3600  # seconds a previewed file waits for its confirm
_TOKEN_RE = re.compile(r"^[0-9a-f]{32}$")
_NAME_RE = re.compile(r"[^A-Za-z0-9._ -]+")


def upload_dir() -> Path:
    configured = current_app.config.get("IMPORT_UPLOAD_DIR")
    path = Path(configured) if configured else Path(current_app.instance_path) / "uploads"
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def clean_name(name: str | None, kind: str) -> str:
    """The uploaded file's base name, printable, for messages and the audit key (never used as a path)."""
    base = _NAME_RE.sub("_", os.path.basename((name or "").replace("\\", "/"))).strip(" .")[:120]
    return base or f"{kind}.csv"


@dataclass
class StoredUpload:
    token: str
    kind: str
    filename: str
    user_id: int
    created: float
    path: Path


def _paths(token: str) -> tuple[Path, Path]:
    folder = upload_dir()
    return folder / f"{token}.csv", folder / f"{token}.json"


def _remove(*paths: Path) -> None:
    for path in paths:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def purge_stale(now: float | None = None) -> None:
    """Forget previews older than UPLOAD_TTL (and files left by an interrupted confirm)."""
    limit = (now or time.time()) - UPLOAD_TTL
    for path in upload_dir().iterdir():
        try:
            if path.stat().st_mtime < limit:
                path.unlink()
        except OSError:
            pass


def store(file_storage, kind: str) -> StoredUpload:
    """Save the upload under a fresh random token, bound to the signed-in user."""
    token = secrets.token_hex(16)
    data_path, meta_path = _paths(token)
    file_storage.save(str(data_path))
    data_path.chmod(0o600)
    upload = StoredUpload(token, kind, clean_name(file_storage.filename, kind), current_user.id, time.time(), data_path)
    meta_path.write_text(json.dumps({"kind": kind, "filename": upload.filename, "user_id": upload.user_id,
                                     "created": upload.created}))
    return upload


def claim(token: str) -> StoredUpload | None:
    """The stored upload of this token for the signed-in user, taken out of the store (None when unknown or expired)."""
    if not _TOKEN_RE.match(token or ""):
        return None
    data_path, meta_path = _paths(token)
    try:
        meta = json.loads(meta_path.read_text())
    except (OSError, ValueError):
        return None
    if meta.get("user_id") != current_user.id or meta.get("kind") not in KINDS:
        return None  # another user's token: as if it did not exist (and it stays theirs)
    if time.time() - float(meta.get("created", 0)) > UPLOAD_TTL:
        _remove(data_path, meta_path)
        return None
    claimed = data_path.with_name(f"{token}.{secrets.token_hex(4)}.importing")
    try:
        data_path.rename(claimed)  # atomic: of two confirms of one preview, one gets the file
    except FileNotFoundError:
        return None
    _remove(meta_path)
    return StoredUpload(token, meta["kind"], meta["filename"], meta["user_id"], float(meta["created"]), claimed)


def run_import(upload: StoredUpload, dry_run: bool) -> tuple[ImportResult | None, str | None]:
    """(result, None), or (None, the sentence that says why the file as a whole cannot be imported)."""
    try:
        with open(upload.path, "rb") as file_obj:
            result = import_csv(Session(), upload.kind, file_obj, web_actor("csv"), dry_run, filename=upload.filename)
        if dry_run or not result.ok:
            Session.rollback()
        else:
            commit()
        return result, None
    except CsvFileError as exc:
        Session.rollback()
        return None, f"{upload.filename}: {exc}"
    except SQLAlchemyError as exc:
        Session.rollback()
        orig = getattr(exc, "orig", None)
        reason = str(orig if orig is not None else exc).splitlines()[0]
        current_app.logger.exception("CSV import of %s failed in the database", upload.filename)
        return None, f"{upload.filename}: the database refused the import ({reason}); nothing was imported"


class ImportExportView(BaseView):
    """Export every kind as CSV (any signed-in user); import with a preview (admins and operators)."""

    def is_accessible(self) -> bool:
        return current_user.is_authenticated

    def may_write(self) -> bool:
        return current_user.is_authenticated and current_user.can_write

    def _page(self, status: int = 200, **kwargs):
        kwargs.setdefault("kind", request.form.get("kind") or request.args.get("kind") or "")
        return self.render("trunkline/csv_import_export.html", kinds=KINDS, may_write=self.may_write(),
                           max_mb=(current_app.config.get("MAX_CONTENT_LENGTH") or 0) // (1024 * 1024),
                           max_rows=current_app.config.get("IMPORT_MAX_ROWS"), **kwargs), status

    @expose("/")
    def index(self):
        return self._page()

    @expose("/export/")
    def export_view(self):
        kind = request.args.get("kind", "")
        if kind not in KINDS:
            abort(404)
        out = io.StringIO()
        try:
            export_csv(Session(), kind, out, with_secrets=False)
        finally:
            Session.rollback()
        stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
        return Response(out.getvalue(), mimetype="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{kind}-{stamp}.csv"'})

    @expose("/preview/", methods=("POST",))
    def preview_view(self):
        if not self.may_write():
            abort(403)
        kind = request.form.get("kind", "")
        upload = request.files.get("file")
        if kind not in KINDS:
            return self._page(400, problem="Choose what the file holds: " + ", ".join(KINDS) + ".")
        if upload is None or not upload.filename:
            return self._page(400, problem="Choose a CSV file to upload.")
        purge_stale()
        stored = store(upload, kind)
        result, problem = run_import(stored, dry_run=True)
        if problem is not None or not result.ok:
            _remove(*_paths(stored.token))  # nothing to confirm: the file has to be corrected first
            return self._page(200 if problem is None else 400, problem=problem, result=result, stage="preview",
                              filename=stored.filename, kind=kind)
        return self._page(result=result, stage="preview", token=stored.token, filename=stored.filename, kind=kind)

    @expose("/confirm/", methods=("POST",))
    def confirm_view(self):
        if not self.may_write():
            abort(403)
        stored = claim(request.form.get("token", ""))
        if stored is None:
            return self._page(409, problem="This preview has expired or was already imported: upload the file again.")
        try:
            result, problem = run_import(stored, dry_run=False)
        finally:
            _remove(stored.path)
        return self._page(200 if problem is None else 400, problem=problem, result=result, stage="import",
                          filename=stored.filename, kind=stored.kind)


def too_large(_exc):
    """413: a plain page (no admin chrome, no traceback) saying the limit."""
    limit = current_app.config.get("MAX_CONTENT_LENGTH") or 0
    body = ("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>File too large</title></head><body>"
            "<h1>File too large</h1>"
            f"<p>The upload is larger than the limit of {limit // (1024 * 1024)} MB, so nothing was read or imported. "
            "Split the file into smaller files, or import it with <code>flask --app wsgi import KIND FILE</code>.</p>"
            f"<p><a href=\"{url_for('csv.index')}\">Back to Import / export</a></p></body></html>")
    return Response(body, status=413, mimetype="text/html")
