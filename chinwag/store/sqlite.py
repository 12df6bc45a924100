"""The SQLite store: one file, ``DATA_DIR/chinwag.sqlite3``, nothing to install.

Theory of operation
===================

Threads and processes. The event loop never touches the disk for accounts, channels and bans:
those writes go through ONE writer thread (``writer.py``) that owns the main writing connection;
reads run in worker threads on a small pool of read-only connections. WAL mode lets those
readers see the last committed state while a writer works, so a CHATHISTORY query never waits
for a commit and vice versa. History is different: it is written to the journal
(``journal.py``, ``journal_history.py``), the durability point, and SQLite is its index, fed by
the indexer (``indexer.py``: a child process under ``chinwag serve``), which commits its rows
and its journal offset together (table ``journal_index``). The history reads here wait for it
(read-your-writes, ``journal_history.py``).

Group commit (the writer thread). Writes are jobs on a bounded FIFO queue (``write_queue.py``).
The writer blocks for the first job, then takes everything else already queued (up to
``max_group``) and runs the lot in one transaction; jobs that may fail (account registration,
...) run in a SAVEPOINT so one failure never costs the others their commit. When the queue is
full, producers block: that only happens when the disk cannot keep up. ``flush()`` is a no-op
job: because the queue is FIFO and there is one writer, it completes only after everything
queued before it is committed. The writer can still insert history rows
(``Writer.append``, ``padded_insert.py``); the server no longer does.

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
import functools
import json
import os
import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

from argon2 import PasswordHasher

from chinwag.store import _query
from chinwag.store._query import Position
from chinwag.store.base import (
    NO_TAGS,
    Bound,
    ChannelTarget,
    DirectTarget,
    HistoryEntry,
    OnCommit,
    StoreParts,
    Target,
)
from chinwag.store.checkpointer import Checkpointer
from chinwag.store.errors import StoreError
from chinwag.store.history_rows import NO_VALUE, ROW_WIDTH, insert_history_sql, or_no_value
from chinwag.store.indexer_link import IndexerLink, IndexerProcess, IndexerThread
from chinwag.store.journal import JOURNAL_DIRNAME, Journal, JournalInUseError
from chinwag.store.journal_history import JournalHistoryStore
from chinwag.store.migrations import apply_migrations
from chinwag.store.readers import ReaderPool
from chinwag.store.sqlite_connection import WAL_LIMIT, connect
from chinwag.store.sqlite_records import (
    SqliteAccountStore,
    SqliteBanStore,
    SqliteChannelStore,
    drop_account,
)
from chinwag.store.writer import Writer, commit_error

__all__ = [
    "DB_FILENAME",
    "WAL_LIMIT",
    "SqliteAccountStore",
    "SqliteBanStore",
    "SqliteChannelStore",
    "SqliteHistoryStore",
    "SqliteStore",
]

DB_FILENAME = "chinwag.sqlite3"
IndexerKind = Literal["thread", "process"]

DEFAULT_CHECKPOINT_INTERVAL = 1.0
"""Seconds between two checkpoints of the `Checkpointer` thread."""
BACKSTOP_CHECKPOINT_INTERVAL = 30.0
"""The same with an indexer process, which checkpoints between its passes every second (it
writes nearly every WAL frame): the thread is a backstop for when the indexer is down. At 1 s it
copied the indexer's newest pages in the server's process, measured at 0.15 us of the event
loop's core per durable private message (``bench/profile.py``)."""
_ENTRY_COLUMNS = (
    "SELECT msgid, conv, time, party_a, party_b, target_name, sender, account, command, text, tags"
    " FROM history"
)


def _range_sql(has_lo: bool, has_hi: bool, newest: bool) -> str:
    where = " WHERE conv = ?"
    if has_lo:
        where += " AND (time_ms, seq) > (?, ?)"
    if has_hi:
        where += " AND (time_ms, seq) < (?, ?)"
    order = " ORDER BY time_ms DESC, seq DESC" if newest else " ORDER BY time_ms, seq"
    return _ENTRY_COLUMNS + where + order + " LIMIT ?"


# Eight constant statements, chosen by which bounds a range has.
_RANGE_SQL = {
    (lo, hi, newest): _range_sql(lo, hi, newest)
    for lo in (False, True)
    for hi in (False, True)
    for newest in (False, True)
}


_encode_tags = json.JSONEncoder(separators=(",", ":")).encode


def _entry_row(entry: HistoryEntry) -> tuple[object, ...]:
    """The parameters of ``entry``'s row (`or_no_value` for the columns that may be NULL)."""
    msgid, when, target, target_name, sender, account, command, text, tags = entry
    party_a: str | int
    party_b: str | int
    if isinstance(target, DirectTarget):
        conv, party_a, party_b = target.key, target.party_a, target.party_b
    else:
        conv, party_a, party_b = target.channel_folded, NO_VALUE, NO_VALUE
    return (
        msgid,
        conv,
        _query.time_key(when),
        when,
        party_a,
        party_b,
        target_name,
        sender,
        or_no_value(account),
        command,
        text,
        _encode_tags(dict(tags)) if tags else "{}",
    )


def _row_entry(row: tuple[Any, ...] | Any) -> HistoryEntry:
    msgid, conv, when, party_a, party_b, target_name, sender, account, command, text, tags = row
    target: Target
    if isinstance(party_a, str) and isinstance(party_b, str):
        target = DirectTarget(party_a, party_b)
    else:
        target = ChannelTarget(str(conv))
    return HistoryEntry(
        msgid=str(msgid),
        time=float(when),
        target=target,
        target_name=str(target_name),
        sender=str(sender),
        account=None if account is None else str(account),
        command=str(command),
        text=str(text),
        tags=json.loads(str(tags)) if tags != "{}" else NO_TAGS,
    )


class _Range(_query.RangeReader):
    """:class:`~chinwag.store._query.RangeReader` over one read connection."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def resolve(self, conv: str, msgid: str) -> Position | None:
        row = self._conn.execute(
            "SELECT time_ms, seq FROM history WHERE msgid = ? AND conv = ?", (msgid, conv)
        ).fetchone()
        return None if row is None else (int(row[0]), int(row[1]))

    def range(
        self, conv: str, lo: Position | None, hi: Position | None, limit: int, newest: bool
    ) -> list[HistoryEntry]:
        params: list[object] = [conv]
        if lo is not None:
            params.extend(lo)
        if hi is not None:
            params.extend(hi)
        params.append(limit)
        sql = _RANGE_SQL[(lo is not None, hi is not None, newest)]
        entries = [_row_entry(row) for row in self._conn.execute(sql, params)]
        if newest:
            entries.reverse()
        return entries


class SqliteHistoryStore:
    """History in the ``history`` table; see the module header."""

    def __init__(self, writer: Writer, readers: ReaderPool) -> None:
        """Wrap a writer and a reader pool (normally made by :class:`SqliteStore`)."""
        self._writer = writer
        self._readers = readers
        self._probes = 0  # the last user_version a probe wrote

    def append(self, entry: HistoryEntry, then: OnCommit | None = None) -> None:
        """See :meth:`HistoryStore.append`. Raises: StoreClosedError after close."""
        self._writer.append(_entry_row(entry), then)

    async def probe_write(self) -> None:
        """See :meth:`HistoryStore.probe_write`: rewrites the file header's user_version (a
        page of the WAL), so a full disk refuses it like any row."""
        self._probes = (self._probes + 1) % 1_000_000
        value = self._probes
        await self._writer.call(lambda conn: conn.execute(f"PRAGMA user_version = {value}"))

    def commit_error(self) -> BaseException | None:
        """See :meth:`HistoryStore.commit_error`."""
        return commit_error()

    def end_turn(self) -> None:
        """See :meth:`HistoryStore.end_turn`: the writer groups by itself."""

    def after_writes(self, then: OnCommit) -> None:
        """See :meth:`HistoryStore.after_writes`. Raises: StoreClosedError after close."""
        self._writer.append(None, then)

    async def flush(self) -> None:
        """See :meth:`HistoryStore.flush`."""
        await self._writer.call(lambda conn: None)

    async def latest(self, target: Target, after: Bound | None, limit: int) -> list[HistoryEntry]:
        """See :meth:`HistoryStore.latest`."""
        key = target.key
        return await self._readers.run(lambda c: _query.query_latest(_Range(c), key, after, limit))

    async def before(self, target: Target, bound: Bound, limit: int) -> list[HistoryEntry]:
        """See :meth:`HistoryStore.before`."""
        key = target.key
        return await self._readers.run(lambda c: _query.query_before(_Range(c), key, bound, limit))

    async def after(self, target: Target, bound: Bound, limit: int) -> list[HistoryEntry]:
        """See :meth:`HistoryStore.after`."""
        key = target.key
        return await self._readers.run(lambda c: _query.query_after(_Range(c), key, bound, limit))

    async def around(self, target: Target, bound: Bound, limit: int) -> list[HistoryEntry]:
        """See :meth:`HistoryStore.around`."""
        key = target.key
        return await self._readers.run(lambda c: _query.query_around(_Range(c), key, bound, limit))

    async def between(
        self, target: Target, start: Bound, end: Bound, limit: int
    ) -> list[HistoryEntry]:
        """See :meth:`HistoryStore.between`."""
        key = target.key
        return await self._readers.run(
            lambda c: _query.query_between(_Range(c), key, start, end, limit)
        )

    async def targets(
        self, viewer: str, channels: Iterable[str], start: float, end: float, limit: int
    ) -> list[HistoryEntry]:
        """See :meth:`HistoryStore.targets`."""
        if limit <= 0:
            return []
        lo, hi = sorted((_query.time_key(start), _query.time_key(end)))
        wanted = _query.channel_keys(channels)

        def run(conn: sqlite3.Connection) -> list[tuple[int, int, HistoryEntry]]:
            convs = set(wanted)
            convs.update(
                str(row[0])
                for row in conn.execute(
                    "SELECT conv FROM conversations WHERE party_a = ?"
                    " UNION SELECT conv FROM conversations WHERE party_b = ?",
                    (viewer, viewer),
                )
            )
            found = []
            for conv in convs:
                row = conn.execute(
                    "SELECT time_ms, seq, msgid, conv, time, party_a, party_b, target_name,"
                    " sender, account, command, text, tags FROM history"
                    " WHERE conv = ? AND time_ms > ? AND time_ms < ?"
                    " ORDER BY time_ms DESC, seq DESC LIMIT 1",
                    (conv, lo, hi),
                ).fetchone()
                if row is not None:
                    found.append((int(row[0]), int(row[1]), _row_entry(row[2:])))
            return found

        found = sorted(await self._readers.run(run), key=lambda item: item[:2])
        return [entry for _, _, entry in _query.keep_targets(found, start, end, limit)]

    async def prune(
        self,
        max_age_days: float | None,
        max_lines_per_target: int | None,
        *,
        now: float | None = None,
    ) -> int:
        """See :meth:`HistoryStore.prune`; one writer job per conversation, so appends
        interleave with a long prune instead of waiting for it."""
        if max_age_days is None and max_lines_per_target is None:
            return 0
        cutoff = _query.age_cutoff(max_age_days, now)
        keep = None if max_lines_per_target is None else max(0, max_lines_per_target)
        convs = await self._readers.run(
            lambda c: [str(row[0]) for row in c.execute("SELECT DISTINCT conv FROM history")]
        )

        def prune_one(conn: sqlite3.Connection, conv: str) -> int:
            deleted = 0
            if cutoff is not None:
                deleted += conn.execute(
                    "DELETE FROM history WHERE conv = ? AND time_ms < ?", (conv, cutoff)
                ).rowcount
            if keep is not None:
                deleted += conn.execute(
                    "DELETE FROM history WHERE conv = ? AND seq IN (SELECT seq FROM history"
                    " WHERE conv = ? ORDER BY time_ms DESC, seq DESC LIMIT -1 OFFSET ?)",
                    (conv, conv, keep),
                ).rowcount
            if deleted:  # a private conversation left empty leaves ``conversations`` too
                conn.execute(
                    "DELETE FROM conversations WHERE conv = ?"
                    " AND NOT EXISTS (SELECT 1 FROM history WHERE conv = ?)",
                    (conv, conv),
                )
            return deleted

        futures = [self._writer.submit(functools.partial(prune_one, conv=conv)) for conv in convs]
        counts = await asyncio.gather(*(asyncio.wrap_future(f) for f in futures))
        return sum(counts)

    async def forget(self, party: str) -> int:
        """See :meth:`HistoryStore.forget`."""
        return await self._writer.call(lambda conn: _forget_history(conn, party))


def _forget_history(conn: sqlite3.Connection, party: str) -> int:
    convs = [
        row[0]
        for row in conn.execute(
            "SELECT conv FROM conversations WHERE party_a = ?"
            " UNION SELECT conv FROM conversations WHERE party_b = ?",
            (party, party),
        )
    ]
    deleted = 0
    for conv in convs:
        deleted += conn.execute("DELETE FROM history WHERE conv = ?", (conv,)).rowcount
        conn.execute("DELETE FROM conversations WHERE conv = ?", (conv,))
    return deleted


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
            wal_limit: bytes of WAL past which the writer checkpoints so that the WAL starts
                over; also the size the WAL file is cut back to when it does.
            indexer: ``"process"`` runs the indexer as a supervised child process (``chinwag
                serve``: it gets a core of its own), ``"thread"`` in a thread of this process.
            fsync: fsync every journal frame (power-loss durability; SIGKILL needs none).

        Raises:
            StoreError: when the file is not in WAL mode or its schema is newer than this code;
                JournalInUseError (with ``indexer="process"``) when another process writes the
                journal (a server runs on this directory).
            sqlite3.Error: when the file cannot be opened or is not a database.
        """
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
        conn = connect(path)
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
        self._writer = Writer(
            conn, insert_history_sql, ROW_WIDTH, max_queue=max_queue, max_group=max_group
        )
        self._readers = ReaderPool(path, readers)
        if checkpoint_interval is None:
            backstop = indexer == "process"
            checkpoint_interval = (
                BACKSTOP_CHECKPOINT_INTERVAL if backstop else DEFAULT_CHECKPOINT_INTERVAL
            )
        self._checkpointer = Checkpointer(
            path, checkpoint_interval, wal_limit=wal_limit, on_large_wal=self._writer.request_rewind
        )
        self._indexer: IndexerLink = (
            IndexerProcess(path, journal_dir)
            if indexer == "process"
            else IndexerThread(path, journal_dir, wal_limit=wal_limit, follow=journal is not None)
        )
        self._indexer.start()
        self._journaled = JournalHistoryStore(
            self._journal, SqliteHistoryStore(self._writer, self._readers), self._indexer
        )
        super().__init__(
            self._journaled,
            SqliteAccountStore(self._writer, self._readers, hasher),
            SqliteChannelStore(self._writer, self._readers),
            SqliteBanStore(self._writer),
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
    def writer(self) -> Writer:
        """The writer thread (its ``groups`` and ``pending`` counters are useful to observe)."""
        return self._writer

    @property
    def checkpointer(self) -> Checkpointer:
        """The WAL checkpoint thread."""
        return self._checkpointer

    @property
    def readers(self) -> ReaderPool:
        """The pool of read-only connections."""
        return self._readers

    async def forget(self, party: str) -> tuple[bool, int]:
        """See :meth:`Store.forget`: account and private history go in one transaction."""

        def run(conn: sqlite3.Connection) -> tuple[bool, int]:
            identity = drop_account(conn, party)
            return identity is not None, _forget_history(conn, identity or party)

        await self._journaled.flush()  # the party's last messages are indexed before they go
        return await self._writer.call(run)

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
