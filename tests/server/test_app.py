"""server/app.py: the parts not covered end to end (the e2e suite runs the rest)."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterator
from typing import Any, cast

import pytest

from chinwag.server import load_config
from chinwag.server.app import (
    GC_THRESHOLDS,
    LAZY_CROWD,
    LAZY_FLUSH,
    LAZY_FLUSH_CROWD,
    Server,
    tune_gc,
)
from chinwag.store import MemoryStore


@pytest.fixture
def restored_gc() -> Iterator[None]:
    """Put the collector back as it was: other tests run in this process."""
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


@pytest.mark.usefixtures("restored_gc")
def test_tune_gc_freezes_startup_objects_and_raises_the_thresholds() -> None:
    """After tune_gc, what existed is frozen (never walked again) and collections are rarer."""
    gc.unfreeze()
    tune_gc()
    assert gc.get_freeze_count() > 1000
    assert gc.get_threshold() == GC_THRESHOLDS
    assert GC_THRESHOLDS[0] > 700, "young collections rarer than Python's default"


async def test_start_runs_before_listening_before_any_listener_opens() -> None:
    """The start-up hook (chinwag serve's full collection) runs when the network is ready but
    nothing listens yet: no arrival can wait behind it."""
    overrides = {"server": {"port": 0, "data_dir": "none", "name": "test.chinwag"}}
    server = Server(load_config(None, environ={}, overrides=overrides))
    listening_then: list[int] = []
    await server.start(before_listening=lambda: listening_then.append(len(server.servers)))
    try:
        assert listening_then == [0]
        assert server.servers and server.port > 0
    finally:
        await server.stop()


class _Waiting:
    """A connection with output that may wait: counts the lazy flushes that ask for it."""

    def __init__(self, flushed: list[float]) -> None:
        self.flushed = flushed

    def due_lazily(self) -> bool:
        self.flushed.append(asyncio.get_running_loop().time())
        return False  # (nothing left to write: no outbox involved)


async def _window(connections: int) -> tuple[float, float, list[float]]:
    """When a lazy window of ``connections`` opened, when its flush was due, and when each
    connection was flushed."""
    config = load_config(None, environ={}, overrides={"server": {"data_dir": "none"}})
    server = Server(config, store=MemoryStore())
    flushed: list[float] = []
    loop = asyncio.get_running_loop()
    opened = loop.time()
    for _ in range(connections):
        server.mark_lazy(cast(Any, _Waiting(flushed)))
    handle = server._lazy_handle
    assert handle is not None
    while len(flushed) < connections:
        await asyncio.sleep(handle.when() - loop.time())
    return opened, handle.when(), flushed


async def test_a_few_connections_waiting_lazily_are_written_after_lazy_flush() -> None:
    """Others' JOINs waiting for a few members go LAZY_FLUSH after the first."""
    opened, due, flushed = await _window(LAZY_CROWD - 1)
    assert opened + LAZY_FLUSH <= due < opened + LAZY_FLUSH_CROWD
    assert min(flushed) >= due


async def test_a_crowded_lazy_window_is_written_after_lazy_flush_crowd() -> None:
    """A window that LAZY_CROWD connections wait in (a big room's arrivals) lasts
    LAZY_FLUSH_CROWD: one write per member for more arrivals."""
    opened, due, flushed = await _window(LAZY_CROWD)
    assert due >= opened + LAZY_FLUSH_CROWD
    assert min(flushed) >= due
