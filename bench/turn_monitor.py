"""Runs inside a chinwag server started by ``bench.turns`` (copied there as ``sitecustomize``):
how long the event loop stays busy at a stretch.

Once the server is ready, a callback runs every millisecond and records the main thread's
CPU time since the previous one. A loop that handles each event quickly records well under a
millisecond per tick; a turn that writes a line to 10,000 members records all of it in one tick.
CPU time, not wall time: a tick that waited because another process had the core does not count,
so the figures say what the server makes everybody wait, whatever else the machine runs.
At exit the ticks (monotonic time, CPU seconds) go to the file named by ``CHINWAG_TURNS_OUT``
as pairs of doubles.
"""

from __future__ import annotations

import array
import asyncio
import atexit
import os
import time

OUT_ENV = "CHINWAG_TURNS_OUT"
TICK = 0.001  # seconds between two ticks


def install(path: str) -> None:
    """Record the ticks of the server started in this process, and write them at exit."""
    from chinwag.server import app

    ticks = array.array("d")
    tune_gc = app.tune_gc

    def tune_gc_then_tick() -> None:
        # Called just before the server listens: start-up (and the full collection tune_gc
        # makes once, before anyone can connect) is not what the figures are about.
        tune_gc()
        loop = asyncio.get_running_loop()
        last = time.thread_time()

        def tick() -> None:
            nonlocal last
            now = time.thread_time()
            ticks.extend((time.monotonic(), now - last))
            last = now
            loop.call_later(TICK, tick)

        tick()

    def write() -> None:
        with open(path, "wb") as out:
            ticks.tofile(out)

    app.tune_gc = tune_gc_then_tick
    atexit.register(write)


if os.environ.get(OUT_ENV):
    install(os.environ[OUT_ENV])
