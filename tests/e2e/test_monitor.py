"""MONITOR: a notify list answered at once and kept up to date; extended-monitor adds AWAY."""

from __future__ import annotations

from .harness import ANY, Harness


async def test_monitor_answers_and_follows_nicks(h: Harness) -> None:
    """+ answers 730/731; a connect, a rename and a quit send 730/731 as they happen."""
    amy = await h.connect("amy")
    await amy.send("MONITOR + bob,cid")
    offline = await amy.expect("731")
    assert offline.params == ("amy", "bob,cid")
    bob = await h.connect("bob")
    online = await amy.expect("730")
    assert online.params == ("amy", "bob!~bob@127.0.0.1")
    await bob.send("NICK cid")
    assert (await amy.expect("731")).params == ("amy", "bob")
    assert (await amy.expect("730")).params == ("amy", "cid!~bob@127.0.0.1")
    await bob.send("QUIT")
    assert (await amy.expect("731")).params == ("amy", "cid")


async def test_monitor_list_status_remove_clear(h: Harness) -> None:
    """L lists (732/733), S shows states, - removes, C clears."""
    amy = await h.connect("amy")
    await h.connect("bob")
    await amy.send("MONITOR + bob,zed")
    await amy.expect("731")
    await amy.send("MONITOR L")
    assert (await amy.expect("732")).params == ("amy", "bob,zed")
    await amy.expect("733")
    await amy.send("MONITOR - zed", "MONITOR S")
    assert (await amy.expect("730")).params == ("amy", "bob!~bob@127.0.0.1")
    await amy.send("MONITOR C", "MONITOR L")
    await amy.expect("733")
    assert [m for m in await amy.sync() if m.command == "732"] == []


async def test_monitor_list_is_bounded(h: Harness) -> None:
    """Past MONITOR=100 nicks, 734 names those that were not added."""
    amy = await h.connect("amy")
    assert any("MONITOR=100" in m.params for m in amy.history if m.command == "005")
    nicks = [f"n{i}" for i in range(101)]
    for start in range(0, 101, 20):
        await amy.send("MONITOR + " + ",".join(nicks[start : start + 20]))
    full = await amy.expect("734")
    assert full.params == ("amy", "100", "n100", ANY)


async def test_extended_monitor_brings_away_without_a_shared_channel(h: Harness) -> None:
    """With extended-monitor and away-notify, a watched user's AWAY arrives though no channel
    is shared."""
    amy = await h.connect("amy", caps=["extended-monitor", "away-notify"])
    await amy.send("PART #lobby")
    await amy.expect("PART")
    bob = await h.connect("bob")
    await amy.send("MONITOR + bob")
    await amy.expect("730")
    await bob.send("AWAY :lunch")
    await amy.expect("AWAY", ["lunch"], source="bob")
