"""Admin CSV checks and imports as background jobs: a thread per job, its state in a JSON status file.

The state lives in <token>.status.json next to the stored upload, not in memory, so whichever worker
process answers a poll reads the same thing. Every error of a finished job is kept in <token>.errors.csv
(streamed by the download), and only the first SHOWN_ERRORS of them in the status file: a poll every half
second must not parse a million errors. A job whose status stops changing while "running" for
STALE_AFTER seconds died with its process (a live job rewrites it at least every HEARTBEAT seconds).
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import secrets
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from flask import Flask, current_app
from sqlalchemy.exc import SQLAlchemyError

from app.csvio import CsvFileError, ImportResult, import_csv, open_reader
from app.db import Session
from app.services.audit import Actor
from app.web.views.base import commit

SHOWN_ERRORS = 200  # errors listed on the page; the rest are in the download
STALE_AFTER = 600  # seconds without a status write after which a "running" job is reported as failed
HEARTBEAT = 30  # a running job rewrites its status at least this often, even in a long step without rows
WRITE_EVERY = 0.3  # seconds between progress writes (a poll comes every 0.5 s)
STALE_PROBLEM = ("the server stopped working on this file before it finished (it was restarted, or the job failed): "
                 "nothing was imported; upload the file again")


def status_path(folder: Path, token: str) -> Path:
    """Where the job of this upload keeps its state."""
    return folder / f"{token}.status.json"


def errors_path(folder: Path, token: str) -> Path:
    """Where a finished job keeps every error (line,column,reason)."""
    return folder / f"{token}.errors.csv"


def write_json(path: Path, data: dict) -> None:
    """Write atomically: a reader sees the old or the new file, never half of one."""
    tmp = path.with_name(f"{path.name}.{secrets.token_hex(4)}.tmp")
    tmp.write_text(json.dumps(data))
    os.replace(tmp, path)


def read_status(folder: Path, token: str) -> dict | None:
    """The job's state, with a job that stopped writing while running reported as failed; None when there is none."""
    try:
        state = json.loads(status_path(folder, token).read_text())
    except (OSError, ValueError):
        return None
    if state.get("state") == "running" and time.time() - float(state.get("updated", 0)) > STALE_AFTER:
        state.update(state="failed", problem=STALE_PROBLEM)
    state["finished"] = state.get("state") in ("done", "failed")
    return state


@dataclass
class JobResult:
    """What the page shows of a finished job: the ImportResult's counts and summary, and the first errors."""

    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    bad_rows: int = 0
    error_count: int = 0
    summary: str = ""
    errors: list[dict] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every row was valid."""
        return self.error_count == 0

    @property
    def changed(self) -> int:
        """Rows that created or changed something."""
        return self.created + self.updated

    @property
    def more_errors(self) -> int:
        """Errors in the download but not on the page."""
        return self.error_count - len(self.errors)

    @classmethod
    def of(cls, result: ImportResult) -> JobResult:
        """The summary of an ImportResult, its errors ordered by line."""
        errors = sorted(result.errors, key=lambda e: e.line)
        return cls(result.rows, result.created, result.updated, result.unchanged, result.bad_rows, len(errors), result.summary(),
                   [{"line": e.line, "column": e.column, "message": e.message} for e in errors[:SHOWN_ERRORS]])


class Discarded(Exception):
    """Raised from the progress callback when the upload was discarded: the import rolls back and stops."""


class Job:
    """One check (stage "preview") or import (stage "import") of a stored file, and its status file."""

    def __init__(self, folder: Path, token: str, stage: str):
        self.folder, self.token = folder, token
        self.meta = folder / f"{token}.json"
        self.state = {"stage": stage, "state": "running", "done": 0, "estimate": None, "started": time.time(), "problem": None,
                      "result": None}
        self._lock = threading.Lock()
        self._written = 0.0
        self.write()

    def write(self) -> None:
        """Save the state now (atomically); raises Discarded once the upload's metadata is gone."""
        with self._lock:
            if not self.meta.exists():
                raise Discarded
            self.state["updated"] = time.time()
            write_json(status_path(self.folder, self.token), self.state)
            self._written = time.monotonic()

    def advance(self, rows: int) -> None:
        """The import's progress callback: count the rows, save the state a few times a second."""
        self.state["done"] += rows
        if time.monotonic() - self._written >= WRITE_EVERY:
            self.write()

    def finish(self, result: ImportResult) -> None:
        """Record the outcome; every error goes to the errors file first, so a poll that sees "done" can download it."""
        if result.errors:
            tmp = errors_path(self.folder, self.token).with_suffix(".tmp")
            with open(tmp, "w", newline="", encoding="utf-8") as out:
                writer = csv.writer(out)
                writer.writerow(["line", "column", "reason"])
                writer.writerows((e.line, e.column, e.message) for e in sorted(result.errors, key=lambda e: e.line))
            os.replace(tmp, errors_path(self.folder, self.token))
        self.state.update(state="done", done=max(self.state["done"], result.rows), result=JobResult.of(result).__dict__)
        self.write()

    def fail(self, problem: str) -> None:
        """Record why the file as a whole could not be checked or imported."""
        self.state.update(state="failed", problem=problem)
        self.write()


def _run(job: Job, path: Path, kind: str, filename: str, actor: Actor, dry_run: bool) -> bool:
    """Run the import (or dry run) of the stored file through the engine; True when every row was right."""
    try:
        with open(path, "rb") as file_obj:
            reader = open_reader(kind, file_obj, filename=filename)
            job.state["estimate"] = reader.estimate
            job.write()
            result = import_csv(Session(), kind, reader, actor, dry_run, filename=filename, progress=job.advance)
        if dry_run or not result.ok:
            Session.rollback()
        else:
            commit()
        job.finish(result)
        return result.ok
    except Discarded:
        Session.rollback()
    except CsvFileError as exc:
        Session.rollback()
        job.fail(f"{filename}: {exc}")
    except SQLAlchemyError as exc:
        Session.rollback()
        orig = getattr(exc, "orig", None)
        reason = str(orig if orig is not None else exc).splitlines()[0]
        current_app.logger.exception("CSV import of %s failed in the database", filename)
        job.fail(f"{filename}: the database refused the import ({reason}); nothing was imported")
    except Exception:  # noqa: BLE001 - whatever stopped the job, the page must say so instead of running forever
        Session.rollback()
        current_app.logger.exception("CSV import of %s failed", filename)
        job.fail(f"{filename}: the import stopped on an unexpected error (logged on the server); nothing was imported")
    return False


def run_job(job: Job, path: Path, kind: str, filename: str, actor: Actor, dry_run: bool, keep_if_ok: bool) -> None:
    """Run one job to its end, then remove the file unless it is a checked file that may still be confirmed."""
    ok = False
    try:
        with contextlib.suppress(Discarded):
            ok = _run(job, path, kind, filename, actor, dry_run)
    finally:
        if not (ok and keep_if_ok):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        if not job.meta.exists():  # discarded while it ran: leave nothing behind
            for leftover in (status_path(job.folder, job.token), errors_path(job.folder, job.token)):
                with contextlib.suppress(FileNotFoundError):
                    leftover.unlink()


def _heartbeat(job: Job, stop: threading.Event) -> None:
    # A long step without rows (realtime rows, the commit) must not look like a dead job.
    while not stop.wait(HEARTBEAT):
        with contextlib.suppress(Discarded, OSError):
            job.write()


def _thread_main(app: Flask, job: Job, args: tuple) -> None:
    stop = threading.Event()
    threading.Thread(target=_heartbeat, args=(job, stop), daemon=True, name=f"csv-heartbeat-{job.token[:8]}").start()
    try:
        with app.app_context():
            try:
                run_job(job, *args)
            finally:
                Session.remove()  # this thread's own session and connection
    finally:
        stop.set()


def start(folder: Path, token: str, stage: str, path: Path, kind: str, filename: str, actor: Actor) -> Job:
    """Start checking (stage "preview") or importing (stage "import") a stored file; returns once the status file exists.

    With IMPORT_JOBS_INLINE the job runs in the request instead (tests whose database is one connection
    that two threads must not share).
    """
    job = Job(folder, token, stage)
    dry_run = stage == "preview"
    args = (path, kind, filename, actor, dry_run, dry_run)
    if current_app.config.get("IMPORT_JOBS_INLINE"):
        run_job(job, *args)
    else:
        app = current_app._get_current_object()  # noqa: SLF001 - the thread needs the app itself, not the proxy
        threading.Thread(target=_thread_main, args=(app, job, args), daemon=True, name=f"csv-{stage}-{token[:8]}").start()
    return job
