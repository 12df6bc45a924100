"""One network on several `chinwag serve` node processes, on a real Redis and PostgreSQL.

Each node is a real process (``--redis``, ``--store``, ``--node-name``) on its own port; the
clients are the harness's, over real sockets. Redis and PostgreSQL are the ones this test
process started (``tests/services.py``), emptied for each test.
"""

from __future__ import annotations

import asyncio
import re
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
import redis

from chinwag.cluster.events import kill_event, private_message
from chinwag.cluster.redis_bus import RedisBus
from chinwag.server.fanout import Outgoing

from .harness import ANY, Client, Clients
from .serve_process import start_serve

CONFIG = """\
[server]
default_channels = ["#lobby"]
motd = ""

[limits]
flood_rate = 0
"""
NETSPLIT_PROMISE = 6.0
CH = ["draft/chathistory", "batch", "server-time", "message-tags", "echo-message"]


class Node:
    """``chinwag serve`` as one node of the network; its log goes to a file."""

    def __init__(
        self, workdir: Path, name: str, redis_url: str, store_url: str, settings: str = CONFIG
    ) -> None:
        self.name = name
        self.log_path = workdir / "node.log"
        self.proc = start_serve(
            workdir, settings, self.log_path,
            "--data", "none",
            "--name", name,
            "--node-name", name,
            "--redis", redis_url,
            "--store", store_url,
        )  # fmt: skip
        self.clients: Clients | None = None

    async def started(self, timeout: float = 30.0) -> Clients:
        """Wait for the listening line of the log; returns clients of this node."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = re.search(r"listening on [^ ]*:(\d+)", self.log())
            if found:
                self.clients = Clients(int(found.group(1)))
                return self.clients
            if self.proc.poll() is not None:
                break
            await asyncio.sleep(0.05)  # a file has no event to await
        raise AssertionError(f"node {self.name} did not start:\n{self.log()}")

    def log(self) -> str:
        """What the node logged so far."""
        return self.log_path.read_text(errors="replace")

    def kill(self) -> None:
        """SIGKILL, as a machine lost would be."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)


StartNodes = Callable[..., Awaitable[list[Clients]]]


@pytest.fixture
async def network(
    redis_url: str, postgres_url: str, tmp_path: Path
) -> AsyncIterator[tuple[StartNodes, dict[str, Node]]]:
    """Start named nodes of one network (in parallel); every node is killed after the test."""
    nodes: dict[str, Node] = {}

    async def start(*names: str) -> list[Clients]:
        started = [Node(tmp_path / name, name, redis_url, postgres_url) for name in names]
        nodes.update((node.name, node) for node in started)
        return list(await asyncio.gather(*(node.started() for node in started)))

    try:
        yield start, nodes
    finally:
        for node in nodes.values():
            if node.clients is not None:
                await node.clients.close()
            node.kill()


async def _seen_join(watcher: Client, nick: str) -> None:
    """Wait until ``watcher`` sees ``nick`` join #lobby (it came from another node)."""
    await watcher.expect("JOIN", ["#lobby"], source=nick)


async def _seen_joins(watcher: Client, nicks: set[str]) -> None:
    """Wait until ``watcher`` has seen every one of ``nicks`` join #lobby, in any order."""
    waiting = set(nicks)
    while waiting:
        msg = await watcher.expect("JOIN", ["#lobby"])
        waiting.discard((msg.source or "").split("!", 1)[0])


async def test_a_private_message_crosses_nodes_once_and_is_in_history_on_both(
    network: tuple[StartNodes, dict[str, Node]],
) -> None:
    """amy on n1 -> bob on n2: bob gets it once, amy her echo, CHATHISTORY has it on both."""
    start, _ = network
    n1, n2 = await start("n1.test", "n2.test")
    amy = await n1.connect("amy", caps=CH)
    bob = await n2.connect("bob", caps=CH)
    await _seen_join(amy, "bob")
    await amy.send("PRIVMSG bob :psst, over here")
    line = await bob.expect("PRIVMSG", ["bob", "psst, over here"], source="amy")
    echo = await amy.expect("PRIVMSG", ["bob", "psst, over here"])
    assert line.tags["msgid"] == echo.tags["msgid"]
    await bob.assert_nothing(0.3)
    for client, peer in ((amy, "bob"), (bob, "amy")):
        await client.send(f"CHATHISTORY LATEST {peer} * 10")
        await client.expect("BATCH")
        stored = await client.expect("PRIVMSG", [ANY, "psst, over here"])
        assert stored.tags["msgid"] == echo.tags["msgid"]


async def test_a_room_on_three_nodes_has_one_order(
    network: tuple[StartNodes, dict[str, Node]],
) -> None:
    """3 senders on 3 nodes, 1000 lines each: every listener gets all 3000, once, in the same
    order on every node, each sender's lines in the order sent."""
    start, _ = network
    nodes = await start("n1.test", "n2.test", "n3.test")
    listeners = [await node.connect(f"ear{i}") for i, node in enumerate(nodes)]
    senders = [await node.connect(f"mouth{i}") for i, node in enumerate(nodes)]
    for listener in listeners:
        await _seen_joins(listener, {sender.name for sender in senders})

    async def flood(sender: Client) -> None:
        for start_at in range(0, 1000, 100):
            await sender.send(
                *(f"PRIVMSG #lobby :{sender.name} {k}" for k in range(start_at, start_at + 100))
            )

    await asyncio.gather(*(flood(sender) for sender in senders))
    orders: list[list[str]] = []
    for listener in listeners:
        texts: list[str] = []
        while len(texts) < 3000:
            msg = await listener.next(timeout=20.0)
            if msg.command == "PRIVMSG":
                texts.append(msg.params[1])
        orders.append(texts)
    assert orders[0] == orders[1] == orders[2]
    assert len(set(orders[0])) == 3000
    for sender in senders:
        mine = [text for text in orders[0] if text.startswith(sender.name + " ")]
        assert mine == [f"{sender.name} {k}" for k in range(1000)]


async def test_a_nick_race_over_two_nodes_has_one_winner_per_nick(
    network: tuple[StartNodes, dict[str, Node]],
) -> None:
    """100 clients on 2 nodes race for 10 nicks: one holder each, the rest get 433, and WHOIS
    says the same on both nodes."""
    start, _ = network
    n1, n2 = await start("n1.test", "n2.test")
    racers = [await (n1 if i % 2 else n2).open(f"r{i}") for i in range(100)]
    await asyncio.gather(
        *(
            racer.send(f"NICK nick{i % 10}", f"USER r{i} 0 * :racer {i}")
            for i, racer in enumerate(racers)
        )
    )

    async def outcome(racer: Client) -> str:
        while True:
            msg = await racer.next(timeout=15.0)
            if msg.command in ("001", "433"):
                return msg.command

    results = await asyncio.gather(*(outcome(racer) for racer in racers))
    assert results.count("001") == 10 and results.count("433") == 90
    winners = {f"nick{i % 10}": f"racer {i}" for i, r in enumerate(results) if r == "001"}
    assert len(winners) == 10
    for node in (n1, n2):
        asker = await node.connect(f"asker{node.port}")
        for nick, realname in winners.items():
            await _whois_until(asker, nick, realname)


async def _whois_until(asker: Client, nick: str, realname: str, timeout: float = 10.0) -> None:
    """WHOIS ``nick`` until its owner (real name) is known on ``asker``'s node."""
    async with asyncio.timeout(timeout):
        while True:
            await asker.send(f"WHOIS {nick}")
            reply = await asker.next()
            while reply.command not in ("311", "401"):
                reply = await asker.next()
            await asker.expect("318")
            if reply.command == "311":
                assert reply.params[-1] == realname
                return
            await asyncio.sleep(0.05)  # not there yet: its registration is on its way


async def test_a_killed_node_quits_its_users_everywhere_within_six_seconds(
    network: tuple[StartNodes, dict[str, Node]],
) -> None:
    """kill -9 of n2: bob's QUIT reaches amy on n1 with "n2.test n1.test" within 6 s, WHOIS bob
    says 401, and the nick bob is free again."""
    start, nodes = network
    n1, n2 = await start("n1.test", "n2.test")
    amy = await n1.connect("amy")
    await n2.connect("bob")
    await _seen_join(amy, "bob")
    nodes["n2.test"].kill()
    killed_at = time.monotonic()
    quit_line = await amy.expect("QUIT", source="bob", timeout=NETSPLIT_PROMISE + 2)
    assert time.monotonic() - killed_at < NETSPLIT_PROMISE
    assert quit_line.params == ("n2.test n1.test",)
    await amy.send("WHOIS bob")
    await amy.expect("401")
    await n1.connect("bob")


async def test_a_node_stopped_past_its_lease_drops_its_users_and_writes_nothing_stale(
    network: tuple[StartNodes, dict[str, Node]],
) -> None:
    """SIGSTOP of n2 past its lease: bob QUITs on n1 and his nick is free; after SIGCONT n2 closes
    bob with "Lost contact with the network", the line bob sent while n2 was stopped reaches
    nobody, and n1 never sees a second bob; then n2 joins the network again and serves."""
    start, nodes = network
    n1, n2 = await start("n1.test", "n2.test")
    amy = await n1.connect("amy")
    old_bob = await n2.connect("bob")
    await _seen_join(amy, "bob")
    stopped = nodes["n2.test"].proc
    stopped.send_signal(signal.SIGSTOP)
    try:
        await amy.expect("QUIT", source="bob", timeout=NETSPLIT_PROMISE + 2)
        new_bob = await n1.connect("bob")
        await _seen_join(amy, "bob")
        await old_bob.send("PRIVMSG amy :stale")
    finally:
        stopped.send_signal(signal.SIGCONT)
    await old_bob.expect_error("Lost contact with the network", timeout=NETSPLIT_PROMISE + 2)
    await new_bob.send("PRIVMSG amy :fresh")
    await amy.expect("PRIVMSG", ["amy", "fresh"], source="bob")
    await amy.sync()
    amy.drain()
    seen = amy.history
    assert not [m for m in seen if m.command == "PRIVMSG" and m.params[-1] == "stale"]
    assert (
        len([m for m in seen if m.command == "JOIN" and (m.source or "").startswith("bob!")]) == 2
    )
    async with asyncio.timeout(10):
        while "joined the network again" not in nodes["n2.test"].log():
            await asyncio.sleep(0.05)  # a log file has no event to await
    carl = await n2.connect("carl")
    await _seen_join(amy, "carl")
    await carl.send("WHOIS bob")
    await carl.expect("311", ["carl", "bob", ANY, ANY, "*", ANY])  # n1's bob, as n2 learnt


async def test_a_node_stopped_in_order_quits_its_users_at_once_and_leaves_the_network(
    network: tuple[StartNodes, dict[str, Node]], redis_url: str
) -> None:
    """SIGTERM of n2: amy on n1 sees bob's QUIT with his own reason and carl's with the
    server's shutdown reason (not a netsplit after the lease), stays connected, and n2 is off
    the network's node list, its lease, nicks and history consumer gone, as soon as it has
    exited."""
    start, nodes = network
    n1, n2 = await start("n1.test", "n2.test")
    amy = await n1.connect("amy")
    bob = await n2.connect("bob")
    await n2.connect("carl")
    await _seen_joins(amy, {"bob", "carl"})
    await bob.send("QUIT :see you")
    bye = await amy.expect("QUIT", source="bob")
    assert bye.params == ("Quit: see you",)
    stopping = nodes["n2.test"].proc
    stopping.send_signal(signal.SIGTERM)
    assert await asyncio.to_thread(stopping.wait, 10) == 0
    left = await amy.expect("QUIT", source="carl", timeout=1.0)
    assert left.params == ("Server shutting down",)
    with redis.Redis.from_url(redis_url) as shared:
        assert shared.hkeys("cw:nodes") == [b"n1.test"]
        assert not shared.exists("cw:lease:n2.test", "cw:owned:n2.test", "cw:inbox:n2.test")
        assert not [owner for owner in shared.hvals("cw:nicks") if owner.startswith(b"n2.")]
        consumers = shared.xinfo_consumers("cw:history", "store")
        assert [consumer["name"] for consumer in consumers] == [b"n1.test"]
    await amy.alive()  # n2 closed its own users, never n1's
    await n1.connect("carl")  # the nick is free at once


def _unread(*args: object) -> None:
    """What a node far behind in its inbox does with what it is handed: nothing yet."""


async def test_a_line_for_a_user_of_a_nodes_earlier_life_never_reaches_its_new_users(
    network: tuple[StartNodes, dict[str, Node]], redis_url: str
) -> None:
    """n2 killed and started again under its name; n3, behind in its inbox, still sends a
    private line and a KILL to dave's old uid: carol, n2's first user since, gets neither."""
    start, nodes = network
    (n1,) = await start("n1.test")
    # n3 is a node that has not read its inbox since dave left: it applies nothing.
    lagging = RedisBus(redis_url, "n3.test", on_events=_unread, on_split=_unread, on_fenced=_unread)
    await lagging.start()
    try:
        (n2,) = await start("n2.test")
        amy = await n1.connect("amy")
        await n2.connect("dave")
        await _seen_join(amy, "dave")
        with redis.Redis.from_url(redis_url) as shared:
            owner = shared.hget("cw:nicks", "dave")
        assert owner is not None
        old_uid = owner.decode().split("/", 1)[1]
        nodes["n2.test"].kill()
        (n2,) = await start("n2.test")
        carol = await n2.connect("carol")
        await _seen_join(amy, "carol")  # n1 knows her: amy's line below can reach her
        said = Outgoing("bob!~bob@n3.test", "PRIVMSG", "dave", "dave, the password is hunter2")
        lagging.to(
            "n2.test",
            private_message("n3.test", "1", said, command="PRIVMSG", recipient_uid=old_uid),
        )
        lagging.to("n2.test", kill_event("n3.test", old_uid, "Killed (bob (stale))", None))
        await lagging.flush()
        await amy.send("PRIVMSG carol :welcome back")  # routed after n3's lines
        line = await carol.expect("PRIVMSG")
        assert (line.source or "").startswith("amy!") and line.params == ("carol", "welcome back")
        await carol.alive()
    finally:
        await lagging.stop()
