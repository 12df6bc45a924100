"""The indexer: reads the journal and feeds SQLite in large batches.

Runs as a child process of ``chinwag serve`` (``indexer_process.py``, supervised by
`IndexerProcess`, so it gets a core of its own when there is one), or in a thread of the store's
own process (`IndexerThread`: tests, command-line tools).

Theory of operation
===================

One pass (`Indexer.run_once`) reads every whole frame past the offset the database holds
(table ``journal_index``), inserts their rows with a few multi-row statements
(``padded_insert.py``), and stores the new offset in the same transaction: a pass that dies
half-way leaves no trace, and the next one starts where the last commit ended, so no row is
ever indexed twice. Only one indexer runs on a data directory (an ``flock`` on
``journal/indexer.lock``), so after a SIGKILL of the server, its orphaned indexer (which exits
as soon as its stdin closes) cannot race the new one.

Segments. Only the newest segment can still grow; an older one is final, so its torn end (which
recovery would have cut off) can only mean damage: it is logged and skipped. A segment is
deleted once the offset has passed it. Segments are listed before they are read, so a frame
the server wrote to a segment just before starting the next one is never skipped.

The index. The row needs no trigger (the private conversations a pass saw are added to
``conversations`` by the pass itself, once per conversation and process) and no UNIQUE msgid
index (the offset makes every row unique; msgids are looked up through a plain index).
"""

from __future__ import annotations

import contextlib
import fcntl
import itertools
import logging
import os
import sqlite3
import time
from pathlib import Path

from chinwag.store.history_rows import ROW_WIDTH, insert_history_sql
from chinwag.store.journal import HEADER, MAX_FRAME, read_frames, segments
from chinwag.store.journal_records import decode_rows
from chinwag.store.padded_insert import PaddedInsert
from chinwag.store.sqlite_connection import WAL_LIMIT, checkpoint

__all__ = [
    "INDEX_INTERVAL",
    "LOCK_NAME",
    "READ_BYTES",
    "Indexer",
    "lock_journal",
    "prepare_writer",
]

_log = logging.getLogger("chinwag.indexer")

INDEX_INTERVAL = 0.25
"""Seconds between passes when nobody waits (a reader that waits wakes the indexer at once).
Big batches are cheap batches: measured with ``bench/measure_indexer.py``-shaped rows, 8.1 us a
row in batches of 300, 5.8 in batches of 1,000, 4.9 of 3,000, 4.3 of 10,000; at 25,000 messages
a second this interval makes batches of about 6,000."""
READ_BYTES = 8 * 1024 * 1024
"""The most journal bytes one pass reads from a segment (bounds the memory of a catch-up)."""
LOCK_NAME = "indexer.lock"
_CHECKPOINT_INTERVAL = 1.0


class Indexer:
    """Index passes over one journal into one database connection.

    Args:
        conn: a writing connection (owned from now on).
        journal_dir: the journal's directory.
        wal_limit: bytes of WAL past which a pass checkpoints at once (see `_commit`).
    """

    def __init__(
        self, conn: sqlite3.Connection, journal_dir: Path, *, wal_limit: int = WAL_LIMIT
    ) -> None:
        self._conn = conn
        self._wal = Path(str(conn.execute("PRAGMA database_list").fetchone()[2]) + "-wal")
        self._wal_limit = wal_limit
        self._dir = journal_dir
        self._insert = PaddedInsert(conn, insert_history_sql, ROW_WIDTH)
        row = conn.execute("SELECT indexed FROM journal_index WHERE id = 1").fetchone()
        self.offset = int(row[0]) if row else 0
        """Everything in the journal before this offset is in the database."""
        self._known: set[str] = set()  # private conversations already in ``conversations``
        self._checkpointed = time.monotonic()
        self.rows = 0
        """Rows indexed by this indexer (to observe it)."""

    def run_once(self) -> int:
        """Index what the journal holds past `offset`; delete the segments it passed.

        Returns:
            The new offset.
        """
        found = segments(self._dir)
        offset = self.offset
        rows: list[object] = []
        convs: dict[str, tuple[str, str]] = {}
        for index, (base, path) in enumerate(found):
            next_base = found[index + 1][0] if index + 1 < len(found) else None
            if next_base is not None and next_base <= offset:
                continue  # indexed already
            start = max(base, offset)
            data = _read(path, start - base)
            frames, end = read_frames(data, start)
            for frame in frames:
                decode_rows(frame.payload, rows, convs)
            offset = end
            if len(data) >= READ_BYTES and frames:
                break  # the rest of this segment next pass
            if next_base is None:
                break  # the newest segment: what follows is still being written
            if end != next_base:
                _log.error(
                    "indexer: %s is damaged after offset %d: %d bytes skipped",
                    path.name,
                    end,
                    next_base - end,
                )
                offset = next_base
        if offset != self.offset:
            self._commit(rows, convs, offset)
        self._delete_indexed(found)
        return self.offset

    def _commit(self, rows: list[object], convs: dict[str, tuple[str, str]], offset: int) -> None:
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            if rows:
                self._insert.insert(rows)
            new = [(conv, a, b) for conv, (a, b) in convs.items() if conv not in self._known]
            if new:
                conn.executemany(
                    "INSERT OR IGNORE INTO conversations (conv, party_a, party_b) VALUES (?, ?, ?)",
                    new,
                )
            conn.execute("UPDATE journal_index SET indexed = ? WHERE id = 1", (offset,))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        self._known.update(convs)
        self.offset = offset
        self.rows += len(rows) // ROW_WIDTH
        now = time.monotonic()
        if now - self._checkpointed >= _CHECKPOINT_INTERVAL or self._wal_size() > self._wal_limit:
            # The indexer is the one busy writer: a checkpoint between two of its passes copies
            # every frame, so the WAL starts over instead of growing under a load that never
            # pauses (the Checkpointer's own checkpoints never catch up with a busy writer).
            self._checkpointed = now
            checkpoint(conn, "PASSIVE")

    def _wal_size(self) -> int:
        try:
            return self._wal.stat().st_size
        except FileNotFoundError:
            return 0

    def _delete_indexed(self, found: list[tuple[int, Path]]) -> None:
        """Delete every segment but the newest whose successor starts at or before `offset`."""
        for (_base, path), (next_base, _next) in itertools.pairwise(found):
            if next_base > self.offset:
                break
            with contextlib.suppress(FileNotFoundError):
                path.unlink()

    def close(self) -> None:
        """Close the connection (the store's `Checkpointer` truncates the WAL after this)."""
        self._conn.close()


def _read(path: Path, position: int) -> bytes:
    """Up to `READ_BYTES` of ``path`` from ``position``, more when its first frame is longer."""
    with open(path, "rb") as fh:
        fh.seek(position)
        data = fh.read(READ_BYTES)
        if len(data) >= HEADER.size:
            length, _crc = HEADER.unpack_from(data)
            missing = HEADER.size + length - len(data)
            if missing > 0 and length <= MAX_FRAME:
                data += fh.read(missing)
    return data


def lock_journal(journal_dir: Path) -> int:
    """Take the journal's indexer lock (blocks while another indexer holds it); returns its fd."""
    fd = os.open(journal_dir / LOCK_NAME, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    return fd


def prepare_writer(conn: sqlite3.Connection, wal_limit: int = WAL_LIMIT) -> None:
    """The indexer's checkpoints replace SQLite's automatic ones, which would run (and fsync)
    inside a commit; the WAL is cut back to ``wal_limit`` when it starts over."""
    conn.execute("PRAGMA wal_autocheckpoint = 0")
    conn.execute(f"PRAGMA journal_size_limit = {int(wal_limit)}")
