"""Large rooms (delayed join, like InspIRCd's and UnrealIRCd's +D): above ``large_channel``
members a room stops telling everyone about every silent arrival and departure. A member's
JOIN is shown when they first speak; NAMES on joining lists the visible members; WHO lists
everyone. Small rooms keep every JOIN, PART and QUIT."""

from __future__ import annotations

from .conftest import Serve
from .harness import Client, Harness


async def _fill(h: Harness, channel: str, count: int, prefix: str) -> list[Client]:
    members = []
    for i in range(count):
        member = await h.connect(f"{prefix}{i}")
        await member.send(f"JOIN {channel}")
        await member.expect("366")
        members.append(member)
    return members


async def test_silent_arrivals_in_a_large_room_are_not_broadcast(serve: Serve) -> None:
    """Past large_channel members the room is +D: a newcomer's JOIN reaches only the newcomer;
    its NAMES shows the visible members; when it speaks, the others see its JOIN, then its
    line."""
    h = await serve(server={"default_channels": []}, limits={"large_channel": 3})
    early = await _fill(h, "#big", 3, "early")
    late = await h.connect("late")
    await late.send("JOIN #big")
    await late.expect("JOIN", ["#big"], source="late")
    names = await late.expect("353")
    assert sorted(names.params[-1].replace("@", "").split()) == [
        "early0",
        "early1",
        "early2",
        "late",
    ]
    await late.expect("366")
    await early[0].expect("MODE", ["#big", "+D"])
    for member in early:
        seen = await member.sync()
        assert not [m for m in seen if m.command == "JOIN" and m.source_nick == "late"], seen
    await late.send("PRIVMSG #big :hello, I am here")
    await early[1].expect("JOIN", ["#big"], source="late")
    await early[1].expect("PRIVMSG", ["#big", "hello, I am here"], source="late")


async def test_silent_departures_and_who(serve: Serve) -> None:
    """A silent member who leaves (PART or QUIT) is not announced; WHO lists every member,
    silent ones too; a member who spoke is announced as before."""
    h = await serve(server={"default_channels": []}, limits={"large_channel": 2})
    early = await _fill(h, "#big", 2, "early")
    quiet = await _fill(h, "#big", 2, "quiet")
    await early[0].send("WHO #big")
    who = await early[0].collect_until("315")
    assert sorted(m.params[5] for m in who if m.command == "352") == [
        "early0",
        "early1",
        "quiet0",
        "quiet1",
    ]
    await quiet[0].send("PART #big :bye")
    await quiet[0].expect("PART", ["#big", "bye"])
    await quiet[1].send("QUIT :gone")
    await quiet[1].expect_closed()
    speaker = (await _fill(h, "#big", 1, "speaker"))[0]
    await speaker.send("PRIVMSG #big :hi")
    await early[0].expect("JOIN", ["#big"], source="speaker0")
    await speaker.send("PART #big")
    await early[0].expect("PART", ["#big"], source="speaker0")
    seen = early[0].history
    assert not [m for m in seen if m.source_nick in ("quiet0", "quiet1")], seen


async def test_small_rooms_keep_every_join(serve: Serve) -> None:
    """Below large_channel every JOIN is broadcast, and the room has no +D."""
    h = await serve(server={"default_channels": []}, limits={"large_channel": 10})
    first = (await _fill(h, "#small", 1, "first"))[0]
    await _fill(h, "#small", 1, "second")
    await first.expect("JOIN", ["#small"], source="second0")
    await first.send("MODE #small")
    mode = await first.expect("324")
    assert "D" not in mode.params[2]


async def test_an_operator_can_turn_delayed_join_off(serve: Serve) -> None:
    """MODE -D shows everyone's arrival at once; MODE +D works on a small room too."""
    h = await serve(server={"default_channels": []}, limits={"large_channel": 0})
    op = (await _fill(h, "#room", 1, "op"))[0]
    await op.send("MODE #room +D")
    await op.expect("MODE", ["#room", "+D"])
    await _fill(h, "#room", 1, "quiet")
    await op.sync()
    await op.send("MODE #room -D")
    await op.expect("JOIN", ["#room"], source="quiet0")
    await op.expect("MODE", ["#room", "-D"])
    await op.send("NAMES #room")
    names = await op.expect("353")
    assert sorted(names.params[-1].split()) == ["@op0", "quiet0"]
