"""The history of a network: kept through the bus into Redis, read from PostgreSQL, exact.

Theory of operation
===================

`NetworkHistory` is the `HistoryStore` a node's server talks to; it stands in front of the
PostgreSQL store (the *index*), as the journal stands in front of SQLite on a single server.

Writing. `append` hands the line's record to the bus (`RedisBus.keep`), so it travels in the
same atomic script call as the line itself and lands in ``cw:history`` exactly when the line
lands in the inboxes. Nothing is delivered before that: on a node of a network every stored
line is delivered when it comes back from Redis (``node.py`` routes even a private line between
two users of one node through the bus). So the commit callbacks have nothing to wait for: they
run when the loop turn ends (`end_turn`), and the outbox never holds a turn's output for them.
The history feed (``history_feed.py``) moves the lines on into PostgreSQL.

Reading. A CHATHISTORY query, or a join replay, must see every line delivered before it, on
every node, though the feed may not have moved the newest ones yet. So a read first stores the
conversation's *tail* itself: the lines of that conversation still in ``cw:history`` (one
script call that returns only those, usually none), inserted and committed (a line the feed
inserts too is not doubled), and then asks PostgreSQL. The order matters and suffices: a line
delivered before the query is in ``cw:history`` until the feed has committed it, so when the
tail is read it is either in the tail or already in PostgreSQL. And `flush` first waits until
this node's own calls are in Redis, so a user's query sees what they themselves sent before.
The scan is Redis's time, which every node waits for: past `history_feed.TAIL_LIMIT` unmoved
lines (the feed catching up after PostgreSQL was away) a read fails instead, until it caught up.

Failures. When Redis cannot be reached a read fails (the client gets ``FAIL CHATHISTORY
MESSAGE_ERROR``) and `probe_write` raises, so that the server refuses new messages and tells
their senders until Redis answers again (``server/storage_health.py``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from redis.exceptions import RedisError, ResponseError

from chinwag.cluster.history_feed import HistoryFeed
from chinwag.cluster.redis_bus import FencedError, RedisBus
from chinwag.store import Bound, HistoryEntry, HistoryStore, OnCommit, Target
from chinwag.store.errors import StoreError
from chinwag.store.journal_records import encode_entry

__all__ = ["NetworkHistory"]


class NetworkHistory:
    """A node's history store (see the module header).

    Args:
        index: the PostgreSQL history store.
        feed: this node's consumer of ``cw:history``.
    """

    def __init__(self, index: HistoryStore, feed: HistoryFeed) -> None:
        self.index = index
        self.feed = feed
        self._bus: RedisBus | None = None
        self._callbacks: list[OnCommit] = []
        self._scheduled: asyncio.Handle | None = None

    def attach(self, bus: RedisBus) -> None:
        """Write through ``bus`` (the node makes it after the server's parts)."""
        self._bus = bus

    @property
    def bus(self) -> RedisBus:
        """The bus lines are kept through."""
        if self._bus is None:
            raise StoreError("the network history has no bus yet")
        return self._bus

    # -- writing -------------------------------------------------------------------------------

    def append(self, entry: HistoryEntry, then: OnCommit | None = None) -> None:
        """See :meth:`HistoryStore.append`: the record goes with this turn's script call."""
        self.bus.keep(encode_entry(entry))
        if then is not None:
            self._later(then)

    def after_writes(self, then: OnCommit) -> None:
        """See :meth:`HistoryStore.after_writes`: at the end of the turn, in order."""
        self._later(then)

    def _later(self, then: OnCommit) -> None:
        self._callbacks.append(then)
        if self._scheduled is None:
            self._scheduled = asyncio.get_running_loop().call_soon(self.end_turn)

    def end_turn(self) -> None:
        """See :meth:`HistoryStore.end_turn`: run the turn's callbacks (see the header)."""
        if self._scheduled is not None:
            self._scheduled.cancel()
            self._scheduled = None
        callbacks, self._callbacks = self._callbacks, []
        for then in callbacks:
            then()

    def commit_error(self) -> BaseException | None:
        """See :meth:`HistoryStore.commit_error`: a line that cannot reach Redis is never
        delivered, so no callback reports one."""
        return None

    async def probe_write(self) -> None:
        """See :meth:`HistoryStore.probe_write`: Redis answers, and takes the bus's calls (a
        Redis out of memory answers a ping, and refuses writes).

        Raises:
            StoreError: when it cannot be reached, or a call of the bus still fails.
        """
        try:
            await self.bus.ping()
        except RedisError:  # shown to senders: what, not where (the bus logs the details)
            raise StoreError("the network's Redis cannot be reached") from None
        if self.bus.unreachable:
            # Redis answers a ping: whether it refuses the calls, or they are lost on the way
            # (a network cut that lets a ping through, or a call sent again after one).
            if isinstance(self.bus.last_error, ResponseError):
                raise StoreError("the network's Redis refuses writes")
            raise StoreError("the network's Redis cannot be reached")

    async def flush(self) -> None:
        """See :meth:`HistoryStore.flush`: this node's calls so far are in Redis.

        Raises:
            StoreError: when this node was declared dead meanwhile.
        """
        self.end_turn()
        try:
            await self.bus.flush()
        except (FencedError, RedisError) as exc:
            raise StoreError(f"not part of the network any more: {exc}") from None

    # -- reading -------------------------------------------------------------------------------

    async def _store_tail(self, conv: str) -> None:
        """Insert the lines of ``conv`` (all for ``""``) that are only in Redis (see the header)."""
        tail = await self.feed.tail(conv)
        if tail:
            await self.feed.insert(tail)

    async def latest(self, target: Target, after: Bound | None, limit: int) -> list[HistoryEntry]:
        """See :meth:`HistoryStore.latest`."""
        await self._store_tail(target.key)
        return await self.index.latest(target, after, limit)

    async def before(self, target: Target, bound: Bound, limit: int) -> list[HistoryEntry]:
        """See :meth:`HistoryStore.before`."""
        await self._store_tail(target.key)
        return await self.index.before(target, bound, limit)

    async def after(self, target: Target, bound: Bound, limit: int) -> list[HistoryEntry]:
        """See :meth:`HistoryStore.after`."""
        await self._store_tail(target.key)
        return await self.index.after(target, bound, limit)

    async def around(self, target: Target, bound: Bound, limit: int) -> list[HistoryEntry]:
        """See :meth:`HistoryStore.around`."""
        await self._store_tail(target.key)
        return await self.index.around(target, bound, limit)

    async def between(
        self, target: Target, start: Bound, end: Bound, limit: int
    ) -> list[HistoryEntry]:
        """See :meth:`HistoryStore.between`."""
        await self._store_tail(target.key)
        return await self.index.between(target, start, end, limit)

    async def targets(
        self, viewer: str, channels: Iterable[str], start: float, end: float, limit: int
    ) -> list[HistoryEntry]:
        """See :meth:`HistoryStore.targets`: the whole tail first (any conversation may be one)."""
        await self._store_tail("")
        return await self.index.targets(viewer, channels, start, end, limit)

    async def prune(
        self,
        max_age_days: float | None,
        max_lines_per_target: int | None,
        *,
        now: float | None = None,
    ) -> int:
        """See :meth:`HistoryStore.prune` (in PostgreSQL; the tail is too new to prune)."""
        return await self.index.prune(max_age_days, max_lines_per_target, now=now)

    async def forget(self, party: str) -> int:
        """See :meth:`HistoryStore.forget`: the tail is stored first, so none of it comes back."""
        await self._store_tail("")
        return await self.index.forget(party)
