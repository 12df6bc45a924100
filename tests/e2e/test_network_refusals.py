"""What a network does when its Redis refuses part of a node's work for good (a corrupt key, put
there by the test): real ``chinwag serve`` nodes on a real Redis and PostgreSQL.

A line that cannot be routed is refused alone (its sender told, nobody gets it); a change the
network cannot record puts the node out of step with it, so the node fences itself, joins
again as a new incarnation and takes the network's state from another node: both nodes agree
again, and the node serves users again.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import redis

from .harness import Clients
from .test_network import Node

REFUSED = re.compile(r"Your message to #room was not delivered: .*Redis.*")
REJOINED = "joined the network again"
CONVERGE = 10.0
"""Seconds within which a node joins again, and both nodes show the same state."""


class Nodes:
    """Nodes of one network, started by the test; every node is killed after it."""

    def __init__(self, redis_url: str, store_url: str, workdir: Path) -> None:
        self._redis_url, self._store_url, self._workdir = redis_url, store_url, workdir
        self.started: dict[str, Node] = {}

    async def start(self, *names: str) -> list[Clients]:
        """Start nodes (in parallel); returns clients of each."""
        new = [Node(self._workdir / n, n, self._redis_url, self._store_url) for n in names]
        self.started.update((node.name, node) for node in new)
        return list(await asyncio.gather(*(node.started() for node in new)))

    async def close(self) -> None:
        """Close every client, kill every node."""
        for node in self.started.values():
            if node.clients is not None:
                await node.clients.close()
            node.kill()


@pytest.fixture
async def nodes(redis_url: str, postgres_url: str, tmp_path: Path) -> AsyncIterator[Nodes]:
    """Nodes on this test process's Redis and PostgreSQL."""
    made = Nodes(redis_url, postgres_url, tmp_path)
    try:
        yield made
    finally:
        await made.close()


async def _logged(node: Node, text: str) -> None:
    """Wait until ``node`` has logged ``text``."""
    async with asyncio.timeout(CONVERGE):
        while text not in node.log():
            await asyncio.sleep(0.05)  # a log file has no event to await


def _break(redis_url: str, key: str) -> None:
    """Put a string where the network keeps a hash: Redis refuses what needs that key."""
    with redis.Redis.from_url(redis_url) as admin:
        admin.delete(key)
        admin.set(key, "not a hash")


async def test_a_change_redis_refuses_makes_the_node_join_the_network_again_in_step(
    nodes: Nodes, redis_url: str
) -> None:
    """amy (n1) and bob (n2) share #room, whose key in Redis breaks. amy's line there is
    refused (she is told; bob gets nothing). Her PART goes out in the same call as the change
    Redis refuses (n1's count in #room): bob sees the PART once; n1, out of step, closes amy
    ("Lost contact with the network"), joins again (bob sees amy's netsplit QUIT) and serves
    again: a new amy on n1 and bob see each other, with the same NAMES on both nodes."""
    n1, n2 = await nodes.start("n1.test", "n2.test")
    amy = await n1.connect("amy")
    bob = await n2.connect("bob")
    await amy.expect("JOIN", ["#lobby"], source="bob")
    await amy.send("JOIN #room")
    await amy.expect("366")
    async with asyncio.timeout(CONVERGE):
        while "@amy" not in await bob.names("#room"):
            await asyncio.sleep(0.05)  # amy's JOIN is on its way to n2
    await bob.send("JOIN #room")
    await amy.expect("JOIN", ["#room"], source="bob")
    _break(redis_url, "cw:chan:#room")

    await amy.send("PRIVMSG #room :into the void")
    notice = await amy.expect("NOTICE")
    assert REFUSED.match(notice.params[-1]), notice
    await amy.send("PART #room :bye")
    part = await bob.expect("PART", ["#room", "bye"], source="amy")
    await amy.expect_error("Lost contact with the network")
    quit_line = await bob.expect("QUIT", source="amy")
    assert quit_line.params == ("n1.test n2.test",)  # a netsplit, as for a node lost
    await _logged(nodes.started["n1.test"], REJOINED)

    new_amy = await n1.connect("amy")  # her nick is free: the old n1 was reaped
    await bob.expect("JOIN", ["#lobby"], source="amy")
    await new_amy.send("WHOIS bob")
    await new_amy.expect("311", ["amy", "bob", "~bob", re.compile(".*"), "*", re.compile(".*")])
    lobby = [await client.names("#lobby") for client in (new_amy, bob)]
    assert lobby[0] == lobby[1] and {"amy", "bob"} <= {n.lstrip("@+") for n in lobby[0]}
    for client in (new_amy, bob):  # amy left #room once; n1 learnt it from n2 again
        assert await client.names("#room") == ["bob"]
    seen = bob.history
    assert [m for m in seen if m.command == "PART" and m.source == part.source] == [part]
    assert not [m for m in seen if m.params[-1:] == ("into the void",)]
