"""A throwaway redis-server for one benchmark run, configured as the cluster runs it."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

__all__ = ["BenchRedis", "throwaway_redis"]

SOCKET_POLL_S = 0.01
"""How often to look for the socket while redis-server starts (it has no ready signal to await)."""


@dataclass(frozen=True)
class BenchRedis:
    """A running throwaway Redis: its URL and its process id (for reading its CPU)."""

    url: str
    pid: int


@contextmanager
def throwaway_redis() -> Iterator[BenchRedis]:
    """Run redis-server in a temporary directory for the ``with`` block, then stop and remove it.

    It listens on a unix socket only, with the AOF on and ``appendfsync always`` (as the cluster
    runs it), so that the figures include Redis's real cost of durability.
    """
    directory = Path(tempfile.mkdtemp(prefix="chinwag-bench-redis-"))
    sock = directory / "redis.sock"
    redis = subprocess.Popen(
        ["redis-server", "--port", "0", "--unixsocket", str(sock), "--dir", str(directory),
         "--appendonly", "yes", "--appendfsync", "always", "--save", ""],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        while not sock.exists():
            time.sleep(SOCKET_POLL_S)
        yield BenchRedis(f"unix://{sock}", redis.pid)
    finally:
        redis.terminate()
        redis.wait()
        shutil.rmtree(directory, ignore_errors=True)
