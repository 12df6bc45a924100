"""The seed chat: three users in #lobby see each other, list each other, talk and leave."""

from __future__ import annotations

from .harness import ANY, Harness


async def test_join_notices_reach_everyone_in_lobby(h: Harness) -> None:
    """Each newcomer's JOIN #lobby reaches everyone already there, and the newcomer itself."""
    amy = await h.connect("amy")
    bob = await h.connect("bob")
    await amy.expect("JOIN", ["#lobby"], source="bob")
    cid = await h.connect("cid")
    await amy.expect("JOIN", ["#lobby"], source="cid")
    await bob.expect("JOIN", ["#lobby"], source="cid")
    joins = [m for m in cid.history if m.command == "JOIN"]
    assert [m.source_nick for m in joins] == ["cid"]


async def test_names_lists_everyone_in_lobby(h: Harness) -> None:
    """NAMES #lobby lists the three users (353) and ends with 366."""
    await h.connect("amy")
    await h.connect("bob")
    cid = await h.connect("cid")
    await cid.send("NAMES #lobby")
    names = await cid.expect_numeric("353", "=", "#lobby", ANY)
    await cid.expect_numeric("366", "#lobby", ANY)
    assert sorted(names.params[-1].split()) == ["amy", "bob", "cid"]


async def test_join_burst_holds_the_member_list(h: Harness) -> None:
    """The newcomer's own join burst already names every member of #lobby."""
    await h.connect("amy")
    await h.connect("bob")
    cid = await h.connect("cid")
    names = [m for m in cid.history if m.command == "353"]
    assert sorted(" ".join(m.params[-1] for m in names).split()) == ["amy", "bob", "cid"]


async def test_who_lists_users_of_a_channel(h: Harness) -> None:
    """WHO #lobby gives one 352 per member, then 315."""
    await h.connect("amy", realname="Amy Pond")
    await h.connect("bob")
    cid = await h.connect("cid")
    await cid.send("WHO #lobby")
    lines = await cid.collect_until("315")
    who = {m.params[5]: m for m in lines if m.command == "352"}
    assert sorted(who) == ["amy", "bob", "cid"]
    amy = who["amy"]
    assert amy.params[1:5] == ("#lobby", "~amy", "127.0.0.1", "test.chinwag")
    assert amy.params[6] == "H"
    assert amy.params[7] == "0 Amy Pond"
    assert lines[-1].params[1:] == ("#lobby", "End of /WHO list")


async def test_who_by_mask_and_nick(h: Harness) -> None:
    """WHO with a nick gives that user; WHO with a glob gives every matching user."""
    await h.connect("amy")
    await h.connect("ann")
    bob = await h.connect("bob")
    await bob.send("WHO amy")
    lines = await bob.collect_until("315")
    assert [m.params[5] for m in lines if m.command == "352"] == ["amy"]
    await bob.send("WHO a*")
    lines = await bob.collect_until("315")
    assert sorted(m.params[5] for m in lines if m.command == "352") == ["amy", "ann"]


async def test_whois_describes_a_user(h: Harness) -> None:
    """WHOIS gives 311 (user, host, realname), 319 channels, 312 server, 317 idle, then 318."""
    await h.connect("amy", realname="Amy Pond")
    bob = await h.connect("bob")
    await bob.send("WHOIS amy")
    lines = await bob.collect_until("318")
    by = {m.command: m for m in lines}
    assert by["311"].params[1:] == ("amy", "~amy", "127.0.0.1", "*", "Amy Pond")
    assert by["319"].params[1:] == ("amy", "#lobby")
    assert by["312"].params[1:3] == ("amy", "test.chinwag")
    assert by["317"].params[1] == "amy"
    assert by["318"].params[1] == "amy"


async def test_list_shows_channels_with_user_counts(h: Harness) -> None:
    """LIST gives 321, one 322 per channel with its user count and topic, then 323."""
    amy = await h.connect("amy")
    bob = await h.connect("bob")
    await amy.send("JOIN #tea", "TOPIC #tea :Earl Grey")
    await amy.expect("TOPIC", ["#tea", "Earl Grey"])
    await bob.send("LIST")
    lines = await bob.collect_until("323")
    assert lines[0].command == "321"
    listed = {m.params[1]: (m.params[2], m.params[3]) for m in lines if m.command == "322"}
    assert listed == {"#lobby": ("2", ""), "#tea": ("1", "Earl Grey")}
    await bob.send("LIST >1")
    lines = await bob.collect_until("323")
    assert [m.params[1] for m in lines if m.command == "322"] == ["#lobby"]
    await bob.send("LIST #tea")
    lines = await bob.collect_until("323")
    assert [m.params[1] for m in lines if m.command == "322"] == ["#tea"]


async def test_ison_and_userhost(h: Harness) -> None:
    """ISON answers with the nicks present (as they are spelled); USERHOST with nick=+user@host."""
    await h.connect("amy")
    bob = await h.connect("bob")
    await bob.send("ISON AMY zed bob")
    await bob.expect_numeric("303", "amy bob")
    await bob.send("USERHOST amy zed")
    await bob.expect_numeric("302", "amy=+~amy@127.0.0.1")


async def test_broadcast_reaches_everyone_but_the_sender(h: Harness) -> None:
    """A PRIVMSG to #lobby reaches the two others, with the sender as source; not the sender."""
    amy = await h.connect("amy")
    bob = await h.connect("bob")
    cid = await h.connect("cid")
    await amy.send("PRIVMSG #lobby :hello all")
    for peer in (bob, cid):
        msg = await peer.expect("PRIVMSG", ["#lobby", "hello all"])
        assert msg.source == "amy!~amy@127.0.0.1"
    lines = await amy.sync()
    assert not [m for m in lines if m.command == "PRIVMSG"]


async def test_private_message_reaches_only_its_recipient(h: Harness) -> None:
    """PRIVMSG bob reaches bob, and neither cid nor the sender."""
    amy = await h.connect("amy")
    bob = await h.connect("bob")
    cid = await h.connect("cid")
    await amy.expect("JOIN", ["#lobby"], source="cid")
    await bob.expect("JOIN", ["#lobby"], source="cid")
    await amy.send("PRIVMSG bob :psst, just you")
    await bob.expect("PRIVMSG", ["bob", "psst, just you"], source="amy")
    await cid.assert_nothing()
    assert not [m for m in await amy.sync() if m.command == "PRIVMSG"]


async def test_notice_to_a_nick(h: Harness) -> None:
    """NOTICE to a nick reaches that nick only."""
    amy = await h.connect("amy")
    bob = await h.connect("bob")
    cid = await h.connect("cid")
    await amy.send("NOTICE cid :ding")
    await cid.expect("NOTICE", ["cid", "ding"], source="amy")
    await bob.expect("JOIN", ["#lobby"], source="cid")
    await bob.assert_nothing()


async def test_quit_message_seen_by_the_others(h: Harness) -> None:
    """QUIT :reason gives the quitter an ERROR and the others QUIT with the reason."""
    amy = await h.connect("amy")
    bob = await h.connect("bob")
    cid = await h.connect("cid")
    await cid.send("QUIT :off to lunch")
    await cid.expect_error("off to lunch")
    for peer in (amy, bob):
        msg = await peer.expect("QUIT", source="cid")
        assert "off to lunch" in msg.params[0]
    await amy.send("NAMES #lobby")
    names = await amy.expect_numeric("353")
    assert sorted(names.params[-1].split()) == ["amy", "bob"]


async def test_dropped_connection_produces_a_quit(h: Harness) -> None:
    """A socket closed without QUIT still gives the others a QUIT for that user."""
    amy = await h.connect("amy")
    bob = await h.connect("bob")
    await amy.expect("JOIN", ["#lobby"], source="bob")
    await bob.close()
    await amy.expect("QUIT", [ANY], source="bob")
    await amy.send("ISON bob")
    await amy.expect_numeric("303", "")


async def test_nick_is_free_again_after_quit(h: Harness) -> None:
    """Once a user has gone, another connection can take its nick."""
    bob = await h.connect("bob")
    await bob.send("QUIT")
    await bob.expect_closed()
    again = await h.connect("bob")
    await again.alive()
