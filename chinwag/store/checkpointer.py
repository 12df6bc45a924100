"""WAL checkpoints from their own thread, so that their fsyncs never stall a commit."""

from __future__ import annotations

import threading
from collections.abc import Callable
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
