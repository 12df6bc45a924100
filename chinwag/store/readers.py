"""The pool of read-only SQLite connections: reads run beside the writer, off the event loop."""

from __future__ import annotations

import asyncio
import queue
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from chinwag.store.errors import StoreClosedError
from chinwag.store.sqlite_connection import connect

__all__ = ["ReaderPool"]

T = TypeVar("T")


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
