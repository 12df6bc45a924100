"""The single SQLite writer thread: group commits of what the `WriteQueue` holds.

See the theory of operation in ``sqlite.py``. In short: every write is a *job* put on one
bounded FIFO (``write_queue.py``); the writer thread waits for the first job, takes everything
queued (up to ``max_group`` jobs), runs them all in ONE transaction, then commits, then reports
back: ``then`` callbacks of appended rows are posted to their event loop in append order (one
``call_soon_threadsafe`` per loop per group), then futures resolve. How a group of rows becomes
few statements is in ``padded_insert.py``; the WAL is checkpointed by its own thread
(``checkpointer.py``), and reads go to ``readers.py``.

The parts are shaped for a journal to replace the SQLite commit: the queue and the callback
reporting know nothing of SQLite, and this module is the one place where a group becomes durable.

Why the writer is tuned the way it is. It shares one core and the GIL with the event loop, so its
Python work and its GIL hand-offs cost the loop directly:

* it is woken at the end of the loop's turn, not at the first append (`WriteQueue._ring`);
* a group of rows is one statement (``padded_insert.py``);
* ``sqlite3`` binds int, float and str at C speed but sends every other value, None included,
  through its adaptation protocol: the store writes 0 for "no value" and the statement turns it
  back into NULL (``sqlite.py``, `or_no_value`). Measured (Python 3.11, 64 rows of 12 values,
  3 of them "no value"): 52-64 us to bind with 0, 159-214 us with None, about half a
  microsecond more per None.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import sqlite3
import threading
from collections.abc import Callable, Sequence
from typing import TypeVar

from chinwag.store.base import OnCommit
from chinwag.store.errors import StoreClosedError
from chinwag.store.padded_insert import PaddedInsert
from chinwag.store.sqlite_connection import checkpoint
from chinwag.store.write_queue import STOP, Call, Job, Rows, WriteQueue

__all__ = ["Writer", "commit_error"]

T = TypeVar("T")
_log = logging.getLogger("chinwag.store")


_outcome = threading.local()
"""``_outcome.error``: while commit callbacks run in this thread, the error of their commit
(None when it succeeded). See `commit_error`."""


def commit_error() -> BaseException | None:
    """Inside a commit callback: why its rows were NOT stored, or None when they were."""
    return getattr(_outcome, "error", None)


def _run_callbacks(callbacks: list[OnCommit], error: BaseException | None = None) -> None:
    """Run commit callbacks in order; one failing must not starve the others."""
    _outcome.error = error
    try:
        for then in callbacks:
            try:
                then()
            except Exception:
                _log.exception("history commit callback failed")
    finally:
        _outcome.error = None


class Writer:
    """One thread, one connection, group commits."""

    def __init__(
        self,
        conn: sqlite3.Connection,
        insert_sql: Callable[[int], str],
        row_width: int,
        *,
        max_queue: int,
        max_group: int,
    ) -> None:
        """Start the writer thread.

        Args:
            conn: the only connection that writes; owned by the writer from now on.
            insert_sql: ``insert_sql(n)`` is a statement taking ``n`` rows of ``row_width``
                parameters each that inserts them in order, skipping every row whose first
                parameter is the integer 0 (padding; see ``padded_insert.py``).
            row_width: how many values each row given to :meth:`append` holds.
            max_queue: how many jobs may wait; beyond that producers block (backpressure).
            max_group: how many jobs go in one transaction at most.
        """
        self._conn = conn
        self._rows = PaddedInsert(conn, insert_sql, row_width)
        self._thread = threading.Thread(target=self._run, name="chinwag-store-writer", daemon=True)
        self._queue = WriteQueue(
            row_width,
            max_queue=max_queue,
            max_group=max_group,
            consumer_alive=self._thread.is_alive,
        )
        self._rewind = False  # set by the Checkpointer: run a checkpoint between two groups
        self.groups = 0
        """How many transactions were committed (to observe the grouping)."""
        self.rewinds = 0
        """How many checkpoints the writer ran itself to let the WAL start over."""
        self._thread.start()

    @property
    def pending(self) -> int:
        """Jobs waiting for the writer."""
        return self._queue.pending

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
        self._queue.append(row, then)

    def fire(self, fn: Job) -> None:
        """Queue ``fn(conn)`` without waiting for it; failures are logged.

        Raises:
            StoreClosedError: after :meth:`close`.
        """
        self._queue.put(Call(fn, None))

    def submit(self, fn: Callable[[sqlite3.Connection], T]) -> concurrent.futures.Future[T]:
        """Queue ``fn(conn)``; the future holds its result once committed.

        Raises:
            StoreClosedError: after :meth:`close`.
        """
        future: concurrent.futures.Future[T] = concurrent.futures.Future()
        self._queue.put(Call(fn, future))
        return future

    async def call(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn(conn)`` in the writer and wait for its commit.

        Returns:
            What ``fn`` returned.

        Raises:
            Whatever ``fn`` raised (its savepoint is rolled back, other jobs still commit);
            sqlite3.Error when the commit itself failed; StoreClosedError after close.
        """
        return await asyncio.wrap_future(self.submit(fn))

    def close(self) -> None:
        """Commit everything queued, stop the thread and close the connection (idempotent)."""
        try:
            self._queue.put(STOP, last=True)
        except StoreClosedError:
            return
        self._thread.join()
        self._conn.close()

    # -- the writer thread ---------------------------------------------------------------

    def request_rewind(self) -> None:
        """Ask for one checkpoint between two groups, so that the WAL can start over.

        Called by the `Checkpointer` when the WAL has grown past its limit: under a write load
        that never pauses, its own checkpoints never catch up with the newest frames, and
        SQLite only starts the WAL over once a checkpoint has copied every frame. Only the
        writer can make that happen (nothing writes while it checkpoints); most frames are
        copied already, so it costs the writer little more than the checkpoint's fsyncs.
        """
        self._rewind = True

    def _run(self) -> None:
        while True:
            batch = self._queue.take()
            try:
                self._commit_group(batch)
            except BaseException:  # never let the thread die: producers would block forever
                _log.exception("store writer: unexpected failure")
            if batch[-1] is STOP:
                return
            if self._rewind:
                self._rewind = False
                if checkpoint(self._conn, "PASSIVE") is not None:
                    self.rewinds += 1

    def _commit_group(self, batch: list[object]) -> None:
        conn = self._conn
        # What to execute, in queue order: runs of rows (parameter lists, consecutive
        # segments merged) and calls.
        steps: list[list[object] | Call] = []
        for job in batch:
            if isinstance(job, Rows):
                if not job.params:
                    continue
                last = steps[-1] if steps else None
                if isinstance(last, list):
                    last += job.params
                else:
                    steps.append(job.params)
            elif isinstance(job, Call):
                steps.append(job)
        # id(job) -> (result, exception) for every call that ran, None for a skipped one.
        outcomes: dict[int, tuple[object, BaseException | None] | None] = {}
        error: BaseException | None = None
        try:
            if len(steps) == 1 and isinstance(steps[0], list) and self._rows.fits(steps[0]):
                self._rows.insert(steps[0])  # autocommit: the statement is the transaction
                self.groups += 1
            elif steps:
                conn.execute("BEGIN IMMEDIATE")
                for step in steps:
                    if isinstance(step, list):
                        self._rows.insert(step)
                    else:
                        outcomes[id(step)] = self._run_call(step)
                conn.execute("COMMIT")
                self.groups += 1
        except sqlite3.Error as exc:
            error = exc
            _log.error("store writer: group of %d jobs not committed: %s", len(batch), exc)
            if conn.in_transaction:
                conn.execute("ROLLBACK")
        # Callbacks first: a flush() resolved in this group must find them already run, and
        # both travel through the same loop's call_soon_threadsafe queue, which is FIFO.
        self._report_appends(batch, error)
        for job in batch:
            if not isinstance(job, Call) or job.future is None:
                continue
            future = job.future
            if id(job) not in outcomes and not future.set_running_or_notify_cancel():
                continue  # never started, and cancelled meanwhile
            outcome = outcomes.get(id(job), (None, None))
            if outcome is None:
                continue  # skipped: cancelled before it started
            result, failure = outcome
            if error is not None or failure is not None:
                future.set_exception(error or failure)
            else:
                future.set_result(result)

    def _run_call(self, job: Call) -> tuple[object, BaseException | None] | None:
        """Run one call in a savepoint. Returns: (result, exception), or None when skipped."""
        future = job.future
        if future is not None and not future.set_running_or_notify_cancel():
            return None  # the caller gave up before the job started: skip it
        conn = self._conn
        conn.execute("SAVEPOINT job")
        result: object = None
        failure: BaseException | None = None
        try:
            result = job.fn(conn)
        except Exception as exc:
            conn.execute("ROLLBACK TO job")
            failure = exc
            if future is None:
                _log.exception("store writer: queued write failed")
        conn.execute("RELEASE job")
        return result, failure

    @staticmethod
    def _report_appends(batch: list[object], error: BaseException | None) -> None:
        # Even after a failed commit the callbacks run, with `commit_error` telling them the
        # rows were not stored: the server then withholds those messages and says so.
        posts: list[tuple[asyncio.AbstractEventLoop | None, list[OnCommit]]] = []
        for job in batch:
            if isinstance(job, Rows) and job.thens:
                if posts and posts[-1][0] is job.loop:
                    posts[-1][1].extend(job.thens)
                else:
                    posts.append((job.loop, job.thens))
        for loop, callbacks in posts:
            if loop is None:
                _run_callbacks(callbacks, error)
                continue
            try:
                loop.call_soon_threadsafe(_run_callbacks, callbacks, error)
            except RuntimeError:
                _log.warning("store writer: event loop closed, %d callbacks lost", len(callbacks))
