"""The bus when Redis falls silent (SIGSTOP, as a cut network looks): the bus says Redis cannot be
reached, and once it answers again the call that had no answer is neither lost nor doubled; and
when only a call's answer comes late while Redis goes on writing, the bus says nothing. When
Redis refuses a call for a while (out of memory) the bus says so too, and the call goes again
(refusals for good: ``test_turn_refusals.py``)."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import redis
from argon2 import PasswordHasher
from redis.exceptions import OutOfMemoryError, RedisError

from chinwag.cluster import scripts
from chinwag.cluster.history_feed import HistoryFeed
from chinwag.cluster.network_history import NetworkHistory
from chinwag.cluster.redis_bus import RedisBus
from chinwag.store import StoreError
from chinwag.store.postgres import PostgresStore

from .relay import LateAnswerRelay

if TYPE_CHECKING:  # the fixtures' module (a pytest plugin: tests/conftest.py loads it)
    from services import RedisServer

WAIT = 10.0
TIMEOUT = 0.3
"""The bus's command timeout here: short, so that the test is quick."""
FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=64, parallelism=1)


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

    def on_refused(self, events: list[bytes], changes: bool) -> None:
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
            relay.delay_next()
            bus.to(bus.node, b"second\n")
            await watcher.until(events=2)  # back in the inbox: only its answer is late
            await bus.flush()  # the call timed out, and went again
            bus.to(bus.node, b"third\n")
            await watcher.until(events=3)
            assert watcher.events == ["first", "second", "third"]
            assert watcher.reports == []
        finally:
            await bus.stop()


async def test_a_nick_claim_whose_answer_is_lost_is_sent_again_and_holds(
    own_redis: RedisServer, tmp_path: Path
) -> None:
    """Redis applies a rename's claim but its answer comes after the timeout: the bus sends
    the claim again and reports the nick won, as Redis holds it (the old one released), so
    that the node and the network agree on who is who."""
    admin = redis.Redis(unix_socket_path=str(own_redis.socket_path))
    admin.script_load(scripts.CLAIM_NICK)  # the delayed call is the claim, not a NOSCRIPT
    async with LateAnswerRelay(own_redis.socket_path, tmp_path / "relay.sock") as relay:
        bus = _late_bus(relay.url)
        await bus.start()
        try:
            assert await bus.claim_nick("u1", "amy")
            relay.delay_next()
            assert await bus.claim_nick("u1", "amelia", held="amy")
            assert admin.hgetall("cw:nicks") == {b"amelia": b"n1.test/u1"}
        finally:
            await bus.stop()
            admin.close()


async def test_a_channel_claim_whose_answer_is_lost_is_answered_as_the_first_time(
    own_redis: RedisServer, tmp_path: Path
) -> None:
    """Redis applies the claim of a new channel but its answer comes late: the claim sent
    again gets the first answer (the user created it) and counts the member once; a later
    claim by another user finds the channel and its identity."""
    admin = redis.Redis(unix_socket_path=str(own_redis.socket_path))
    admin.script_load(scripts.CLAIM_CHANNEL)
    async with LateAnswerRelay(own_redis.socket_path, tmp_path / "relay.sock") as relay:
        bus = _late_bus(relay.url)
        await bus.start()
        try:
            relay.delay_next()
            assert await bus.claim_channel("u1", "#new", "ident-1") == (True, "ident-1")
            assert admin.hgetall("cw:chan:#new") == {b"n1.test": b"1"}
            assert await bus.claim_channel("u2", "#new", "ident-2") == (False, "ident-1")
            assert admin.hgetall("cw:chan:#new") == {b"n1.test": b"2"}
        finally:
            await bus.stop()
            admin.close()


async def test_a_claim_while_redis_is_down_is_refused_at_once(own_redis: RedisServer) -> None:
    """Redis stopped: the claim cannot be written (the connection is dead, then refused), so it
    certainly was not applied, and the bus says so at once (the user gets 437) instead of
    sending it again; once Redis is back the same claim goes through."""
    bus = _late_bus(own_redis.url)
    await bus.start()
    try:
        own_redis.kill()
        with pytest.raises(RedisError, match=r"connecting to|while writing"):
            await bus.claim_nick("u1", "amy")
        own_redis.restart()
        assert await bus.claim_nick("u1", "amy")
    finally:
        await bus.stop()


def _late_bus(url: str) -> RedisBus:
    """A bus through the relay, whose lease outlives the late answers (no renewal meanwhile:
    its script call would take the late answer)."""
    return RedisBus(
        url,
        "n1.test",
        on_events=_ignore,
        on_split=_ignore,
        on_fenced=_ignore,
        lease=30.0,
        renew_interval=10.0,
        timeout=TIMEOUT,
    )


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


async def test_calls_lost_on_the_way_while_pings_pass_mean_unreachable(
    own_redis: RedisServer, postgres_url: str, tmp_path: Path
) -> None:
    """Redis answers pings but the bus's calls get no answer (lost on the way): the history
    probe says Redis cannot be reached, not that it refuses writes, which it never did."""
    store = PostgresStore(postgres_url, hasher=FAST_HASHER)
    async with LateAnswerRelay(own_redis.socket_path, tmp_path / "relay.sock") as relay:
        watcher = Watcher()
        bus = _bus(relay.url, watcher)
        kept = NetworkHistory(store.history, HistoryFeed(relay.url, "n1.test", store.history))
        kept.attach(bus)
        await bus.start()
        try:
            relay.drop()
            bus.to(bus.node, b"lost on the way\n")
            await watcher.until(reports=1)
            with pytest.raises(StoreError, match="cannot be reached"):
                await kept.probe_write()
            relay.heal()
        finally:
            await bus.stop()
            await store.close()
