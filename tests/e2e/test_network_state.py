"""The network's state on several real nodes: what one node's users change, every node shows.

Channel modes, topics, bans, op and voice, KICK, INVITE, KILL, server bans, AWAY and SETNAME,
TAGMSG and ``@#channel`` messages, labeled echoes; a node that starts while others have users
and traffic; a Redis restarted under running nodes. Each node is a real ``chinwag serve``
process (``test_network.Node``) on a real Redis and PostgreSQL (``tests/services.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
import redis
from services import start_redis

from .harness import Client, Clients, cheap_hash
from .test_network import CONFIG, Node

OPER_CONFIG = f"""
[[opers]]
name = "root"
password_hash = "{cheap_hash("hunter2")}"
"""
CONVERGE = 10.0
"""Seconds within which every node must show the same state."""

Start = Callable[..., Awaitable[list[Clients]]]


@pytest.fixture
async def nodes(
    redis_url: str, postgres_url: str, tmp_path: Path
) -> AsyncIterator[tuple[Start, dict[str, Node]]]:
    """Start named nodes (with an operator ``root``/``hunter2``), at once or later in the test;
    a ``redis`` argument puts them on another Redis. Every node is killed after the test."""
    started: dict[str, Node] = {}

    async def start(*names: str, redis: str = redis_url) -> list[Clients]:
        new = [Node(tmp_path / n, n, redis, postgres_url, CONFIG + OPER_CONFIG) for n in names]
        started.update((node.name, node) for node in new)
        return list(await asyncio.gather(*(node.started() for node in new)))

    try:
        yield start, started
    finally:
        for node in started.values():
            if node.clients is not None:
                await node.clients.close()
            node.kill()


async def _who(client: Client, channel: str) -> list[tuple[str, ...]]:
    """WHO ``channel`` as ``client`` sees it: user, host, nick, flags, real name; sorted.
    (The server field says which node answered, so it is left out.)"""
    await client.send(f"WHO {channel}")
    rows: list[tuple[str, ...]] = []
    while (msg := await client.expect(None)).command != "315":
        if msg.command == "352":
            _me, _chan, user, host, _server, nick, flags, text = msg.params
            rows.append((user, host, nick, flags, text.split(" ", 1)[1]))
    return sorted(rows)


async def _reply(client: Client, line: str, numeric: str) -> tuple[str, ...]:
    """Send ``line`` and return the parameters of ``numeric`` in the reply, after the nick."""
    await client.send(line)
    return (await client.expect(numeric)).params[1:]


async def _same_everywhere(
    look: Callable[[Client], Awaitable[object]], clients: list[Client]
) -> object:
    """Ask every client until all see the same (the later nodes may still be applying)."""
    async with asyncio.timeout(CONVERGE):
        while True:
            seen = [await look(client) for client in clients]
            if all(view == seen[0] for view in seen):
                return seen[0]
            await asyncio.sleep(0.1)  # another node is still applying: ask again


async def _until_names(client: Client, channel: str, entry: str) -> None:
    """Wait until ``entry`` is in the NAMES of ``channel`` on ``client``'s node."""
    async with asyncio.timeout(CONVERGE):
        while entry not in await client.names(channel):
            await asyncio.sleep(0.05)  # its JOIN is on its way from the other node


async def _room(op: Client, *others: Client, channel: str = "#room") -> None:
    """``op`` creates ``channel``; each of ``others`` joins once it sees ``op`` there as op
    (so that who joined first, and what each was told, is known)."""
    await op.send(f"JOIN {channel}")
    await op.expect("366")
    for other in others:
        await _until_names(other, channel, f"@{op.name}")
        await other.send(f"JOIN {channel}")
        await other.expect("366")
        await op.expect("JOIN", [channel], source=other.name)


async def test_a_node_started_during_traffic_learns_the_whole_network(
    nodes: tuple[Start, dict[str, Node]],
) -> None:
    """n3 starts while users of n1 and n2 join, part and talk: once up, its NAMES, WHO,
    topic, modes and bans of every room are theirs, and later changes keep them equal."""
    start, _ = nodes
    n1, n2 = await start("n1.test", "n2.test")
    amy, bob = await n1.connect("amy"), await n2.connect("bob")
    await _room(amy, bob)
    await amy.send(
        "TOPIC #room :set before n3",
        "MODE #room +mv bob",
        "MODE #room +b *!*@banned.example",
        "JOIN #churn",  # amy stays: the room is never empty, so never created twice
    )
    await _until_names(bob, "#churn", "@amy")
    await bob.send("AWAY :lunch")
    await bob.expect("306")
    churners = [await node.connect(f"churn{i}{node.port}") for i in range(3) for node in (n1, n2)]
    stop = asyncio.Event()

    async def churn() -> None:
        """Join, talk and part without pause while n3 starts."""
        turn = 0
        while not stop.is_set():
            for i, churner in enumerate(churners):
                action = "JOIN #churn" if (turn + i) % 2 == 0 else "PART #churn"
                await churner.send(action, f"PRIVMSG #lobby :line {turn}")
            await churners[0].sync()
            turn += 1

    churning = asyncio.create_task(churn())
    try:
        (n3,) = await start("n3.test")
        cat = await n3.connect("cat")
        await asyncio.sleep(0.3)  # some traffic after n3 is up too: a time, not an event
    finally:
        stop.set()
        await churning
    for churner in churners:
        await churner.sync()
    everyone = [amy, bob, cat]
    for channel in ("#lobby", "#room", "#churn"):
        names = await _same_everywhere(lambda c, ch=channel: c.names(ch), everyone)  # type: ignore[misc]
        assert names, channel
        await _same_everywhere(lambda c, ch=channel: _who(c, ch), everyone)  # type: ignore[misc]
    assert "@amy" in await cat.names("#room") and "+bob" in await cat.names("#room")
    assert await _reply(cat, "TOPIC #room", "332") == ("#room", "set before n3")
    assert (await _reply(cat, "MODE #room", "324"))[1] == "+mnt"
    assert (await _reply(cat, "MODE #room +b", "367"))[1] == "*!*@banned.example"
    assert ("bob", "G") in [(row[2], row[3][:1]) for row in await _who(cat, "#room")]
    await cat.send("JOIN #room")
    await amy.expect("JOIN", ["#room"], source="cat")
    await amy.send("TOPIC #room :set after n3")
    await cat.expect("TOPIC", ["#room", "set after n3"], source="amy")


async def test_a_node_asked_for_the_state_that_never_answers_is_not_waited_for(
    nodes: tuple[Start, dict[str, Node]],
) -> None:
    """n1 is stopped (SIGSTOP) as n2 starts: once n1's lease ran out n2 joins again without
    it and serves, and n1's users are not there."""
    start, started = nodes
    (n1,) = await start("n1.test")
    await n1.connect("amy")
    started["n1.test"].proc.send_signal(signal.SIGSTOP)
    (n2,) = await start("n2.test")
    bob = await n2.connect("bob")
    await bob.send("WHOIS amy")
    await bob.expect("401")


async def test_modes_topic_ops_and_bans_hold_on_every_node(
    nodes: tuple[Start, dict[str, Node]],
) -> None:
    """The creator on n1 is op on n2 too; its TOPIC and +o reach n2; the op it made on n2 sets
    +m seen on n1; a ban set on n1 keeps bob out on n2."""
    start, _ = nodes
    n1, n2 = await start("n1.test", "n2.test")
    amy = await n1.connect("amy")
    bob = await n2.connect("bob")
    await _room(amy, bob)
    assert await bob.names("#room") == ["@amy", "bob"]
    await amy.send("TOPIC #room :hello from n1")
    await bob.expect("TOPIC", ["#room", "hello from n1"], source="amy")
    await amy.send("MODE #room +o bob")
    await bob.expect("MODE", ["#room", "+o", "bob"], source="amy")
    await bob.send("MODE #room +m")
    await amy.expect("MODE", ["#room", "+m"], source="bob")
    await amy.send("MODE #room +b bob!*@*")
    await bob.expect("MODE", ["#room", "+b", "bob!*@*"], source="amy")
    await bob.send("PART #room", "JOIN #room")
    await bob.expect("474")
    await amy.expect("PART", ["#room"], source="bob")
    await amy.send("MODE #room -b bob!*@*")
    await _until_names(amy, "#room", "@amy")
    async with asyncio.timeout(CONVERGE):
        while True:  # the -b is on its way to n2
            await bob.send("JOIN #room")
            if (await bob.expect(None)).command == "JOIN":
                break
            await asyncio.sleep(0.05)
    await amy.expect("JOIN", ["#room"], source="bob")


async def test_kick_and_invite_cross_nodes(nodes: tuple[Start, dict[str, Node]]) -> None:
    """A KICK on n1 of bob on n2 is a KICK (not a PART) everywhere and takes bob out; +i keeps
    him out until amy's INVITE reaches him on n2."""
    start, _ = nodes
    n1, n2 = await start("n1.test", "n2.test")
    amy = await n1.connect("amy", caps=["invite-notify"])
    bob = await n2.connect("bob")
    cat = await n2.connect("cat")
    await _room(amy, bob, cat)
    await amy.send("MODE #room +i", "KICK #room bob :out you go")
    for watcher in (bob, cat):
        await watcher.expect("KICK", ["#room", "bob", "out you go"], source="amy")
    await bob.send("JOIN #room")
    await bob.expect("473")
    assert await cat.names("#room") == ["@amy", "cat"]
    await amy.send("INVITE bob #room")
    await amy.expect("341")
    await bob.expect("INVITE", ["bob", "#room"], source="amy")
    await bob.send("JOIN #room")
    await bob.expect("366")
    await amy.expect("JOIN", ["#room"], source="bob")


async def test_away_and_setname_reach_the_other_node(
    nodes: tuple[Start, dict[str, Node]],
) -> None:
    """bob's AWAY and SETNAME on n2 reach amy's away-notify and setname on n1; a PRIVMSG to
    him from n1 gets his away message, WHOIS names his node; his bot mode (+B) shows in WHO
    on n1."""
    start, _ = nodes
    n1, n2 = await start("n1.test", "n2.test")
    amy = await n1.connect("amy", caps=["away-notify", "setname"])
    bob = await n2.connect("bob", caps=["setname"])
    await amy.expect("JOIN", ["#lobby"], source="bob")
    await bob.send("AWAY :gone fishing", "SETNAME :Robert the Bob")
    await amy.expect("AWAY", ["gone fishing"], source="bob")
    await amy.expect("SETNAME", ["Robert the Bob"], source="bob")
    await amy.send("PRIVMSG bob :you there?")
    assert await amy.expect_numeric("301", "bob", "gone fishing")
    await amy.send("WHOIS bob")
    await amy.expect_numeric("312", "bob", "n2.test", re.compile(".*"))
    await bob.send("AWAY", "MODE bob +B")
    await amy.expect("AWAY", [], source="bob")
    async with asyncio.timeout(CONVERGE):
        while "B" not in {row[2]: row[3] for row in await _who(amy, "bob")}["bob"]:
            await asyncio.sleep(0.05)  # bob's bot mode is on its way from n2


async def test_tagmsg_statusmsg_and_a_labeled_echo_cross_nodes(
    nodes: tuple[Start, dict[str, Node]],
) -> None:
    """From n1: a TAGMSG reaches message-tags members on n2 only, ``@#room`` the ops only, and
    a labeled PRIVMSG's echo carries its label."""
    start, _ = nodes
    n1, n2 = await start("n1.test", "n2.test")
    caps = ["message-tags", "echo-message", "labeled-response", "batch"]
    amy = await n1.connect("amy", caps=caps)
    bob = await n2.connect("bob", caps=["message-tags"])
    cat = await n2.connect("cat")
    await _room(amy, bob, cat)
    await amy.send("MODE #room +o bob")
    await bob.expect("MODE", ["#room", "+o", "bob"])
    await amy.send("@+typing=active TAGMSG #room", "PRIVMSG @#room :ops only")
    await bob.expect("TAGMSG", ["#room"], source="amy", tags={"+typing": "active"})
    await bob.expect("PRIVMSG", ["@#room", "ops only"], source="amy")
    await amy.send("@label=L1 PRIVMSG #room :labelled")
    echo = await amy.expect("PRIVMSG", ["#room", "labelled"], tags={"label": "L1"})
    line = await bob.expect("PRIVMSG", ["#room", "labelled"], source="amy")
    assert line.tags["msgid"] == echo.tags["msgid"]
    seen_by_cat = [(m.command, m.params) for m in await cat.sync()]
    assert seen_by_cat == [("MODE", ("#room", "+o", "bob")), ("PRIVMSG", ("#room", "labelled"))]


async def test_kill_and_a_server_ban_from_n1_hold_on_n2(
    nodes: tuple[Start, dict[str, Node]],
) -> None:
    """An operator on n1 KILLs bob on n2 (his QUIT comes back to n1); a KLINE set on n1 closes
    cat on n2 and keeps her out there until UNKLINE."""
    start, _ = nodes
    n1, n2 = await start("n1.test", "n2.test")
    amy = await n1.connect("amy")
    bob, cat = await n2.connect("bob"), await n2.connect("cat")
    await amy.expect("JOIN", ["#lobby"], source="cat")
    await amy.send("OPER root hunter2")
    await amy.expect("381")
    await amy.send("KILL bob :spamming")
    await bob.expect_closed()
    await amy.expect("QUIT", [re.compile(r".*spamming.*")], source="bob")
    await amy.send("KLINE cat!*@* :not welcome")
    await cat.expect("465")
    await cat.expect_closed()
    await amy.expect("QUIT", source="cat")
    again = await n2.open("cat2")
    await again.send("NICK cat", "USER cat 0 * :Cat")
    await again.expect("465")
    await amy.send("UNKLINE cat!*@*")
    await amy.expect("NOTICE")
    async with asyncio.timeout(CONVERGE):
        while True:  # the UNKLINE is on its way to n2
            with contextlib.suppress(AssertionError):
                await n2.connect("cat")
                break
            await asyncio.sleep(0.05)


async def test_a_redis_restart_loses_nothing_within_the_lease(
    nodes: tuple[Start, dict[str, Node]], tmp_path: Path
) -> None:
    """redis-server is stopped and started again (its AOF kept) under two nodes: no client is
    dropped; once amy's node takes messages again (it refuses them, saying so, while Redis is
    away) her line reaches bob, whose node reads its inbox on from where it was; and the nodes
    go on as before."""
    start, _ = nodes
    own = tmp_path / "own-redis"
    own.mkdir()
    server = start_redis(own)
    try:
        n1, n2 = await start("n1.test", "n2.test", redis=server.url)
        amy = await n1.connect("amy", caps=["echo-message"])
        bob = await n2.connect("bob")
        await amy.expect("JOIN", ["#lobby"], source="bob")
        server.stop()
        server = start_redis(server.directory)
        attempt = 0
        async with asyncio.timeout(CONVERGE):
            while True:  # refused (a NOTICE) until amy's node has Redis again
                await amy.send(f"PRIVMSG #lobby :after {attempt}")
                answer = await amy.expect(None)
                while answer.command not in ("PRIVMSG", "NOTICE"):
                    answer = await amy.expect(None)
                if answer.command == "PRIVMSG":
                    break
                attempt += 1
                await asyncio.sleep(0.1)  # Redis is starting: try again
        await bob.expect("PRIVMSG", ["#lobby", f"after {attempt}"], timeout=CONVERGE)
        await bob.send("PRIVMSG amy :and back")
        await amy.expect("PRIVMSG", ["amy", "and back"])
        await bob.assert_nothing(0.3)
        for client in (amy, bob):
            await client.alive()
    finally:
        server.stop()


async def test_an_account_and_a_channel_registration_reach_the_other_node(
    nodes: tuple[Start, dict[str, Node]],
) -> None:
    """bob registers an account on n2: amy on n1 gets his ACCOUNT, his account tag and his
    account in extended-join; the channel he registers is registered on n1 too, and on n3
    started later; his LOGOUT reaches n1 as ``ACCOUNT *``."""
    start, _ = nodes
    n1, n2 = await start("n1.test", "n2.test")
    caps = ["account-notify", "account-tag", "extended-join", "message-tags"]
    amy = await n1.connect("amy", caps=caps)
    bob = await n2.connect("bob")
    await amy.expect("JOIN", ["#lobby", "*", "Bob"], source="bob")
    await bob.send("REGISTER * * :correct horse battery")
    await bob.expect("REGISTER", ["SUCCESS", "bob", re.compile(".*")], timeout=CONVERGE)
    await amy.expect("ACCOUNT", ["bob"], source="bob")
    await bob.send("PRIVMSG #lobby :signed")
    line = await amy.expect("PRIVMSG", ["#lobby", "signed"], source="bob")
    assert line.tags["account"] == "bob"
    await amy.send("JOIN #amys")
    await _until_names(bob, "#amys", "@amy")
    await bob.send("JOIN #amys", "JOIN #bobs")
    await amy.expect("JOIN", ["#amys", "bob", "Bob"], source="bob")
    await bob.send("PRIVMSG ChanServ :REGISTER #bobs")
    await bob.expect("NOTICE", source="ChanServ")
    async with asyncio.timeout(CONVERGE):
        while True:  # the registration is on its way to n1
            await amy.send("PRIVMSG ChanServ :INFO #bobs")
            info = await amy.expect("NOTICE", source="ChanServ")
            if "founder bob" in info.params[-1]:
                break
            await asyncio.sleep(0.05)
    await bob.send("PRIVMSG NickServ :LOGOUT")
    await amy.expect("ACCOUNT", ["*"], source="bob")
    (n3,) = await start("n3.test")  # learns the registration with the rest of the state
    cat = await n3.connect("cat")
    await cat.send("PRIVMSG ChanServ :INFO #bobs")
    info = await cat.expect("NOTICE", source="ChanServ")
    assert "founder bob" in info.params[-1]


async def test_nickserv_regain_takes_a_nick_held_on_the_other_node(
    nodes: tuple[Start, dict[str, Node]], redis_url: str
) -> None:
    """amy (account amy, now amy_) on n1 REGAINs "amy" from mal on n2: mal becomes a guest on
    every node, amy_ becomes amy, and Redis agrees: nobody can take either nick after."""
    start, _ = nodes
    n1, n2 = await start("n1.test", "n2.test")
    amy = await n1.connect("amy")
    await amy.send("REGISTER * * :correct horse battery")
    await amy.expect("REGISTER", ["SUCCESS", "amy", re.compile(".*")], timeout=CONVERGE)
    await amy.send("NICK amy_")
    await amy.expect("NICK", ["amy_"])
    mal = await n2.connect("mal")
    await mal.send("NICK amy")
    await mal.expect("NICK", ["amy"], source="mal")
    await amy.expect("NICK", ["amy"], source="mal")
    await amy.send("PRIVMSG NickServ :REGAIN amy")
    await amy.expect("NICK", ["amy"], source="amy_")
    guest = (await mal.expect("NICK", [re.compile("Guest.*")], source="amy")).params[0]
    zed = await n2.connect("zed")
    await _whois_realname(zed, "amy", "Amy")
    await _whois_realname(zed, guest, "Mal")
    for taken in ("amy", guest):
        await zed.send(f"NICK {taken}")
        await zed.expect("433")
    with redis.Redis.from_url(redis_url) as shared:  # the claims themselves
        assert (shared.hget("cw:nicks", "amy") or b"").startswith(b"n1.test/")
        assert (shared.hget("cw:nicks", guest.lower()) or b"").startswith(b"n2.test/")


async def _whois_realname(asker: Client, nick: str, realname: str) -> None:
    """WHOIS ``nick`` until its real name is ``realname`` (a rename may be on its way)."""
    async with asyncio.timeout(CONVERGE):
        while True:
            await asker.send(f"WHOIS {nick}")
            reply = await asker.expect(None)
            while reply.command not in ("311", "401"):
                reply = await asker.expect(None)
            await asker.expect("318")
            if reply.command == "311" and reply.params[-1] == realname:
                return
            await asyncio.sleep(0.05)  # not there yet


async def test_one_room_created_on_two_nodes_at_once_has_one_operator_everywhere(
    nodes: tuple[Start, dict[str, Node]],
) -> None:
    """amy on n1 and bob on n2 JOIN the same new rooms at the same moment: in each exactly one
    of them is its operator, and both nodes show the same NAMES; a line said there is in the
    room's history on both nodes (one identity for its history)."""
    start, _ = nodes
    n1, n2 = await start("n1.test", "n2.test")
    caps = ["draft/chathistory", "batch", "server-time", "message-tags"]
    amy, bob = await n1.connect("amy", caps=caps), await n2.connect("bob", caps=caps)
    rooms = [f"#race{i}" for i in range(5)]
    await asyncio.gather(amy.send(f"JOIN {','.join(rooms)}"), bob.send(f"JOIN {','.join(rooms)}"))
    for room in rooms:
        names = await _same_everywhere(lambda c, r=room: c.names(r), [amy, bob])  # type: ignore[misc]
        assert isinstance(names, list)
        assert sorted(entry.lstrip("@") for entry in names) == ["amy", "bob"]
        assert len([entry for entry in names if entry.startswith("@")]) == 1, names
    await amy.send("PRIVMSG #race0 :first words")
    await bob.expect("PRIVMSG", ["#race0", "first words"], source="amy")
    for client in (amy, bob):
        await client.send("CHATHISTORY LATEST #race0 * 10")
        await client.expect("BATCH")
        await client.expect("PRIVMSG", ["#race0", "first words"])


async def test_a_labeled_join_of_a_new_room_is_one_labeled_reply(
    nodes: tuple[Start, dict[str, Node]],
) -> None:
    """A labeled JOIN of a room nobody is in (asked of Redis first) answers as on one server:
    one labeled-response batch with the JOIN, NAMES (the joiner as operator) and its end; a
    bad name among several new rooms gets 403, and a room named twice is joined once."""
    start, _ = nodes
    (n1,) = await start("n1.test")
    amy = await n1.connect("amy", caps=["labeled-response", "batch"])
    await amy.send("@label=J1 JOIN #fresh")
    opening = await amy.expect("BATCH", tags={"label": "J1"})
    assert opening.params[1] == "labeled-response"
    await amy.expect("JOIN", ["#fresh"], source="amy")
    names = await amy.expect("353")
    assert names.params[-1] == "@amy"
    await amy.expect("366")
    await amy.expect("BATCH", [f"-{opening.params[0][1:]}"])
    await amy.send("JOIN #fresher,nochannel,#fresher")  # a bad name among new rooms: 403
    await amy.expect("JOIN", ["#fresher"], source="amy")
    await amy.expect_numeric("403", "nochannel", "No such channel")
    await amy.send("PING :done")
    assert [m.command for m in await amy.collect_until("PONG")] == ["PONG"]


async def test_a_labeled_message_to_several_targets_on_other_nodes_is_one_labeled_reply(
    nodes: tuple[Start, dict[str, Node]],
) -> None:
    """amy on n1 sends one labeled PRIVMSG to a room and to bob on n2: her echoes of both come
    in one labeled-response batch, as on one server, and each target gets its line once."""
    start, _ = nodes
    n1, n2 = await start("n1.test", "n2.test")
    amy = await n1.connect("amy", caps=["echo-message", "labeled-response", "batch"])
    bob = await n2.connect("bob")
    await amy.expect("JOIN", ["#lobby"], source="bob")
    await amy.send("@label=L2 PRIVMSG #lobby,bob :to both")
    opening = await amy.expect("BATCH", tags={"label": "L2"})
    assert opening.params[1] == "labeled-response"
    await amy.expect("PRIVMSG", ["#lobby", "to both"], source="amy")
    await amy.expect("PRIVMSG", ["bob", "to both"], source="amy")
    await amy.expect("BATCH", [f"-{opening.params[0][1:]}"])
    await bob.expect("PRIVMSG", ["#lobby", "to both"], source="amy")
    await bob.expect("PRIVMSG", ["bob", "to both"], source="amy")
    await bob.assert_nothing(0.2)


async def test_a_knock_reaches_the_operators_on_every_node(
    nodes: tuple[Start, dict[str, Node]],
) -> None:
    """bob on n2 KNOCKs on amy's invite-only room: amy, its operator on n1, gets 710 with his
    message, cat (a member on n2, not an operator) nothing, and bob 711; his second knock
    within the minute is refused (712)."""
    start, _ = nodes
    n1, n2 = await start("n1.test", "n2.test")
    amy = await n1.connect("amy")
    bob, cat = await n2.connect("bob"), await n2.connect("cat")
    await _room(amy, cat)
    await amy.send("MODE #room +i")
    await cat.expect("MODE", ["#room", "+i"], source="amy")
    await bob.send("KNOCK #room :let me in")
    await bob.expect_numeric("711", "#room", re.compile(".*delivered.*"))
    knock = await amy.expect_numeric("710", "#room", re.compile("bob!.*"), "let me in")
    assert knock.source == "n1.test"
    await bob.send("KNOCK #room :again")
    await bob.expect("712")
    assert [m.command for m in await cat.sync()] == []


async def test_a_knock_reaches_each_operator_once_on_the_knockers_node_and_a_third(
    nodes: tuple[Start, dict[str, Node]],
) -> None:
    """Operators of an invite-only room on three nodes, one of them on the knocker's own node:
    each gets the knock (710) exactly once, and the member who is no operator nothing."""
    start, _ = nodes
    n1, n2, n3 = await start("n1.test", "n2.test", "n3.test")
    amy = await n1.connect("amy")
    bob, cat, dan = await n2.connect("bob"), await n2.connect("cat"), await n2.connect("dan")
    eve = await n3.connect("eve")
    await _room(amy, cat, dan, eve)
    await amy.send("MODE #room +ioo dan eve")
    for member in (cat, dan, eve):
        await member.expect("MODE", ["#room", "+ioo", "dan", "eve"], source="amy")
    await bob.send("KNOCK #room :let me in")
    await bob.expect_numeric("711", "#room", re.compile(".*delivered.*"))
    for op in (amy, dan, eve):
        await op.expect_numeric("710", "#room", re.compile("bob!.*"), "let me in")
    await bob.sync()  # the knock has gone through Redis and back to n2
    for op in (amy, dan, eve):
        assert [m.command for m in await op.sync()] == []
    assert [m.command for m in await cat.sync()] == []


async def test_monitor_and_extended_monitor_follow_a_user_of_another_node(
    nodes: tuple[Start, dict[str, Node]],
) -> None:
    """amy on n1 MONITORs bob, with whom she shares no room: she hears when he signs on at n2
    (730), his AWAY through extended-monitor, and when he leaves (731)."""
    start, _ = nodes
    n1, n2 = await start("n1.test", "n2.test")
    amy = await n1.connect("amy", caps=["extended-monitor", "away-notify"])
    await amy.send("PART #lobby", "MONITOR + bob")
    await amy.expect_numeric("731", "bob")
    bob = await n2.connect("bob")
    online = await amy.expect("730")
    assert online.params[-1].startswith("bob!")
    await bob.send("AWAY :brb")
    await amy.expect("AWAY", ["brb"], source="bob")
    await bob.send("QUIT :bye")
    await amy.expect_numeric("731", "bob")


async def test_a_room_left_and_joined_again_at_once_is_created_anew(
    nodes: tuple[Start, dict[str, Node]],
) -> None:
    """amy, alone in her room, PARTs and JOINs it again in one breath: as on one server the
    room is created anew and she is its operator again."""
    start, _ = nodes
    (n1,) = await start("n1.test")
    amy = await n1.connect("amy")
    await amy.send("JOIN #again")
    await amy.expect("366")
    await amy.send("PART #again", "JOIN #again")
    await amy.expect("PART", ["#again"])
    names = await amy.expect("353")
    assert names.params[-1] == "@amy"


async def test_a_room_joined_through_another_nodes_members_gives_the_network_its_identity(
    nodes: tuple[Start, dict[str, Node]], redis_url: str
) -> None:
    """amy (n1) creates #room; the network loses the room's history identity (as when its
    creator's PART and a JOIN on another node cross, or during an upgrade); bob (n2) joins it,
    a room n2 knows through amy, without a claim: n2 gives Redis the identity it knows, the
    one amy's node keeps the room's history under, for whoever claims the room later."""
    start, _ = nodes
    n1, n2 = await start("n1.test", "n2.test")
    amy = await n1.connect("amy")
    bob = await n2.connect("bob")
    await amy.send("JOIN #room")
    await amy.expect("366")
    await _until_names(bob, "#room", "@amy")
    with redis.Redis.from_url(redis_url) as shared:
        identity = shared.get("cw:ident:#room")
        assert identity is not None and identity.startswith(b"#room!")
        shared.delete("cw:ident:#room")
        await bob.send("JOIN #room")
        await bob.expect("366")
        async with asyncio.timeout(CONVERGE):
            while shared.get("cw:ident:#room") is None:
                await asyncio.sleep(0.05)  # n2's call is on its way
        assert shared.get("cw:ident:#room") == identity
