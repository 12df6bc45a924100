"""History on the journal: appends go to the journal once per loop turn, reads to the SQLite index.

Theory of operation
===================

Writing. `JournalHistoryStore.append` turns an entry into one record (a line,
``journal_records.py``) and keeps it, with its ``then`` callback, until the end of the
event-loop turn. The server's own messages take a shorter road, `JournalHistoryStore.add`: the
record is made from the message's parts and the very bytes its recipients got (no
`HistoryEntry`, no callback per message; the turn's records are a `TurnRecords`, whose ``add``
it is, compiled when it was built), and the one listener (`JournalHistoryStore.listen`) hears
once per turn whether the turn's frame was written. `end_turn`
writes the turn's records as ONE journal frame (one ``os.write``; ``journal.py`` says why that
is enough for SIGKILL) and then runs the turn's callbacks in order, in the same turn: the server
delivers from them, so no client sees a message before it is in the journal, and there is no
thread hop and no waiting for a commit. The turn ends at the first of: the ``call_soon``
scheduled by the turn's first append, an ``after_writes`` (what follows it must come after the
records before it), or a read (read-your-writes).

Room. A message is only accepted when its record fits in the disk space the journal has
reserved ahead (``journal.py``): the turn's records keep ``room``, the reserved bytes this
turn's frame leaves free, and compare it per message; past it, `add` asks the journal for more
(`JournalHistoryStore._reserve`), and when the
disk has none it raises `JournalError` before anything is delivered: the server refuses the
message. A frame that cannot be written anyway (an I/O error, or no reservation on this system)
is cut back out of the journal; the callbacks still run, in order, the listener hears the error,
and `commit_error` tells each callback its entry was NOT stored. The next turn tries again:
storing resumes by itself once there is room.

Indexing. SQLite is the index of the journal, fed by the indexer (``indexer.py``: a child
process under ``chinwag serve``, a thread otherwise) in large batches. A read first ends the
current turn, then waits until the indexer has passed the journal's offset (`IndexerLink`), so
a CHATHISTORY query or a join replay sees everything delivered before it. If the indexer does
not get there within `CATCH_UP_TIMEOUT` (it died and is being restarted), the read is served
from what is indexed and a warning is logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable

from chinwag.store.base import Bound, HistoryEntry, HistoryIndex, OnCommit, Target
from chinwag.store.errors import StoreClosedError, StoreError
from chinwag.store.indexer_link import IndexerLink
from chinwag.store.journal import HEADER, Journal, JournalError
from chinwag.store.journal_records import TurnRecords, encode_entry

__all__ = ["CATCH_UP_TIMEOUT", "PROBE_ROOM", "JournalHistoryStore", "TurnListener"]

_log = logging.getLogger("chinwag.store")

CATCH_UP_TIMEOUT = 5.0
"""Seconds a read waits for the indexer before it is served from what is indexed."""

_FAILURE_LOG_INTERVAL = 60.0
PROBE_ROOM = 64 * 1024
"""Free bytes a probe wants reserved before it says storing works again (about 150 messages:
a disk with a few bytes free would otherwise open and close an episode per message)."""


TurnListener = Callable[[JournalError | None, list[object], list[str]], object]
"""Told at the end of each turn that stored records: None when its frame was written, else why
not (the turn's records are not stored); then the senders and targets given to `add`, in order."""


class JournalHistoryStore:
    """A `HistoryStore` that writes to the journal and reads from the SQLite index.

    Args:
        journal: the journal (owned: closed by :meth:`close`), or None when another process
            writes it (a running server): then appends are refused, and reads return what is
            indexed.
        index: the SQLite history the indexer feeds (its queries, prune and forget).
        indexer: how far the indexer got, and how to wait for it.
    """

    def __init__(self, journal: Journal | None, index: HistoryIndex, indexer: IndexerLink) -> None:
        self.journal = journal
        self.index = index
        self.indexer = indexer
        # This turn's records and the reserved room they leave (see the module header).
        self._turn = TurnRecords(self._open_turn, self._reserve)
        self.add = self._turn.add
        """Store one message of this turn from its parts: `append` for the server's hot path.

        ``add(msgid, when, conversation, account, tags, line, sender, target)``: the message's
        msgid, its server time, the key of its conversation (``Target.key``), the sender's
        account (empty for none), its client tags as JSON (empty for none), the message as
        relayed, without tags (``Outgoing.plain``), and who sent it to which target (handed
        back to the listener at the end of the turn).

        Measured on the durable private-message benchmark (``bench/profile.py``): building a
        `HistoryEntry`, encoding it field by field and calling back once per row cost the event
        loop about 1.2 us per message; the record made from the parts, with the line the
        recipients got as it is, and one listener call per turn replace them. It is the turn's
        `TurnRecords.add` itself, compiled when it was built: one Python method between the
        server and it cost 0.06-0.1 us more per message (in process, ``bench/durable_path.py``).

        Raises:
            JournalError: there is no disk space for it (it is not kept: do not deliver it).
            StoreClosedError: after close.
            StoreError: when another process writes the journal.
        """
        self._calls: list[OnCommit] = []
        self._listener: TurnListener | None = None
        self._scheduled: asyncio.Handle | None = None
        self._error: BaseException | None = None  # while the callbacks of a failed frame run
        self._failed_at = -_FAILURE_LOG_INTERVAL
        self._closed = False
        self._sync_room()

    # -- writing -------------------------------------------------------------------------------

    def append(self, entry: HistoryEntry, then: OnCommit | None = None) -> None:
        """See :meth:`HistoryStore.append`: ``then`` runs at the end of this loop turn, after
        the turn's frame is written. Raises: StoreClosedError after close."""
        if self._closed:
            raise StoreClosedError("the history store is closed")
        if self.journal is None:
            raise StoreError("history is written by another chinwag process")
        record = encode_entry(entry).encode("utf-8", "surrogatepass")
        turn = self._turn
        size = len(record)
        if size > turn.room:
            with contextlib.suppress(JournalError):  # kept: its callback hears how it went
                turn.room = self._reserve(size)
        turn.room -= size
        turn.extend(record)
        if then is not None:
            self._calls.append(then)
        if self._scheduled is None:
            self._schedule()

    def listen(self, listener: TurnListener) -> None:
        """Tell ``listener`` at the end of each turn that stored records, after its frame and
        before the callbacks of its appends (one listener: the server's `History`)."""
        self._listener = listener

    def _open_turn(self) -> None:
        """Before the first record of a turn: is there a turn to keep it? Then end it later.

        Raises:
            StoreClosedError: after close.
            StoreError: when another process writes the journal.
        """
        if self._closed:
            raise StoreClosedError("the history store is closed")
        if self.journal is None:
            raise StoreError("history is written by another chinwag process")
        if self._scheduled is None:
            self._schedule()

    def _reserve(self, size: int) -> int:
        """Reserve room for a record of ``size`` bytes after this turn's records.

        Returns:
            The room the turn's records leave, that record not counted.

        Raises:
            JournalError: the disk has no room for it.
        """
        journal = self.journal
        assert journal is not None
        frame = journal.room - self._turn.room  # the frame so far, its header included
        journal.reserve(frame + size)
        return journal.room - frame

    def _sync_room(self) -> None:
        """After a write: the room left for the next frame, its header counted."""
        journal = self.journal
        self._turn.room = journal.room - HEADER.size if journal is not None else 0

    def after_writes(self, then: OnCommit) -> None:
        """See :meth:`HistoryStore.after_writes`: ends the turn now, then runs ``then``.

        ``then`` sees `commit_error` set when the turn it ended could not be written, so a
        caller that holds a whole turn's output behind this barrier can withhold it.
        """
        if self._closed:
            raise StoreClosedError("the history store is closed")
        error = self._end_turn()
        self._error = error
        try:
            then()
        finally:
            self._error = None

    async def probe_write(self) -> None:
        """See :meth:`HistoryStore.probe_write`: reserves `PROBE_ROOM` bytes ahead, then
        writes an empty frame (the indexer skips it).

        Raises:
            JournalError: when the journal cannot be written now (a full disk).
            StoreError: when another process writes the journal.
        """
        journal = self.journal
        if journal is None:
            raise StoreError("history is written by another chinwag process")
        self.end_turn()
        try:
            journal.reserve(PROBE_ROOM + HEADER.size)
            journal.write(b"")
        finally:
            self._sync_room()

    def commit_error(self) -> BaseException | None:
        """Inside an ``append`` callback: why that entry was NOT stored, else None."""
        return self._error

    def _schedule(self) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop (command-line tools): every append is its own turn
            self.end_turn()
            return
        self._scheduled = loop.call_soon(self.end_turn)

    def end_turn(self) -> None:
        """Write this turn's records as one frame, then run the turn's callbacks in order."""
        self._end_turn()

    def _end_turn(self) -> JournalError | None:
        """`end_turn`. Returns: why the frame could not be written, or None."""
        if self._scheduled is not None:
            self._scheduled.cancel()
            self._scheduled = None
        turn = self._turn
        count = turn.count
        if not count and not self._calls:
            return None  # nothing this turn (and safe to call from inside a callback)
        senders, turn.senders = turn.senders, []
        targets, turn.targets = turn.targets, []
        calls, self._calls = self._calls, []
        error = None
        try:
            if count and self.journal is not None:
                # Released on the way out even when the error's traceback keeps the view: the
                # turn's buffer is used again.
                with turn.frame() as frame:
                    try:
                        self.journal.write(frame)
                    except JournalError as exc:
                        self._refused(count, exc)
                        error = exc
                self._sync_room()
        finally:
            # Whatever escaped the write, these records are done with: kept, the next turn's
            # frame would write them again (a message twice in history).
            turn.clear()
        if count and self._listener is not None:
            try:
                self._listener(error, senders, targets)
            except Exception:
                _log.exception("history turn listener failed")
        self._error = error
        try:
            for then in calls:
                try:
                    then()
                except Exception:
                    _log.exception("history commit callback failed")
        finally:
            self._error = None
        return error

    def _refused(self, count: int, exc: JournalError) -> None:
        now = time.monotonic()
        if now - self._failed_at >= _FAILURE_LOG_INTERVAL:
            self._failed_at = now
            _log.error("journal: %d messages not stored: %s", count, exc)

    async def _caught_up(self) -> None:
        """Wait until the index holds everything written so far (read-your-writes)."""
        if self.journal is None:
            return  # another process writes the journal: what is indexed is all we know of
        self.end_turn()
        target = self.journal.offset
        try:
            await asyncio.wait_for(self.indexer.wait_for(target), CATCH_UP_TIMEOUT)
        except TimeoutError:
            _log.warning(
                "history: the indexer is behind (%d of %d); reading what is indexed",
                self.indexer.indexed,
                target,
            )

    async def flush(self) -> None:
        """See :meth:`HistoryStore.flush`: everything appended is written and indexed."""
        await self._caught_up()

    # -- reading -------------------------------------------------------------------------------

    async def latest(self, target: Target, after: Bound | None, limit: int) -> list[HistoryEntry]:
        """See :meth:`HistoryStore.latest`."""
        await self._caught_up()
        return await self.index.latest(target, after, limit)

    async def before(self, target: Target, bound: Bound, limit: int) -> list[HistoryEntry]:
        """See :meth:`HistoryStore.before`."""
        await self._caught_up()
        return await self.index.before(target, bound, limit)

    async def after(self, target: Target, bound: Bound, limit: int) -> list[HistoryEntry]:
        """See :meth:`HistoryStore.after`."""
        await self._caught_up()
        return await self.index.after(target, bound, limit)

    async def around(self, target: Target, bound: Bound, limit: int) -> list[HistoryEntry]:
        """See :meth:`HistoryStore.around`."""
        await self._caught_up()
        return await self.index.around(target, bound, limit)

    async def between(
        self, target: Target, start: Bound, end: Bound, limit: int
    ) -> list[HistoryEntry]:
        """See :meth:`HistoryStore.between`."""
        await self._caught_up()
        return await self.index.between(target, start, end, limit)

    async def targets(
        self, viewer: str, channels: Iterable[str], start: float, end: float, limit: int
    ) -> list[HistoryEntry]:
        """See :meth:`HistoryStore.targets`."""
        await self._caught_up()
        return await self.index.targets(viewer, channels, start, end, limit)

    async def prune(
        self,
        max_age_days: float | None,
        max_lines_per_target: int | None,
        *,
        now: float | None = None,
    ) -> int:
        """See :meth:`HistoryStore.prune` (of what is indexed when it starts)."""
        await self._caught_up()
        return await self.index.prune(max_age_days, max_lines_per_target, now=now)

    async def forget(self, party: str) -> int:
        """See :meth:`HistoryStore.forget`: waits for the index to hold everything first."""
        await self._caught_up()
        return await self.index.forget(party)

    def close(self) -> None:
        """Write what the current turn holds and close the journal (idempotent)."""
        if self._closed:
            return
        self.end_turn()
        self._closed = True
        if self.journal is not None:
            self.journal.close()
