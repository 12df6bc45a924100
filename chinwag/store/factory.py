"""Choose the store from the ``--data`` setting: a directory for SQLite, or None for memory."""

from __future__ import annotations

from pathlib import Path

from argon2 import PasswordHasher

from chinwag.store.base import Store
from chinwag.store.memory import MemoryStore
from chinwag.store.sqlite import IndexerKind, SqliteStore

__all__ = ["open_store"]


def open_store(
    data_dir: Path | None,
    *,
    hasher: PasswordHasher | None = None,
    indexer: IndexerKind = "thread",
    fsync: bool = False,
) -> Store:
    """Open the store the server runs on.

    Args:
        data_dir: the data directory (``DATA_DIR/chinwag.sqlite3`` and ``DATA_DIR/journal/``),
            or None for a store that keeps everything in memory (``--data none``).
        hasher: argon2 parameters for accounts (None: the default argon2id profile).
        indexer: where the journal's indexer runs: ``"process"`` (a supervised child process,
            what ``chinwag serve`` uses) or ``"thread"`` (command-line tools, tests).
        fsync: fsync each journal frame (power-loss durability).

    Returns:
        An open store; ``await store.close()`` at shutdown.

    Raises:
        OSError: when the directory cannot be created.
        sqlite3.Error: when the database cannot be opened.
        StoreError: when its schema is newer than this code.
    """
    if data_dir is None:
        return MemoryStore(hasher=hasher)
    return SqliteStore.in_directory(data_dir, hasher=hasher, indexer=indexer, fsync=fsync)
