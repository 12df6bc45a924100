"""The pool of read connections: reads run beside the writer, in worker threads, off the event
loop (SQLite's WAL and PostgreSQL's MVCC both let a reader see the last committed state while
the writer works)."""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

from chinwag.store.database import C, Database
from chinwag.store.errors import StoreClosedError

__all__ = ["ReaderPool"]

T = TypeVar("T")


class ReaderPool(Generic[C]):
    """Up to ``size`` read connections, each used by one worker thread at a time.

    Each read job runs as `Database.read` says: in SQLite inside one read transaction, so a
    query of several statements sees one consistent snapshot. A connection the database finds
    lost after a job (a PostgreSQL restart) is closed, and another is opened when needed.
    """

    def __init__(self, db: Database[C], size: int = 4) -> None:
        """Create an empty pool; connections are opened on first use.

        Args:
            db: the database to read.
            size: how many connections at most.
        """
        self._db = db
        self._slots = threading.BoundedSemaphore(size)  # one per connection in use
        self._idle: queue.LifoQueue[C] = queue.LifoQueue()
        self._lock = threading.Lock()
        self._closed = False

    def _take(self) -> C:
        """An idle connection, else a new one (called holding a slot)."""
        with self._lock:
            if self._closed:
                raise StoreClosedError("the store is closed")
            try:
                return self._idle.get_nowait()
            except queue.Empty:
                pass
        return self._db.connect(readonly=True)

    def _give_back(self, conn: C) -> None:
        with self._lock:
            if not self._closed and not self._db.lost(conn):
                self._idle.put(conn)
                return
        conn.close()

    def run_sync(self, fn: Callable[[C], T]) -> T:
        """Run ``fn(conn)`` as one read on a pooled connection, in this thread.

        Raises:
            StoreClosedError: after :meth:`close`.
        """
        with self._slots:
            conn = self._take()
            try:
                return self._db.read(conn, fn)
            finally:
                self._give_back(conn)

    async def run(self, fn: Callable[[C], T]) -> T:
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
