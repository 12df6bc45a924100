"""The smaller commands: VERSION, TIME, SETNAME, invite-notify, mode limits, list filters."""

from __future__ import annotations

import re

from .conftest import Serve
from .harness import ANY, Harness, cheap_hash


async def test_version_repeats_isupport(h: Harness) -> None:
    """VERSION gives 351 and the 005 lines again."""
    amy = await h.connect("amy")
    await amy.send("VERSION")
    version = await amy.expect_numeric("351")
    assert version.params[1].startswith("chinwag-")
    await amy.expect_numeric("005")


async def test_time(h: Harness) -> None:
    """TIME gives 391 with the server name."""
    amy = await h.connect("amy")
    await amy.send("TIME")
    await amy.expect_numeric("391", "test.chinwag", ANY)


async def test_setname(h: Harness) -> None:
    """SETNAME changes the real name; setname peers (and the user) are told, WHOIS shows it."""
    amy = await h.connect("amy", caps=["setname"])
    bob = await h.connect("bob", caps=["setname"])
    cid = await h.connect("cid")
    await amy.send("SETNAME :Amy Pond")
    await amy.expect("SETNAME", ["Amy Pond"], source="amy")
    await bob.expect("SETNAME", ["Amy Pond"], source="amy")
    await cid.send("WHOIS amy")
    await cid.expect_numeric("311", "amy", ANY, ANY, "*", "Amy Pond")
    assert "SETNAME" not in [m.command for m in cid.history]


async def test_invite_notify_tells_the_other_operators(h: Harness) -> None:
    """invite-notify channel operators see INVITEs sent by other members."""
    amy = await h.connect("amy", caps=["invite-notify"])
    bob = await h.connect("bob")
    await h.connect("cid")
    await amy.send("JOIN #c")
    await amy.expect("366")
    await bob.send("JOIN #c")
    await amy.expect("JOIN", ["#c"], source="bob")
    await bob.send("INVITE cid #c")
    await bob.expect_numeric("341", "cid", "#c")
    await amy.expect("INVITE", ["cid", "#c"], source="bob")


async def test_list_filters_by_user_count(h: Harness) -> None:
    """LIST <N shows channels with fewer than N users; >N with more."""
    amy = await h.connect("amy")
    await h.connect("bob")
    await amy.send("JOIN #solo")
    await amy.expect("366")
    await amy.send("LIST <2")
    lines = await amy.collect_until("323")
    assert [m.params[1] for m in lines if m.command == "322"] == ["#solo"]


async def test_who_operators_only(h: Harness) -> None:
    """WHO <mask> o lists only server operators (none here)."""
    amy = await h.connect("amy")
    await amy.send("WHO #lobby o")
    lines = await amy.collect_until("315")
    assert "352" not in [m.command for m in lines]


async def test_whowas_count(h: Harness) -> None:
    """WHOWAS nick 1 gives only the most recent entry of several."""
    amy = await h.connect("amy")
    for _ in range(2):
        bob = await h.connect("bob")
        await bob.send("QUIT")
        await bob.expect_closed()
    await amy.send("WHOWAS bob 1")
    lines = await amy.collect_until("369")
    assert [m.command for m in lines].count("314") == 1


async def test_at_most_four_parameter_modes_per_line(h: Harness) -> None:
    """A MODE line applies at most four parameter modes (ISUPPORT MODES=4); the rest is ignored."""
    amy = await h.connect("amy")
    await amy.send("JOIN #c")
    await amy.expect("366")
    await amy.send("MODE #c +bbbbb a b c d e")
    msg = await amy.expect("MODE", ["#c", ANY, ANY, ANY, ANY, ANY])
    assert msg.params[1] == "+bbbb"
    await amy.send("MODE #c b")
    lines = await amy.collect_until("368")
    assert len([m for m in lines if m.command == "367"]) == 4


async def test_ban_list_full(serve: Serve) -> None:
    """Past limits.max_list_modes entries in +b, +e and +I together, 478 ERR_BANLISTFULL."""
    h = await serve(limits={"max_list_modes": 2})
    amy = await h.connect("amy")
    await amy.send("JOIN #c", "MODE #c +b a", "MODE #c +b b")
    await amy.expect("MODE", ["#c", "+b", "b!*@*"])
    await amy.send("MODE #c +e c")
    await amy.expect_numeric("478", "#c", "e", ANY)


async def test_invalid_limit(h: Harness) -> None:
    """+l with a non-number gets 696 ERR_INVALIDMODEPARAM."""
    amy = await h.connect("amy")
    await amy.send("JOIN #c", "MODE #c +l lots")
    await amy.expect_numeric("696", "#c", "l", "lots", ANY)


async def test_wallops_only_to_plus_w(serve: Serve) -> None:
    """WALLOPS reaches users with +w and nobody else."""
    h = await serve(opers=[("root", cheap_hash("pw"))])
    amy = await h.connect("amy")
    bob = await h.connect("bob")
    await amy.send("OPER root pw")
    await amy.expect_numeric("381")
    await amy.send("WALLOPS :hello opers")
    await amy.sync()
    assert not [m for m in await bob.sync() if m.command == "WALLOPS"]


async def test_kill_unknown_nick(serve: Serve) -> None:
    """KILL of a missing nick by an operator gets 401."""
    h = await serve(opers=[("root", cheap_hash("pw"))])
    amy = await h.connect("amy")
    await amy.send("OPER root pw")
    await amy.expect_numeric("381")
    await amy.send("KILL zed :bye")
    await amy.expect_numeric("401", "zed", ANY)


async def test_topic_who_time_is_the_setter(h: Harness) -> None:
    """333 names the full prefix of who set the topic."""
    amy = await h.connect("amy")
    await amy.send("JOIN #c", "TOPIC #c :x", "TOPIC #c")
    await amy.expect_numeric("333", "#c", "amy!~amy@127.0.0.1", re.compile(r"\d+"))
