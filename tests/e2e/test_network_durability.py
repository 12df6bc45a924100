"""Durability of a network: kill -9 of a node, and of redis-server, in the middle of a flood.

Real ``chinwag serve`` nodes, a real PostgreSQL, and a Redis of each test's own (so that it can
be killed and started again from its append-only file). What any client received must be in
history afterwards, once, and the surviving nodes go on; a sender whose message cannot reach
Redis is told.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import psycopg
import pytest
import redis

from chinwag.protocol import Message, decode_text, parse_line

from .harness import Client, Clients
from .test_network import CONFIG, Node

if TYPE_CHECKING:  # the fixtures' module (a pytest plugin: tests/conftest.py loads it)
    from services import RedisServer

SETTINGS = (
    CONFIG
    + """
[history]
replay_on_join = 0
chathistory_max = 100000
"""
)
CAPS = ["message-tags", "echo-message", "batch", "server-time", "draft/chathistory"]
FLOOD_SECONDS = 0.4
OUTAGE_SECONDS = 0.3
FEED_WAIT = 15.0
"""Seconds for the history feed to move everything, a killed node's leftovers included (they
are taken over after `history_feed.CLAIM_IDLE`)."""
REFUSED = re.compile(r"Your message to \S+ was not delivered: .*Redis.*")


# -- the parts ---------------------------------------------------------------------------------


@dataclass
class Network:
    """Nodes on one Redis and PostgreSQL; every node is killed after the test."""

    redis_url: str
    store_url: str
    workdir: Path
    nodes: dict[str, Node] = field(default_factory=dict)

    async def start(self, *names: str) -> list[Clients]:
        """Start nodes (in parallel); returns clients of each."""
        started = [
            Node(self.workdir / name, name, self.redis_url, self.store_url, SETTINGS)
            for name in names
        ]
        self.nodes.update((node.name, node) for node in started)
        return list(await asyncio.gather(*(node.started() for node in started)))

    async def close(self) -> None:
        """Close every client and kill every node."""
        for node in self.nodes.values():
            if node.clients is not None:
                await node.clients.close()
            node.kill()

    def stored(self) -> dict[str, str]:
        """msgid -> text of every line PostgreSQL has (each msgid is there once at most)."""
        with psycopg.connect(self.store_url, autocommit=True) as conn:
            rows = conn.execute("SELECT msgid, text FROM history").fetchall()
        return {str(msgid): str(text) for msgid, text in rows}

    async def until_stored(self, wanted: dict[str, str]) -> dict[str, str]:
        """Wait (up to `FEED_WAIT`) until PostgreSQL has every line of ``wanted``; returns
        what it has then (the test then says what is missing)."""
        stored: dict[str, str] = {}
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(FEED_WAIT):
                while True:
                    stored = await asyncio.to_thread(self.stored)
                    if all(stored.get(msgid) == text for msgid, text in wanted.items()):
                        break
                    await asyncio.sleep(0.1)  # the feed works in Redis: nothing to await here
        return stored


@pytest.fixture
async def network(redis_url: str, postgres_url: str, tmp_path: Path) -> AsyncIterator[Network]:
    """Nodes on this test process's Redis."""
    made = Network(redis_url, postgres_url, tmp_path)
    try:
        yield made
    finally:
        await made.close()


@pytest.fixture
async def fragile_network(
    own_redis: RedisServer, postgres_url: str, tmp_path: Path
) -> AsyncIterator[Network]:
    """Nodes on a Redis that the test kills and starts again."""
    made = Network(own_redis.url, postgres_url, tmp_path)
    try:
        yield made
    finally:
        await made.close()


# -- what clients saw ----------------------------------------------------------------------------


def _messages(client: Client) -> list[Message]:
    """Every whole line ``client`` received, parsed (a line cut by a kill was never received)."""
    return [
        parse_line(decode_text(raw.rstrip(b"\r\n"))) for raw in client.raw if raw.endswith(b"\r\n")
    ]


def _seen(client: Client, target: str | None = None) -> list[tuple[str, str]]:
    """(msgid, text) of every live PRIVMSG ``client`` received (echoes included), in order;
    only those to ``target`` when given."""
    return [
        (msg.tags["msgid"], msg.params[1])
        for msg in _messages(client)
        if msg.command == "PRIVMSG"
        and "msgid" in msg.tags
        and "batch" not in msg.tags
        and target in (None, msg.params[0])
    ]


def _refused(client: Client) -> int:
    """How many of ``client``'s messages were refused because Redis could not be reached."""
    return sum(
        1 for msg in _messages(client) if msg.command == "NOTICE" and REFUSED.match(msg.params[-1])
    )


async def _flood(client: Client, peer: str, stop: asyncio.Event) -> int:
    """Send bursts of channel and private lines until ``stop``; returns how many bursts."""
    sent = 0
    with contextlib.suppress(ConnectionError, OSError):
        while not stop.is_set():
            await client.send(
                *(f"PRIVMSG #lobby :{client.name} {sent} {k}" for k in range(4)),
                f"PRIVMSG {peer} :{client.name} private {sent}",
            )
            sent += 1
            await asyncio.sleep(0.005)  # a hard flood the nodes keep up with
    return sent


async def _page_channel(client: Client, page: int = 200) -> list[tuple[str, str]]:
    """All of #lobby's history, paged backwards with CHATHISTORY BEFORE; chronological."""
    found: list[tuple[str, str]] = []
    selector = "*"
    while True:
        if selector == "*":
            await client.send(f"CHATHISTORY LATEST #lobby * {page}")
        else:
            await client.send(f"CHATHISTORY BEFORE #lobby {selector} {page}")
        await client.expect("BATCH")
        batch: list[tuple[str, str]] = []
        while True:
            msg = await client.next(timeout=15)
            if msg.command == "BATCH":
                break
            if msg.command == "PRIVMSG":
                batch.append((msg.tags["msgid"], msg.params[1]))
        found[:0] = batch
        if len(batch) < page:
            return found
        selector = f"msgid={batch[0][0]}"


def _once_each(seen: list[tuple[str, str]], who: str) -> dict[str, str]:
    """``seen`` as a dict, after checking that no msgid came twice."""
    msgids = [msgid for msgid, _ in seen]
    assert len(msgids) == len(set(msgids)), f"{who} received a line twice"
    return dict(seen)


# -- the tests -------------------------------------------------------------------------------


async def _latest(client: Client, target: str) -> list[tuple[str, str]]:
    """(msgid, text) of CHATHISTORY LATEST ``target`` (the whole batch)."""
    await client.send(f"CHATHISTORY LATEST {target} * 50")
    await client.expect("BATCH")
    found = []
    while (msg := await client.next()).command != "BATCH":
        found.append((msg.tags["msgid"], msg.params[1]))
    return found


async def test_a_private_line_is_in_history_on_both_nodes_the_moment_it_arrives(
    network: Network,
) -> None:
    """amy on n1 -> bob on n2: bob asks CHATHISTORY the moment the line arrives, amy the moment
    her echo does, both at once; both answers hold it (before the feed could move it)."""
    n1, n2 = await network.start("n1.test", "n2.test")
    amy = await n1.connect("amy", caps=CAPS)
    bob = await n2.connect("bob", caps=CAPS)
    await amy.expect("JOIN", ["#lobby"], source="bob")
    for i in range(5):
        await amy.send(f"PRIVMSG bob :now {i}")
        got, echo = await asyncio.gather(
            bob.expect("PRIVMSG", ["bob", f"now {i}"]), amy.expect("PRIVMSG", ["bob", f"now {i}"])
        )
        answers = await asyncio.gather(_latest(bob, "amy"), _latest(amy, "bob"))
        for answer in answers:
            assert answer[-1] == (got.tags["msgid"], f"now {i}") == (echo.tags["msgid"], f"now {i}")
            assert len(answer) == i + 1


async def test_a_private_line_between_two_users_of_one_node_waits_for_redis(
    network: Network,
) -> None:
    """amy and bob both on n1: bob gets amy's private line once, before her next line to the
    room, which a user of n2 finds in history (every line goes through Redis, in order)."""
    n1, n2 = await network.start("n1.test", "n2.test")
    amy = await n1.connect("amy", caps=CAPS)
    bob = await n1.connect("bob", caps=CAPS)
    cat = await n2.connect("cat", caps=CAPS)
    # n2 in #lobby in Redis before amy's line is routed: its JOIN comes after that (one call).
    await amy.expect("JOIN", ["#lobby"], source="cat")
    await amy.send("PRIVMSG bob :just us", "PRIVMSG #lobby :and now everyone")
    await bob.expect("PRIVMSG", ["bob", "just us"], source="amy")
    line = await cat.expect("PRIVMSG", ["#lobby", "and now everyone"], source="amy")
    assert await _page_channel(cat) == [(line.tags["msgid"], "and now everyone")]
    await bob.expect("PRIVMSG", ["#lobby", "and now everyone"], source="amy")
    await bob.assert_nothing(0.2)


async def test_kill_9_of_a_node_mid_flood_loses_nothing_anyone_saw(network: Network) -> None:
    """SIGKILL of n2 while users on both nodes flood the room and each other: every line any
    client saw is in PostgreSQL once, n1 goes on, and a user of n2 who comes back through n1
    pages the room's whole history, each line once; so does one on n2 started again."""
    n1, n2 = await network.start("n1.test", "n2.test")
    amy = await n1.connect("amy", caps=CAPS)
    bob = await n2.connect("bob", caps=CAPS)
    await amy.expect("JOIN", ["#lobby"], source="bob")
    stop = asyncio.Event()
    floods = [
        asyncio.create_task(_flood(amy, "bob", stop)),
        asyncio.create_task(_flood(bob, "amy", stop)),
    ]
    await asyncio.sleep(FLOOD_SECONDS)
    network.nodes["n2.test"].kill()
    await asyncio.wait_for(bob.closed.wait(), 5)
    await amy.expect("QUIT", source="bob", timeout=10)
    stop.set()
    await asyncio.gather(*floods)
    await amy.send("PRIVMSG #lobby :after the split")
    await amy.expect("PRIVMSG", ["#lobby", "after the split"])

    seen = _once_each(_seen(amy), "amy") | _once_each(_seen(bob), "bob")
    assert sum(" private " in text for text in seen.values()) > 20, "too little was sent"
    stored = await network.until_stored(seen)
    missing = {m: t for m, t in seen.items() if stored.get(m) != t}
    assert not missing, f"{len(missing)} of {len(seen)} lines seen are not in history"

    channel_seen = dict(_seen(amy, "#lobby") + _seen(bob, "#lobby"))
    back = await n1.connect("bob2", caps=CAPS)
    paged = _once_each(await _page_channel(back), "the pager on n1")
    assert {m: paged.get(m) for m in channel_seen} == channel_seen
    [n2_again] = await network.start("n2.test")
    again = await n2_again.connect("bob3", caps=CAPS)
    assert _once_each(await _page_channel(again), "the pager on n2") == paged


async def test_kill_9_of_redis_mid_flood_loses_nothing_and_doubles_nothing(
    fragile_network: Network, own_redis: RedisServer
) -> None:
    """SIGKILL of redis-server mid-flood, started again from its AOF: the nodes go on; every
    line any client saw is in history once (CHATHISTORY pages each once); no client gets a line
    twice; each line sent was either delivered or refused with a NOTICE naming Redis, never
    both."""
    n1, n2 = await fragile_network.start("n1.test", "n2.test")
    amy = await n1.connect("amy", caps=CAPS)
    bob = await n2.connect("bob", caps=CAPS)
    await amy.expect("JOIN", ["#lobby"], source="bob")
    stop = asyncio.Event()
    floods = [
        asyncio.create_task(_flood(amy, "bob", stop)),
        asyncio.create_task(_flood(bob, "amy", stop)),
    ]
    await asyncio.sleep(FLOOD_SECONDS)
    own_redis.kill()
    await asyncio.sleep(OUTAGE_SECONDS)  # the outage itself: senders keep sending meanwhile
    own_redis.restart()
    await asyncio.sleep(FLOOD_SECONDS)
    stop.set()
    sent = await asyncio.gather(*floods)
    # Both nodes are still in the network, and each line sent before this one has arrived.
    await amy.send("PRIVMSG bob :still here?")
    await bob.send("PRIVMSG amy :still here!")
    await bob.expect("PRIVMSG", ["bob", "still here?"], source="amy", timeout=10)
    await amy.expect("PRIVMSG", ["amy", "still here!"], source="bob", timeout=10)

    seen = _once_each(_seen(amy), "amy") | _once_each(_seen(bob), "bob")
    for sender, peer, bursts in ((amy, bob, sent[0]), (bob, amy, sent[1])):
        delivered = sum(text.startswith(f"{sender.name} ") for _, text in _seen(peer))
        assert delivered + _refused(sender) == bursts * 5, (sender.name, delivered, bursts)
    stored = await fragile_network.until_stored(seen)
    missing = {m: t for m, t in seen.items() if stored.get(m) != t}
    assert not missing, f"{len(missing)} of {len(seen)} lines seen are not in history"
    pager = await n2.connect("pager", caps=CAPS)
    paged = _once_each(await _page_channel(pager), "the pager")
    channel_seen = dict(_seen(amy, "#lobby") + _seen(bob, "#lobby"))
    assert {m: paged.get(m) for m in channel_seen} == channel_seen


async def test_a_sender_is_told_while_redis_cannot_be_reached(
    fragile_network: Network, own_redis: RedisServer
) -> None:
    """Redis gone (not past the lease): a message is refused with a NOTICE that says why, and
    nobody gets it, and a JOIN of a new room, a NICK and a registration get 437; once Redis is
    back messages flow again, and the one sent as it went is delivered, not lost."""
    n1, n2 = await fragile_network.start("n1.test", "n2.test")
    amy = await n1.connect("amy", caps=CAPS)
    bob = await n2.connect("bob", caps=CAPS)
    await amy.expect("JOIN", ["#lobby"], source="bob")
    own_redis.kill()
    await amy.send("JOIN #nowhere")  # a new room is Redis's to create: not now
    await amy.expect_numeric("437", "#nowhere", "Channel is temporarily unavailable")
    await amy.send("NICK amelia")  # a nick too
    await amy.expect_numeric("437", "amelia", "Nick is temporarily unavailable")
    newcomer = await n1.open("zed")
    await newcomer.send("NICK zed", "USER zed 0 * :Zed")
    await newcomer.expect_numeric("437", "zed", "Nick is temporarily unavailable")
    tries = 0
    async with asyncio.timeout(10):
        while not _refused(amy):  # the lines before the node noticed are sent again later
            await amy.send(f"PRIVMSG #lobby :try {tries}")
            tries += 1
            await asyncio.sleep(0.05)  # the refusal is the event, and it is in amy's raw lines
    own_redis.restart()
    await amy.expect("PRIVMSG", ["#lobby", "try 0"], timeout=10)  # her echo: it went through
    await amy.send("PRIVMSG #lobby :back again")
    await bob.expect("PRIVMSG", ["#lobby", "back again"], source="amy", timeout=10)
    delivered = [text for _, text in _seen(bob) if text.startswith("try ")]
    assert delivered == [f"try {i}" for i in range(len(delivered))]
    assert len(delivered) + _refused(amy) == tries


async def test_a_sender_is_told_while_redis_refuses_writes(
    fragile_network: Network, own_redis: RedisServer
) -> None:
    """Redis at its memory limit answers but refuses every write: as in an outage, a message
    is refused with a NOTICE that says why, and once Redis has room the line it refused first
    arrives once, and messages flow again."""
    n1, n2 = await fragile_network.start("n1.test", "n2.test")
    amy = await n1.connect("amy", caps=CAPS)
    bob = await n2.connect("bob", caps=CAPS)
    await amy.expect("JOIN", ["#lobby"], source="bob")
    with redis.Redis(unix_socket_path=str(own_redis.socket_path)) as admin:
        admin.config_set("maxmemory", 1)
        try:
            tries = 0
            async with asyncio.timeout(10):
                while not _refused(amy):
                    await amy.send(f"PRIVMSG #lobby :try {tries}")
                    tries += 1
                    await asyncio.sleep(0.05)  # the refusal is the event, in amy's raw lines
            assert (
                "refuses writes"
                in [m for m in _messages(amy) if m.command == "NOTICE"][-1].params[-1]
            )
        finally:
            admin.config_set("maxmemory", 0)
    await amy.expect("PRIVMSG", ["#lobby", "try 0"], timeout=10)
    await amy.send("PRIVMSG #lobby :back again")
    await bob.expect("PRIVMSG", ["#lobby", "back again"], source="amy", timeout=10)
    delivered = [text for _, text in _seen(bob) if text.startswith("try ")]
    assert delivered == [f"try {i}" for i in range(len(delivered))]
    assert len(delivered) + _refused(amy) == tries


async def test_a_line_redis_refuses_for_good_is_not_lost_silently(
    network: Network, redis_url: str
) -> None:
    """A call Redis can never take (a room's key broken in Redis): its sender is told that
    the line was not delivered (her labeled command still gets its end, an ACK), nobody gets
    it, and her next line elsewhere goes through."""
    n1, n2 = await network.start("n1.test", "n2.test")
    amy = await n1.connect("amy", caps=[*CAPS, "labeled-response"])
    bob = await n2.connect("bob", caps=CAPS)
    await amy.send("JOIN #room")
    await amy.expect("366")
    with redis.Redis.from_url(redis_url) as admin:
        admin.delete("cw:chan:#room")
        admin.set("cw:chan:#room", "not a hash")
    await amy.send("@label=R1 PRIVMSG #room :into the void")
    notice = await amy.expect("NOTICE", timeout=10)
    assert REFUSED.match(notice.params[-1]) and "#room" in notice.params[-1]
    await amy.expect("ACK", tags={"label": "R1"})
    async with asyncio.timeout(10):
        while True:  # refused until the node's probe saw writes go through again
            await amy.send("PRIVMSG bob :still here")
            answer = await amy.expect(None)
            while answer.command not in ("PRIVMSG", "NOTICE"):
                answer = await amy.expect(None)
            if answer.command == "PRIVMSG":
                break
            await asyncio.sleep(0.1)  # the episode ends with the next probe
    await bob.expect("PRIVMSG", ["bob", "still here"], source="amy")
    assert not [m for m in _messages(amy) if m.params[-1:] == ("into the void",)]


async def test_nodes_cut_off_past_their_lease_join_again_once_redis_is_back(
    fragile_network: Network, own_redis: RedisServer
) -> None:
    """Redis gone for longer than the lease: each node closes its users ("Lost contact with the
    network"), and tries to join again until Redis is back (from its append-only file); then
    both serve again, as one network: a user of each sees the other arrive."""
    n1, n2 = await fragile_network.start("n1.test", "n2.test")
    amy = await n1.connect("amy")
    bob = await n2.connect("bob")
    await amy.expect("JOIN", ["#lobby"], source="bob")
    own_redis.kill()
    await amy.expect_error("Lost contact with the network", timeout=10)
    await bob.expect_error("Lost contact with the network", timeout=10)
    own_redis.restart()
    async with asyncio.timeout(15):
        for node in fragile_network.nodes.values():
            while "joined the network again" not in node.log():
                await asyncio.sleep(0.05)  # a log file has no event to await
    carl = await n1.connect("carl")
    await n2.connect("dave")
    await carl.expect("JOIN", ["#lobby"], source="dave")
