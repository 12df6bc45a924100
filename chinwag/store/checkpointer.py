"""WAL checkpoints from their own thread, so that their fsyncs never stall a commit."""

from __future__ import annotations

import threading
from pathlib import Path

from chinwag.store.sqlite_connection import checkpoint, connect

__all__ = ["Checkpointer"]


class Checkpointer:
    """Runs WAL checkpoints from its own thread and connection, off the commit path.

    SQLite's automatic checkpoint runs inside whichever COMMIT crosses the size threshold,
    and a checkpoint fsyncs twice: that commit, and every delivery waiting on it, would stall
    for milliseconds. The writer connection turns automatic checkpoints off and this thread
    runs a PASSIVE checkpoint (never blocks the writer or readers) every ``interval`` seconds.

    A passive checkpoint copies the frames committed before it started; the WAL starts over
    (from its first byte) only when one has copied them all. Under a write load that never
    pauses, that never happens: the busy writer, the indexer, checkpoints between two of its
    passes itself (``indexer.py``).
    """

    def __init__(
        self,
        path: Path,
        interval: float = 1.0,
    ) -> None:
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
        if checkpoint(self._conn, mode) is not None:
            self.runs += 1

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
