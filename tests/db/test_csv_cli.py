"""`flask import` / `flask export`: exit codes, plain messages on stderr, never a traceback."""

from __future__ import annotations

import pytest

from app.projection import drift
from app.services import numbers
from tests.db.csv_support import audit_count, last_audit_id, snapshot

HEADER = "number,carrier,client,trunk,e911_registered,e911_address,port_status\n"


@pytest.fixture
def run(app, seeded):
    # The CLI commits. On SQLite the test's outer transaction is only real once a statement has made the
    # driver emit BEGIN (pysqlite opens transactions lazily; a SAVEPOINT alone is not nested in one, so
    # its RELEASE commits for good). Open it now, so what these commands commit is rolled back after the test.
    bind = seeded.get_bind()
    if bind.dialect.name == "sqlite":
        bind.exec_driver_sql("DELETE FROM audit_log WHERE 1 = 0")
    runner = app.test_cli_runner()

    def invoke(*args, input=None):
        return runner.invoke(args=list(args), input=input)

    return invoke


def write(tmp_path, name: str, content: str | bytes):
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return str(path)


def test_import_writes_commits_and_says_what_changed(run, seeded, tmp_path):
    path = write(tmp_path, "new-numbers.csv", HEADER + "2045551390,telus,ACME,main,no,,active\n2045551202,telus,ACME,main,yes,"
                                                        "\"100 Main St, Suite 200, Winnipeg MB R3C 1A1\",active\n")
    result = run("import", "numbers", path)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "new-numbers.csv: 2 row(s) imported: 1 created, 0 updated, 1 unchanged"
    assert numbers.get(seeded, "2045551390").trunk.name == "main"
    assert drift(seeded) == []
    again = run("import", "numbers", path)
    assert again.exit_code == 0
    assert again.stdout.strip() == "new-numbers.csv: nothing changed: all 2 row(s) already match"


def test_dry_run_exits_zero_and_writes_nothing(run, seeded, tmp_path):
    before, since = snapshot(seeded), last_audit_id(seeded)
    result = run("import", "numbers", write(tmp_path, "n.csv", HEADER + "2045551391,telus,,,no,,active\n"), "--dry-run")
    assert result.exit_code == 0, result.output
    assert "dry run" in result.stdout and "1 created" in result.stdout and "nothing was written" in result.stdout
    assert snapshot(seeded) == before
    assert audit_count(seeded, since=since) == 0


def test_bad_rows_are_listed_on_stderr_and_exit_one(run, seeded, tmp_path):
    before = snapshot(seeded)
    path = write(tmp_path, "n.csv", HEADER + "2045551392,nope,,,no,,active\n2045551393,telus,,,no,,active\n12,telus,,,no,,active\n")
    result = run("import", "numbers", path)
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "line 2, column carrier: there is no carrier named 'nope'",
        "line 4, column number: '12' has 2 digits: a NANP number has 10 (or 11 starting with 1)",
        "Error: n.csv: 2 of 3 row(s) are wrong (2 problem(s)); nothing was imported",
    ]
    assert result.stdout == ""
    assert "Traceback" not in result.output
    assert snapshot(seeded) == before


@pytest.mark.parametrize(("content", "message"), [
    (b"", "Error: n.csv: the file is empty: a numbers.csv starts with the header line"),
    (b"number,carrier,colour\n", "Error: n.csv: the header is wrong: unknown column(s) colour."),
    (b"number,carrier\n2045551394,caf\xe9\n", "Error: n.csv: line 2 is not UTF-8 text (byte 0xe9 at character 15)"),
])
def test_bad_files_are_one_line_and_exit_one(run, tmp_path, content, message):
    result = run("import", "numbers", write(tmp_path, "n.csv", content))
    assert result.exit_code == 1
    assert result.stderr.startswith(message)
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.output


def test_row_cap_from_the_app_config(app, run, tmp_path):
    app.config["IMPORT_MAX_ROWS"] = 2
    result = run("import", "numbers", write(tmp_path, "n.csv", HEADER + "".join(f"204555140{i},telus,,,no,,active\n" for i in range(3))))
    assert result.exit_code == 1
    assert "the file has more than 2 rows, the most one import takes (IMPORT_MAX_ROWS)" in result.stderr


def test_usage_errors_exit_two(run, tmp_path):
    assert run("import", "widgets", write(tmp_path, "n.csv", HEADER)).exit_code == 2
    missing = run("import", "numbers", str(tmp_path / "absent.csv"))
    assert missing.exit_code == 2 and "No such file or directory" in missing.output and "Traceback" not in missing.output


def test_import_reads_standard_input(run, seeded):
    result = run("import", "carriers", "-", input="name,signalling_addresses\nnewco,203.0.113.70\n")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "carriers.csv (stdin): 1 row(s) imported: 1 created, 0 updated, 0 unchanged"


def test_large_files_show_a_progress_bar_on_stderr(run, tmp_path):
    rows = "".join(f"+1204{3000000 + i},telus,,,no,,active\n" for i in range(1200))
    result = run("import", "numbers", write(tmp_path, "big.csv", HEADER + rows))
    assert result.exit_code == 0, result.output
    assert "importing big.csv" in result.stderr
    assert "importing" not in result.stdout
    assert result.stdout.strip() == "big.csv: 1200 row(s) imported: 1200 created, 0 updated, 0 unchanged"


def test_export_to_stdout_and_to_a_file_round_trips(run, seeded, tmp_path):
    result = run("export", "numbers")
    assert result.exit_code == 0
    assert result.stdout.splitlines()[0] == "\ufeffnumber,carrier,client,trunk,e911_registered,e911_address,port_status,port_target_carrier"
    assert "+16045553402,thinq,INITECH,hq,no,,port_in_pending,telus" in result.stdout.splitlines()
    out = tmp_path / "trunks.csv"
    result = run("export", "trunks", "--out", str(out))
    assert result.exit_code == 0
    assert result.stderr.strip() == f"4 trunks exported to {out}"
    assert "password" not in out.read_text()
    again = run("import", "trunks", str(out))
    assert again.exit_code == 0 and "nothing changed" in again.stdout


def test_export_with_secrets_warns_and_protects_the_file(run, tmp_path):
    out = tmp_path / "carriers.csv"
    out.write_text("an older export\n")
    out.chmod(0o644)
    result = run("export", "carriers", "--out", str(out), "--with-secrets")
    assert result.exit_code == 0
    assert "Demo-Reseller-Secret-2026" in out.read_text()
    assert "passwords in clear" in result.stderr
    assert out.stat().st_mode & 0o077 == 0


def test_export_to_an_unwritable_place_is_one_line(run, tmp_path):
    result = run("export", "nodes", "--out", str(tmp_path / "missing-dir" / "nodes.csv"))
    assert result.exit_code != 0
    assert "Traceback" not in result.output


def test_export_to_a_reader_that_stops_early_ends_quietly(tmp_path):
    """`flask export numbers | head -1`: no traceback, no 'Broken pipe' message, on a real pipe."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'pipe.db'}"}
    flask = [sys.executable, "-m", "flask", "--app", "wsgi"]
    lines = [HEADER.strip()] + [f"+1416{2000000 + i:07d},telus,,,no,,active" for i in range(20000)]
    (tmp_path / "many.csv").write_text("\n".join(lines) + "\n")
    for step in (["schema", "upgrade"], ["seed"], ["import", "numbers", str(tmp_path / "many.csv")]):
        subprocess.run(flask + step, env=env, check=True, capture_output=True)
    export = subprocess.Popen(flask + ["export", "numbers"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    first = export.stdout.readline()
    export.stdout.close()  # the reader goes away with 20,000 rows still to come
    stderr = export.stderr.read().decode()
    export.wait(timeout=60)
    assert first.startswith(b"\xef\xbb\xbfnumber,carrier,")  # the UTF-8 BOM Excel needs
    assert export.returncode == 1
    assert stderr == "", stderr


def test_cli_imports_an_excel_fr_ca_file_and_refuses_its_mangled_resave(run, seeded, tmp_path):
    # BOM, CRLF, semicolons, full-width and Arabic-Indic digits, accents in a quoted cell: as Excel saves it.
    content = b"\xef\xbb\xbf" + ("number;carrier;client;trunk;e911_registered;e911_address\r\n"
                                 "２０４５５５１３９４;telus;ACME;main;no;\r\n"
                                 "٢٠٤٥٥٥١٣٩٥;telus;ACME;main;no;\"3 rue Émile; Montréal\"\r\n").encode()
    result = run("import", "numbers", str(write(tmp_path, "excel.csv", content)))
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "excel.csv: 2 row(s) imported: 2 created, 0 updated, 0 unchanged"
    assert numbers.get(seeded, "2045551395").e911_address == "3 rue Émile; Montréal"
    # The same rows without the BOM, opened in Excel (read as Windows-1252) and saved as "CSV UTF-8".
    ascii_digits = content.replace("２０４５５５１３９４".encode(), b"2045551394").replace("٢٠٤٥٥٥١٣٩٥".encode(), b"2045551395")
    mangled = b"\xef\xbb\xbf" + ascii_digits[3:].decode("cp1252").encode("utf-8")
    result = run("import", "numbers", str(write(tmp_path, "resaved.csv", mangled)))
    assert result.exit_code == 1
    assert "line 3, column e911_address: '3 rue Ã‰mile; MontrÃ©al' looks like UTF-8 text decoded twice" in result.stderr
    assert "Traceback" not in result.output
    # A tool that decoded the BOM itself as Windows-1252: refused at the header.
    result = run("import", "numbers", str(write(tmp_path, "twice.csv", content.decode("cp1252", errors="replace").encode())))
    assert result.exit_code == 1
    assert "the file starts with 'ï»¿', a UTF-8 byte-order mark decoded as Windows-1252" in result.stderr
