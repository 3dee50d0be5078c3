#!/usr/bin/env python3
"""Ship a node's local CDR spool to the central `cdr` table, each record exactly once.

Every node writes each CDR twice: into the central table (cdr_adaptive_odbc, which logs and drops a
record it cannot insert: Asterisk 22 cdr/cdr_adaptive_odbc.c) and, whatever the database's state,
as one JSON object a line into a local spool file (cdr_custom, rendered by `node render` into
cdr_custom.conf). This script, run on the node by a timer (docs/databases.md), reads the spool from
where it stopped last time and inserts every record with INSERT IGNORE: the cdr table's
UNIQUE(uniqueid, sequence) makes a record that already arrived directly, or in an earlier run that
died before saving its offset, a no-op. uniqueids carry the node's systemname (asterisk.conf), so
records of different nodes never collide. Nothing is removed from the spool before the database has
committed it.

    scripts/cdr_ship.py --spool /var/log/asterisk/cdr-custom/trunkline-cdr.json \
        --db mysql://USER:PASS@10.0.0.10:3306/trunkline [--db mysql://...@10.1.0.11:3306/trunkline] [--every 5]

--db is tried in order; the first server that takes writes (read_only off) is used, so after a
promotion the new primary is found without editing the unit. Exit status: 0 shipped (or nothing to
ship), 2 no server took writes (the records stay in the spool).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import unquote, urlsplit

COLUMNS = ("accountcode", "src", "dst", "dcontext", "clid", "channel", "dstchannel", "lastapp", "lastdata", "start",
           "answer", "end", "duration", "billsec", "disposition", "amaflags", "userfield", "uniqueid", "linkedid",
           "peeraccount", "sequence", "call_id")
TIMES = ("start", "answer", "end")
INTEGERS = ("duration", "billsec", "sequence")
BATCH = 500


def row_of(record: dict) -> tuple:
    """One spool record -> the cdr row, as cdr_adaptive_odbc writes it (UTC times, empty text -> NULL)."""
    out = []
    for column in COLUMNS:
        value = record.get(column)
        if column in TIMES:
            value = datetime.fromtimestamp(int(value or 0), UTC).strftime("%Y-%m-%d %H:%M:%S")
        elif column in INTEGERS:
            value = int(value) if value not in (None, "") else None
        elif value is not None:
            value = str(value) or None
        out.append(value)
    return tuple(out)


def connect(url: str, timeout: int = 3):
    """A MySQLdb connection to mysql://USER:PASS@HOST:PORT/DB with connect/read/write timeouts."""
    import MySQLdb

    parts = urlsplit(url)
    return MySQLdb.connect(host=parts.hostname or "127.0.0.1", port=parts.port or 3306, user=unquote(parts.username or ""),
                           passwd=unquote(parts.password or ""), db=parts.path.lstrip("/"), connect_timeout=timeout,
                           read_timeout=10, write_timeout=10, charset="utf8mb4")


def writable(urls: list[str]):
    """The first server of urls that answers and takes writes, or None."""
    for url in urls:
        try:
            conn = connect(url)
        except Exception:  # noqa: BLE001 - any failure: try the next server
            continue
        try:
            cur = conn.cursor()
            cur.execute("SELECT @@GLOBAL.read_only")
            if not cur.fetchone()[0]:
                return conn
        except Exception:  # noqa: BLE001
            pass
        conn.close()
    return None


def ship_once(spool: Path, urls: list[str]) -> tuple[int, int]:
    """Ship what the spool holds past its saved offset. Returns (records read, records inserted);
    raises ConnectionError when no server takes writes (nothing is lost: the offset stays)."""
    offset_file = spool.with_name(spool.name + ".offset")
    offset = int(offset_file.read_text()) if offset_file.exists() else 0
    if not spool.exists():
        return 0, 0
    if spool.stat().st_size < offset:  # the spool was rotated by hand: start again (INSERT IGNORE keeps it exact)
        offset = 0
    with spool.open("rb") as fh:
        fh.seek(offset)
        data = fh.read()
    end = data.rfind(b"\n") + 1  # only whole lines: Asterisk may be writing the last one
    if end == 0:
        return 0, 0
    rows = []
    for line in data[:end].splitlines():
        if line.strip():
            rows.append(row_of(json.loads(line)))
    conn = writable(urls)
    if conn is None:
        raise ConnectionError("no database server takes writes: the records stay in the spool")
    inserted = 0
    try:
        cur = conn.cursor()
        sql = (f"INSERT IGNORE INTO cdr ({', '.join('`' + c + '`' for c in COLUMNS)}) "
               f"VALUES ({', '.join(['%s'] * len(COLUMNS))})")
        for i in range(0, len(rows), BATCH):
            inserted += cur.executemany(sql, rows[i:i + BATCH]) or 0
        conn.commit()
    finally:
        conn.close()
    tmp = offset_file.with_name(offset_file.name + ".tmp")
    tmp.write_text(str(offset + end))
    os.replace(tmp, offset_file)
    return len(rows), inserted


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--spool", required=True, type=Path, help="the cdr_custom JSON file of the node")
    parser.add_argument("--db", action="append", required=True, metavar="URL", help="mysql://USER:PASS@HOST:PORT/DB, repeatable")
    parser.add_argument("--every", type=float, default=0, help="run forever, every this many seconds (0: once)")
    args = parser.parse_args(argv)
    while True:
        try:
            read, inserted = ship_once(args.spool, args.db)
            if read:
                print(f"{read} records read, {inserted} new in the central cdr table", flush=True)
            status = 0
        except ConnectionError as exc:
            print(f"cdr_ship: {exc}", file=sys.stderr, flush=True)
            status = 2
        if not args.every:
            return status
        time.sleep(args.every)


if __name__ == "__main__":
    sys.exit(main())
