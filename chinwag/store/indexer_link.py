"""The server's side of the indexer: how far it got, waiting for it, and keeping it running.

`IndexerProcess` (``chinwag serve``) starts ``python -m chinwag.store.indexer`` as a child
process, reads its progress lines in a small supervisor thread, and restarts it (after
`RESTART_DELAY`) when it dies; `IndexerThread` runs the same passes in a thread of this
process (tests, command-line tools). Both tell waiting readers when the offset they wait for is
indexed (`IndexerLink.wait_for`), and wake the indexer when somebody waits, so a reader never
waits for a whole `INDEX_INTERVAL`.

Progress comes from another thread, futures live on the event loop: the thread resolves them
with ``call_soon_threadsafe``, once per pass, and only when somebody waits.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from chinwag.store.indexer import INDEX_INTERVAL, Indexer, lock_journal, prepare_writer
from chinwag.store.sqlite_connection import WAL_LIMIT, connect

__all__ = ["RESTART_DELAY", "STOP_GRACE", "IndexerLink", "IndexerProcess", "IndexerThread"]

_log = logging.getLogger("chinwag.store")

RESTART_DELAY = 1.0
"""Seconds before a dead indexer process is started again."""
STOP_GRACE = 0.5
"""Seconds a stopping server gives its indexer process to finish its pass and exit."""


class IndexerLink:
    """How far the indexer got, and waiting for it; `start`, `wake` and `close` are its kind's."""

    def __init__(self) -> None:
        self.indexed = 0
        """The journal offset up to which everything is in the database."""
        self._lock = threading.Lock()
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []

    def start(self) -> None:
        """Start indexing."""

    def wake(self) -> None:
        """Ask for a pass now (somebody waits)."""

    def close(self) -> None:
        """Index what is left and stop (idempotent)."""

    async def wait_for(self, offset: int) -> None:
        """Return once everything before journal offset ``offset`` is indexed."""
        if self.indexed >= offset:
            return
        future = asyncio.get_running_loop().create_future()
        with self._lock:
            self._waiters.append((offset, future))
        if self.indexed >= offset:  # it moved while we registered
            self.progressed(self.indexed)
        self.wake()
        await future

    def progressed(self, offset: int) -> None:
        """The indexer reached ``offset`` (from any thread): resolve whoever waited for it."""
        self.indexed = offset
        if not self._waiters:
            return
        with self._lock:
            ready = [future for wanted, future in self._waiters if wanted <= offset]
            self._waiters = [(w, f) for w, f in self._waiters if w > offset]
        for future in ready:
            # RuntimeError: that loop is closed, nobody waits any more.
            with contextlib.suppress(RuntimeError):
                future.get_loop().call_soon_threadsafe(_resolve, future)


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class IndexerThread(IndexerLink):
    """The indexer in a thread of this process.

    Args:
        db: the database file.
        journal_dir: the journal's directory.
        wal_limit: see `Indexer`.
        follow: index the journal; False when another process writes it (and so indexes it):
            then the thread only reports how far the database got.
    """

    def __init__(
        self, db: Path, journal_dir: Path, *, wal_limit: int = WAL_LIMIT, follow: bool = True
    ) -> None:
        super().__init__()
        self._follow = follow
        self._db = db
        self._wal_limit = wal_limit
        self._dir = journal_dir
        self._wakeup = threading.Event()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="chinwag-indexer", daemon=True)

    def start(self) -> None:
        """Start the thread."""
        self._thread.start()

    def wake(self) -> None:
        """Run a pass now."""
        self._wakeup.set()

    def _run(self) -> None:
        if not self._follow:
            self._report_indexed()
            return
        lock = lock_journal(self._dir)
        conn = connect(self._db)
        prepare_writer(conn, self._wal_limit)
        indexer = Indexer(conn, self._dir, wal_limit=self._wal_limit)
        try:
            self.progressed(indexer.offset)
            while True:
                self._wakeup.wait(INDEX_INTERVAL)
                self._wakeup.clear()
                stopping = self._stopping
                try:
                    self.progressed(indexer.run_once())
                except Exception:
                    _log.exception("indexer: pass failed")
                if stopping:
                    return
        finally:
            indexer.close()
            os.close(lock)

    def _report_indexed(self) -> None:
        conn = connect(self._db, readonly=True)
        try:
            row = conn.execute("SELECT indexed FROM journal_index WHERE id = 1").fetchone()
        finally:
            conn.close()
        self.progressed(int(row[0]) if row else 0)

    def close(self) -> None:
        """Index what is left, stop the thread."""
        if not self._thread.is_alive():
            return
        self._stopping = True
        self._wakeup.set()
        self._thread.join()


class IndexerProcess(IndexerLink):
    """The indexer as a supervised child process.

    Args:
        db: the database file.
        journal_dir: the journal's directory.
    """

    def __init__(self, db: Path, journal_dir: Path) -> None:
        super().__init__()
        self._args = [
            sys.executable,
            "-m",
            "chinwag.store.indexer_process",
            str(db),
            str(journal_dir),
        ]
        self._child: subprocess.Popen[bytes] | None = None
        self._stopping = False
        self._woken = False
        self.restarts = 0
        """How many times the child was started again after dying."""
        self._thread = threading.Thread(
            target=self._supervise, name="chinwag-indexer-supervisor", daemon=True
        )

    @property
    def pid(self) -> int | None:
        """The child's process id, while it runs."""
        child = self._child
        return None if child is None else child.pid

    def start(self) -> None:
        """Start the child and its supervisor thread."""
        self._spawn()
        self._thread.start()

    def _spawn(self) -> None:
        self._child = subprocess.Popen(
            self._args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, close_fds=True
        )

    def wake(self) -> None:
        """Write a line to the child's stdin (once until its next progress line)."""
        child = self._child
        if self._woken or child is None or child.stdin is None:
            return
        self._woken = True
        try:
            child.stdin.write(b"w\n")
            child.stdin.flush()
        except (BrokenPipeError, ValueError):  # it died: the supervisor restarts it
            pass

    def _supervise(self) -> None:
        while True:
            child = self._child
            assert child is not None and child.stdout is not None
            for line in child.stdout:
                kind, _, value = line.partition(b" ")
                if kind == b"I":
                    self._woken = False
                    self.progressed(int(value))
            code = child.wait()
            if self._stopping:
                return
            _log.error("indexer exited with %s; restarting it in %.0f s", code, RESTART_DELAY)
            time.sleep(RESTART_DELAY)
            if self._stopping:
                return
            self.restarts += 1
            self._woken = False
            try:
                self._spawn()
            except OSError as exc:
                _log.error("indexer: cannot start: %s", exc)
                return

    def close(self) -> None:
        """Ask the child to exit; end it if it has not within `STOP_GRACE`.

        Nothing is lost either way: what it did not index is in the journal, and the next
        start indexes it. So a stopping server never waits long for its indexer.
        """
        if self._stopping:
            return
        self._stopping = True
        child = self._child
        if child is None:
            return
        try:
            if child.stdin is not None:
                child.stdin.write(b"q\n")
                child.stdin.close()
        except (BrokenPipeError, ValueError):
            pass
        try:
            child.wait(STOP_GRACE)
        except subprocess.TimeoutExpired:
            child.terminate()  # SQLite rolls back a pass it cuts short; the offset with it
            child.wait()
        if self._thread.is_alive():
            self._thread.join()
