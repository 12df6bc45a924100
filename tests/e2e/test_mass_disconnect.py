"""Many members of a room gone at once (their sockets reset in one go, or closed by the server
in one loop turn): the QUITs go through the room's shared batch, and every member still
connected gets exactly what it got when each QUIT was queued to each member: the QUIT of every
visible leaver once, with its tags, none of the silent members' of a delayed-join room. A
member the server closes still gets everything said before its end, then its ERROR."""

from __future__ import annotations

import socket
import struct
from collections.abc import Callable

from chinwag.protocol import Message

from .conftest import Serve
from .harness import ANY, Client, Harness, cheap_hash

_RESET = struct.pack("ii", 1, 0)  # SO_LINGER on, 0 s: close sends RST
TAGS = ["server-time", "message-tags", "account-tag"]


async def _fill(
    h: Harness, channel: str, nicks: list[str], caps: list[str] | None = None
) -> dict[str, Client]:
    members = {}
    for nick in nicks:
        member = members[nick] = await h.connect(nick, caps=caps or [])
        await member.send(f"JOIN {channel}")
        await member.expect("366")
    return members


def _reset(clients: list[Client]) -> None:
    """Reset every connection of ``clients`` in one go (no await in between)."""
    for client in clients:
        transport = client.writer.transport
        sock = transport.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _RESET)
        transport.abort()


async def _quits_until_settled(client: Client, expected: int) -> list[Message]:
    """Every QUIT ``client`` receives up to its PONG, once ``expected`` of them came."""
    quits: list[Message] = []
    while len(quits) < expected:
        quits.append(await client.expect("QUIT"))
    quits += [m for m in await client.sync() if m.command == "QUIT"]
    return quits


async def test_a_room_dropping_at_once_quits_each_visible_member_once(serve: Serve) -> None:
    """Six visible members and four silent ones reset together: each member still connected
    (with tags or without) gets the six QUITs, once each, tagged as it asked, and none of the
    silent ones; the room then works as before."""
    h = await serve(server={"default_channels": []}, limits={"large_channel": 8})
    plain = (await _fill(h, "#big", ["plain"]))["plain"]
    tagged = (await _fill(h, "#big", ["tagged"], caps=TAGS))["tagged"]
    visible = await _fill(h, "#big", [f"v{i}" for i in range(6)])
    silent = await _fill(h, "#big", [f"s{i}" for i in range(4)])  # past 8 members: +D
    for watcher in (plain, tagged):
        await watcher.sync()
    _reset([*visible.values(), *silent.values()])
    for watcher in (plain, tagged):
        quits = await _quits_until_settled(watcher, 6)
        assert sorted(m.source_nick or "" for m in quits) == [f"v{i}" for i in range(6)]
    tagged_quits = [m for m in tagged.history if m.command == "QUIT"]
    assert all("time" in m.tags for m in tagged_quits), tagged_quits
    assert not any(m.tags for m in plain.history if m.command == "QUIT")
    await plain.send("PRIVMSG #big :still here")
    await tagged.expect("PRIVMSG", ["#big", "still here"], source="plain")
    await tagged.send("NAMES #big")
    names = await tagged.expect("353")
    assert sorted(names.params[-1].lstrip("@").split()) == ["plain", "tagged"]


async def test_a_leaver_in_two_rooms_quits_once_to_each_peer(serve: Serve) -> None:
    """A user of a big room and a small one is reset with others of the big room: a member
    of both rooms gets its QUIT once, a member of only the small room gets it too."""
    h = await serve(server={"default_channels": []})
    c = await _fill(h, "#big", ["both", "bigonly", "roamer", "other0", "other1"])
    c |= await _fill(h, "#small", ["smallonly"])
    for nick in ("both", "roamer"):
        await c[nick].send("JOIN #small")
        await c[nick].expect("366")
    for nick in ("both", "bigonly", "smallonly"):
        await c[nick].sync()
    _reset([c["roamer"], c["other0"], c["other1"]])
    both = await _quits_until_settled(c["both"], 3)
    assert sorted(m.source_nick or "" for m in both) == ["other0", "other1", "roamer"]
    big_only = await _quits_until_settled(c["bigonly"], 3)
    assert sorted(m.source_nick or "" for m in big_only) == ["other0", "other1", "roamer"]
    small_only = await _quits_until_settled(c["smallonly"], 1)
    assert [m.source_nick for m in small_only] == ["roamer"]


async def test_a_message_in_the_turn_of_a_mass_drop_reaches_everyone_left(serve: Serve) -> None:
    """A line said while most of the room resets, and one said after, both reach the member
    still there, in the order said, with the visible leavers' QUITs."""
    h = await serve(server={"default_channels": []}, limits={"large_channel": 4})
    c = await _fill(h, "#big", ["speaker", "hearer", *[f"gone{i}" for i in range(6)]])
    speaker, hearer = c["speaker"], c["hearer"]
    await hearer.sync()
    speaker.writer.write(b"PRIVMSG #big :first\r\n")  # in the same turn as the resets
    _reset([c[f"gone{i}"] for i in range(6)])
    await speaker.send("PRIVMSG #big :second")
    await hearer.expect("PRIVMSG", ["#big", "second"], source="speaker")
    await hearer.sync()
    said = [m.params[-1] for m in hearer.history if m.command == "PRIVMSG"]
    assert said == ["first", "second"]
    quits = [m.source_nick or "" for m in hearer.history if m.command == "QUIT"]
    assert sorted(quits) == ["gone0", "gone1"]  # the others arrived silent (+D past 4)


def _said(lines: list[Message]) -> list[str]:
    """The room's lines and QUITs among ``lines``, and the ERROR that ends them, in order."""
    shown: dict[str, Callable[[Message], str]] = {
        "PRIVMSG": lambda m: f"said {m.params[-1]}",
        "QUIT": lambda m: f"quit {m.source_nick}",
        "ERROR": lambda m: "error",
    }
    return [shown[m.command](m) for m in lines if m.command in shown]


async def test_members_closed_in_one_turn_get_what_was_said_before_their_end(serve: Serve) -> None:
    """An operator kills four members in one read, with a line said between the kills: each
    one killed gets what the room said before its end (the earlier QUITs too), then its ERROR;
    the members left get every QUIT once, in the order of the kills, and the lines in place."""
    h = await serve(server={"default_channels": []}, opers=[("root", cheap_hash("pw"))])
    c = await _fill(h, "#big", ["boss", "plain", *[f"k{i}" for i in range(4)]])
    c |= await _fill(h, "#big", ["tagged"], caps=TAGS)
    await c["boss"].send("OPER root pw")
    await c["boss"].expect_numeric("381", ANY)
    for client in c.values():
        await client.sync()
        client.history.clear()
    c["boss"].writer.write(
        b"PRIVMSG #big :before\r\nKILL k0 :bye\r\nKILL k1 :bye\r\n"
        b"PRIVMSG #big :between\r\nKILL k2 :bye\r\nKILL k3 :bye\r\n"
    )
    heard = ["said before", "quit k0", "quit k1", "said between", "quit k2", "quit k3"]
    ends = {"k0": 1, "k1": 2, "k2": 4, "k3": 5}  # what each had heard when it was killed
    for nick, upto in ends.items():
        assert _said(await c[nick].expect_closed()) == [*heard[:upto], "error"], nick
    for nick in ("plain", "tagged"):
        await c[nick].expect("QUIT", source="k3")
        await c[nick].sync()
        assert _said(c[nick].history) == heard, nick
    assert all("time" in m.tags for m in c["tagged"].history if m.command == "QUIT")
    await c["boss"].sync()
    assert _said(c["boss"].history) == ["quit k0", "quit k1", "quit k2", "quit k3"]
