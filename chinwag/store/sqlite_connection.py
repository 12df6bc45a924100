"""What every SQLite connection of the store does: open with the same pragmas, checkpoint."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

__all__ = ["WAL_LIMIT", "checkpoint", "connect"]

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
