"""Choose the store: a PostgreSQL URL (``--store``), else a directory for SQLite (``--data``),
or None for memory."""

from __future__ import annotations

from pathlib import Path

from argon2 import PasswordHasher

from chinwag.store.base import Store
from chinwag.store.errors import StoreError
from chinwag.store.memory import MemoryStore
from chinwag.store.sqlite import IndexerKind, SqliteStore

__all__ = ["open_store"]


def open_store(
    data_dir: Path | None,
    *,
    url: str = "",
    hasher: PasswordHasher | None = None,
    indexer: IndexerKind = "thread",
    fsync: bool = False,
) -> Store:
    """Open the store the server runs on.

    Args:
        data_dir: the data directory (``DATA_DIR/chinwag.sqlite3`` and ``DATA_DIR/journal/``),
            or None for a store that keeps everything in memory (``--data none``).
        url: a PostgreSQL URL (``--store``, shared by the nodes of a network), or empty; then
            ``data_dir``, ``indexer`` and ``fsync`` are unused.
        hasher: argon2 parameters for accounts (None: the default argon2id profile).
        indexer: where the journal's indexer runs: ``"process"`` (a supervised child process,
            what ``chinwag serve`` uses) or ``"thread"`` (command-line tools, tests).
        fsync: fsync each journal frame (power-loss durability).

    Returns:
        An open store; ``await store.close()`` at shutdown.

    Raises:
        OSError: when the directory cannot be created.
        sqlite3.Error: when the database cannot be opened.
        StoreError: when its schema is newer than this code, or the PostgreSQL database cannot
            be reached (the message says why) or its driver is not installed.
    """
    if url:
        return _open_postgres(url, hasher)
    if data_dir is None:
        return MemoryStore(hasher=hasher)
    return SqliteStore.in_directory(data_dir, hasher=hasher, indexer=indexer, fsync=fsync)


def _open_postgres(url: str, hasher: PasswordHasher | None) -> Store:
    try:
        import psycopg

        from chinwag.store.postgres import PostgresStore
    except ImportError:
        raise StoreError(
            "a PostgreSQL store needs psycopg: pip install 'chinwag[cluster]'"
        ) from None
    try:
        return PostgresStore(url, hasher=hasher)
    except psycopg.Error as exc:
        detail = str(exc).strip() or type(exc).__name__
        raise StoreError(f"cannot use the PostgreSQL store: {detail}") from None
