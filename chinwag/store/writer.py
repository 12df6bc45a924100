"""The single SQLite writer thread, and the pool of reader connections.

See the theory of operation in ``sqlite.py``. In short: every write is a *job* put on one
bounded FIFO; the writer thread waits for the first job, takes everything queued (up to
``max_group`` jobs), runs them all in ONE transaction, then commits, then reports back:
``then`` callbacks of appended rows are posted to their event loop in append order (one
``call_soon_threadsafe`` per loop per group), then futures resolve. A third kind of thread,
the :class:`Checkpointer`, copies the WAL into the database file so that the fsyncs this
needs never stall a commit.

Why appends are stored the way they are. The writer shares one core and the GIL with the
event loop, so its Python work and its GIL hand-offs cost the loop directly:

* ``sqlite3`` releases the GIL around every ``sqlite3_step`` and takes it back after, and
  taking it back from a busy event loop can wait for the switch interval (5 ms). So a group
  of rows is ONE statement, ``INSERT ... SELECT ... FROM (VALUES (...), (...), ...)``, run
  in autocommit mode when it is the whole group (one step, the commit included), instead of
  ``executemany`` (one step per row) between a BEGIN and a COMMIT.
* A statement for every group size would be compiled over and over (compiling costs more
  than running), so row counts are rounded up to a few bucket sizes (1, 2, 3, 4, 6, 8, 12,
  ...) and the rest of the statement is padded with rows of zeros, which the statement
  skips (``WHERE column1 IS NOT 0``). Each bucket is compiled once, then cached.
* A run of consecutive appends is one :class:`_Rows` segment: the loop extends its flat
  parameter list and its list of callbacks, and the writer hands both to SQLite and to the
  loop whole, with no Python loop per row and no object per row that lives until the commit
  (objects that survive long get promoted by the garbage collector and make every full
  collection slower).
* ``sqlite3`` binds int, float and str at C speed but sends every other value, None
  included, through its adaptation protocol (an attribute lookup that fails): the store
  writes 0 for "no value" and the statement turns it back into NULL.
"""

from __future__ import annotations

import asyncio
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

__all__ = ["Checkpointer", "ReaderPool", "Writer", "bucket_sizes", "commit_error", "connect"]

T = TypeVar("T")
Job = Callable[[sqlite3.Connection], Any]
_log = logging.getLogger("chinwag.store")
_get_ident = threading.get_ident

MAX_ROWS_PER_STATEMENT: Final = 1024
"""The largest bucket: bigger groups take several statements (and an explicit transaction)."""


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


def bucket_sizes(largest: int) -> list[int]:
    """The row counts insert statements are compiled for: 1, 2, 3, 4, 6, 8, 12, ... (each at
    most a third of padding), up to ``largest``.

    Args:
        largest: the most rows one statement may hold (at least 1).
    """
    sizes = {1}
    power = 2
    while power <= largest:
        sizes.add(power)
        if power + power // 2 <= largest:
            sizes.add(power + power // 2)
        power *= 2
    return sorted(sizes)


_CHECKPOINT_SQL = {
    "PASSIVE": "PRAGMA wal_checkpoint(PASSIVE)",
    "TRUNCATE": "PRAGMA wal_checkpoint(TRUNCATE)",
}


def checkpoint(conn: sqlite3.Connection, mode: str) -> int | None:
    """Run a WAL checkpoint (``PASSIVE`` or ``TRUNCATE``) on ``conn``.

    Returns:
        How many frames the WAL holds, or None when the checkpoint failed (logged).
    """
    try:
        # One row: (1 if it could not run, frames in the WAL, frames copied to the file).
        _busy, frames, _copied = conn.execute(_CHECKPOINT_SQL[mode]).fetchone()
    except sqlite3.Error as exc:
        _log.warning("store: WAL checkpoint failed: %s", exc)
        return None
    return int(frames)


class _Rows:
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
class _Call:
    """A function run in the writer transaction, inside its own savepoint."""

    fn: Job
    future: concurrent.futures.Future[Any] | None


_STOP: Final = object()


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
                parameter is the integer 0 (padding; see the module header).
            row_width: how many values each row given to :meth:`append` holds.
            max_queue: how many jobs may wait; beyond that producers block (backpressure).
            max_group: how many jobs go in one transaction at most.
        """
        self._conn = conn
        self._insert_sql = insert_sql
        self._width = row_width
        variables = conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
        sizes = bucket_sizes(max(1, min(MAX_ROWS_PER_STATEMENT, variables // row_width)))
        self._max_rows = sizes[-1]
        # _bucket[n]: the statement size that holds n rows with the least padding.
        self._bucket = [0] * (self._max_rows + 1)
        for low, high in zip([0, *sizes], sizes, strict=False):
            self._bucket[low + 1 : high + 1] = [high] * (high - low)
        self._padding: list[object] = [0] * (self._max_rows * row_width)
        self._statements: dict[int, str] = {}
        self._max_queue = max_queue
        self._max_group = max_group
        # Jobs waiting: _Rows segments (each many appends), _Call and _STOP; under _lock.
        self._lock = threading.Lock()
        self._queue: list[object] = []
        self._tail: _Rows | None = None  # the last segment of _queue, while it may grow
        self._pending = 0  # jobs in _queue (each append and each call counts one)
        # The writer sleeps on _bell (a lock it holds) after setting _idle; whoever wakes it
        # clears _idle and releases _bell (under _lock), so no wakeup is lost and there is
        # at most one release per sleep. Appends on an event loop wake it from a callback
        # at the end of the loop's turn (_ringing: one is scheduled), see _ring.
        self._idle = False
        self._ringing = False
        self._bell = threading.Lock()
        self._bell.acquire()
        self._space = threading.Condition()
        self._closed = False
        self._rewind = False  # set by the Checkpointer: run a checkpoint between two groups
        self.groups = 0
        """How many transactions were committed (to observe the grouping)."""
        self.rewinds = 0
        """How many checkpoints the writer ran itself to let the WAL start over."""
        self._thread = threading.Thread(target=self._run, name="chinwag-store-writer", daemon=True)
        self._thread.start()

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
        writer, once awake, needs the GIL between every SQLite call. On one core, each time
        it waits for a busy loop it can wait for the whole switch interval (5 ms), which
        then is the latency of every message in the group. Woken as the loop is about to
        poll, it finds the GIL free, and the group holds everything the turn appended.
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
            while self._pending >= self._max_queue and self._thread.is_alive():
                self._space.wait(0.1)

    def _put(self, job: object, *, last: bool = False) -> None:
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

    def _new_tail(self) -> _Rows:
        """Open a new segment at the end of the queue (called with ``_lock`` held)."""
        try:
            loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            loop = None  # no loop: the callbacks run in the writer thread
        tail = self._tail = _Rows(_get_ident(), loop)
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
        try:
            self._put(_STOP, last=True)
        except StoreClosedError:
            return
        self._thread.join()
        self._conn.close()

    # -- the writer thread ---------------------------------------------------------------

    def _take(self) -> list[object]:
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
            size = job.jobs if isinstance(job, _Rows) else 1
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
            batch = self._take()
            try:
                self._commit_group(batch)
            except BaseException:  # never let the thread die: producers would block forever
                _log.exception("store writer: unexpected failure")
            if batch[-1] is _STOP:
                return
            if self._rewind:
                self._rewind = False
                if checkpoint(self._conn, "PASSIVE") is not None:
                    self.rewinds += 1

    def _commit_group(self, batch: list[object]) -> None:
        conn = self._conn
        # What to execute, in queue order: runs of rows (parameter lists, consecutive
        # segments merged) and calls.
        steps: list[list[object] | _Call] = []
        for job in batch:
            if isinstance(job, _Rows):
                if not job.params:
                    continue
                last = steps[-1] if steps else None
                if isinstance(last, list):
                    last += job.params
                else:
                    steps.append(job.params)
            elif isinstance(job, _Call):
                steps.append(job)
        # id(job) -> (result, exception) for every call that ran, None for a skipped one.
        outcomes: dict[int, tuple[object, BaseException | None] | None] = {}
        error: BaseException | None = None
        try:
            if len(steps) == 1 and isinstance(steps[0], list) and self._fits(steps[0]):
                self._insert(steps[0])  # autocommit: the statement is the transaction
                self.groups += 1
            elif steps:
                conn.execute("BEGIN IMMEDIATE")
                for step in steps:
                    if isinstance(step, list):
                        self._insert(step)
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

    def _fits(self, params: list[object]) -> bool:
        """Whether ``params`` holds few enough rows for one statement."""
        return len(params) <= self._max_rows * self._width

    def _insert(self, params: list[object]) -> None:
        """Insert the rows in ``params`` (flattened), one padded statement per
        ``_max_rows`` rows."""
        width = self._width
        rows = len(params) // width
        done = 0
        while done < rows:
            count = min(rows - done, self._max_rows)
            size = self._bucket[count]
            chunk = params if count == rows else params[done * width : (done + count) * width]
            if size > count:
                chunk += self._padding[: (size - count) * width]
            sql = self._statements.get(size)
            if sql is None:
                sql = self._statements[size] = self._insert_sql(size)
            self._conn.execute(sql, chunk)
            done += count

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
    def _report_appends(batch: list[object], error: BaseException | None) -> None:
        # Even after a failed commit the callbacks run, with `commit_error` telling them the
        # rows were not stored: the server then withholds those messages and says so.
        posts: list[tuple[asyncio.AbstractEventLoop | None, list[OnCommit]]] = []
        for job in batch:
            if isinstance(job, _Rows) and job.thens:
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

    A passive checkpoint copies the frames committed before it started; the WAL starts over
    (from its first byte) only when one has copied them all. Under a write load that never
    pauses, that never happens and the WAL would grow without end, so past ``wal_limit``
    bytes this asks the writer to run one checkpoint itself (`Writer.request_rewind`).
    """

    def __init__(
        self,
        path: Path,
        interval: float = 1.0,
        *,
        wal_limit: int | None = None,
        on_large_wal: Callable[[], None] | None = None,
    ) -> None:
        """Start the checkpoint thread.

        Args:
            path: the database file.
            interval: seconds between checkpoints.
            wal_limit: the WAL size, in bytes, past which ``on_large_wal`` is called.
            on_large_wal: asks for a checkpoint that lets the WAL start over.
        """
        self._conn = connect(path)
        self._interval = interval
        page_size = int(self._conn.execute("PRAGMA page_size").fetchone()[0])
        # A WAL frame is a page and a 24-byte header; checkpoints report sizes in frames.
        self._frame_limit = None if wal_limit is None else max(1, wal_limit // (page_size + 24))
        self._on_large_wal = on_large_wal
        self._stop = threading.Event()
        self.runs = 0
        """How many checkpoints ran."""
        self._thread = threading.Thread(
            target=self._run, name="chinwag-store-checkpoint", daemon=True
        )
        self._thread.start()

    def _checkpoint(self, mode: str) -> None:
        frames = checkpoint(self._conn, mode)
        if frames is None:
            return
        self.runs += 1
        limit = self._frame_limit
        if limit is not None and frames > limit and self._on_large_wal is not None:
            self._on_large_wal()

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
