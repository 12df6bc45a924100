"""The bus when Redis falls silent (SIGSTOP, as a cut network looks): the bus says Redis cannot be
reached, and once it answers again the call that had no answer is neither lost nor doubled."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Sequence
from typing import TYPE_CHECKING

from chinwag.cluster.redis_bus import RedisBus

if TYPE_CHECKING:  # the fixtures' module (a pytest plugin: tests/conftest.py loads it)
    from services import RedisServer

WAIT = 10.0
TIMEOUT = 0.3
"""The bus's command timeout here: short, so that the test is quick."""


class Watcher:
    """What a bus hands back, and what it says about reaching Redis."""

    def __init__(self) -> None:
        self.events: list[str] = []
        self.reports: list[BaseException | None] = []
        self.changed = asyncio.Event()

    def on_events(self, events: Sequence[str]) -> None:
        self.events.extend(events)
        self.changed.set()

    def on_unreachable(self, error: BaseException | None) -> None:
        self.reports.append(error)
        self.changed.set()

    async def until(self, *, events: int = 0, reports: int = 0) -> None:
        """Wait until at least ``events`` events and ``reports`` reports came."""
        async with asyncio.timeout(WAIT):
            while len(self.events) < events or len(self.reports) < reports:
                self.changed.clear()
                await self.changed.wait()


def _ignore(*args: object) -> None:
    """Nothing to do."""


async def test_a_silent_redis_is_unreachable_and_the_unanswered_call_arrives_once(
    own_redis: RedisServer,
) -> None:
    """SIGSTOP of Redis: a call gets no answer within the timeout and the bus reports Redis
    unreachable; SIGCONT: Redis runs the call it had read, the bus's retry of it is skipped,
    and its event arrives once, before the next one; the bus reports Redis reachable again."""
    watcher = Watcher()
    bus = RedisBus(
        own_redis.url,
        "n1.test",
        on_events=watcher.on_events,
        on_split=_ignore,
        on_fenced=_ignore,
        on_unreachable=watcher.on_unreachable,
        lease=30.0,  # the pause must not cost the lease: that is another test's subject
        timeout=TIMEOUT,
    )
    await bus.start()
    try:
        bus.to(bus.node, "first")
        await watcher.until(events=1)
        os.kill(own_redis.process.pid, signal.SIGSTOP)
        try:
            bus.to(bus.node, "second")
            await watcher.until(reports=1)
        finally:
            os.kill(own_redis.process.pid, signal.SIGCONT)
        await bus.flush()
        bus.to(bus.node, "third")
        await watcher.until(events=3, reports=2)
        assert watcher.events == ["first", "second", "third"]
        assert isinstance(watcher.reports[0], Exception) and watcher.reports[1] is None
    finally:
        await bus.stop()
