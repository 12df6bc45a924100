"""What every SQLite connection of the store does: open with the same pragmas, checkpoint; and
`SqliteDatabase`, what the shared SQL store needs to know of SQLite (``database.py``)."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

__all__ = ["WAL_LIMIT", "SqliteDatabase", "checkpoint", "connect"]

T = TypeVar("T")

_log = logging.getLogger("chinwag.store")

WAL_LIMIT = 64 * 1024 * 1024
"""Bytes of write-ahead log past which a writer makes it start over (see `Checkpointer`)."""


def connect(path: Path, *, readonly: bool = False) -> sqlite3.Connection:
    """Open a connection with the pragmas every chinwag connection needs.

    Args:
        path: the database file.
        readonly: refuse writes on this connection (``PRAGMA query_only``).

    Returns:
        An autocommit-mode connection (we issue BEGIN/COMMIT ourselves), usable from any one
        thread at a time.
    """
    conn = sqlite3.connect(
        path, isolation_level=None, check_same_thread=False, timeout=10.0, cached_statements=256
    )
    conn.execute("PRAGMA busy_timeout = 10000")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("PRAGMA foreign_keys = ON")
    if readonly:
        conn.execute("PRAGMA query_only = ON")
    return conn


_CHECKPOINT_SQL = {
    "PASSIVE": "PRAGMA wal_checkpoint(PASSIVE)",
    "TRUNCATE": "PRAGMA wal_checkpoint(TRUNCATE)",
}


def checkpoint(conn: sqlite3.Connection, mode: str) -> int | None:
    """Run a WAL checkpoint (``PASSIVE`` or ``TRUNCATE``) on ``conn``.

    Returns:
        How many frames the WAL holds, or None when the checkpoint failed (logged).
    """
    try:
        # One row: (1 if it could not run, frames in the WAL, frames copied to the file).
        _busy, frames, _copied = conn.execute(_CHECKPOINT_SQL[mode]).fetchone()
    except sqlite3.Error as exc:
        _log.warning("store: WAL checkpoint failed: %s", exc)
        return None
    return int(frames)


class SqliteDatabase:
    """The SQLite file at ``path`` as a :class:`~chinwag.store.database.Database`."""

    duplicate_key: type[Exception] = sqlite3.IntegrityError
    error: type[Exception] = sqlite3.Error
    fatal: tuple[type[Exception], ...] = ()
    # Take the write lock at BEGIN: a transaction that upgraded to it later could fail with
    # SQLITE_BUSY half-way, while another connection (the indexer) writes.
    begin = "BEGIN IMMEDIATE"

    def __init__(self, path: Path) -> None:
        self.path = path

    def sql(self, text: str) -> str:
        """SQLite takes ``?`` as it is."""
        return text

    def connect(self, *, readonly: bool = False) -> sqlite3.Connection:
        """A connection with the store's pragmas (see `connect`)."""
        return connect(self.path, readonly=readonly)

    def read(self, conn: sqlite3.Connection, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn(conn)`` in one read transaction, so that a query of several statements
        sees one snapshot (WAL lets it run beside the writers)."""
        conn.execute("BEGIN")
        try:
            return fn(conn)
        finally:
            conn.execute("COMMIT")

    def in_transaction(self, conn: sqlite3.Connection) -> bool:
        """See :meth:`Database.in_transaction`."""
        return conn.in_transaction

    def lost(self, conn: sqlite3.Connection) -> bool:
        """A SQLite connection stays usable whatever failed."""
        return False
