"""The SQLite store: one file, ``DATA_DIR/chinwag.sqlite3``, nothing to install.

Theory of operation
===================

Threads and processes. The event loop never touches the disk for accounts, channels and bans:
those writes go through ONE writer thread (``writer.py``) that owns the main writing connection;
reads run in worker threads on a small pool of read-only connections (``readers.py``). Both, and
the SQL of the records and of history's queries (``sql_records.py``, ``sql_history.py``), are
shared with the PostgreSQL store; `SqliteDatabase` (``sqlite_connection.py``) is what differs.
WAL mode lets those readers see the last committed state while a writer works, so a
CHATHISTORY query never waits for a commit and vice versa. History is different: it is written
to the journal (``journal.py``, ``journal_history.py``), the durability point, and SQLite is its
index, fed by the indexer (``indexer.py``: a child process under ``chinwag serve``), which
commits its rows and its journal offset together (table ``journal_index``). The history reads
here wait for it (read-your-writes, ``journal_history.py``).

Group commit (the writer thread). Writes are jobs on a bounded FIFO queue (``write_queue.py``).
The writer blocks for the first job, then takes everything else already queued (up to
``max_group``) and runs the lot in one transaction; each job runs in a SAVEPOINT so one failure
(a taken account name, ...) never costs the others their commit. When the queue is full,
producers block: that only happens when the disk cannot keep up. ``flush()`` is a no-op job:
because the queue is FIFO and there is one writer, it completes only after everything queued
before it is committed.

Durability. The promise is "a message that reached any client survives SIGKILL of the server"
-- process death, not power loss -- and the journal keeps it (``journal.py``). For the database
itself, in WAL mode a COMMIT is a ``write(2)`` of the new pages and a commit frame to
``chinwag.sqlite3-wal``; once ``write`` returns the bytes live in the kernel's page cache, which
outlives the process. So ``synchronous=NORMAL`` (no fsync per commit, only at checkpoints)
gives the same promise for accounts and channels. (After a power cut NORMAL may lose the newest
transactions, never consistency: WAL frames are checksummed and a torn tail is discarded.)

Checkpoints. SQLite's automatic checkpoint would run inside the COMMIT that crosses the WAL
size threshold and fsync twice. The writing connections turn it off; a ``Checkpointer`` thread
on its own connection runs a PASSIVE checkpoint every second (every 30 with an indexer process,
which checkpoints itself every second), and a TRUNCATE one at close.
Under a load that never pauses those never catch up with the newest frames, and the WAL would
only grow: the indexer, the one busy writer, checkpoints between two of its passes once the WAL
passes ``WAL_LIMIT``, after which the WAL starts over and is cut back to that size.

Statements. All SQL is constant text with ``?`` parameters; ``sqlite3`` keeps the compiled
statements in its per-connection cache, so each is prepared once per connection. The schema
evolves through numbered migrations (``migrations/``) recorded in ``schema_version``.

Indexes. Each row costs an entry in every index, and a commit rewrites every index page it
touched: ``conv`` (ranges) and ``msgid`` (unique) are needed per row; which conversations a
party is in is kept once per conversation, in ``conversations`` (added by the indexer the first
time a pass sees a conversation; no longer by a trigger, which cost a lookup per row).

Privacy. A private conversation's key is the sorted pair of its parties (``DirectTarget``).
Every history query takes a target, and a private target can only be built from two parties,
so the server asks "between me and X" and no query can reach a third party's conversation.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
from pathlib import Path
from typing import Literal

from argon2 import PasswordHasher

from chinwag.store.base import StoreParts
from chinwag.store.checkpointer import Checkpointer
from chinwag.store.errors import StoreError
from chinwag.store.indexer_link import IndexerLink, IndexerProcess, IndexerThread
from chinwag.store.journal import JOURNAL_DIRNAME, Journal, JournalInUseError
from chinwag.store.journal_history import JournalHistoryStore
from chinwag.store.migrations import apply_migrations
from chinwag.store.readers import ReaderPool
from chinwag.store.sql_history import SqlHistoryIndex, forget_party
from chinwag.store.sql_records import SqlAccountStore, SqlBanStore, SqlChannelStore
from chinwag.store.sqlite_connection import WAL_LIMIT, SqliteDatabase, check_sqlite_version
from chinwag.store.writer import Writer

__all__ = ["DB_FILENAME", "WAL_LIMIT", "IndexerKind", "SqliteStore"]

DB_FILENAME = "chinwag.sqlite3"
IndexerKind = Literal["thread", "process"]

DEFAULT_CHECKPOINT_INTERVAL = 1.0
"""Seconds between two checkpoints of the `Checkpointer` thread."""
BACKSTOP_CHECKPOINT_INTERVAL = 30.0
"""The same with an indexer process, which checkpoints between its passes every second (it
writes nearly every WAL frame): the thread is a backstop for when the indexer is down. At 1 s it
copied the indexer's newest pages in the server's process, measured at 0.15 us of the event
loop's core per durable private message (``bench/profile.py``)."""


class SqliteStore(StoreParts):
    """All four SQLite stores over one file, one writer thread and one reader pool."""

    def __init__(
        self,
        path: Path,
        *,
        hasher: PasswordHasher | None = None,
        readers: int = 4,
        max_queue: int = 65_536,
        max_group: int = 4_096,
        checkpoint_interval: float | None = None,
        wal_limit: int = WAL_LIMIT,
        indexer: IndexerKind = "thread",
        fsync: bool = False,
    ) -> None:
        """Open (creating and migrating as needed) the database at ``path``, and its journal.

        History goes to the journal (``path``'s directory, ``journal/``, recovered here) and
        is indexed into the database by the indexer (see ``journal_history.py``).

        Args:
            path: the database file; its directory must exist.
            hasher: argon2 parameters for accounts (None: the default profile).
            readers: how many read connections at most.
            max_queue: writes that may wait before producers block.
            max_group: writes committed in one transaction at most.
            checkpoint_interval: seconds between WAL checkpoints (run off the commit path);
                None: 1 s, or `BACKSTOP_CHECKPOINT_INTERVAL` with an indexer process.
            wal_limit: bytes of WAL past which the indexer checkpoints so that the WAL starts
                over; also the size the WAL file is cut back to when it does.
            indexer: ``"process"`` runs the indexer as a supervised child process (``chinwag
                serve``: it gets a core of its own), ``"thread"`` in a thread of this process.
            fsync: fsync every journal frame (power-loss durability; SIGKILL needs none).

        Raises:
            StoreError: when the file is not in WAL mode or its schema is newer than this code,
                or Python's SQLite is too old (`MIN_SQLITE`);
                JournalInUseError (with ``indexer="process"``) when another process writes the
                journal (a server runs on this directory).
            sqlite3.Error: when the file cannot be opened or is not a database.
        """
        check_sqlite_version()
        self.path = path
        if not path.exists():
            # Password hashes live here: owner-only, and SQLite gives -wal/-shm the same mode.
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
        journal_dir = path.parent / JOURNAL_DIRNAME
        journal: Journal | None = None
        try:
            journal = Journal(journal_dir, fsync=fsync)
        except JournalInUseError:
            if indexer == "process":  # a server: two on one data directory would mix up
                raise
            # A command-line tool beside a running server: it reads history, never writes it.
        self._db = SqliteDatabase(path)
        conn = self._db.connect()
        try:
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise StoreError(f"{path}: cannot use WAL mode (got {mode!r})")
            apply_migrations(conn)
            conn.execute("PRAGMA wal_autocheckpoint = 0")  # the Checkpointer's job
            conn.execute(f"PRAGMA journal_size_limit = {int(wal_limit)}")
        except BaseException:
            conn.close()
            if journal is not None:
                journal.close()
            raise
        self._journal = journal
        self._writer = Writer(self._db, conn, max_queue=max_queue, max_group=max_group)
        self._readers = ReaderPool(self._db, readers)
        if checkpoint_interval is None:
            backstop = indexer == "process"
            checkpoint_interval = (
                BACKSTOP_CHECKPOINT_INTERVAL if backstop else DEFAULT_CHECKPOINT_INTERVAL
            )
        self._checkpointer = Checkpointer(path, checkpoint_interval)
        self._indexer: IndexerLink = (
            IndexerProcess(path, journal_dir)
            if indexer == "process"
            else IndexerThread(path, journal_dir, wal_limit=wal_limit, follow=journal is not None)
        )
        self._indexer.start()
        self._journaled = JournalHistoryStore(
            self._journal, SqlHistoryIndex(self._db, self._writer, self._readers), self._indexer
        )
        super().__init__(
            self._journaled,
            SqlAccountStore(self._db, self._writer, self._readers, hasher),
            SqlChannelStore(self._db, self._writer, self._readers),
            SqlBanStore(self._db, self._writer),
        )

    @classmethod
    def in_directory(
        cls,
        data_dir: Path,
        *,
        hasher: PasswordHasher | None = None,
        indexer: IndexerKind = "thread",
        fsync: bool = False,
    ) -> SqliteStore:
        """Open ``data_dir/chinwag.sqlite3``, creating the directory (mode 0700) if needed.

        Raises:
            OSError: when the directory cannot be created.
        """
        data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        return cls(data_dir / DB_FILENAME, hasher=hasher, indexer=indexer, fsync=fsync)

    @property
    def journal(self) -> Journal | None:
        """The journal history is written to; None when another process writes it."""
        return self._journal

    @property
    def indexer(self) -> IndexerLink:
        """The indexer that feeds the database from the journal."""
        return self._indexer

    @property
    def database(self) -> SqliteDatabase:
        """The database file, as the shared SQL code sees it."""
        return self._db

    @property
    def writer(self) -> Writer[sqlite3.Connection]:
        """The writer thread (its ``groups`` and ``pending`` counters are useful to observe)."""
        return self._writer

    @property
    def checkpointer(self) -> Checkpointer:
        """The WAL checkpoint thread."""
        return self._checkpointer

    @property
    def readers(self) -> ReaderPool[sqlite3.Connection]:
        """The pool of read-only connections."""
        return self._readers

    async def forget(self, party: str) -> tuple[bool, int]:
        """See :meth:`Store.forget`: account and private history go in one transaction."""

        await self._journaled.flush()  # the party's last messages are indexed before they go
        return await self._writer.call(lambda conn: forget_party(self._db, conn, party))

    async def flush(self) -> None:
        """See :meth:`Store.flush`: history indexed, other writes committed."""
        await self._journaled.flush()
        await self._writer.call(lambda conn: None)

    async def close(self) -> None:
        """See :meth:`Store.close`; idempotent."""
        self._journaled.close()
        await asyncio.to_thread(self.close_sync)

    def close_sync(self) -> None:
        """:meth:`close` for code without an event loop (CLI commands, tests)."""
        self._journaled.close()
        self._indexer.close()
        self._writer.close()
        self._readers.close()
        self._checkpointer.close()
