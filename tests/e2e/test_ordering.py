"""Order: a client's lines are handled (and answered) in the order it sent them, and everybody
sees one client's events in the order they happened, with durable delivery on or off.

Each test sends a mixed sequence in ONE packet (or hands lines to the server in one loop turn)
and compares what every observer receives. Every test runs three ways: durable delivery off,
durable delivery on a memory store (commit callbacks on the next loop iteration), and durable
delivery on SQLite (commits from the writer thread).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from chinwag.protocol import Message, parse_line

from .accounts_support import ServeAccounts, fast_hashing, serve_accounts
from .harness import ANY, Client, Harness, cheap_hash

Serve = Callable[..., Awaitable[Harness]]
Start = Callable[..., Awaitable[Harness]]

__all__ = ["fast_hashing", "serve_accounts"]  # fixtures, imported to be used here

MODES = ["durable-off", "durable-memory", "durable-sqlite"]

_SHOWN = ("PRIVMSG", "NOTICE", "NICK", "PART", "JOIN", "TOPIC", "KICK", "MODE", "INVITE", "QUIT")


@pytest.fixture(params=MODES)
def start(request: pytest.FixtureRequest, serve: Serve, tmp_path: Path) -> Start:
    """Start a server in the parametrised delivery mode (other overrides pass through)."""

    async def run(**overrides: Any) -> Harness:
        history: dict[str, Any] = {"durable_delivery": request.param != "durable-off"}
        server: dict[str, Any] = {}
        if request.param == "durable-sqlite":
            server["data_dir"] = str(tmp_path / "data")
        return await serve(history=history, server=server, **overrides)

    return run


def _packet(*lines: str) -> bytes:
    return "".join(line + "\r\n" for line in lines).encode()


def _seen(lines: list[Message]) -> list[tuple[str, str, str]]:
    """(source nick, command, last parameter) of every line that shows an event."""
    return [
        (m.source_nick or "", m.command, m.params[-1] if m.params else "")
        for m in lines
        if m.command in _SHOWN
    ]


async def _room(h: Harness, channel: str, *nicks: str) -> list[Client]:
    """Connect ``nicks``; the first creates ``channel`` (and is its op), the others join."""
    clients = [await h.connect(nick) for nick in nicks]
    for client in clients:
        await client.send(f"JOIN {channel}")
        await client.expect("366")
    for client in clients:
        await client.sync()
    return clients


async def test_rename_part_join_do_not_overtake_a_message(start: Start) -> None:
    """PRIVMSG, NICK, PART, JOIN in one packet reach an observer in that order."""
    h = await start()
    amy, bob = await _room(h, "#c", "amy", "bob")
    await amy.send(_packet("PRIVMSG #c :hi", "NICK amy2", "PART #c", "JOIN #c", "PING done"))
    await amy.expect("PONG", [ANY, "done"])
    seen = _seen(await bob.collect_until("JOIN"))
    assert seen == [
        ("amy", "PRIVMSG", "hi"),
        ("amy", "NICK", "amy2"),
        ("amy2", "PART", "#c"),
        ("amy2", "JOIN", "#c"),
    ]


async def test_a_kicked_user_sees_the_message_before_the_kick(start: Start) -> None:
    """PRIVMSG then KICK in one packet: the kicked user and the others get both, in order."""
    h = await start()
    amy, bob, cid = await _room(h, "#c", "amy", "bob", "cid")
    await amy.send(_packet("PRIVMSG #c :bob, you are out", "KICK #c bob :bye"))
    expected = [("amy", "PRIVMSG", "bob, you are out"), ("amy", "KICK", "bye")]
    assert _seen(await bob.collect_until("KICK")) == expected
    assert _seen(await cid.collect_until("KICK")) == expected


async def test_topic_mode_notice_keep_their_order(start: Start) -> None:
    """PRIVMSG, TOPIC, NOTICE, MODE, PRIVMSG in one packet arrive in that order."""
    h = await start()
    amy, bob = await _room(h, "#c", "amy", "bob")
    await amy.send(
        _packet(
            "PRIVMSG #c :one",
            "TOPIC #c :two",
            "NOTICE #c :three",
            "MODE #c +v bob",
            "PRIVMSG #c :four",
        )
    )
    lines = await bob.collect_until("PRIVMSG")
    lines += await bob.collect_until("PRIVMSG")
    assert _seen(lines) == [
        ("amy", "PRIVMSG", "one"),
        ("amy", "TOPIC", "two"),
        ("amy", "NOTICE", "three"),
        ("amy", "MODE", "bob"),
        ("amy", "PRIVMSG", "four"),
    ]


async def test_an_invite_follows_the_private_message_before_it(start: Start) -> None:
    """PRIVMSG bob then INVITE bob: bob reads the message first."""
    h = await start()
    (amy,) = await _room(h, "#c", "amy")
    bob = await h.connect("bob")
    await amy.send(_packet("PRIVMSG bob :come in", "INVITE bob #c"))
    assert _seen(await bob.collect_until("INVITE")) == [
        ("amy", "PRIVMSG", "come in"),
        ("amy", "INVITE", "#c"),
    ]


async def test_last_words_come_before_the_quit(start: Start) -> None:
    """PRIVMSG, NOTICE then QUIT in one packet: the others get the words, then the QUIT."""
    h = await start()
    amy, bob = await _room(h, "#c", "amy", "bob")
    await amy.send(_packet("PRIVMSG #c :bye all", "NOTICE bob :psst", "QUIT :gone"))
    seen = _seen(await bob.collect_until("QUIT"))
    assert seen == [
        ("amy", "PRIVMSG", "bye all"),
        ("amy", "NOTICE", "psst"),
        ("amy", "QUIT", ANY),
    ]


async def test_what_happened_first_is_seen_first_across_clients(start: Start) -> None:
    """Amy's message, then bob's PING, in one loop turn: bob gets the message before his PONG
    (a client that synchronises with PING sees everything that happened before)."""
    h = await start()
    _, bob = await _room(h, "#c", "amy", "bob")
    users = {nick: h.server.network.find(nick) for nick in ("amy", "bob")}
    for nick, line in (("amy", "PRIVMSG #c :first"), ("bob", "PING second")):
        user = users[nick]
        assert user is not None
        h.server.dispatch(user, parse_line(line))
    lines = await bob.collect_until("PONG")
    assert [(m.command, m.params[-1]) for m in lines] == [("PRIVMSG", "first"), ("PONG", "second")]


async def test_the_echo_comes_before_the_next_reply(start: Start) -> None:
    """With echo-message, PRIVMSG then PING: the echo arrives before the PONG."""
    h = await start()
    amy = await h.connect("amy", caps=["echo-message"])
    await amy.send(_packet("PRIVMSG #lobby :me first", "PING x"))
    lines = await amy.collect_until("PONG")
    assert [(m.command, m.params[-1]) for m in lines] == [("PRIVMSG", "me first"), ("PONG", "x")]


async def test_lines_behind_oper_wait_for_the_password_check(
    start: Start, fast_hashing: None
) -> None:
    """OPER, WALLOPS, PING in one packet: 381, then the WALLOPS goes out, then PONG."""
    h = await start(opers=[("root", cheap_hash("hunter2"))])
    amy = await h.connect("amy")
    await amy.send("MODE amy +w")
    await amy.expect("MODE", ["amy", "+w"])
    await amy.send(_packet("OPER root hunter2", "WALLOPS :test", "PING x"))
    lines = await amy.collect_until("PONG")
    commands = [m.command for m in lines]
    assert "481" not in commands
    assert commands.index("381") < commands.index("WALLOPS") < commands.index("PONG")


async def test_lines_behind_a_wrong_oper_password_come_after_its_464(
    start: Start, fast_hashing: None
) -> None:
    """A failing OPER is answered 464 before the PING that followed it."""
    h = await start(opers=[("root", cheap_hash("hunter2"))])
    amy = await h.connect("amy")
    await amy.send(_packet("OPER root wrong", "PING x"))
    lines = await amy.collect_until("PONG")
    assert [m.command for m in lines] == ["464", "PONG"]


async def test_a_history_query_is_answered_before_the_next_line(start: Start) -> None:
    """PRIVMSG, CHATHISTORY LATEST, PING in one packet: the batch holds the message and comes
    before the PONG."""
    h = await start()
    amy = await h.connect("amy", caps=["draft/chathistory", "batch", "server-time"])
    await amy.send(_packet("PRIVMSG #lobby :kept", "CHATHISTORY LATEST #lobby * 10", "PING x"))
    lines = await amy.collect_until("PONG")
    assert [m.command for m in lines] == ["BATCH", "PRIVMSG", "BATCH", "PONG"]
    assert lines[1].params == ("#lobby", "kept")


async def test_lines_behind_register_wait_for_the_account(serve_accounts: ServeAccounts) -> None:
    """REGISTER then WHOIS in one packet: the account exists when WHOIS runs (330), and the
    answers come in that order."""
    h = await serve_accounts()
    amy = await h.connect("amy")
    await amy.send(_packet("REGISTER * * :secret-words", "WHOIS amy", "PING x"))
    lines = await amy.collect_until("PONG")
    commands = [m.command for m in lines]
    assert commands.index("REGISTER") < commands.index("330") < commands.index("PONG")


async def test_lines_piling_up_behind_a_wait_are_not_a_flood(serve: Serve) -> None:
    """More lines than flood_queue behind a slow OPER: the connection is not cut off for
    Excess Flood (the server was slow, not the client); it stops being read meanwhile, and
    every line is answered, in order."""
    h = await serve(limits={"flood_queue": 3}, opers=[("root", cheap_hash("hunter2"))])
    amy = await h.connect("amy")
    pings = [f"PING p{i}" for i in range(20)]
    await amy.send(_packet("OPER root hunter2", *pings))
    lines = await amy.collect_until("PONG")
    assert lines[0].command == "381"
    rest = [lines[-1]] + [await amy.expect("PONG") for _ in range(19)]
    assert [m.params[-1] for m in rest] == [f"p{i}" for i in range(20)]
    await amy.alive()
