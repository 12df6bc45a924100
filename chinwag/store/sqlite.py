"""The SQLite store: one file, ``DATA_DIR/chinwag.sqlite3``, nothing to install.

Theory of operation
===================

Threads. The event loop never touches the disk. Every write goes through ONE writer thread
(``writer.py``) that owns the only writing connection; reads run in worker threads on a small
pool of read-only connections. WAL mode lets those readers see the last committed state while
the writer works, so a CHATHISTORY query never waits for a commit and vice versa.

Group commit. Writes are jobs on a bounded FIFO queue (``write_queue.py``). The writer blocks for
the first job, then takes everything else already queued (up to ``max_group``) and runs the lot
in one transaction; consecutive history rows go through ONE multi-row statement, which alone is the
transaction when the group is nothing else (``padded_insert.py`` says why: the GIL). The
cost of a commit is thus shared by however many messages arrived while the previous one ran:
under load the groups grow and throughput rises instead of the queue. Jobs that may fail
(account registration, ...) run in a SAVEPOINT so one failure never costs the others their
commit. When the queue is full, producers block: that only happens when the disk cannot keep
up, and slowing down is the one honest alternative to losing messages.

Durability. The promise is "a message that reached any client survives SIGKILL of the server"
-- process death, not power loss. In WAL mode a COMMIT is a ``write(2)`` of the new pages and a
commit frame to ``chinwag.sqlite3-wal``. Once ``write`` returns, the bytes live in the kernel's
page cache, which outlives the process: SIGKILL cannot take them back. So
``synchronous=NORMAL`` (no fsync per commit, only at checkpoints) already gives the promise,
and the much slower ``FULL`` would only add survival of power loss. (After a power cut NORMAL
may lose the newest transactions, never consistency: WAL frames are checksummed and a torn
tail is discarded on recovery.)

What is *not* committed is what still waits in the queue: a SIGKILL loses it. Hence
``HistoryStore.append(entry, then)``: the writer posts ``then`` to the event loop after the
commit that holds the entry, one ``call_soon_threadsafe`` per group, callbacks in append order.
A server that sends the message to its recipients from ``then`` cannot show anyone a message a
crash could lose, at the price of one thread hop and one group commit (tens to hundreds of
microseconds). ``after_writes(then)`` queues a bare callback in the same stream, so events the
server does not store (JOIN, PART, ...) stay in order with the stored messages around them.
A server that delivers *before* the commit instead risks, on SIGKILL, the messages of the one
group in flight (milliseconds' worth). ``flush()`` is a no-op job: because the queue is FIFO
and there is one writer, it completes only after everything queued before it is committed.
Commit callbacks are posted before any future of the same group is resolved, and both travel
through the loop's FIFO ``call_soon_threadsafe`` queue, so after ``await flush()`` every
earlier callback has run.

Checkpoints. SQLite's automatic checkpoint would run inside the COMMIT that crosses the WAL
size threshold and fsync twice, stalling that commit and every delivery waiting on it. The
writer connection turns it off; a ``Checkpointer`` thread on its own connection runs a PASSIVE
checkpoint every second (concurrent with the writer and readers), and a TRUNCATE one at close.
Under a load that never pauses those never catch up with the newest frames, and the WAL would
only grow; past ``WAL_LIMIT`` the writer runs one checkpoint itself between two groups (a few
milliseconds, mostly fsync), after which the WAL starts over and is cut back to that size.
If the commit itself fails (disk full), the error is logged, waiting futures get it, and the
``then`` callbacks still run: the chat goes on, only durability is lost.

Statements. All SQL is constant text with ``?`` parameters; ``sqlite3`` keeps the compiled
statements in its per-connection cache, so each is prepared once per connection. The schema
evolves through numbered migrations (``migrations/``) recorded in ``schema_version``.

Indexes. Each row costs an entry in every index, and a commit rewrites every index page it
touched: ``conv`` (ranges) and ``msgid`` (unique) are needed per row; which conversations a
party is in is kept once per conversation, in ``conversations`` (maintained by a trigger).

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
from typing import Any

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
from chinwag.store.migrations import apply_migrations
from chinwag.store.readers import ReaderPool
from chinwag.store.sqlite_connection import connect
from chinwag.store.sqlite_records import (
    SqliteAccountStore,
    SqliteBanStore,
    SqliteChannelStore,
    drop_account,
)
from chinwag.store.writer import Writer, commit_error

__all__ = [
    "DB_FILENAME",
    "SqliteAccountStore",
    "SqliteBanStore",
    "SqliteChannelStore",
    "SqliteHistoryStore",
    "SqliteStore",
]

DB_FILENAME = "chinwag.sqlite3"
WAL_LIMIT = 64 * 1024 * 1024
"""Bytes of write-ahead log past which the writer makes it start over (see `Checkpointer`)."""

_HISTORY_COLUMNS = (
    "msgid, conv, time_ms, time, party_a, party_b, target_name, sender, account, command, text,"
    " tags"
)
_ROW_WIDTH = 12
NO_VALUE = 0
"""What a history row's parameters hold for "no value" (None): the INSERT turns it back into
NULL (`_select_column`). Binding the int 0 is cheaper than binding None, and 0 also marks the
writer's padding rows, which no real row is (its msgid is a str)."""

_NULLABLE = frozenset({"party_a", "party_b", "account"})


def or_no_value(value: str | None) -> str | int:
    """``value`` as a history row's parameter: `NO_VALUE` for None (see `_select_column`)."""
    return NO_VALUE if value is None else value


def _select_column(index: int, name: str) -> str:
    """Column ``index`` of a VALUES row (named ``columnK``), `NO_VALUE` back to NULL where the
    column may be NULL: the other half of `or_no_value`."""
    column = f"column{index}"
    return f"NULLIF({column}, {NO_VALUE})" if name in _NULLABLE else column


_HISTORY_SELECT = ", ".join(
    _select_column(index, name.strip())
    for index, name in enumerate(_HISTORY_COLUMNS.split(","), start=1)
)
_VALUES_ROW = "(" + ", ".join(["?"] * _ROW_WIDTH) + ")"


def _insert_history_sql(rows: int) -> str:
    """The statement that inserts ``rows`` history rows, skipping padding (see ``writer.py``)."""
    return (
        f"INSERT OR IGNORE INTO history ({_HISTORY_COLUMNS}) SELECT {_HISTORY_SELECT}"
        f" FROM (VALUES {', '.join([_VALUES_ROW] * rows)}) WHERE column1 IS NOT {NO_VALUE}"
    )


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
        checkpoint_interval: float = 1.0,
        wal_limit: int = WAL_LIMIT,
    ) -> None:
        """Open (creating and migrating as needed) the database at ``path``.

        Args:
            path: the database file; its directory must exist.
            hasher: argon2 parameters for accounts (None: the default profile).
            readers: how many read connections at most.
            max_queue: writes that may wait before producers block.
            max_group: writes committed in one transaction at most.
            checkpoint_interval: seconds between WAL checkpoints (run off the commit path).
            wal_limit: bytes of WAL past which the writer checkpoints so that the WAL starts
                over; also the size the WAL file is cut back to when it does.

        Raises:
            StoreError: when the file is not in WAL mode or its schema is newer than this code.
            sqlite3.Error: when the file cannot be opened or is not a database.
        """
        self.path = path
        if not path.exists():
            # Password hashes live here: owner-only, and SQLite gives -wal/-shm the same mode.
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
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
            raise
        self._writer = Writer(
            conn, _insert_history_sql, _ROW_WIDTH, max_queue=max_queue, max_group=max_group
        )
        self._readers = ReaderPool(path, readers)
        self._checkpointer = Checkpointer(
            path, checkpoint_interval, wal_limit=wal_limit, on_large_wal=self._writer.request_rewind
        )
        super().__init__(
            SqliteHistoryStore(self._writer, self._readers),
            SqliteAccountStore(self._writer, self._readers, hasher),
            SqliteChannelStore(self._writer, self._readers),
            SqliteBanStore(self._writer),
        )

    @classmethod
    def in_directory(cls, data_dir: Path, *, hasher: PasswordHasher | None = None) -> SqliteStore:
        """Open ``data_dir/chinwag.sqlite3``, creating the directory (mode 0700) if needed.

        Raises:
            OSError: when the directory cannot be created.
        """
        data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        return cls(data_dir / DB_FILENAME, hasher=hasher)

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

        return await self._writer.call(run)

    async def flush(self) -> None:
        """See :meth:`Store.flush`."""
        await self._writer.call(lambda conn: None)

    async def close(self) -> None:
        """See :meth:`Store.close`; idempotent."""
        await asyncio.to_thread(self.close_sync)

    def close_sync(self) -> None:
        """:meth:`close` for code without an event loop (CLI commands, tests)."""
        self._writer.close()
        self._readers.close()
        self._checkpointer.close()
