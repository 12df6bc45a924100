"""server/app.py: the parts not covered end to end (the e2e suite runs the rest)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from chinwag.server import load_config
from chinwag.server.app import GC_THRESHOLDS, Server, tune_gc


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
