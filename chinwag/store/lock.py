"""The running server's claim on its data directory: an advisory lock on ``server.lock``.

A server holds an exclusive ``flock`` on ``<data_dir>/server.lock`` (with its pid written in it)
from start to stop. The kernel drops the lock when the process ends, however it ends, so a
``kill -9`` leaves no stale claim. Shell commands that would contradict what a running server
holds in memory (``chinwag admin forget``: the server would keep the account logged in) try
the same lock and refuse while it is held.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path

__all__ = ["LOCK_FILENAME", "DataDirBusyError", "DataDirLock"]

LOCK_FILENAME = "server.lock"


class DataDirBusyError(RuntimeError):
    """Another process holds the data directory; ``pid`` is the one written in the lock file."""

    def __init__(self, directory: Path, pid: int | None) -> None:
        self.directory = directory
        self.pid = pid
        who = f"process {pid}" if pid else "another process"
        super().__init__(f"{directory} is in use by a running chinwag server ({who})")


class DataDirLock:
    """An exclusive claim on a data directory, held until `release`.

    Args:
        directory: the data directory (created if missing).

    Raises:
        DataDirBusyError: when another process (or another claim) holds it.
    """

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / LOCK_FILENAME
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = _read_pid(fd)
            os.close(fd)
            raise DataDirBusyError(directory, pid) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd: int | None = fd

    def release(self) -> None:
        """Give the directory up (idempotent)."""
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, 0)
            os.close(self._fd)  # closing the descriptor drops the flock
            self._fd = None


def _read_pid(fd: int) -> int | None:
    try:
        return int(os.pread(fd, 32, 0).decode().strip() or "0") or None
    except (OSError, ValueError):
        return None
