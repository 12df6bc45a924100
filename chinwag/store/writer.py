"""The single SQLite writer thread, and the pool of reader connections.

See the theory of operation in ``sqlite.py``. In short: every write is a *job* put on one
bounded FIFO; the writer thread waits for the first job, takes everything queued (up to
``max_group``), and runs them all inside ONE transaction, then commits, then reports back:
``then`` callbacks of appended rows are posted to their event loop in append order (one
``call_soon_threadsafe`` per loop per group), then futures resolve. A third kind of thread,
the :class:`Checkpointer`, copies the WAL into the database file so that the fsyncs this
needs never stall a commit.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import logging
import queue
import sqlite3
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, TypeVar

from chinwag.store.base import OnCommit
from chinwag.store.errors import StoreClosedError

__all__ = ["Checkpointer", "ReaderPool", "Writer", "connect"]

T = TypeVar("T")
Job = Callable[[sqlite3.Connection], Any]
_log = logging.getLogger("chinwag.store")


def connect(path: Path, *, readonly: bool = False) -> sqlite3.Connection:
    """Open a connection with the pragmas every chinwag connection needs.

    Args:
        path: the database file.
        readonly: refuse writes on this connection (``PRAGMA query_only``).

    Returns:
        An autocommit-mode connection (we issue BEGIN/COMMIT ourselves), usable from any one
        thread at a time.
    """
    conn = sqlite3.connect(
        path, isolation_level=None, check_same_thread=False, timeout=10.0, cached_statements=256
    )
    conn.execute("PRAGMA busy_timeout = 10000")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("PRAGMA foreign_keys = ON")
    if readonly:
        conn.execute("PRAGMA query_only = ON")
    return conn


@dataclass(slots=True)
class _Append:
    """One row for ``insert_sql`` (None: just a callback); ``then`` runs after the commit."""

    row: Sequence[object] | None
    then: OnCommit | None
    loop: asyncio.AbstractEventLoop | None


@dataclass(slots=True)
class _Call:
    """A function run in the writer transaction, inside its own savepoint."""

    fn: Job
    future: concurrent.futures.Future[Any] | None


_STOP: Final = object()


def _run_callbacks(callbacks: list[OnCommit]) -> None:
    """Run commit callbacks in order; one failing must not starve the others."""
    for then in callbacks:
        try:
            then()
        except Exception:
            _log.exception("history commit callback failed")


class Writer:
    """One thread, one connection, group commits."""

    def __init__(
        self, conn: sqlite3.Connection, insert_sql: str, *, max_queue: int, max_group: int
    ) -> None:
        """Start the writer thread.

        Args:
            conn: the only connection that writes; owned by the writer from now on.
            insert_sql: the parameterised statement :meth:`append` rows are bound to.
            max_queue: how many jobs may wait; beyond that producers block (backpressure).
            max_group: how many jobs go in one transaction at most.
        """
        self._conn = conn
        self._insert_sql = insert_sql
        self._max_queue = max_queue
        self._max_group = max_group
        # A deque and an Event rather than queue.Queue: appending is one C call under the
        # GIL, and the Event is only set when the writer may be asleep (see _put and _take).
        self._jobs: collections.deque[object] = collections.deque()
        self._wakeup = threading.Event()
        self._space = threading.Condition()
        self._closed = False
        self.groups = 0
        """How many transactions were committed (to observe the grouping)."""
        self._thread = threading.Thread(target=self._run, name="chinwag-store-writer", daemon=True)
        self._thread.start()

    @property
    def pending(self) -> int:
        """Jobs waiting for the writer."""
        return len(self._jobs)

    def _put(self, job: object) -> None:
        if self._closed:
            raise StoreClosedError("the store is closed")
        if len(self._jobs) >= self._max_queue:
            # Only when the disk cannot keep up: a message that reached clients must be
            # stored, so slowing the producer down beats dropping it.
            with self._space:
                while len(self._jobs) >= self._max_queue and self._thread.is_alive():
                    self._space.wait(0.1)
        self._jobs.append(job)
        # The writer clears the event *before* it looks at the deque, so either it sees this
        # job or this check sees the event cleared and sets it: no wakeup is lost.
        if not self._wakeup.is_set():
            self._wakeup.set()

    def _take(self) -> list[object]:
        """Wait for jobs, then take up to ``max_group`` of them (writer thread)."""
        jobs = self._jobs
        while not jobs:
            self._wakeup.clear()
            if not jobs:
                self._wakeup.wait()
        batch = [jobs.popleft() for _ in range(min(len(jobs), self._max_group))]
        if len(jobs) + len(batch) >= self._max_queue:
            with self._space:
                self._space.notify_all()
        return batch

    def append(self, row: Sequence[object] | None, then: OnCommit | None) -> None:
        """Queue one row for the insert statement; ``then`` runs after its commit.

        With ``row`` None only ``then`` is queued: it runs once every earlier row is
        committed, in order with the callbacks of those rows.

        Raises:
            StoreClosedError: after :meth:`close`.
        """
        loop = None
        if then is not None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                loop = None  # no loop: ``then`` runs in the writer thread
        self._put(_Append(row, then, loop))

    def fire(self, fn: Job) -> None:
        """Queue ``fn(conn)`` without waiting for it; failures are logged.

        Raises:
            StoreClosedError: after :meth:`close`.
        """
        self._put(_Call(fn, None))

    def submit(self, fn: Callable[[sqlite3.Connection], T]) -> concurrent.futures.Future[T]:
        """Queue ``fn(conn)``; the future holds its result once committed.

        Raises:
            StoreClosedError: after :meth:`close`.
        """
        future: concurrent.futures.Future[T] = concurrent.futures.Future()
        self._put(_Call(fn, future))
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
        if self._closed:
            return
        self._put(_STOP)
        self._closed = True
        self._thread.join()
        self._conn.close()

    # -- the writer thread ---------------------------------------------------------------

    def _run(self) -> None:
        while True:
            batch = self._take()
            try:
                self._commit_group([job for job in batch if job is not _STOP])
            except BaseException:  # never let the thread die: producers would block forever
                _log.exception("store writer: unexpected failure")
            if any(job is _STOP for job in batch):
                return

    def _commit_group(self, batch: list[object]) -> None:
        if not batch:
            return
        conn = self._conn
        # id(job) -> (result, exception) for every call that ran, None for a skipped one.
        outcomes: dict[int, tuple[object, BaseException | None] | None] = {}
        rows: list[Sequence[object]] = []
        error: BaseException | None = None
        try:
            conn.execute("BEGIN IMMEDIATE")
            for job in batch:
                if isinstance(job, _Append):
                    if job.row is not None:
                        rows.append(job.row)
                    continue
                if rows:  # keep the order of appends relative to other jobs
                    conn.executemany(self._insert_sql, rows)
                    rows = []
                if isinstance(job, _Call):
                    outcomes[id(job)] = self._run_call(job)
            if rows:
                conn.executemany(self._insert_sql, rows)
            conn.execute("COMMIT")
            self.groups += 1
        except sqlite3.Error as exc:
            error = exc
            _log.error("store writer: group of %d jobs not committed: %s", len(batch), exc)
            if conn.in_transaction:
                conn.execute("ROLLBACK")
        # Callbacks first: a flush() resolved in this group must find them already run, and
        # both travel through the same loop's call_soon_threadsafe queue, which is FIFO.
        self._report_appends(batch)
        for job in batch:
            if not isinstance(job, _Call) or job.future is None:
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

    def _run_call(self, job: _Call) -> tuple[object, BaseException | None] | None:
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
    def _report_appends(batch: list[object]) -> None:
        # Even after a failed commit the callbacks run: the chat goes on (the failure was
        # logged); durability is lost only for what the disk refused.
        by_loop: dict[asyncio.AbstractEventLoop | None, list[OnCommit]] = {}
        for job in batch:
            if isinstance(job, _Append) and job.then is not None:
                by_loop.setdefault(job.loop, []).append(job.then)
        for loop, callbacks in by_loop.items():
            if loop is None:
                _run_callbacks(callbacks)
                continue
            try:
                loop.call_soon_threadsafe(_run_callbacks, callbacks)
            except RuntimeError:
                _log.warning("store writer: event loop closed, %d callbacks lost", len(callbacks))


class ReaderPool:
    """Up to ``size`` read-only connections, each used by one worker thread at a time.

    WAL lets readers run beside the writer; each read job runs inside one read transaction,
    so a multi-statement query sees one consistent snapshot.
    """

    def __init__(self, path: Path, size: int = 4) -> None:
        """Create an empty pool; connections are opened on first use.

        Args:
            path: the database file.
            size: how many connections at most.
        """
        self._path = path
        self._size = size
        self._idle: queue.LifoQueue[sqlite3.Connection] = queue.LifoQueue()
        self._opened = 0
        self._lock = threading.Lock()
        self._closed = False

    def _acquire(self) -> sqlite3.Connection:
        with self._lock:
            if self._closed:
                raise StoreClosedError("the store is closed")
            try:
                return self._idle.get_nowait()
            except queue.Empty:
                if self._opened < self._size:
                    self._opened += 1
                    return connect(self._path, readonly=True)
        return self._idle.get()

    def _release(self, conn: sqlite3.Connection) -> None:
        with self._lock:
            if not self._closed:
                self._idle.put(conn)
                return
        conn.close()

    def run_sync(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn(conn)`` in a read transaction on a pooled connection, in this thread.

        Raises:
            StoreClosedError: after :meth:`close`.
        """
        conn = self._acquire()
        try:
            conn.execute("BEGIN")
            try:
                return fn(conn)
            finally:
                conn.execute("COMMIT")
        finally:
            self._release(conn)

    async def run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """:meth:`run_sync` in a worker thread, off the event loop."""
        return await asyncio.to_thread(self.run_sync, fn)

    def close(self) -> None:
        """Close idle connections now and busy ones when they come back."""
        with self._lock:
            self._closed = True
            while True:
                try:
                    self._idle.get_nowait().close()
                except queue.Empty:
                    break


class Checkpointer:
    """Runs WAL checkpoints from its own thread and connection, off the commit path.

    SQLite's automatic checkpoint runs inside whichever COMMIT crosses the size threshold,
    and a checkpoint fsyncs twice: that commit, and every delivery waiting on it, would stall
    for milliseconds. The writer connection turns automatic checkpoints off and this thread
    runs a PASSIVE checkpoint (never blocks the writer or readers) every ``interval`` seconds.
    """

    def __init__(self, path: Path, interval: float = 1.0) -> None:
        """Start the checkpoint thread.

        Args:
            path: the database file.
            interval: seconds between checkpoints.
        """
        self._conn = connect(path)
        self._interval = interval
        self._stop = threading.Event()
        self.runs = 0
        """How many checkpoints ran."""
        self._thread = threading.Thread(
            target=self._run, name="chinwag-store-checkpoint", daemon=True
        )
        self._thread.start()

    def _checkpoint(self, mode: str) -> None:
        try:
            self._conn.execute(_CHECKPOINT_SQL[mode]).fetchall()
            self.runs += 1
        except sqlite3.Error as exc:
            _log.warning("store: WAL checkpoint failed: %s", exc)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self._checkpoint("PASSIVE")

    def close(self) -> None:
        """Stop the thread, fold the whole WAL into the database, close (idempotent)."""
        if self._stop.is_set():
            return
        self._stop.set()
        self._thread.join()
        self._checkpoint("TRUNCATE")
        self._conn.close()


_CHECKPOINT_SQL = {
    "PASSIVE": "PRAGMA wal_checkpoint(PASSIVE)",
    "TRUNCATE": "PRAGMA wal_checkpoint(TRUNCATE)",
}
