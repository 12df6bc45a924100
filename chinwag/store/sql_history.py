"""History in the SQL ``history`` table, for SQLite and PostgreSQL alike: queries and retention.

How rows get in differs: in SQLite the indexer copies them from the journal (``indexer.py``),
in PostgreSQL the store's writer inserts them (``postgres.py``). How they are read and deleted
is the same, and is written here once, over a `Database` (``database.py``):
CHATHISTORY semantics are ``_query.py``'s, over this module's `RangeReader`, so every store
answers alike (``tests/store`` runs the same suite on memory, SQLite and PostgreSQL).

Tables. ``history`` holds one row per entry; ``seq`` grows with arrival order, and a
conversation's entries are ordered by ``(time_ms, seq)`` (index ``history_conv_position``).
``conversations`` holds one row per private conversation with its two parties: TARGETS and
forget look a party's conversations up there instead of scanning history.

Reads run on the reader pool; prune and forget are writer jobs, so they commit in order with
every other write.
"""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import Iterable
from typing import Any, Generic

from chinwag.store import _query
from chinwag.store._query import Position
from chinwag.store.base import NO_TAGS, Bound, ChannelTarget, DirectTarget, HistoryEntry, Target
from chinwag.store.database import C, Database
from chinwag.store.readers import ReaderPool
from chinwag.store.sql_records import drop_account
from chinwag.store.writer import Writer

__all__ = ["SqlHistoryIndex", "forget_history", "forget_party"]

_ENTRY_COLUMNS = (
    "msgid, conv, time, party_a, party_b, target_name, sender, account, command, text, tags"
)
_RESOLVE = "SELECT time_ms, seq FROM history WHERE msgid = ? AND conv = ?"
# A party's conversations: UNION, so that each half uses its own index.
_PARTY_CONVERSATIONS = (
    "SELECT conv FROM conversations WHERE party_a = ?"
    " UNION SELECT conv FROM conversations WHERE party_b = ?"
)
_LATEST_IN_WINDOW = (
    f"SELECT time_ms, seq, {_ENTRY_COLUMNS} FROM history"
    " WHERE conv = ? AND time_ms > ? AND time_ms < ?"
    " ORDER BY time_ms DESC, seq DESC LIMIT 1"
)
_CONVERSATIONS = "SELECT DISTINCT conv FROM history"
_DELETE_OLDER = "DELETE FROM history WHERE conv = ? AND time_ms < ?"
# Everything at or below the position of the (keep + 1)-th newest entry; with fewer entries
# the subquery is empty, compares as NULL, and nothing is deleted.
_DELETE_BEYOND = (
    "DELETE FROM history WHERE conv = ? AND (time_ms, seq) <= (SELECT time_ms, seq"
    " FROM history WHERE conv = ? ORDER BY time_ms DESC, seq DESC LIMIT 1 OFFSET ?)"
)
_DELETE_CONVERSATION_IF_EMPTY = (
    "DELETE FROM conversations WHERE conv = ? AND NOT EXISTS (SELECT 1 FROM history WHERE conv = ?)"
)
_DELETE_HISTORY = "DELETE FROM history WHERE conv = ?"
_DELETE_CONVERSATION = "DELETE FROM conversations WHERE conv = ?"


def _range_sql(has_lo: bool, has_hi: bool, newest: bool) -> str:
    where = " WHERE conv = ?"
    if has_lo:
        where += " AND (time_ms, seq) > (?, ?)"
    if has_hi:
        where += " AND (time_ms, seq) < (?, ?)"
    order = " ORDER BY time_ms DESC, seq DESC" if newest else " ORDER BY time_ms, seq"
    return f"SELECT {_ENTRY_COLUMNS} FROM history{where}{order} LIMIT ?"


# Eight constant statements, chosen by which bounds a range has.
_RANGE_SQL = {
    (lo, hi, newest): _range_sql(lo, hi, newest)
    for lo in (False, True)
    for hi in (False, True)
    for newest in (False, True)
}


def _row_entry(row: tuple[Any, ...] | Any) -> HistoryEntry:
    msgid, conv, when, party_a, party_b, target_name, sender, account, command, text, tags = row
    target: Target
    if isinstance(party_a, str) and isinstance(party_b, str):
        target = DirectTarget(party_a, party_b)
    else:  # NULL parties: a channel
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


class _Range(_query.RangeReader, Generic[C]):
    """:class:`~chinwag.store._query.RangeReader` over one read connection."""

    def __init__(self, db: Database[C], conn: C, range_sql: dict[tuple[bool, bool, bool], str]):
        self._db = db
        self._conn = conn
        self._range_sql = range_sql

    def resolve(self, conv: str, msgid: str) -> Position | None:
        row = self._conn.execute(self._db.sql(_RESOLVE), (msgid, conv)).fetchone()
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
        sql = self._range_sql[(lo is not None, hi is not None, newest)]
        entries = [_row_entry(row) for row in self._conn.execute(sql, params)]
        if newest:
            entries.reverse()
        return entries


def forget_history(db: Database[C], conn: C, party: str) -> int:
    """Delete every private conversation of ``party`` (a writer job). Returns: the entries
    deleted."""
    convs = [row[0] for row in conn.execute(db.sql(_PARTY_CONVERSATIONS), (party, party))]
    deleted = 0
    for conv in convs:
        deleted += conn.execute(db.sql(_DELETE_HISTORY), (conv,)).rowcount
        conn.execute(db.sql(_DELETE_CONVERSATION), (conv,))
    return deleted


def forget_party(db: Database[C], conn: C, party: str) -> tuple[bool, int]:
    """:meth:`Store.forget` as one writer job: the account named ``party`` and the private
    history of its identity (or, without an account, of ``party`` itself) go together.

    Returns:
        Whether an account was dropped, and how many history entries were deleted.
    """
    identity = drop_account(db, conn, party)
    return identity is not None, forget_history(db, conn, identity or party)


class SqlHistoryIndex(Generic[C]):
    """The queries, retention and forgetting of a :class:`HistoryStore` over the ``history``
    table (a `HistoryIndex`); see the module header."""

    def __init__(self, db: Database[C], writer: Writer[C], readers: ReaderPool[C]) -> None:
        """Wrap a store's writer and reader pool."""
        self._db = db
        self._writer = writer
        self._readers = readers
        self._range_sql = {bounds: db.sql(sql) for bounds, sql in _RANGE_SQL.items()}

    def _range(self, conn: C) -> _Range[C]:
        return _Range(self._db, conn, self._range_sql)

    async def latest(self, target: Target, after: Bound | None, limit: int) -> list[HistoryEntry]:
        """See :meth:`HistoryStore.latest`."""
        key = target.key
        return await self._readers.run(
            lambda c: _query.query_latest(self._range(c), key, after, limit)
        )

    async def before(self, target: Target, bound: Bound, limit: int) -> list[HistoryEntry]:
        """See :meth:`HistoryStore.before`."""
        key = target.key
        return await self._readers.run(
            lambda c: _query.query_before(self._range(c), key, bound, limit)
        )

    async def after(self, target: Target, bound: Bound, limit: int) -> list[HistoryEntry]:
        """See :meth:`HistoryStore.after`."""
        key = target.key
        return await self._readers.run(
            lambda c: _query.query_after(self._range(c), key, bound, limit)
        )

    async def around(self, target: Target, bound: Bound, limit: int) -> list[HistoryEntry]:
        """See :meth:`HistoryStore.around`."""
        key = target.key
        return await self._readers.run(
            lambda c: _query.query_around(self._range(c), key, bound, limit)
        )

    async def between(
        self, target: Target, start: Bound, end: Bound, limit: int
    ) -> list[HistoryEntry]:
        """See :meth:`HistoryStore.between`."""
        key = target.key
        return await self._readers.run(
            lambda c: _query.query_between(self._range(c), key, start, end, limit)
        )

    async def targets(
        self, viewer: str, channels: Iterable[str], start: float, end: float, limit: int
    ) -> list[HistoryEntry]:
        """See :meth:`HistoryStore.targets`."""
        if limit <= 0:
            return []
        lo, hi = sorted((_query.time_key(start), _query.time_key(end)))
        wanted = _query.channel_keys(channels)
        db = self._db

        def run(conn: C) -> list[tuple[int, int, HistoryEntry]]:
            convs = set(wanted)
            convs.update(
                str(row[0]) for row in conn.execute(db.sql(_PARTY_CONVERSATIONS), (viewer, viewer))
            )
            found = []
            latest = db.sql(_LATEST_IN_WINDOW)
            for conv in convs:
                row = conn.execute(latest, (conv, lo, hi)).fetchone()
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
        """See :meth:`HistoryStore.prune`; one writer job per conversation, so other writes
        interleave with a long prune instead of waiting for it."""
        if max_age_days is None and max_lines_per_target is None:
            return 0
        cutoff = _query.age_cutoff(max_age_days, now)
        keep = None if max_lines_per_target is None else max(0, max_lines_per_target)
        db = self._db
        convs = await self._readers.run(
            lambda c: [str(row[0]) for row in c.execute(db.sql(_CONVERSATIONS))]
        )

        def prune_one(conn: C, conv: str) -> int:
            deleted = 0
            if cutoff is not None:
                deleted += conn.execute(db.sql(_DELETE_OLDER), (conv, cutoff)).rowcount
            if keep is not None:
                deleted += conn.execute(db.sql(_DELETE_BEYOND), (conv, conv, keep)).rowcount
            if deleted:  # a private conversation left empty leaves ``conversations`` too
                conn.execute(db.sql(_DELETE_CONVERSATION_IF_EMPTY), (conv, conv))
            return deleted

        futures = [self._writer.submit(functools.partial(prune_one, conv=conv)) for conv in convs]
        counts = await asyncio.gather(*(asyncio.wrap_future(f) for f in futures))
        return sum(counts)

    async def forget(self, party: str) -> int:
        """See :meth:`HistoryStore.forget`."""
        return await self._writer.call(lambda conn: forget_history(self._db, conn, party))
