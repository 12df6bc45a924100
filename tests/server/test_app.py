"""server/app.py: the parts not covered end to end (the e2e suite runs the rest)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from chinwag.server.app import GC_THRESHOLDS, tune_gc


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
