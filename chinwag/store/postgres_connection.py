"""PostgreSQL connections for the store: one writer thread with group commits, and readers.

The event loop never waits for PostgreSQL. Writes are jobs on the same `WriteQueue` the SQLite
writer consumes (appends of history rows and calls), taken by ONE thread that owns the writing
connection and commits each group in one transaction: a group's history rows are one
``INSERT ... SELECT FROM unnest(...)`` statement, whatever their number, so the cost of a round
trip and a commit is shared by every message that arrived meanwhile (see ``sqlite.py`` for the
theory, which is the same). Calls run in a savepoint each, so one failing job never costs the
others their commit. Commit callbacks are posted to their event loop in append order, before any
future of the group resolves.

Reads run in worker threads (``asyncio.to_thread``) on a small pool of autocommit connections:
PostgreSQL's MVCC lets them see the last committed state while the writer works.

A lost connection (PostgreSQL restarted, network cut) fails the group it was writing: the
error is logged, its futures get it, its callbacks still run (the chat goes on, as in SQLite),
and the next group reconnects.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import queue
import threading
from collections.abc import Callable, Sequence
from typing import Any, TypeVar, cast

import psycopg

from chinwag.store.base import OnCommit
from chinwag.store.errors import StoreClosedError
from chinwag.store.write_queue import STOP, Call, Job, Rows, WriteQueue
from chinwag.store.writer import _run_callbacks  # the same `commit_error` for both writers

__all__ = ["PgReaders", "PgWriter", "connect"]

T = TypeVar("T")
_log = logging.getLogger("chinwag.store")

Conn = psycopg.Connection[tuple[Any, ...]]
InsertRows = Callable[[Conn, list[object]], None]
"""Inserts a flat parameter list of history rows (``row_width`` values each), in order."""


def connect(url: str) -> Conn:
    """An autocommit connection to ``url`` (transactions are explicit: ``conn.transaction()``).

    Raises:
        psycopg.OperationalError: when the server cannot be reached or refuses us.
    """
    return psycopg.connect(url, autocommit=True)


class PgWriter:
    """One thread, one connection, group commits (the PostgreSQL twin of ``writer.Writer``)."""

    def __init__(
        self,
        url: str,
        insert_rows: InsertRows,
        row_width: int,
        *,
        max_queue: int,
        max_group: int,
    ) -> None:
        """Connect and start the writer thread.

        Args:
            url: the libpq URL of the database.
            insert_rows: inserts one group's history rows (a flat parameter list).
            row_width: how many values each row given to :meth:`append` holds.
            max_queue: how many jobs may wait; beyond that producers block (backpressure).
            max_group: how many jobs go in one transaction at most.

        Raises:
            psycopg.OperationalError: when the database cannot be reached.
        """
        self._url = url
        self._conn: Conn | None = connect(url)
        self._insert_rows = insert_rows
        self._thread = threading.Thread(target=self._run, name="chinwag-pg-writer", daemon=True)
        self._queue = WriteQueue(
            row_width, max_queue=max_queue, max_group=max_group, consumer_alive=self._alive
        )
        self.groups = 0
        """How many transactions were committed (to observe the grouping)."""
        self._thread.start()

    def _alive(self) -> bool:
        return self._thread.is_alive()

    @property
    def pending(self) -> int:
        """Jobs waiting for the writer."""
        return self._queue.pending

    def append(self, row: Sequence[object] | None, then: OnCommit | None) -> None:
        """Queue one history row (or, with ``row`` None, only ``then``); see ``Writer.append``.

        Raises:
            StoreClosedError: after :meth:`close`.
        """
        self._queue.append(row, then)

    def fire(self, fn: Callable[[Conn], object]) -> None:
        """Queue ``fn(conn)`` without waiting for it; failures are logged."""
        self._queue.put(Call(cast(Job, fn), None))

    def submit(self, fn: Callable[[Conn], T]) -> concurrent.futures.Future[T]:
        """Queue ``fn(conn)``; the future holds its result once committed."""
        future: concurrent.futures.Future[T] = concurrent.futures.Future()
        self._queue.put(Call(cast(Job, fn), future))
        return future

    async def call(self, fn: Callable[[Conn], T]) -> T:
        """Run ``fn(conn)`` in the writer and wait for its commit.

        Raises:
            Whatever ``fn`` raised (its savepoint is rolled back, other jobs still commit);
            psycopg.Error when the commit itself failed; StoreClosedError after close.
        """
        return await asyncio.wrap_future(self.submit(fn))

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
            try:
                self._commit_group(batch)
            except BaseException:  # never let the thread die: producers would block forever
                _log.exception("postgres writer: unexpected failure")
            if batch[-1] is STOP:
                return

    def _connection(self) -> Conn:
        if self._conn is None or self._conn.closed:
            self._conn = connect(self._url)
        return self._conn

    def _commit_group(self, batch: list[object]) -> None:
        steps: list[list[object] | Call] = []
        for job in batch:
            if isinstance(job, Rows):
                if not job.params:
                    continue
                last = steps[-1] if steps else None
                if isinstance(last, list):
                    last += job.params
                else:
                    steps.append(list(job.params))
            elif isinstance(job, Call):
                steps.append(job)
        outcomes: dict[int, tuple[object, BaseException | None] | None] = {}
        error: BaseException | None = None
        if steps:
            try:
                conn = self._connection()
                with conn.transaction():
                    for step in steps:
                        if isinstance(step, list):
                            self._insert_rows(conn, step)
                        else:
                            outcomes[id(step)] = self._run_call(conn, step)
                self.groups += 1
            except psycopg.Error as exc:
                error = exc
                _log.error("postgres writer: group of %d jobs not committed: %s", len(batch), exc)
                if self._conn is not None and self._conn.broken:
                    self._conn = None  # reconnect for the next group
        _report_appends(batch, error)
        for job in batch:
            if not isinstance(job, Call) or job.future is None:
                continue
            future = job.future
            if id(job) not in outcomes and not future.set_running_or_notify_cancel():
                continue
            outcome = outcomes.get(id(job), (None, None))
            if outcome is None:
                continue
            result, failure = outcome
            if error is not None or failure is not None:
                future.set_exception(error or failure)
            else:
                future.set_result(result)

    @staticmethod
    def _run_call(conn: Conn, job: Call) -> tuple[object, BaseException | None] | None:
        """Run one call in a savepoint. Returns: (result, exception), or None when skipped."""
        future = job.future
        if future is not None and not future.set_running_or_notify_cancel():
            return None
        try:
            with conn.transaction():  # nested: a savepoint
                return job.fn(cast(Any, conn)), None
        except psycopg.OperationalError:
            raise  # the connection is gone: the whole group fails
        except Exception as exc:
            if future is None:
                _log.exception("postgres writer: queued write failed")
            return None, exc


def _report_appends(batch: list[object], error: BaseException | None) -> None:
    """Post each segment's commit callbacks to its loop, in append order, with the group's
    error when it was not committed (``writer.commit_error`` tells them)."""
    posts: list[tuple[asyncio.AbstractEventLoop | None, list[OnCommit]]] = []
    for job in batch:
        if isinstance(job, Rows) and job.thens:
            if posts and posts[-1][0] is job.loop:
                posts[-1][1].extend(job.thens)
            else:
                posts.append((job.loop, list(job.thens)))
    for loop, callbacks in posts:
        if loop is None:
            _run_callbacks(callbacks, error)
            continue
        try:
            loop.call_soon_threadsafe(_run_callbacks, callbacks, error)
        except RuntimeError:
            _log.warning("postgres writer: event loop closed, %d callbacks lost", len(callbacks))


class PgReaders:
    """Up to ``size`` autocommit connections for queries, each used by one thread at a time."""

    def __init__(self, url: str, size: int = 4) -> None:
        """Open no connection yet: they are made on first use, up to ``size``."""
        self._url = url
        self._idle: queue.SimpleQueue[Conn] = queue.SimpleQueue()
        self._slots = threading.BoundedSemaphore(size)
        self._all: list[Conn] = []
        self._lock = threading.Lock()
        self._closed = False

    def run_sync(self, fn: Callable[[Conn], T]) -> T:
        """Run ``fn(conn)`` on a reader connection, in this thread.

        Raises:
            StoreClosedError: after :meth:`close`.
        """
        if self._closed:
            raise StoreClosedError("the store is closed")
        with self._slots:
            try:
                conn = self._idle.get_nowait()
            except queue.Empty:
                conn = connect(self._url)
                with self._lock:
                    self._all.append(conn)
            try:
                return fn(conn)
            finally:
                if conn.broken:
                    with self._lock:
                        self._all.remove(conn)
                else:
                    self._idle.put(conn)

    async def run(self, fn: Callable[[Conn], T]) -> T:
        """Run ``fn(conn)`` on a reader connection in a worker thread."""
        return await asyncio.to_thread(self.run_sync, fn)

    def close(self) -> None:
        """Close every connection (idempotent)."""
        self._closed = True
        with self._lock:
            for conn in self._all:
                conn.close()
            self._all.clear()
