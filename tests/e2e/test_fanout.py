"""Channel fan-out in batches (``server/fanout.py``): many lines in one loop turn reach every
member whole and in order, the speaker never gets its own, and nothing overtakes anything.

Some tests hand lines to the server synchronously (``h.server.dispatch``) so that they are
handled in one loop turn, the case batches exist for; the clients still read real sockets.
They run with history off and with durable history, where the output of a loop turn is written
once the store has committed what it stored: the same lines, in the same order, either way.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from chinwag.protocol import parse_line
from chinwag.server.app import LAZY_FLUSH
from chinwag.server.state import Client as ServerClient

from .harness import WAIT, Client, Harness

Serve = Callable[..., Awaitable[Harness]]

HISTORY = [
    pytest.param({"enabled": False}, id="history-off"),
    pytest.param({}, id="durable-history"),
]


def _user(h: Harness, nick: str) -> ServerClient:
    found = h.server.network.find(nick)
    assert found is not None
    return found


def _in_one_turn(h: Harness, *lines: tuple[str, str]) -> None:
    """Handle each ``(nick, line)`` now, in this one loop turn."""
    for nick, line in lines:
        h.server.dispatch(_user(h, nick), parse_line(line))


def _one_write(*lines: str) -> bytes:
    """The lines as one chunk of bytes, which the server reads (and handles) in one turn."""
    return "".join(line + "\r\n" for line in lines).encode()


async def _texts(client: Client, count: int) -> list[tuple[str, str, str]]:
    """The next ``count`` PRIVMSG/KICK/JOIN/PART lines as (source, command, last param)."""
    seen: list[tuple[str, str, str]] = []
    while len(seen) < count:
        msg = await client.next()
        if msg.command in ("PRIVMSG", "KICK", "JOIN", "PART"):
            seen.append((msg.source_nick or "", msg.command, msg.params[-1]))
    return seen


@pytest.mark.parametrize("history", HISTORY)
async def test_a_burst_reaches_every_member_in_order_but_not_the_speaker(
    serve: Serve, history: dict[str, Any]
) -> None:
    """Fifty lines from amy in one write: bob and cid get all fifty in order, amy none."""
    h = await serve(history=history)
    amy, bob, cid = [await h.connect(n) for n in ("amy", "bob", "cid")]
    await amy.sync()
    await bob.sync()
    await cid.sync()
    await amy.send(_one_write(*(f"PRIVMSG #lobby :line {i}" for i in range(50))))
    expected = [("amy", "PRIVMSG", f"line {i}") for i in range(50)]
    assert await _texts(bob, 50) == expected
    assert await _texts(cid, 50) == expected
    assert [m for m in await amy.sync() if m.command == "PRIVMSG"] == []


@pytest.mark.parametrize("history", HISTORY)
async def test_two_speakers_in_one_turn_each_get_only_the_other(
    serve: Serve, history: dict[str, Any]
) -> None:
    """amy and bob talk in the same turn: each gets the other's lines, cid gets all, in order."""
    h = await serve(history=history)
    amy, bob, cid = [await h.connect(n) for n in ("amy", "bob", "cid")]
    for client in (amy, bob, cid):
        await client.sync()
    _in_one_turn(
        h,
        ("amy", "PRIVMSG #lobby :a1"),
        ("bob", "PRIVMSG #lobby :b1"),
        ("amy", "PRIVMSG #lobby :a2"),
        ("bob", "PRIVMSG #lobby :b2"),
    )
    assert await _texts(cid, 4) == [
        ("amy", "PRIVMSG", "a1"),
        ("bob", "PRIVMSG", "b1"),
        ("amy", "PRIVMSG", "a2"),
        ("bob", "PRIVMSG", "b2"),
    ]
    assert await _texts(amy, 2) == [("bob", "PRIVMSG", "b1"), ("bob", "PRIVMSG", "b2")]
    assert await _texts(bob, 2) == [("amy", "PRIVMSG", "a1"), ("amy", "PRIVMSG", "a2")]
    assert [m for m in await amy.sync() if m.command == "PRIVMSG"] == []


@pytest.mark.parametrize("history", HISTORY)
async def test_a_private_line_keeps_its_place_between_channel_lines(
    serve: Serve, history: dict[str, Any]
) -> None:
    """Channel, private, channel in one write: bob reads them in that order."""
    h = await serve(history=history)
    amy, bob = [await h.connect(n) for n in ("amy", "bob")]
    await bob.sync()
    await amy.send(_one_write("PRIVMSG #lobby :one", "PRIVMSG bob :two", "PRIVMSG #lobby :three"))
    assert await _texts(bob, 3) == [
        ("amy", "PRIVMSG", "one"),
        ("amy", "PRIVMSG", "two"),
        ("amy", "PRIVMSG", "three"),
    ]


@pytest.mark.parametrize("history", HISTORY)
async def test_lines_of_two_channels_keep_their_order(
    serve: Serve, history: dict[str, Any]
) -> None:
    """A member of two busy channels gets their lines interleaved as they were said."""
    h = await serve(history=history)
    amy, bob = [await h.connect(n) for n in ("amy", "bob")]
    await amy.send("JOIN #two")
    await bob.send("JOIN #two")
    await bob.expect("JOIN", ["#two"], source="bob")
    await bob.sync()
    lines = [f"PRIVMSG {'#lobby' if i % 3 else '#two'} :{i}" for i in range(30)]
    _in_one_turn(h, *(("amy", line) for line in lines))
    got = await _texts(bob, 30)
    assert [text for _, _, text in got] == [str(i) for i in range(30)]


@pytest.mark.parametrize("history", HISTORY)
async def test_nobody_gets_lines_said_after_leaving_in_the_same_turn(
    serve: Serve, history: dict[str, Any]
) -> None:
    """Said, KICK bob, said again, all in one turn: bob gets the first and the KICK only."""
    h = await serve(history=history)
    amy, bob, cid = [await h.connect(n) for n in ("amy", "bob", "cid")]
    await amy.send("JOIN #room")
    await amy.expect("JOIN", ["#room"])
    for client in (bob, cid):
        await client.send("JOIN #room")
        await amy.expect("JOIN", ["#room"], source=client.name)
    await bob.sync()
    await cid.sync()
    _in_one_turn(
        h,
        ("amy", "PRIVMSG #room :before"),
        ("amy", "KICK #room bob :out"),
        ("amy", "PRIVMSG #room :after"),
        ("cid", "PRIVMSG #room :later"),
    )
    assert await _texts(cid, 3) == [
        ("amy", "PRIVMSG", "before"),
        ("amy", "KICK", "out"),
        ("amy", "PRIVMSG", "after"),
    ]
    assert await _texts(bob, 2) == [("amy", "PRIVMSG", "before"), ("amy", "KICK", "out")]
    assert [m for m in await bob.sync() if m.command == "PRIVMSG"] == []


@pytest.mark.parametrize("history", HISTORY)
async def test_a_newcomer_gets_the_lines_said_after_its_join_in_the_same_turn(
    serve: Serve, history: dict[str, Any]
) -> None:
    """Said, cid joins, said again, in one turn: cid gets what came after its JOIN only."""
    h = await serve(history=history)
    amy, bob = [await h.connect(n) for n in ("amy", "bob")]
    cid = await h.connect("cid")
    await cid.send("PART #lobby")
    await cid.expect("PART", ["#lobby"])
    await cid.sync()
    await bob.sync()
    _in_one_turn(
        h,
        ("amy", "PRIVMSG #lobby :before"),
        ("cid", "JOIN #lobby"),
        ("amy", "PRIVMSG #lobby :after"),
    )
    assert await _texts(cid, 2) == [("cid", "JOIN", "#lobby"), ("amy", "PRIVMSG", "after")]
    assert await _texts(bob, 3) == [
        ("amy", "PRIVMSG", "before"),
        ("cid", "JOIN", "#lobby"),
        ("amy", "PRIVMSG", "after"),
    ]
    await amy.sync()


@pytest.mark.parametrize("history", HISTORY)
async def test_a_room_wider_than_a_turns_writes_gets_everything_in_order(
    serve: Serve, history: dict[str, Any]
) -> None:
    """With a write budget of 2 connections per turn, a room of 7 is written over several turns
    while more happens (lines, a private line, an arrival, more lines): everyone still gets
    exactly its lines, in the order they happened."""
    h = await serve(history=history)
    h.server.outbox.write_budget = 2
    nicks = ["amy", "bob", "cid", "dee", "eve", "fay"]
    members = [await h.connect(n) for n in nicks]
    gus = await h.connect("gus")
    await gus.send("PART #lobby")
    await gus.expect("PART", ["#lobby"])
    for member in members:
        await member.sync()
    first = [("amy", f"PRIVMSG #lobby :a{i}") for i in range(10)]
    second = [("amy", f"PRIVMSG #lobby :b{i}") for i in range(10)]
    _in_one_turn(h, *first, ("bob", "PRIVMSG cid :private"))
    await asyncio.sleep(0)  # the first slice of that turn is written
    if history.get("enabled") is False:  # (durable: the turn may wait for its commit first)
        assert h.server.outbox.behind
    _in_one_turn(h, ("gus", "JOIN #lobby"), *second)
    said = [("amy", "PRIVMSG", f"a{i}") for i in range(10)]
    later = [("gus", "JOIN", "#lobby"), *(("amy", "PRIVMSG", f"b{i}") for i in range(10))]
    for member in members[1:]:
        private = [("bob", "PRIVMSG", "private")] if member.name == "cid" else []
        assert await _texts(member, len(said) + len(private) + len(later)) == [
            *said,
            *private,
            *later,
        ]
    assert await _texts(gus, len(later)) == later
    assert [m for m in await members[0].sync() if m.command == "PRIVMSG"] == []


async def test_an_arrival_is_shown_while_a_busy_room_keeps_the_outbox_behind(
    serve: Serve,
) -> None:
    """A room that speaks every turn keeps the outbox writing slices (a budget of 1 here);
    an arrival elsewhere still reaches its room within LAZY_FLUSH_MAX, not once it falls quiet."""
    h = await serve(history={"enabled": False})
    h.server.outbox.write_budget = 1
    for nick in ("amy", *(f"m{i}" for i in range(8))):  # the busy room: #lobby
        await h.connect(nick)
    eve, dan = await h.connect("eve"), await h.connect("dan")
    for client in (eve, dan):
        await client.send("PART #lobby")
        await client.expect("PART", ["#lobby"])
    await eve.send("JOIN #quiet")
    await eve.expect("JOIN", ["#quiet"])
    await eve.sync()
    loop = asyncio.get_running_loop()
    talking = True

    async def talk() -> None:
        until = loop.time() + 3 * WAIT
        number = 0
        while talking and loop.time() < until:
            _in_one_turn(h, ("amy", f"PRIVMSG #lobby :{number}"))
            number += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(talk())
    await asyncio.sleep(2 * LAZY_FLUSH)  # whatever waited lazily before the talk is out
    assert h.server.outbox.behind
    _in_one_turn(h, ("dan", "JOIN #quiet"))
    await eve.expect("JOIN", ["#quiet"], source="dan")
    still_talking = not task.done()
    talking = False
    await task
    assert still_talking


async def test_each_member_gets_its_own_tag_variant(serve: Serve) -> None:
    """In one turn, a server-time member gets tagged lines and a plain member plain ones."""
    h = await serve(history={"enabled": False})
    amy = await h.connect("amy")
    tagged = await h.connect("tim", caps=["server-time"])
    plain = await h.connect("pat")
    await tagged.sync()
    await plain.sync()
    _in_one_turn(h, *(("amy", f"PRIVMSG #lobby :{i}") for i in range(5)))
    for i in range(5):
        msg = await tagged.expect("PRIVMSG", ["#lobby", str(i)], source="amy")
        assert "time" in msg.tags
        msg = await plain.expect("PRIVMSG", ["#lobby", str(i)], source="amy")
        assert msg.tags == {}
    await amy.sync()


async def test_a_labeled_command_in_a_busy_turn_gets_its_reply_and_the_chat(
    serve: Serve,
) -> None:
    """A member with a labeled command running while the channel is busy loses nothing."""
    h = await serve(history={"enabled": False})
    amy = await h.connect("amy")
    bob = await h.connect("bob", caps=["labeled-response", "batch"])
    await bob.sync()
    _in_one_turn(h, ("amy", "PRIVMSG #lobby :one"))
    h.server.dispatch(_user(h, "bob"), parse_line("@label=L1 PING :hello"))
    _in_one_turn(h, ("amy", "PRIVMSG #lobby :two"))
    got = [await bob.next() for _ in range(3)]
    assert [(m.command, m.params[-1]) for m in got] == [
        ("PRIVMSG", "one"),
        ("PONG", "hello"),
        ("PRIVMSG", "two"),
    ]
    assert got[1].tags.get("label") == "L1"
    await amy.sync()


@pytest.mark.parametrize("history", HISTORY)
async def test_an_echo_message_speaker_gets_its_lines_in_place(
    serve: Serve, history: dict[str, Any]
) -> None:
    """amy (echo-message) and bob talk in one turn: amy gets all four in order, bob amy's."""
    h = await serve(history=history)
    amy = await h.connect("amy", caps=["echo-message"])
    bob = await h.connect("bob")
    cid = await h.connect("cid")
    for client in (amy, bob, cid):
        await client.sync()
    said = [("amy", "a1"), ("bob", "b1"), ("amy", "a2"), ("bob", "b2")]
    _in_one_turn(h, *((nick, f"PRIVMSG #lobby :{text}") for nick, text in said))
    everything = [(nick, "PRIVMSG", text) for nick, text in said]
    assert await _texts(amy, 4) == everything
    assert [m for m in await amy.sync() if m.command == "PRIVMSG"] == [], "each echo once"
    assert await _texts(cid, 4) == everything
    assert await _texts(bob, 2) == [("amy", "PRIVMSG", "a1"), ("amy", "PRIVMSG", "a2")]
    assert [m for m in await bob.sync() if m.command == "PRIVMSG"] == []


async def test_a_labeled_echo_is_the_reply_and_the_next_echo_follows_it(serve: Serve) -> None:
    """In one turn, a labeled then a plain message: the labeled echo first, with its label."""
    h = await serve(history={"enabled": False})
    amy = await h.connect("amy", caps=["echo-message", "labeled-response", "batch"])
    bob = await h.connect("bob")
    await amy.sync()
    await bob.sync()
    _in_one_turn(
        h,
        ("bob", "PRIVMSG #lobby :b1"),
        ("amy", "@label=L7 PRIVMSG #lobby :a1"),
        ("amy", "PRIVMSG #lobby :a2"),
    )
    got = [await amy.next() for _ in range(3)]
    assert [(m.source_nick, m.params[-1], m.tags.get("label")) for m in got] == [
        ("bob", "b1", None),
        ("amy", "a1", "L7"),
        ("amy", "a2", None),
    ]
    assert await _texts(bob, 2) == [("amy", "PRIVMSG", "a1"), ("amy", "PRIVMSG", "a2")]
