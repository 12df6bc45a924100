"""What every SQLite connection of the store does: open with the same pragmas, checkpoint; and
`SqliteDatabase`, what the shared SQL store needs to know of SQLite (``database.py``)."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from chinwag.store.errors import StoreError

__all__ = [
    "MIN_SQLITE",
    "WAL_LIMIT",
    "SqliteDatabase",
    "check_sqlite_version",
    "checkpoint",
    "connect",
]

T = TypeVar("T")

_log = logging.getLogger("chinwag.store")

MIN_SQLITE = (3, 24, 0)
"""The oldest SQLite the store's SQL runs on: row values (3.15) and the upsert
``INSERT ... ON CONFLICT ... DO UPDATE`` (3.24, 2018)."""

WAL_LIMIT = 64 * 1024 * 1024
"""Bytes of write-ahead log past which a writer makes it start over (see `Checkpointer`)."""


def check_sqlite_version() -> None:
    """Refuse an SQLite library too old for the store's SQL, before anything is written.

    Raises:
        StoreError: when the library Python uses is older than `MIN_SQLITE`.
    """
    if sqlite3.sqlite_version_info < MIN_SQLITE:
        needed = ".".join(map(str, MIN_SQLITE))
        raise StoreError(
            f"the store needs SQLite {needed} or newer; Python uses {sqlite3.sqlite_version}"
        )


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
