"""`flask import KIND FILE [--dry-run]` and `flask export KIND [--out FILE]`: bulk CSV (formats: docs/csv.md)."""

from __future__ import annotations

import contextlib
import os
import sys

import click
from flask import Flask
from sqlalchemy.exc import SQLAlchemyError

from app.cli import cli_actor, domain_command, fail, read_command
from app.csvio import KINDS, CsvFileError, export_csv, import_csv, open_reader
from app.db import Session

PROGRESS_FROM = 1000  # rows: smaller files import without a progress bar


def _db_error(exc: SQLAlchemyError) -> str:
    orig = getattr(exc, "orig", None)
    return "database error: " + str(orig if orig is not None else exc).splitlines()[0]


def register(app: Flask) -> None:
    """Attach the import and export commands."""

    @app.cli.command("import")
    @click.argument("kind", type=click.Choice(KINDS))
    @click.argument("file", type=click.File("rb"))
    @click.option("--dry-run", is_flag=True, help="Check every row and report what would change; write nothing.")
    def import_cmd(kind: str, file, dry_run: bool):
        """Import a CSV file of KIND (all or nothing; FILE may be - for standard input)."""
        given = getattr(file, "name", "-")
        name = os.path.basename(given) if isinstance(given, str) and given not in ("-", "<stdin>") else f"{kind}.csv (stdin)"
        try:
            reader = open_reader(kind, file, filename=name)
            bar = (click.progressbar(length=reader.estimate, label=f"importing {name}", file=sys.stderr)
                   if (reader.estimate or 0) >= PROGRESS_FROM else contextlib.nullcontext())
            with bar as progress:
                result = import_csv(Session(), kind, reader, cli_actor(), dry_run,
                                    progress=progress.update if progress is not None else None)
        except CsvFileError as exc:
            Session.rollback()
            fail(f"{name}: {exc}")
        except SQLAlchemyError as exc:
            Session.rollback()
            fail(_db_error(exc))
        if not result.ok:
            Session.rollback()
            for error in result.errors:
                click.echo(str(error), err=True)
            fail(result.summary())
        if dry_run:
            Session.rollback()
        else:
            try:
                Session.commit()
            except SQLAlchemyError as exc:
                Session.rollback()
                fail(_db_error(exc))
        click.echo(result.summary())

    @app.cli.command("export")
    @click.argument("kind", type=click.Choice(KINDS))
    @click.option("--out", "out_path", type=click.Path(dir_okay=False, writable=True), default=None,
                  help="Write to this file instead of standard output.")
    @click.option("--with-secrets", is_flag=True,
                  help="Include the carrier and trunk passwords in clear (left out by default; imports keep stored ones).")
    @domain_command
    @read_command
    def export_cmd(kind: str, out_path: str | None, with_secrets: bool):
        """Export every KIND as CSV in the import format (standard output by default)."""
        try:
            if out_path is None:
                count = export_csv(Session(), kind, sys.stdout, with_secrets=with_secrets)
            else:
                fd = os.open(out_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if with_secrets else 0o644)
                if with_secrets:
                    os.fchmod(fd, 0o600)  # also when the file already existed
                with open(fd, "w", newline="", encoding="utf-8") as out:
                    count = export_csv(Session(), kind, out, with_secrets=with_secrets)
        except SQLAlchemyError as exc:
            fail(_db_error(exc))
        except BrokenPipeError:
            # The reader stopped early (`| head`): end quietly, as the Python docs advise for EPIPE.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            sys.exit(1)
        except OSError as exc:
            fail(f"cannot write {out_path}: {exc.strerror}")
        finally:
            Session.rollback()
        if with_secrets:
            click.echo("warning: the export contains passwords in clear; keep it private and delete it after use", err=True)
        if out_path is not None:
            click.echo(f"{count} {kind} exported to {out_path}", err=True)
