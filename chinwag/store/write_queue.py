"""The writer's queue: the jobs waiting for the next group commit, and waking the writer.

Jobs are appends (rows and their commit callbacks) and calls (a function to run in the
transaction). A run of consecutive appends from one thread is one `Rows` segment: the loop
extends its flat parameter list and its list of callbacks, and the writer takes both whole, with
no Python loop per row and no object per row that lives until the commit (objects that survive
long get promoted by the garbage collector and make every full collection slower).

Nothing here knows the database: the `Writer` takes the groups with `take` and reports each
segment's callbacks once its rows are durable.

Waking. The writer sleeps on ``_bell`` (a lock it holds) after setting ``_idle``; whoever wakes
it clears ``_idle`` and releases ``_bell`` (under ``_lock``), so no wakeup is lost and there is at
most one release per sleep. A condition variable would do the same with a second lock and a
Python-level wait list per wait; this costs the loop one uncontended ``acquire``/``release`` per
append. Appends from an event loop do not wake the writer at once but from a callback at the end
of the loop's turn (`_ring` says why).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from chinwag.store.base import OnCommit
from chinwag.store.errors import StoreClosedError

__all__ = ["STOP", "Call", "Job", "Rows", "WriteQueue"]

Job = Callable[[Any], Any]
"""A call's function: it gets the writer's connection (either driver's)."""
_get_ident = threading.get_ident


class Rows:
    """Consecutive appends from one thread: their rows flattened into one parameter list,
    and their commit callbacks in order. It grows until the writer takes it."""

    __slots__ = ("jobs", "loop", "params", "thens", "thread")

    def __init__(self, thread: int, loop: asyncio.AbstractEventLoop | None) -> None:
        self.thread = thread
        self.loop = loop
        """Where the callbacks run (None: in the writer thread)."""
        self.params: list[object] = []
        self.thens: list[OnCommit] = []
        self.jobs = 0


@dataclass(slots=True)
class Call:
    """A function run in the writer transaction, inside its own savepoint."""

    fn: Job
    future: concurrent.futures.Future[Any] | None
    alone: bool = False
    """Whether it starts a transaction of its own (`Writer.submit`)."""


STOP: Final = object()
"""The last job of a queue: after it nothing is accepted, and the writer ends."""


class WriteQueue:
    """Jobs waiting for the writer, bounded; the writer sleeps here when there are none.

    Args:
        row_width: how many values each appended row holds.
        max_queue: how many jobs may wait; beyond that producers block (backpressure).
        max_group: how many jobs `take` returns at most (one transaction).
        consumer_alive: whether the writer still runs (a producer waiting for space gives up
            when it does not).
    """

    def __init__(
        self,
        row_width: int,
        *,
        max_queue: int,
        max_group: int,
        consumer_alive: Callable[[], bool],
    ) -> None:
        self._width = row_width
        self._max_queue = max_queue
        self._max_group = max_group
        self._consumer_alive = consumer_alive
        # Jobs waiting: Rows segments (each many appends), Call and STOP; under _lock.
        self._lock = threading.Lock()
        self._queue: list[object] = []
        self._tail: Rows | None = None  # the last segment of _queue, while it may grow
        self._pending = 0  # jobs in _queue (each append and each call counts one)
        self._idle = False
        self._ringing = False  # a _ring is scheduled on the appending loop
        self._bell = threading.Lock()
        self._bell.acquire()
        self._space = threading.Condition()
        self._closed = False

    @property
    def pending(self) -> int:
        """Jobs waiting for the writer."""
        return self._pending

    def _wake(self) -> None:
        """Wake the writer if it sleeps (called with ``_lock`` held)."""
        if self._idle:
            self._idle = False
            self._bell.release()

    def _ring(self) -> None:
        """Wake the writer for the appends of the loop turn that just ended.

        Why not at the first append: the loop holds the GIL for the rest of its turn, and the
        writer, once awake, needs the GIL between every SQLite call, so it would commit the
        first few rows of the turn and then wait for the loop. Woken as the loop is about to
        poll, it finds the GIL free, and the group holds everything the turn appended.
        Measured (one core, Python 3.11, SQLite WAL; 400 turns of 10 appends, each turn busy
        for 1 ms after its appends): woken here, 195 groups and 3.2 ms median append-to-commit;
        woken at the first append, 372 groups and 2.2 ms. So this halves the commits (and
        their CPU and fsyncs) for about a millisecond more of latency at that load.
        """
        with self._lock:
            self._ringing = False
            if self._queue:
                self._wake()

    def _wait_for_space(self) -> None:
        # Only when the disk cannot keep up: a message that reached clients must be
        # stored, so slowing the producer down beats dropping it.
        with self._lock:
            self._wake()  # a loop that never yields must not wait for a writer never rung
        with self._space:
            while self._pending >= self._max_queue and self._consumer_alive():
                self._space.wait(0.1)

    def put(self, job: object, *, last: bool = False) -> None:
        """Queue a call (or, with ``last``, the stop marker after which nothing is accepted)."""
        if self._pending >= self._max_queue and not last:
            self._wait_for_space()
        with self._lock:
            if self._closed:
                raise StoreClosedError("the store is closed")
            self._closed = last
            self._queue.append(job)
            self._tail = None
            self._pending += 1
            self._wake()

    def _new_tail(self) -> Rows:
        """Open a new segment at the end of the queue (called with ``_lock`` held)."""
        try:
            loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            loop = None  # no loop: the callbacks run in the writer thread
        tail = self._tail = Rows(_get_ident(), loop)
        self._queue.append(tail)
        return tail

    def append(self, row: Sequence[object] | None, then: OnCommit | None) -> None:
        """Queue one row for the insert statement; ``then`` runs after its commit.

        With ``row`` None only ``then`` is queued: it runs once every earlier row is
        committed, in order with the callbacks of those rows.

        Args:
            row: ``row_width`` values: int, float or str (others bind much slower).
            then: called once the row is committed: on the event loop that was running in
                the appending thread, or in the writer thread when there was none.

        Raises:
            StoreClosedError: after :meth:`close`.
            ValueError: when ``row`` does not hold ``row_width`` values.
        """
        if row is not None and len(row) != self._width:
            raise ValueError(f"a row has {self._width} values, not {len(row)}")
        if self._pending >= self._max_queue:
            self._wait_for_space()
        with self._lock:
            if self._closed:
                raise StoreClosedError("the store is closed")
            tail = self._tail
            # Same thread, same running loop: a loop cannot change under a segment that
            # lives for one turn of the writer.
            if tail is None or tail.thread != _get_ident() or tail.jobs >= self._max_group:
                tail = self._new_tail()
            if row is not None:
                tail.params += row
            if then is not None:
                tail.thens.append(then)
            tail.jobs += 1
            self._pending += 1
            if self._idle and not self._ringing:
                if tail.loop is None:
                    self._wake()
                else:  # the tail is this thread's: tail.loop is running here, now
                    self._ringing = True
                    tail.loop.call_soon(self._ring)

    def take(self) -> list[object]:
        """Wait for jobs, then take whole segments, up to ``max_group`` jobs (at least one)."""
        while True:
            with self._lock:
                jobs = self._queue
                if jobs:
                    waiting = self._pending
                    if waiting <= self._max_group:
                        batch, self._queue, self._tail = jobs, [], None
                        self._pending = 0
                    else:
                        batch = self._split(jobs)
                    break
                self._idle = True
            self._bell.acquire()
        if waiting >= self._max_queue:
            with self._space:
                self._space.notify_all()
        return batch

    def _split(self, jobs: list[object]) -> list[object]:
        """Take the first segments of ``jobs``, up to ``max_group`` jobs (``_lock`` held)."""
        taken = count = 0
        for job in jobs:
            size = job.jobs if isinstance(job, Rows) else 1
            if taken and count + size > self._max_group:
                break
            taken += 1
            count += size
        batch = jobs[:taken]
        del jobs[:taken]
        if not jobs:
            self._tail = None
        self._pending -= count
        return batch
