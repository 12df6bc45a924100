"""What one indexed history row costs: ``python -m bench.measure_indexer [ROWS]``.

Writes a journal of private messages between 200 pairs (the shape of the ``privmsg`` scenario,
one frame per 64 messages), then indexes it with `Indexer` under a few schema variants, each
into a fresh database, and prints CPU microseconds per row for the decoding and for the whole
pass. Not a test: the figures depend on the machine and its load; run it a few times.
"""

from __future__ import annotations

import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from chinwag.store import DB_FILENAME, DirectTarget, HistoryEntry, SqliteStore
from chinwag.store.indexer import Indexer, prepare_writer
from chinwag.store.journal import Journal, read_frames, segments
from chinwag.store.journal_records import decode_rows, encode_entry
from chinwag.store.sqlite_connection import connect

T0 = 1_700_000_000.0
PAIRS = 200
PER_FRAME = 64


def write_journal(directory: Path, rows: int) -> None:
    """A journal of ``rows`` private messages, ``PER_FRAME`` to a frame."""
    journal = Journal(directory)
    targets = [DirectTarget(f"~{i:024x}", f"~{i + PAIRS:024x}") for i in range(PAIRS)]
    records: list[str] = []
    for i in range(rows):
        target = targets[i % PAIRS]
        records.append(
            encode_entry(
                HistoryEntry(
                    f"{i:015x}",
                    T0 + i / 10_000,
                    target,
                    f"u{i % PAIRS}",
                    f"c{i % PAIRS}!~c{i % PAIRS}@127.0.0.1",
                    None,
                    "PRIVMSG",
                    "x" * 60,
                    {},
                )
            )
        )
        if len(records) == PER_FRAME:
            journal.write("".join(records).encode())
            records = []
    if records:
        journal.write("".join(records).encode())
    journal.close()


def _unique_msgid(conn: sqlite3.Connection) -> None:
    """Schema 1's history table: msgid UNIQUE (an automatic unique index)."""


def _plain_msgid(conn: sqlite3.Connection) -> None:
    conn.executescript(
        "CREATE TABLE h2 AS SELECT * FROM history WHERE 0;"
        "DROP TABLE history;"
        "CREATE TABLE history (seq INTEGER PRIMARY KEY, msgid TEXT NOT NULL, conv TEXT NOT NULL,"
        " time_ms INTEGER NOT NULL, time REAL NOT NULL, party_a TEXT, party_b TEXT,"
        " target_name TEXT NOT NULL, sender TEXT NOT NULL, account TEXT, command TEXT NOT NULL,"
        " text TEXT NOT NULL, tags TEXT NOT NULL DEFAULT '{}');"
        "CREATE INDEX history_conv_position ON history (conv, time_ms, seq);"
        "CREATE INDEX history_msgid ON history (msgid);"
        "DROP TABLE h2;"
    )


def _trigger(conn: sqlite3.Connection) -> None:
    conn.executescript(
        "CREATE TRIGGER history_conversation AFTER INSERT ON history"
        " WHEN NEW.party_a IS NOT NULL BEGIN"
        " INSERT OR IGNORE INTO conversations (conv, party_a, party_b)"
        " VALUES (NEW.conv, NEW.party_a, NEW.party_b); END;"
    )


VARIANTS: list[tuple[str, int, Callable[[sqlite3.Connection], None]]] = [
    ("msgid UNIQUE, 4 KiB pages (schema 6)", 4096, _unique_msgid),
    ("msgid UNIQUE + conversation trigger (schema 2)", 4096, _trigger),
    ("msgid plain index, 4 KiB pages", 4096, _plain_msgid),
    ("msgid UNIQUE, 16 KiB pages", 16384, _unique_msgid),
    ("msgid plain index, 16 KiB pages", 16384, _plain_msgid),
]


def measure(journal_dir: Path, rows: int) -> None:
    """Index the journal under every variant and print the costs."""
    frames = [
        f for _base, path in segments(journal_dir) for f in read_frames(path.read_bytes(), 0)[0]
    ]
    start = time.process_time()
    for frame in frames:
        decode_rows(frame.payload, [], {})
    decode = (time.process_time() - start) / rows * 1e6
    print(f"decode only: {decode:.2f} us/row")
    for name, page_size, change in VARIANTS:
        with tempfile.TemporaryDirectory() as tmp:
            db = Path(tmp) / DB_FILENAME
            conn = sqlite3.connect(db)
            conn.execute(f"PRAGMA page_size = {page_size}")
            conn.close()
            SqliteStore(db).close_sync()
            conn = connect(db)
            change(conn)
            prepare_writer(conn)
            indexer = Indexer(conn, journal_dir)
            start = time.process_time()
            while indexer.run_once() < sum(
                path.stat().st_size for _b, path in segments(journal_dir)
            ):
                pass
            spent = (time.process_time() - start) / rows * 1e6
            indexer.close()
            print(f"{name}: {spent:.2f} us/row (SQLite {spent - decode:.2f})")


def main(argv: list[str]) -> int:
    """Measure with ``argv[0]`` rows (default 200,000)."""
    rows = int(argv[0]) if argv else 200_000
    with tempfile.TemporaryDirectory() as tmp:
        journal_dir = Path(tmp) / "journal"
        write_journal(journal_dir, rows)
        measure(journal_dir, rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
