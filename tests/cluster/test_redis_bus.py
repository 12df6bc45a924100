"""The Redis bus on a real Redis: routing, one order for all, nick races, netsplits, fencing."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest
import redis

from chinwag.cluster.redis_bus import FencedError, RedisBus

ROOT = Path(__file__).resolve().parents[2]
WAIT = 10.0
NETSPLIT_PROMISE = 6.0
"""Seconds within which a killed node's users must be gone everywhere (the default lease)."""

Log = list[tuple[str, str]]


class Node:
    """A bus node in this process and everything it was handed, in order."""

    def __init__(self, url: str, name: str, lease: float, renew: float) -> None:
        self.name = name
        self.log: Log = []
        self.fenced = asyncio.Event()
        self._changed = asyncio.Event()
        self.bus = RedisBus(
            url,
            name,
            on_events=self._events,
            on_split=self._split,
            on_fenced=self.fenced.set,
            lease=lease,
            renew_interval=renew,
        )

    def _events(self, events: list[bytes] | tuple[bytes, ...] | object) -> None:
        assert isinstance(events, list | tuple)
        for raw in events:
            assert isinstance(raw, bytes) and raw.endswith(b"\n")  # each event a line
            event = raw.decode()[:-1]
            # A later node's request for the network's state (a replica answers it): apart.
            self.log.append(("sync", event) if "\0sync\0" in event else ("e", event))
        self._changed.set()

    def _split(self, lost: str) -> None:
        self.log.append(("split", lost))
        self._changed.set()

    @property
    def events(self) -> list[str]:
        """The events received, in order."""
        return [value for kind, value in self.log if kind == "e"]

    async def wait_for(self, done: Callable[[Log], bool], timeout: float = WAIT) -> None:
        """Wait until ``done(log)`` holds."""
        async with asyncio.timeout(timeout):
            while not done(self.log):
                self._changed.clear()
                await self._changed.wait()


StartNode = Callable[..., Awaitable[Node]]


@pytest.fixture
async def node(redis_url: str) -> AsyncIterator[StartNode]:
    """Start bus nodes on this test's (empty) Redis; stop them after."""
    started: list[Node] = []

    async def start(name: str, lease: float = 3.0, renew: float = 1.0) -> Node:
        new = Node(redis_url, name, lease, renew)
        await new.bus.start()
        started.append(new)
        return new

    yield start
    for each in started:
        await each.bus.stop()


@pytest.fixture
def child(redis_url: str) -> Iterator[Callable[..., subprocess.Popen[str]]]:
    """Start bus nodes in processes of their own (``bus_child.py``); killed by PID after."""
    processes: list[subprocess.Popen[str]] = []

    def start(name: str, lease: float = 3.0, renew: float = 1.0) -> subprocess.Popen[str]:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.cluster.bus_child",
                redis_url,
                name,
                str(lease),
                str(renew),
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        processes.append(process)
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "ready"
        return process

    yield start
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGCONT)
            process.kill()
        process.wait()


async def test_a_private_event_reaches_its_node_once(node: StartNode) -> None:
    """n1 sends one event to n2 and its echo to itself: each arrives once, where it was sent."""
    n1, n2 = await node("n1.test"), await node("n2.test")
    n1.bus.to("n2.test", b"pm\n")
    n1.bus.to("n1.test", b"echo\n")
    n1.bus.to_all(b"marker\n")
    await n1.wait_for(lambda log: ("e", "marker") in log)
    await n2.wait_for(lambda log: ("e", "marker") in log)
    assert n1.events == ["echo", "marker"]
    assert n2.events == ["pm", "marker"]


async def test_a_joining_node_asks_one_live_node_for_the_state(
    node: StartNode, redis_url: str
) -> None:
    """The first node is told of no peer; each later one names a live node, and that node
    (only) gets the joiner's ``sync`` request."""
    n1 = await node("n1.test")
    n2 = Node(redis_url, "n2.test", 3.0, 1.0)
    assert await n2.bus.start() == "n1.test"
    try:
        asked = f'n2.test\0sync\0["","{n2.bus.epoch}"]'
        await n1.wait_for(lambda log: ("sync", asked) in log)
        assert n2.log == []
    finally:
        await n2.bus.stop()


async def test_a_shared_channel_has_one_order_on_every_node(node: StartNode) -> None:
    """3 nodes, 3 senders x 1000 interleaved lines: all 3000 everywhere, once, in one order,
    each sender's in the order it sent them."""
    nodes = [await node(f"n{i}.test") for i in (1, 2, 3)]
    for each in nodes:
        each.bus.enter("#c")
        await each.bus.flush()

    async def flood(sender: Node) -> None:
        for k in range(1000):
            sender.bus.to_channel("#c", f"{sender.name}:{k}\n".encode())
            if k % 7 == 0:
                await asyncio.sleep(0)  # spread over many loop turns, interleaved with others

    await asyncio.gather(*(flood(each) for each in nodes))
    for each in nodes:
        await each.wait_for(lambda log: len(log) >= 3000)
    orders = [each.events for each in nodes]
    assert len(orders[0]) == 3000 and len(set(orders[0])) == 3000
    assert orders[0] == orders[1] == orders[2]
    for sender in nodes:
        mine = [event for event in orders[0] if event.startswith(sender.name + ":")]
        assert mine == [f"{sender.name}:{k}" for k in range(1000)]
    assert all(each.bus.turns < 1000 for each in nodes)  # many lines per script call


async def test_a_nick_race_has_one_winner_per_nick(node: StartNode, redis_url: str) -> None:
    """100 users on 2 nodes claim 10 nicks at once: exactly one holder per nick."""
    n1, n2 = await node("n1.test"), await node("n2.test")
    claims = [(bus, f"u{i}", f"nick{i % 10}") for i, bus in enumerate([n1.bus, n2.bus] * 50)]
    results = await asyncio.gather(*(bus.claim_nick(uid, nick) for bus, uid, nick in claims))
    winners = {
        nick: f"{bus.node}/{uid}"
        for (bus, uid, nick), won in zip(claims, results, strict=True)
        if won
    }
    assert sum(results) == 10 and len(winners) == 10
    with redis.Redis.from_url(redis_url) as client:
        held = {k.decode(): v.decode() for k, v in client.hgetall("cw:nicks").items()}
    assert held == winners


async def test_a_rename_frees_the_old_nick(node: StartNode) -> None:
    """Claiming a new nick with the old one held releases the old one; a release frees it too."""
    n1, n2 = await node("n1.test"), await node("n2.test")
    assert await n1.bus.claim_nick("u1", "amy")
    assert not await n2.bus.claim_nick("u9", "amy")
    assert await n1.bus.claim_nick("u1", "amelia", held="amy")
    assert await n2.bus.claim_nick("u9", "amy")
    n2.bus.release("amy")
    await n2.bus.flush()
    assert await n1.bus.claim_nick("u2", "amy")


async def test_a_killed_node_is_split_within_the_promise(
    node: StartNode, child: Callable[..., subprocess.Popen[str]]
) -> None:
    """kill -9 of a node: the others are told within 6 s, and its nick is free again."""
    n1 = await node("n1.test")
    n1.bus.enter("#c")
    await n1.bus.flush()
    doomed = child("n3.test")
    await n1.wait_for(lambda log: any(value.startswith("n3.test:") for _, value in log))
    assert not await n1.bus.claim_nick("u5", "zed")
    doomed.kill()
    killed_at = time.monotonic()
    await n1.wait_for(lambda log: ("split", "n3.test") in log, timeout=NETSPLIT_PROMISE + 2)
    assert time.monotonic() - killed_at < NETSPLIT_PROMISE
    assert await n1.bus.claim_nick("u5", "zed")


async def test_a_node_stopped_past_its_lease_is_fenced(
    node: StartNode, child: Callable[..., subprocess.Popen[str]]
) -> None:
    """SIGSTOP past the lease, then SIGCONT: the node learns it is dead and nothing it sends
    after its split reaches anyone."""
    n1 = await node("n1.test", lease=1.0, renew=0.2)
    n1.bus.enter("#c")
    await n1.bus.flush()
    stopped = child("n3.test", 1.0, 0.2)
    await n1.wait_for(lambda log: any(value.startswith("n3.test:") for _, value in log))
    stopped.send_signal(signal.SIGSTOP)
    await n1.wait_for(lambda log: ("split", "n3.test") in log)
    stopped.send_signal(signal.SIGCONT)
    assert stopped.stdout is not None
    line = await asyncio.wait_for(asyncio.to_thread(stopped.stdout.readline), WAIT)
    assert line.strip() == "fenced"
    n1.bus.to("n1.test", b"after\n")
    await n1.wait_for(lambda log: ("e", "after") in log)
    after_split = n1.log[n1.log.index(("split", "n3.test")) :]
    assert not [value for kind, value in after_split if value.startswith("n3.test:")]
    assert await n1.bus.claim_nick("u5", "zed")


async def test_a_fenced_node_cannot_claim(node: StartNode, redis_url: str) -> None:
    """A node whose registration was removed gets FencedError, and its fence callback runs."""
    n1 = await node("n1.test")
    with redis.Redis.from_url(redis_url) as client:
        client.hdel("cw:nodes", "n1.test")
    with pytest.raises(FencedError):
        await n1.bus.claim_nick("u1", "amy")
    assert n1.fenced.is_set()


async def test_flush_on_a_busy_node_waits_for_what_was_sent_so_far(
    node: StartNode, redis_url: str
) -> None:
    """A node sends an event every loop turn without a pause: flush still returns, once what
    was sent before it is in Redis (not when the node falls silent, which never happens)."""
    n1 = await node("n1.test")
    sending = True

    async def chatter() -> None:
        while sending:
            n1.bus.to("n1.test", b"chatter\n")
            await asyncio.sleep(0)

    busy = asyncio.create_task(chatter())
    try:
        await n1.wait_for(lambda log: len(log) >= 10)  # calls go out back to back
        n1.bus.to("n1.test", b"marker\n")
        await asyncio.wait_for(n1.bus.flush(), WAIT)
        with redis.Redis.from_url(redis_url) as client:
            inbox = client.xrange("cw:inbox:n1.test")
        assert any(b"marker" in fields[b"e"] for _, fields in inbox)
    finally:
        sending = False
        await busy


async def test_an_event_sent_while_a_node_stops_arrives_before_it_leaves(
    node: StartNode, redis_url: str
) -> None:
    """An event sent while the node's tasks end (a QUIT of a connection cut just before the
    stop comes on the next loop turn) reaches the other nodes before the node leaves the
    network, never after it (where Redis would refuse it as from a dead node)."""
    n1, n2 = await node("n1.test"), await node("n2.test")
    # The hook stands for a connection_lost that runs while stop waits for the bus's tasks.
    n1.bus._tasks[-1].add_done_callback(lambda _: n1.bus.to_all(b"late quit\n"))
    await n1.bus.stop()
    await n2.wait_for(lambda log: ("split", "n1.test") in log)
    assert n2.log.index(("e", "late quit")) < n2.log.index(("split", "n1.test"))
    assert not n1.fenced.is_set()


async def test_a_channel_entered_without_an_identity_gets_the_first_claims(
    node: StartNode,
) -> None:
    """A channel entered without a claim (no identity in Redis: an older node's join) takes
    the identity of the first claim that finds it, and every later claim gets that one."""
    n1, n2 = await node("n1.test"), await node("n2.test")
    n1.bus.enter("#old")
    await n1.bus.flush()
    assert await n2.bus.claim_channel("u1", "#old", "#old!first") == (False, "#old!first")
    assert await n1.bus.claim_channel("u2", "#old", "#old!second") == (False, "#old!first")
