"""The bus when Redis falls silent (SIGSTOP, as a cut network looks): the bus says Redis cannot be
reached, and once it answers again the call that had no answer is neither lost nor doubled; and
when only a call's answer comes late while Redis goes on writing, the bus says nothing. When
Redis refuses a call (out of memory: for a while; a key of the wrong type: for good) the bus
says so too, and the call goes again or is handed back."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import redis
from redis.exceptions import OutOfMemoryError, ResponseError

from chinwag.cluster.redis_bus import RedisBus

if TYPE_CHECKING:  # the fixtures' module (a pytest plugin: tests/conftest.py loads it)
    from services import RedisServer

WAIT = 10.0
TIMEOUT = 0.3
"""The bus's command timeout here: short, so that the test is quick."""
LATE = 1.0
"""Seconds the relay holds back the answer it delays: past `TIMEOUT`."""


class Watcher:
    """What a bus hands back, and what it says about reaching Redis."""

    def __init__(self) -> None:
        self.events: list[str] = []
        self.reports: list[BaseException | None] = []
        self.refused: list[str] = []
        self.changed = asyncio.Event()

    def on_events(self, events: Sequence[bytes]) -> None:
        self.events.extend(event.decode().removesuffix("\n") for event in events)
        self.changed.set()

    def on_unreachable(self, error: BaseException | None) -> None:
        self.reports.append(error)
        self.changed.set()

    def on_refused(self, events: list[bytes]) -> None:
        self.refused.extend(event.decode().removesuffix("\n") for event in events)
        self.changed.set()

    async def until(self, *, events: int = 0, reports: int = 0, refused: int = 0) -> None:
        """Wait until at least ``events`` events, ``reports`` reports and ``refused`` refused
        events came."""
        async with asyncio.timeout(WAIT):
            while (
                len(self.events) < events
                or len(self.reports) < reports
                or len(self.refused) < refused
            ):
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
        bus.to(bus.node, b"first\n")
        await watcher.until(events=1)
        os.kill(own_redis.process.pid, signal.SIGSTOP)
        try:
            bus.to(bus.node, b"second\n")
            await watcher.until(reports=1)
        finally:
            os.kill(own_redis.process.pid, signal.SIGCONT)
        await bus.flush()
        bus.to(bus.node, b"third\n")
        await watcher.until(events=3, reports=2)
        assert watcher.events == ["first", "second", "third"]
        assert isinstance(watcher.reports[0], Exception) and watcher.reports[1] is None
    finally:
        await bus.stop()


class LateAnswerRelay:
    """A unix-socket relay to Redis that, once asked (`delay_next_script`), holds back the
    answer to the next script call by `LATE` seconds; everything else passes at once."""

    def __init__(self, redis_path: Path, path: Path) -> None:
        self.redis_path = redis_path
        self.path = path
        self._delaying = False
        self._pipes: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> LateAnswerRelay:
        self._server = await asyncio.start_unix_server(self._relay, str(self.path))
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._server.close()
        for pipe in self._pipes:
            pipe.cancel()
        await asyncio.gather(*self._pipes, return_exceptions=True)

    @property
    def url(self) -> str:
        """What the bus takes."""
        return f"unix://{self.path}"

    def delay_next_script(self) -> None:
        """Hold back the answer to the next script call (EVALSHA) that comes through."""
        self._delaying = True

    async def _relay(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        redis_r, redis_w = await asyncio.open_unix_connection(str(self.redis_path))
        late = asyncio.Event()  # set while this connection's next answer must come late

        async def up() -> None:
            while data := await client_r.read(65536):
                if self._delaying and b"EVALSHA" in data:
                    self._delaying = False
                    late.set()
                redis_w.write(data)
            redis_w.close()

        async def down() -> None:
            while data := await redis_r.read(65536):
                if late.is_set():
                    late.clear()
                    await asyncio.sleep(LATE)
                client_w.write(data)
            client_w.close()

        for pipe in (up(), down()):
            task = asyncio.create_task(pipe)
            self._pipes.add(task)
            task.add_done_callback(self._pipes.discard)


async def test_a_late_answer_while_the_inbox_gets_entries_is_not_an_outage(
    own_redis: RedisServer, tmp_path: Path
) -> None:
    """Redis applies a call and its events come back, but the call's answer comes after the
    timeout: Redis was reachable all along, so the bus reports nothing (no message refused)
    and sends the call again, which is skipped: every event arrives once, in order."""
    watcher = Watcher()
    async with LateAnswerRelay(own_redis.socket_path, tmp_path / "relay.sock") as relay:
        bus = RedisBus(
            relay.url,
            "n1.test",
            on_events=watcher.on_events,
            on_split=_ignore,
            on_fenced=_ignore,
            on_unreachable=watcher.on_unreachable,
            lease=30.0,
            renew_interval=10.0,  # no renewal's script call takes the late answer
            timeout=TIMEOUT,
        )
        await bus.start()
        try:
            bus.to(bus.node, b"first\n")
            await watcher.until(events=1)
            relay.delay_next_script()
            bus.to(bus.node, b"second\n")
            await watcher.until(events=2)  # back in the inbox: only its answer is late
            await bus.flush()  # the call timed out, and went again
            bus.to(bus.node, b"third\n")
            await watcher.until(events=3)
            assert watcher.events == ["first", "second", "third"]
            assert watcher.reports == []
        finally:
            await bus.stop()


def _bus(url: str, watcher: Watcher) -> RedisBus:
    return RedisBus(
        url,
        "n1.test",
        on_events=watcher.on_events,
        on_split=_ignore,
        on_fenced=_ignore,
        on_unreachable=watcher.on_unreachable,
        on_refused=watcher.on_refused,
        lease=30.0,  # the refusals must not cost the lease: that is another test's subject
        timeout=TIMEOUT,
    )


async def test_a_redis_out_of_memory_is_an_outage_and_the_refused_call_arrives_once(
    own_redis: RedisServer,
) -> None:
    """Redis at its memory limit refuses the call (OOM): the bus reports it as an outage and
    sends the call again; once Redis has room the event arrives once, nothing is handed back,
    and the bus reports calls going through."""
    watcher = Watcher()
    bus = _bus(own_redis.url, watcher)
    admin = redis.Redis(unix_socket_path=str(own_redis.socket_path))
    await bus.start()
    try:
        admin.config_set("maxmemory", 1)
        try:
            bus.to(bus.node, b"first\n")
            await watcher.until(reports=1)
            assert isinstance(watcher.reports[0], OutOfMemoryError)
            assert watcher.events == []
        finally:
            admin.config_set("maxmemory", 0)
        await watcher.until(events=1, reports=2)
        bus.to(bus.node, b"second\n")
        await watcher.until(events=2)
        assert watcher.events == ["first", "second"]
        assert watcher.reports[1] is None and watcher.refused == []
    finally:
        await bus.stop()
        admin.close()


async def test_a_call_refused_for_good_is_handed_back_and_the_next_goes_through(
    own_redis: RedisServer,
) -> None:
    """A channel key of the wrong type makes Redis refuse the call whatever happens: the bus
    reports it, hands its events back (their senders are told) instead of retrying forever,
    and the next call goes through."""
    watcher = Watcher()
    bus = _bus(own_redis.url, watcher)
    admin = redis.Redis(unix_socket_path=str(own_redis.socket_path))
    await bus.start()
    try:
        admin.set("cw:chan:#broken", "not a hash")
        bus.to_channel("#broken", b"lost\n")
        bus.to(bus.node, b"with it\n")
        await watcher.until(reports=1, refused=2)
        assert watcher.refused == ["lost", "with it"]
        assert isinstance(watcher.reports[0], ResponseError)
        bus.to(bus.node, b"after\n")
        await watcher.until(events=1)
        assert watcher.events == ["after"]
    finally:
        await bus.stop()
        admin.close()
