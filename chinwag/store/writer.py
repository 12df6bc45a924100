"""The store's single writer thread: group commits of what the `WriteQueue` holds, in SQLite or
PostgreSQL alike (what differs is a `Database`, ``database.py``).

Every write is a *job* put on one bounded FIFO (``write_queue.py``); the writer thread waits for
the first job, takes everything queued (up to ``max_group`` jobs), runs them all in ONE
transaction, then commits, then reports back: ``then`` callbacks of appended rows are posted to
their event loop in append order (one ``call_soon_threadsafe`` per loop per group), then futures
resolve. Each call runs in a SAVEPOINT, so one that fails is rolled back alone and never costs
the others their commit. When the queue is full, producers block: that only happens when the
database cannot keep up. A no-op call is a flush: the queue is FIFO and there is one writer, so
it completes only after everything queued before it is committed.

Rows. A writer made with ``insert_rows`` also takes history rows (`Writer.append`): the
PostgreSQL store's history, one statement per group. The SQLite store writes history to the
journal (``journal_history.py``) and its index is fed by the indexer, so its writer takes none.

A failed group (the disk is full, the PostgreSQL server went away) is rolled back and logged;
its futures get the error and its callbacks still run, `commit_error` telling them why. When
the connection itself is lost the next group opens a new one.

Why the writer is woken the way it is: it shares one core and the GIL with the event loop, so
it is woken at the end of the loop's turn, not at the first append (`WriteQueue._ring`).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

from chinwag.store.base import OnCommit
from chinwag.store.database import C, Database
from chinwag.store.errors import StoreClosedError
from chinwag.store.write_queue import STOP, Call, Rows, WriteQueue

__all__ = ["InsertRows", "Writer", "commit_error"]

T = TypeVar("T")
_log = logging.getLogger("chinwag.store")

InsertRows = Callable[[C, list[object]], None]
"""Inserts a flat parameter list of rows (``row_width`` values each), in order."""

_outcome = threading.local()
"""``_outcome.error``: while commit callbacks run in this thread, the error of their commit
(None when it succeeded). See `commit_error`."""


def commit_error() -> BaseException | None:
    """Inside a commit callback: why its rows were NOT stored, or None when they were."""
    return getattr(_outcome, "error", None)


def _groups(batch: list[object]) -> list[list[object]]:
    """The transactions of a batch: one, unless a call must start its own (``alone``)."""
    groups: list[list[object]] = [[]]
    for job in batch:
        if isinstance(job, Call) and job.alone and groups[-1]:
            groups.append([])
        groups[-1].append(job)
    return groups


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


class Writer(Generic[C]):
    """One thread, one connection, group commits."""

    def __init__(
        self,
        db: Database[C],
        conn: C,
        *,
        max_queue: int,
        max_group: int,
        insert_rows: InsertRows[C] | None = None,
        row_width: int = 0,
    ) -> None:
        """Start the writer thread.

        Args:
            db: the database ``conn`` belongs to (new connections come from it).
            conn: the connection that writes; owned by the writer from now on.
            max_queue: how many jobs may wait; beyond that producers block (backpressure).
            max_group: how many jobs go in one transaction at most.
            insert_rows: inserts one group's rows; None for a writer that takes no rows.
            row_width: how many values each row given to :meth:`append` holds.
        """
        self._db = db
        self._conn: C | None = conn
        self._insert_rows = insert_rows
        self._thread = threading.Thread(target=self._run, name="chinwag-store-writer", daemon=True)
        self._queue = WriteQueue(
            row_width,
            max_queue=max_queue,
            max_group=max_group,
            consumer_alive=self._thread.is_alive,
        )
        self.groups = 0
        """How many transactions were committed (to observe the grouping)."""
        self._thread.start()

    @property
    def pending(self) -> int:
        """Jobs waiting for the writer."""
        return self._queue.pending

    def append(self, row: Sequence[object] | None, then: OnCommit | None) -> None:
        """Queue one row for ``insert_rows``; ``then`` runs after its commit.

        With ``row`` None only ``then`` is queued: it runs once every earlier row is
        committed, in order with the callbacks of those rows.

        Args:
            row: ``row_width`` values.
            then: called once the row is committed: on the event loop that was running in
                the appending thread, or in the writer thread when there was none.

        Raises:
            StoreClosedError: after :meth:`close`.
            ValueError: when ``row`` does not hold ``row_width`` values, or this writer
                takes no rows.
        """
        if row is not None and self._insert_rows is None:
            raise ValueError("this writer takes no rows")
        self._queue.append(row, then)

    def fire(self, fn: Callable[[C], object]) -> None:
        """Queue ``fn(conn)`` without waiting for it; failures are logged.

        Raises:
            StoreClosedError: after :meth:`close`.
        """
        self._queue.put(Call(fn, None))

    def submit(self, fn: Callable[[C], T], *, alone: bool = False) -> concurrent.futures.Future[T]:
        """Queue ``fn(conn)``; the future holds its result once committed.

        Args:
            fn: the job.
            alone: start a new transaction for it: what was queued before it is committed
                first, so that its locks are not taken while holding theirs (an exclusive
                lock after a shared one of the same kind, on two nodes at once, deadlocks).

        Raises:
            StoreClosedError: after :meth:`close`.
        """
        future: concurrent.futures.Future[T] = concurrent.futures.Future()
        self._queue.put(Call(fn, future, alone))
        return future

    async def call(self, fn: Callable[[C], T], *, alone: bool = False) -> T:
        """Run ``fn(conn)`` in the writer and wait for its commit (``alone``: see `submit`).

        Returns:
            What ``fn`` returned.

        Raises:
            Whatever ``fn`` raised (its savepoint is rolled back, other jobs still commit);
            the driver's error when the commit itself failed; StoreClosedError after close.
        """
        return await asyncio.wrap_future(self.submit(fn, alone=alone))

    def close(self) -> None:
        """Commit everything queued, stop the thread and close the connection (idempotent)."""
        try:
            self._queue.put(STOP, last=True)
        except StoreClosedError:
            return
        self._thread.join()
        if self._conn is not None:
            self._conn.close()

    # -- the writer thread ---------------------------------------------------------------

    def _run(self) -> None:
        while True:
            batch = self._queue.take()
            for group in _groups(batch):
                try:
                    self._commit_group(group)
                except BaseException:  # never let the thread die: producers would block forever
                    _log.exception("store writer: unexpected failure")
            if batch[-1] is STOP:
                return

    def _connection(self) -> C:
        """The writing connection, a new one when the last was lost."""
        if self._conn is None:
            self._conn = self._db.connect()
        return self._conn

    def _commit_group(self, batch: list[object]) -> None:
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
        if steps:
            try:
                conn = self._connection()
                conn.execute(self._db.begin)
                for step in steps:
                    if isinstance(step, list):
                        assert self._insert_rows is not None  # `append` refuses rows without
                        self._insert_rows(conn, step)
                    else:
                        outcomes[id(step)] = self._run_call(conn, step)
                conn.execute("COMMIT")
                self.groups += 1
            except self._db.error as exc:
                error = exc
                _log.error("store writer: group of %d jobs not committed: %s", len(batch), exc)
                self._roll_back()
        # Callbacks first: a flush() resolved in this group must find them already run, and
        # both travel through the same loop's call_soon_threadsafe queue, which is FIFO.
        _report_appends(batch, error)
        for job in batch:
            if not isinstance(job, Call) or job.future is None:
                continue
            future = job.future
            if (
                id(job) not in outcomes
                and not future.running()  # (started, and the group failed under it)
                and not future.set_running_or_notify_cancel()
            ):
                continue  # never started, and cancelled meanwhile
            outcome = outcomes.get(id(job), (None, None))
            if outcome is None:
                continue  # skipped: cancelled before it started
            result, failure = outcome
            if error is not None or failure is not None:
                future.set_exception(error or failure)
            else:
                future.set_result(result)

    def _roll_back(self) -> None:
        """After a failed group: end its transaction, or drop a lost connection."""
        conn, db = self._conn, self._db
        if conn is None:
            return
        if not db.lost(conn) and db.in_transaction(conn):
            try:
                conn.execute("ROLLBACK")
            except db.error as exc:
                _log.error("store writer: rollback failed: %s", exc)
        if db.lost(conn):
            conn.close()
            self._conn = None  # reconnect for the next group

    def _run_call(self, conn: C, job: Call) -> tuple[object, BaseException | None] | None:
        """Run one call in a savepoint. Returns: (result, exception), or None when skipped.

        Raises:
            The database's error when the savepoint itself fails, or a `Database.fatal` one
            from the call (the connection is gone): the whole group fails.
        """
        future = job.future
        if future is not None and not future.set_running_or_notify_cancel():
            return None  # the caller gave up before the job started: skip it
        conn.execute("SAVEPOINT job")
        result: object = None
        failure: BaseException | None = None
        try:
            result = job.fn(conn)
        except self._db.fatal:
            raise
        except Exception as exc:
            conn.execute("ROLLBACK TO job")
            failure = exc
            if future is None:
                _log.exception("store writer: queued write failed")
        conn.execute("RELEASE job")
        return result, failure


def _report_appends(batch: list[object], error: BaseException | None) -> None:
    """Post each segment's commit callbacks to its loop, in append order.

    Even after a failed commit the callbacks run, with `commit_error` telling them the rows
    were not stored: the server then withholds those messages and says so.
    """
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
