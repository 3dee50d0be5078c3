"""Import / export page: CSV download per kind; upload -> preview (dry run) -> confirm (the same file, for real).

The uploaded file is kept server-side between preview and confirm, under IMPORT_UPLOAD_DIR (default
instance/uploads), named by a random token and bound to the user who uploaded it. The confirm step
imports that stored file again through the engine: the counts shown afterwards come from the real
import, never from the browser. A file is kept only while its preview is valid and for at most
UPLOAD_TTL seconds; a confirm claims it (atomic rename) so a double submit imports once.

The check and the import run as background jobs (app/web/csv_jobs.py): the POST starts one and
redirects to the job's page, which shows its progress (polling the status route) and then its result.
A POST refused at once (no kind, no file, a file that cannot be read at all, a preview already used) redirects
too, to the page that says why (kept server-side for one GET, app.web.once): a refresh never uploads again.
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

from flask import Response, abort, current_app, flash, jsonify, redirect, request, send_file, session, url_for
from flask_admin import BaseView, expose
from flask_login import current_user

from app.csvio import KINDS, CsvFileError, export_csv, open_reader
from app.db import Session
from app.dbreplica import serving_replica
from app.web import csv_jobs, once
from app.web.security import web_actor

UPLOAD_TTL = 3600  # seconds a previewed file waits for its confirm
PROBLEM_KEY = "tl_csv_problem"  # session key of a refused POST's problem, shown by the next GET of the page
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
    """Forget uploads untouched for UPLOAD_TTL (a running job rewrites its status file, which keeps its upload)."""
    limit = (now or time.time()) - UPLOAD_TTL
    newest: dict[str, float] = {}
    files: dict[str, list[Path]] = {}
    for path in upload_dir().iterdir():
        token = path.name.split(".", 1)[0]
        try:
            newest[token] = max(newest.get(token, 0.0), path.stat().st_mtime)
        except OSError:
            continue
        files.setdefault(token, []).append(path)
    for token, mtime in newest.items():
        if mtime < limit:
            _remove(*files[token])


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


def owned_meta(token: str) -> dict | None:
    """The metadata of the signed-in user's upload with this token (None when unknown, expired or someone else's)."""
    if not _TOKEN_RE.match(token or ""):
        return None
    try:
        meta = json.loads(_paths(token)[1].read_text())
    except (OSError, ValueError):
        return None
    if meta.get("user_id") != current_user.id or meta.get("kind") not in KINDS:
        return None  # another user's token: as if it did not exist (and it stays theirs)
    return meta


def claim(token: str) -> StoredUpload | None:
    """The checked upload of this token for the signed-in user, taken out of the store (None when not confirmable)."""
    meta = owned_meta(token)
    if meta is None:
        return None
    data_path, meta_path = _paths(token)
    if time.time() - float(meta.get("created", 0)) > UPLOAD_TTL:
        discard(token)
        return None
    status = csv_jobs.read_status(upload_dir(), token)
    if not status or status["stage"] != "preview" or status["state"] != "done" or status["result"]["error_count"]:
        return None  # still being checked, failed, or with wrong rows: nothing to confirm
    claimed = data_path.with_name(f"{token}.{secrets.token_hex(4)}.importing")
    try:
        data_path.rename(claimed)  # atomic: of two confirms of one preview, one gets the file
    except FileNotFoundError:
        return None
    return StoredUpload(token, meta["kind"], meta["filename"], meta["user_id"], float(meta["created"]), claimed)


def discard(token: str) -> None:
    """Forget an upload: its file, metadata, status and errors (a running check stops at its next progress write)."""
    folder = upload_dir()
    _remove(*_paths(token), csv_jobs.status_path(folder, token), csv_jobs.errors_path(folder, token))


def start_job(stored: StoredUpload, stage: str) -> None:
    """Check (preview) or import (confirm) the stored file in the background, as the signed-in user."""
    csv_jobs.start(upload_dir(), stored.token, stage, stored.path, stored.kind, stored.filename, web_actor("csv"))


def header_problem(stored: StoredUpload) -> str | None:
    """The sentence saying why the file as a whole is unusable (encoding, header, empty, too many rows), or None."""
    try:
        with open(stored.path, "rb") as file_obj:
            open_reader(stored.kind, file_obj, filename=stored.filename)
    except CsvFileError as exc:
        return f"{stored.filename}: {exc}"
    return None


class ImportExportView(BaseView):
    """Export every kind as CSV (any signed-in user); import with a preview (admins and operators)."""

    def is_accessible(self) -> bool:
        return current_user.is_authenticated

    def may_write(self) -> bool:
        return current_user.is_authenticated and current_user.can_write

    def _page(self, status: int = 200, **kwargs):
        kwargs.setdefault("kind", request.form.get("kind") or request.args.get("kind") or "")
        return self.render("trunkline/csv_import_export.html", kinds=KINDS, may_write=self.may_write() and not serving_replica(),
                           max_mb=(current_app.config.get("MAX_CONTENT_LENGTH") or 0) // (1024 * 1024),
                           max_rows=current_app.config.get("IMPORT_MAX_ROWS"), **kwargs), status

    def _refused(self, problem: str, **kwargs):
        """A refused POST: keep what to say for the next GET of the page and redirect there (303)."""
        kind = kwargs.get("kind") or request.form.get("kind") or ""
        once.put({"problem": problem, "kind": kind, "filename": kwargs.get("filename")}, key=PROBLEM_KEY)
        return redirect(url_for(".index", kind=kind) if kind in KINDS else url_for(".index"), 303)

    @expose("/")
    def index(self):
        refused = once.take(PROBLEM_KEY) if PROBLEM_KEY in session else None
        if refused:
            return self._page(problem=refused["problem"], filename=refused.get("filename"),
                              kind=refused.get("kind") or request.args.get("kind") or "")
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
        return Response(out.getvalue(), content_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{kind}-{stamp}.csv"'})

    @expose("/preview/", methods=("POST",))
    def preview_view(self):
        if not self.may_write():
            abort(403)
        kind = request.form.get("kind", "")
        upload = request.files.get("file")
        if kind not in KINDS:
            return self._refused("Choose what the file holds: " + ", ".join(KINDS) + ".")
        if upload is None or not upload.filename:
            return self._refused("Choose a CSV file to upload.")
        purge_stale()
        stored = store(upload, kind)
        problem = header_problem(stored)  # a bad file as a whole is said at once, without a job
        if problem is not None:
            _remove(*_paths(stored.token))
            return self._refused(problem, filename=stored.filename, kind=kind)
        start_job(stored, "preview")
        return redirect(url_for(".job_view", token=stored.token), 303)

    @expose("/confirm/", methods=("POST",))
    def confirm_view(self):
        if not self.may_write():
            abort(403)
        stored = claim(request.form.get("token", ""))
        if stored is None:
            return self._refused("This preview has expired or was already imported (or discarded): upload the file again.")
        start_job(stored, "import")
        return redirect(url_for(".job_view", token=stored.token), 303)

    @expose("/discard/", methods=("POST",))
    def discard_view(self):
        if not self.may_write():
            abort(403)
        token = request.form.get("token", "")
        meta = owned_meta(token)
        if meta is None:
            abort(404)
        status = csv_jobs.read_status(upload_dir(), token) or {}
        if status.get("stage") == "import":
            return self._refused(f"{meta['filename']} was confirmed: it is imported (or being imported), so it cannot be discarded.",
                                 kind=meta.get("kind"))
        discard(token)
        flash(f"{meta['filename']} was discarded: nothing was imported and the server no longer keeps the file.", "success")
        return redirect(url_for(".index"), 303)

    @expose("/job/<token>/")
    def job_view(self, token: str):
        meta, status = self._job(token)
        stage = status["stage"]
        result = csv_jobs.JobResult(**status["result"]) if status.get("result") else None
        confirmable = (stage == "preview" and status["state"] == "done" and result is not None and result.ok
                       and _paths(token)[0].exists())
        return self._page(400 if status["state"] == "failed" else 200, job=status, token=token, stage=stage, result=result,
                          problem=status.get("problem"), confirmable=confirmable, filename=meta["filename"], kind=meta["kind"])

    @expose("/job/<token>/status")
    def status_view(self, token: str):
        _meta, status = self._job(token)
        result = status.get("result") or {}
        return jsonify({"stage": status["stage"], "state": status["state"], "finished": status["finished"],
                        "failed": status["state"] == "failed", "done": status["done"], "estimate": status["estimate"],
                        "problem": status.get("problem"), "summary": result.get("summary"), "error_count": result.get("error_count")})

    @expose("/job/<token>/errors.csv")
    def errors_view(self, token: str):
        meta, _status = self._job(token)
        path = csv_jobs.errors_path(upload_dir(), token)
        if not path.exists():
            abort(404)
        name = meta["filename"].rsplit(".", 1)[0] + "-errors.csv"
        return send_file(path, mimetype="text/csv", as_attachment=True, download_name=name, max_age=0)

    def _job(self, token: str) -> tuple[dict, dict]:
        """The metadata and status of the signed-in user's job, or 404 (unknown, expired, discarded or someone else's)."""
        meta = owned_meta(token)
        status = csv_jobs.read_status(upload_dir(), token) if meta is not None else None
        if status is None:
            abort(404)
        return meta, status


def too_large(_exc):
    """413: a plain page (no admin chrome, no traceback) saying the limit."""
    limit = current_app.config.get("MAX_CONTENT_LENGTH") or 0
    body = ("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>File too large</title></head><body>"
            "<h1>File too large</h1>"
            f"<p>The upload is larger than the limit of {limit // (1024 * 1024)} MB, so nothing was read or imported. "
            "Split the file into smaller files, or import it with <code>flask --app wsgi import KIND FILE</code>.</p>"
            f"<p><a href=\"{url_for('csv.index')}\">Back to Import / export</a></p></body></html>")
    return Response(body, status=413, mimetype="text/html")
