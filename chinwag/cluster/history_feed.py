"""The history feed: lines kept in Redis move into PostgreSQL through one consumer group.

Theory of operation
===================

Where a line is kept. The script call that carries a loop turn's events to the nodes' inboxes
(``scripts.TURN``) appends the turn's history records to ONE stream, ``cw:history``, in the same
atomic step. A line is delivered only when a node reads it back from its inbox, so a line that
anybody saw is in ``cw:history`` first; with ``appendfsync always`` Redis has written both to
its append-only file before any node could read it. Redis is the durability point of a network,
as the journal is of a single server.

Who moves it. Every node is a consumer of one group (``store``) on that one stream, rather than
each node draining a stream of its own: a line then waits for whichever node is free, not for
its own node, and a node that dies (for good: machines are replaced, networks shrink) leaves
nothing behind that only it could move. A consumer reads a batch (``XREADGROUP``), inserts its
rows through the PostgreSQL store's writer (``ON CONFLICT (msgid) DO NOTHING``), and only after
the commit acknowledges the batch (``XACK``) and trims the stream behind what the whole group
has acknowledged (``scripts.TRIM_HISTORY``). So:

- a node killed between reading and acknowledging leaves its batch *pending*: a restarted node
  of the same name reads its own pending entries first; any other node takes them over with
  ``XAUTOCLAIM`` once they have been idle for `CLAIM_IDLE` seconds;
- a batch inserted twice (the node died after the commit, before the ``XACK``; or taken over
  while its slow owner was still at it) is harmless: the second insert changes nothing;
- a batch that cannot be inserted (PostgreSQL unreachable) stays pending and is tried again.

Nothing is lost and nothing is doubled; a line is in ``cw:history`` until PostgreSQL has it.
While PostgreSQL is down the stream grows in Redis's memory (about the size of the lines).

Records are the journal's (``store/journal_records.py``: NUL-separated fields, one line each),
so that Redis can pick a conversation's lines out without parsing JSON (`HISTORY_TAIL`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError, ResponseError

from chinwag.cluster import scripts
from chinwag.cluster.redis_bus import COMMAND_TIMEOUT
from chinwag.store import HistoryEntry, HistoryStore
from chinwag.store.errors import StoreError
from chinwag.store.journal_records import decode_entry

__all__ = ["CLAIM_IDLE", "TAIL_LIMIT", "HistoryFeed", "decode_record"]

_log = logging.getLogger("chinwag.cluster")

READ_COUNT = 64
"""Stream entries taken per read (each holds one script call's records: often many lines)."""
READ_BLOCK_MS = 1_000
"""How long one read waits for entries (then the feed looks for abandoned ones)."""
CLAIM_IDLE = 3.0
"""Seconds an entry may stay pending with its consumer before another node takes it over: the
default lease, since a live consumer acknowledges within milliseconds."""
CLAIM_INTERVAL = 1.0
"""Seconds between two looks for abandoned entries."""
RETRY_INTERVAL = 0.2
"""Seconds before trying again after Redis or PostgreSQL failed (doubled after each failure in a
row, up to `MAX_RETRY_INTERVAL`)."""
MAX_RETRY_INTERVAL = 2.0
"""The longest wait between two tries."""
TAIL_LIMIT = 20_000
"""Unmoved lines a read looks through at most: about 50 ms of Redis's time (2.5 us a line,
``bench/history_feed.py``), during which every node waits. Past that the feed is far behind,
and a read fails until it has caught up: `HistoryFeed.tail`."""
WARN_INTERVAL = 10.0
"""Seconds between two warnings while moving keeps failing."""


def decode_record(record: str) -> HistoryEntry:
    """A history record (``journal_records.encode_entry``, without its newline) as an entry.

    Raises:
        ValueError: when the record is malformed.
    """
    return decode_entry(record)


def _records(fields: dict[bytes, bytes] | None) -> list[str]:
    """The records of one ``cw:history`` entry."""
    packed = (fields or {}).get(b"h", b"")
    return [line for line in packed.decode("utf-8", "surrogatepass").split("\n") if line]


class HistoryFeed:
    """This node's consumer of ``cw:history`` (see the module header).

    Args:
        url: the network's Redis.
        node: this node's name (its consumer's name).
        index: the PostgreSQL history store the lines go into.
        claim_idle: seconds after which another consumer's pending entries are taken over.
    """

    def __init__(
        self, url: str, node: str, index: HistoryStore, *, claim_idle: float = CLAIM_IDLE
    ) -> None:
        self._node = node
        self._claim_idle_ms = int(claim_idle * 1000)
        self._index = index
        self._redis: aioredis.Redis = aioredis.from_url(
            url,
            socket_timeout=READ_BLOCK_MS / 1000 + COMMAND_TIMEOUT,
            socket_connect_timeout=COMMAND_TIMEOUT,
        )
        self._tail = self._redis.register_script(scripts.HISTORY_TAIL)
        self._trim = self._redis.register_script(scripts.TRIM_HISTORY)
        self._leave = self._redis.register_script(scripts.LEAVE_GROUP)
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._warned_at = -WARN_INTERVAL
        self.tail_limit = TAIL_LIMIT
        """Unmoved lines a read looks through at most (see `TAIL_LIMIT`)."""
        self.moved = 0
        """Lines this node inserted into PostgreSQL (duplicates included)."""

    async def start(self) -> None:
        """Join the consumer group (creating it, and the stream, if this is the first node) and
        start moving lines.

        Raises:
            RedisError: when Redis cannot be reached.
        """
        await self._join_group()
        self._task = asyncio.create_task(self._run(), name=f"history-feed-{self._node}")

    async def _join_group(self) -> None:
        """Create the group (from the stream's start), unless it exists."""
        try:
            await self._redis.xgroup_create(
                scripts.HISTORY, scripts.HISTORY_GROUP, id="0", mkstream=True
            )
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def stop(self) -> None:
        """Stop moving lines (what is pending stays for the next node) and close. A consumer
        that leaves nothing pending leaves the group too: the group lists the live nodes."""
        self._stopping = True
        if self._task is not None:
            self._task.cancel()
            await asyncio.wait([self._task], timeout=READ_BLOCK_MS / 1000 + 1.0)
        # (Deleting a consumer drops its pending entries: only when none is, and not while its
        # task may still read.)
        if self._task is None or self._task.done():
            with contextlib.suppress(RedisError):
                await self._leave(args=[self._node])
        await self._redis.aclose()

    async def tail(self, conv: str) -> list[HistoryEntry]:
        """The lines of conversation ``conv`` (every one for ``""``) that are in Redis and not
        yet known to be in PostgreSQL, in the network's order.

        Raises:
            StoreError: when Redis cannot be reached, or holds more than `TAIL_LIMIT` lines not
                yet moved (PostgreSQL was away, and the feed is catching up).
        """
        try:
            found: list[bytes] = await self._tail(args=[conv, self.tail_limit])
        except ResponseError as exc:
            if str(exc).startswith("BEHIND"):
                raise StoreError(
                    f"history is catching up: over {self.tail_limit} lines are not yet in"
                    " PostgreSQL"
                ) from None
            raise StoreError(f"reading the unmoved history failed: {exc}") from None
        except RedisError as exc:
            raise StoreError(f"the network's Redis cannot be reached: {exc}") from None
        entries = []
        for raw in found:
            try:
                entries.append(decode_record(raw.decode("utf-8", "surrogatepass")))
            except ValueError as exc:
                _log.error("history: skipping a malformed record: %s", exc)
        return entries

    async def insert(self, entries: Sequence[HistoryEntry]) -> None:
        """Insert ``entries`` into PostgreSQL and wait for the commit (a duplicate changes
        nothing).

        Raises:
            StoreError: when the commit failed (the first error).
        """
        failures: list[BaseException] = []
        index = self._index

        def check() -> None:
            error = index.commit_error()
            if error is not None:
                failures.append(error)

        try:
            for entry in entries:
                index.append(entry, check)
            await index.flush()  # every row's callback has run once this returns
        except StoreError:
            raise
        except Exception as exc:  # the database's own errors (psycopg): the store failed
            raise StoreError(f"history not stored in PostgreSQL: {exc}") from exc
        if failures:
            raise StoreError(f"history not stored in PostgreSQL: {failures[0]}")

    # -- the consumer ----------------------------------------------------------------------------

    async def _run(self) -> None:
        own_first = True  # what an earlier incarnation of this node left pending comes first
        claimed_at = 0.0
        pause = RETRY_INTERVAL
        while not self._stopping:
            try:
                if own_first:
                    entries = await self._read("0", block=None)
                    if not entries:
                        own_first = False
                        continue
                else:
                    entries = await self._read(">", block=READ_BLOCK_MS)
                await self._move(entries)
                pause = RETRY_INTERVAL
                if time.monotonic() - claimed_at > CLAIM_INTERVAL:
                    claimed_at = time.monotonic()
                    own_first = await self._claim_abandoned() or own_first
            except (RedisError, StoreError) as exc:
                if isinstance(exc, ResponseError) and str(exc).startswith("NOGROUP"):
                    # Redis lost the group (started again without its data): make it again.
                    _log.error("history: the consumer group was gone: making it again")
                    with contextlib.suppress(RedisError):
                        await self._join_group()
                    continue
                if time.monotonic() - self._warned_at > WARN_INTERVAL:
                    self._warned_at = time.monotonic()
                    _log.warning("history: moving lines to PostgreSQL failed (%s); retrying", exc)
                own_first = True  # the batch stayed pending: read it again
                await asyncio.sleep(pause)
                pause = min(pause * 2, MAX_RETRY_INTERVAL)
            except Exception:  # a bug: logged, and the feed goes on (it must never stop)
                _log.exception("history: the feed failed; retrying")
                own_first = True
                await asyncio.sleep(MAX_RETRY_INTERVAL)

    async def _read(self, start: str, block: int | None) -> list[tuple[bytes, Any]]:
        answer: Any = await self._redis.xreadgroup(
            scripts.HISTORY_GROUP,
            self._node,
            {scripts.HISTORY: start},
            count=READ_COUNT,
            block=block,
        )
        return [entry for _stream, entries in answer or () for entry in entries]

    async def _move(self, entries: list[tuple[bytes, Any]]) -> None:
        if not entries:
            return
        rows: list[HistoryEntry] = []
        for _entry_id, fields in entries:
            for record in _records(fields):
                try:
                    rows.append(decode_record(record))
                except ValueError as exc:  # it cannot become valid: acknowledged with the rest
                    _log.error("history: skipping a malformed record: %s", exc)
        await self.insert(rows)
        self.moved += len(rows)
        await self._redis.xack(
            scripts.HISTORY, scripts.HISTORY_GROUP, *(entry_id for entry_id, _ in entries)
        )
        await self._trim()

    async def _claim_abandoned(self) -> bool:
        """Take over entries another consumer (a dead node) left pending; True if any."""
        claimed = 0
        cursor: Any = "0-0"
        while True:
            # Not JUSTID: redis-py then drops the cursor, which a long list of pending needs.
            cursor, entries, *_ = await self._redis.xautoclaim(
                scripts.HISTORY,
                scripts.HISTORY_GROUP,
                self._node,
                min_idle_time=self._claim_idle_ms,
                start_id=cursor,
                count=READ_COUNT,
            )
            claimed += len(entries)
            if cursor in (b"0-0", "0-0"):
                break
        if claimed:
            _log.warning("history: took over %d pending entries of a lost node", claimed)
        return claimed > 0
