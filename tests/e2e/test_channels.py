"""Channel life: JOIN with keys, PART, TOPIC, KICK, INVITE, modes, bans, nick changes."""

from __future__ import annotations

import re

from .harness import ANY, Client, Harness


async def _pair(h: Harness, channel: str = "#c") -> tuple[Client, Client]:
    """amy creates and operates ``channel``; bob joins it."""
    amy = await h.connect("amy")
    bob = await h.connect("bob")
    await amy.send(f"JOIN {channel}")
    await amy.expect("366", ["amy", channel, ANY])
    await bob.send(f"JOIN {channel}")
    await bob.expect("366", ["bob", channel, ANY])
    await amy.expect("JOIN", [channel], source="bob")
    return amy, bob


async def test_creator_is_operator(h: Harness) -> None:
    """Whoever creates a channel is its operator; the second member is not."""
    _, bob = await _pair(h)
    assert await bob.names("#c") == ["@amy", "bob"]


async def test_join_burst_order(h: Harness) -> None:
    """JOIN gives the joiner its JOIN, then 353 and 366 (no 332 when there is no topic)."""
    amy = await h.connect("amy")
    await amy.send("JOIN #new")
    lines = await amy.collect_until("366")
    assert [m.command for m in lines] == ["JOIN", "353", "366"]
    assert lines[1].params == ("amy", "=", "#new", "@amy")


async def test_join_several_channels_with_keys(h: Harness) -> None:
    """JOIN #a,#b,#x ka,kb joins keyed #a and #b with their keys and creates #x."""
    amy = await h.connect("amy")
    bob = await h.connect("bob")
    await amy.send("JOIN #a,#b", "MODE #a +k ka", "MODE #b +k kb")
    await amy.expect("MODE", ["#a", "+k", "ka"])
    await amy.expect("MODE", ["#b", "+k", "kb"])
    await bob.send("JOIN #a,#b,#x ka,kb")
    for channel in ("#a", "#b", "#x"):
        await bob.expect("JOIN", [channel], source="bob")
    assert await bob.names("#x") == ["@bob"]


async def test_join_twice_is_silent(h: Harness) -> None:
    """JOIN of a channel one is already in does nothing."""
    amy, _ = await _pair(h)
    await amy.send("JOIN #c")
    assert [m.command for m in await amy.sync()] == []


async def test_join_zero_parts_everything(h: Harness) -> None:
    """JOIN 0 parts every channel, each PART seen by that channel's members."""
    amy, bob = await _pair(h)
    await bob.send("JOIN 0")
    parted = {(await amy.expect("PART", source="bob")).params[0] for _ in range(2)}
    assert parted == {"#c", "#lobby"}
    await bob.send("WHOIS bob")
    lines = await bob.collect_until("318")
    assert "319" not in [m.command for m in lines]


async def test_part_with_reason(h: Harness) -> None:
    """PART #c :reason reaches every member, the leaver included."""
    amy, bob = await _pair(h)
    await bob.send("PART #c :see you")
    await bob.expect("PART", ["#c", "see you"], source="bob")
    await amy.expect("PART", ["#c", "see you"], source="bob")
    assert await amy.names("#c") == ["@amy"]


async def test_last_part_destroys_channel(h: Harness) -> None:
    """A channel whose last member leaves is gone; the next joiner creates it afresh as op."""
    amy, bob = await _pair(h)
    await amy.send("TOPIC #c :old", "PART #c", "MODE #c +i")
    await bob.send("PART #c")
    await bob.expect("PART", ["#c"], source="bob")
    await amy.send("JOIN #c")
    lines = await amy.collect_until("366")
    assert "332" not in [m.command for m in lines]
    assert await amy.names("#c") == ["@amy"]


async def test_topic_set_and_query(h: Harness) -> None:
    """TOPIC sets it for all members; a query gives 332 and 333; a joiner gets it too."""
    amy, bob = await _pair(h)
    await amy.send("TOPIC #c :tea at five")
    await bob.expect("TOPIC", ["#c", "tea at five"], source="amy")
    await bob.send("TOPIC #c")
    await bob.expect_numeric("332", "#c", "tea at five")
    await bob.expect_numeric("333", "#c", re.compile("amy.*"), re.compile(r"\d+"))
    cid = await h.connect("cid")
    await cid.send("JOIN #c")
    await cid.expect_numeric("332", "#c", "tea at five")


async def test_topic_none(h: Harness) -> None:
    """TOPIC of a channel without one gives 331 RPL_NOTOPIC."""
    amy, _ = await _pair(h)
    await amy.send("TOPIC #c")
    await amy.expect_numeric("331", "#c", ANY)


async def test_topic_minus_t_lets_members_set_it(h: Harness) -> None:
    """Without +t any member may set the topic."""
    amy, bob = await _pair(h)
    await amy.send("MODE #c -t")
    await bob.expect("MODE", ["#c", "-t"])
    await bob.send("TOPIC #c :from bob")
    await amy.expect("TOPIC", ["#c", "from bob"], source="bob")


async def test_topic_is_cut_to_topiclen(h: Harness) -> None:
    """A topic longer than TOPICLEN is cut to it."""
    amy, _ = await _pair(h)
    await amy.send("TOPIC #c :" + "t" * 450)
    msg = await amy.expect("TOPIC")
    assert len(msg.params[1]) == h.server.config.limits.topic_length


async def test_kick(h: Harness) -> None:
    """KICK removes the user; every member (the kicked one too) sees KICK with the reason."""
    amy, bob = await _pair(h)
    cid = await h.connect("cid")
    await cid.send("JOIN #c")
    await bob.expect("JOIN", ["#c"], source="cid")
    await amy.send("KICK #c bob :behave")
    for member in (amy, bob, cid):
        await member.expect("KICK", ["#c", "bob", "behave"], source="amy")
    assert await amy.names("#c") == ["@amy", "cid"]
    await bob.send("PRIVMSG #c :back?")
    await bob.expect_numeric("404", "#c", ANY)


async def test_kick_default_reason(h: Harness) -> None:
    """KICK without a reason uses the kicker's nick."""
    amy, bob = await _pair(h)
    await amy.send("KICK #c bob")
    await bob.expect("KICK", ["#c", "bob", "amy"])


async def test_invite_to_invite_only_channel(h: Harness) -> None:
    """An op's INVITE gives 341 to the op and INVITE to the target, who may then join +i."""
    amy = await h.connect("amy")
    bob = await h.connect("bob")
    await amy.send("JOIN #c", "MODE #c +i")
    await amy.expect("MODE", ["#c", "+i"])
    await amy.send("INVITE bob #c")
    await amy.expect_numeric("341", "bob", "#c")
    await bob.expect("INVITE", ["bob", "#c"], source="amy")
    await bob.send("JOIN #c")
    await amy.expect("JOIN", ["#c"], source="bob")


async def test_invite_only_needs_op_to_invite(h: Harness) -> None:
    """On a +i channel a plain member's INVITE gets 482."""
    amy, bob = await _pair(h)
    await h.connect("cid")
    await amy.send("MODE #c +i")
    await bob.expect("MODE", ["#c", "+i"])
    await bob.send("INVITE cid #c")
    await bob.expect_numeric("482", "#c", ANY)


async def test_invite_overrides_ban(h: Harness) -> None:
    """An invitation lets a banned user in (it is an exception, as on most servers)."""
    amy = await h.connect("amy")
    bob = await h.connect("bob")
    await amy.send("JOIN #c", "MODE #c +b bob!*@*", "INVITE bob #c")
    await bob.expect("INVITE")
    await bob.send("JOIN #c")
    await bob.expect("JOIN", ["#c"], source="bob")


async def test_invite_does_not_pass_to_the_next_owner_of_the_nick(h: Harness) -> None:
    """An invitation belongs to the user invited, not to whoever later takes the same nick."""
    amy = await h.connect("amy")
    bob = await h.connect("bob")
    await amy.send("JOIN #c", "MODE #c +i", "INVITE bob #c")
    await bob.expect("INVITE")
    await bob.send("QUIT")
    await bob.expect_closed()
    impostor = await h.connect("bob")
    await impostor.send("JOIN #c")
    await impostor.expect_numeric("473", "#c", ANY)


async def test_invite_does_not_follow_a_nick_change_to_someone_else(h: Harness) -> None:
    """When the invited user renames, its old nick carries no invitation for the next taker."""
    amy = await h.connect("amy")
    bob = await h.connect("bob")
    await amy.send("JOIN #c", "MODE #c +i", "INVITE bob #c")
    await bob.expect("INVITE")
    await bob.send("NICK robert")
    await bob.expect("NICK", ["robert"])
    impostor = await h.connect("bob")
    await impostor.send("JOIN #c")
    await impostor.expect_numeric("473", "#c", ANY)
    await bob.send("JOIN #c")
    await bob.expect("JOIN", ["#c"], source="robert")


async def test_op_and_voice_modes(h: Harness) -> None:
    """+o and +v change the prefixes in NAMES and are announced to the channel."""
    amy, bob = await _pair(h)
    await amy.send("MODE #c +v bob")
    await bob.expect("MODE", ["#c", "+v", "bob"], source="amy")
    assert await amy.names("#c") == ["+bob", "@amy"]
    await amy.send("MODE #c +o-v bob bob")
    await bob.expect("MODE", ["#c", "+o-v", "bob", "bob"])
    assert await amy.names("#c") == ["@amy", "@bob"]
    await bob.send("MODE #c -o amy")
    await amy.expect("MODE", ["#c", "-o", "amy"], source="bob")


async def test_moderated_channel_voice_may_speak(h: Harness) -> None:
    """Under +m a voiced member may speak."""
    amy, bob = await _pair(h)
    await amy.send("MODE #c +mv bob")
    await bob.expect("MODE", ["#c", "+mv", "bob"])
    await bob.send("PRIVMSG #c :I have a voice")
    await amy.expect("PRIVMSG", ["#c", "I have a voice"])


async def test_no_external_messages_off(h: Harness) -> None:
    """With -n, a non-member may send to the channel."""
    amy = await h.connect("amy")
    bob = await h.connect("bob")
    await amy.send("JOIN #c", "MODE #c -n")
    await amy.expect("MODE", ["#c", "-n"])
    await bob.send("PRIVMSG #c :from outside")
    await amy.expect("PRIVMSG", ["#c", "from outside"], source="bob")


async def test_key_mode_set_and_removed(h: Harness) -> None:
    """+k requires the key to join; -k removes it; members see the key in 324, others do not."""
    amy, bob = await _pair(h)
    cid = await h.connect("cid")
    await amy.send("MODE #c +k sesame")
    await bob.expect("MODE", ["#c", "+k", "sesame"])
    await bob.send("MODE #c")
    await bob.expect_numeric("324", "#c", re.compile(r"\+(?=.*k)(?=.*n)(?=.*t)[knt]{3}"), "sesame")
    await cid.send("MODE #c")
    msg = await cid.expect_numeric("324")
    assert "sesame" not in msg.params
    await cid.send("JOIN #c sesame")
    await cid.expect("JOIN", ["#c"], source="cid")
    await amy.send("MODE #c -k sesame")
    await bob.expect("MODE", ["#c", "-k", ANY])
    await bob.send("MODE #c")
    await bob.expect_numeric("324", "#c", "+nt")


async def test_limit_mode_set_and_removed(h: Harness) -> None:
    """+l 2 fills at two members; -l lifts the limit."""
    amy, bob = await _pair(h)
    cid = await h.connect("cid")
    await amy.send("MODE #c +l 2")
    await bob.expect("MODE", ["#c", "+l", "2"])
    await cid.send("JOIN #c")
    await cid.expect_numeric("471", "#c", ANY)
    await amy.send("MODE #c -l")
    await bob.expect("MODE", ["#c", "-l"])
    await cid.send("JOIN #c")
    await cid.expect("JOIN", ["#c"], source="cid")


async def test_ban_masks_and_list(h: Harness) -> None:
    """+b with a host mask bans matching users; MODE #c +b lists 367 entries and 368."""
    amy, bob = await _pair(h)
    cid = await h.connect("cid")
    await amy.send("MODE #c +b *!*@127.0.0.*")
    await bob.expect("MODE", ["#c", "+b", "*!*@127.0.0.*"])
    await cid.send("JOIN #c")
    await cid.expect_numeric("474", "#c", ANY)
    await cid.send("MODE #c +b")
    await cid.expect_numeric("367", "#c", "*!*@127.0.0.*", re.compile("amy.*"), re.compile(r"\d+"))
    await cid.expect_numeric("368", "#c", ANY)
    await amy.send("MODE #c -b *!*@127.0.0.*")
    await bob.expect("MODE", ["#c", "-b", "*!*@127.0.0.*"])
    await cid.send("JOIN #c")
    await cid.expect("JOIN", ["#c"], source="cid")


async def test_ban_mask_is_normalized(h: Harness) -> None:
    """A bare nick as a ban becomes nick!*@* and bans that nick, in any case."""
    amy, bob = await _pair(h)
    cid = await h.connect("cid")
    await amy.send("MODE #c +b CID")
    msg = await bob.expect("MODE", ["#c", "+b", ANY])
    assert msg.params[2].lower() == "cid!*@*"
    await cid.send("JOIN #c")
    await cid.expect_numeric("474", "#c", ANY)


async def test_channel_mode_query(h: Harness) -> None:
    """MODE #c gives 324 with the modes (+nt by default) and 329 with the creation time."""
    amy, _ = await _pair(h)
    await amy.send("MODE #c")
    await amy.expect_numeric("324", "#c", "+nt")
    await amy.expect_numeric("329", "#c", re.compile(r"\d+"))


async def test_user_mode_invisible(h: Harness) -> None:
    """MODE nick +i sets +i (echoed, shown by MODE nick as 221); -i clears it."""
    amy = await h.connect("amy")
    await amy.send("MODE amy +i")
    await amy.expect("MODE", ["amy", "+i"])
    await amy.send("MODE amy")
    await amy.expect_numeric("221", "+i")
    await amy.send("MODE amy -i")
    await amy.expect("MODE", ["amy", "-i"])


async def test_invisible_user_hidden_from_strangers_in_who(h: Harness) -> None:
    """WHO * does not show a +i user to someone sharing no channel with them."""
    amy = await h.connect("amy")
    bob = await h.connect("bob")
    await amy.send("MODE amy +i", "PART #lobby")
    await amy.expect("PART")
    await bob.send("WHO *")
    lines = await bob.collect_until("315")
    assert [m.params[5] for m in lines if m.command == "352"] == ["bob"]


async def test_nick_change_seen_by_peers_only(h: Harness) -> None:
    """NICK reaches the user and everyone sharing a channel; not someone sharing none."""
    amy = await h.connect("amy")
    bob = await h.connect("bob")
    loner = await h.connect("loner")
    await loner.send("PART #lobby")
    await loner.expect("PART")
    await amy.send("NICK amelia")
    await amy.expect("NICK", ["amelia"], source="amy!~amy@127.0.0.1")
    await bob.expect("NICK", ["amelia"], source="amy")
    await loner.assert_nothing()
    await bob.send("PRIVMSG amelia :hi")
    await amy.expect("PRIVMSG", ["amelia", "hi"], source="bob")


async def test_nick_change_case_only(h: Harness) -> None:
    """A user may change only the case of its nick."""
    amy = await h.connect("amy")
    await amy.send("NICK Amy")
    await amy.expect("NICK", ["Amy"], source="amy")


async def test_status_message_to_ops(h: Harness) -> None:
    """PRIVMSG @#c reaches only the channel's operators (STATUSMSG)."""
    amy, bob = await _pair(h)
    cid = await h.connect("cid")
    await cid.send("JOIN #c")
    await bob.expect("JOIN", ["#c"], source="cid")
    await amy.send("MODE #c +o bob")
    await bob.expect("MODE", ["#c", "+o", "bob"])
    await cid.expect("MODE", ["#c", "+o", "bob"])
    await amy.send("PRIVMSG @#c :ops only")
    await bob.expect("PRIVMSG", ["@#c", "ops only"])
    await cid.assert_nothing()


async def test_invite_does_not_outlive_its_channel(h: Harness) -> None:
    """An invitation to a channel that ceased to exist does not open a new channel of that name."""
    amy = await h.connect("amy")
    bob = await h.connect("bob")
    eve = await h.connect("eve")
    await amy.send("JOIN #c", "MODE #c +i", "INVITE bob #c")
    await bob.expect("INVITE")
    await amy.send("PART #c")
    await amy.expect("PART")
    await eve.send("JOIN #c", "MODE #c +i")
    await eve.expect("MODE", ["#c", "+i"])
    await bob.send("JOIN #c")
    await bob.expect_numeric("473", "#c", ANY)


async def test_unregistered_connections_are_not_targets(h: Harness) -> None:
    """A nick held by a connection still registering is not a user: INVITE gets 401, no INVITE."""
    amy = await h.connect("amy")
    raw = await h.open()
    await raw.send("NICK ghost")
    await raw.alive()
    await amy.send("JOIN #c", "INVITE ghost #c")
    await amy.expect_numeric("401", "ghost", ANY)
    assert not [m for m in await raw.sync() if m.command == "INVITE"]


async def test_secret_channel_is_hidden_from_outsiders(h: Harness) -> None:
    """+s hides a channel from LIST, NAMES and WHOIS of outsiders; members still see it."""
    amy = await h.connect("amy")
    bob = await h.connect("bob")
    await amy.send("JOIN #hush", "MODE #hush +s")
    await amy.expect("MODE", ["#hush", "+s"])
    await bob.send("LIST")
    lines = await bob.collect_until("323")
    assert "#hush" not in [m.params[1] for m in lines if m.command == "322"]
    await bob.send("NAMES #hush")
    lines = await bob.collect_until("366")
    assert "353" not in [m.command for m in lines]
    await bob.send("WHOIS amy")
    channels = await bob.expect_numeric("319")
    assert "@#hush" not in channels.params[-1].split()
    await amy.send("NAMES #hush")
    await amy.expect_numeric("353", "@", "#hush", "@amy")


async def test_server_stop_tells_every_client(h: Harness) -> None:
    """Server.stop() sends every client, registered or not, ERROR ...Server shutting down."""
    amy = await h.connect("amy")
    raw = await h.open()
    await raw.send("NICK half")
    await raw.alive()
    await h.server.stop()
    for client in (amy, raw):
        error = await client.expect_error("Server shutting down")
        assert error.params[0].startswith("Closing Link:")


async def test_minus_k_without_the_key_removes_it(h: Harness) -> None:
    """MODE #c -k with no parameter removes the key, as clients expect (irssi sends it so)."""
    amy, bob = await _pair(h)
    await amy.send("MODE #c +k sesame")
    await bob.expect("MODE", ["#c", "+k", "sesame"])
    await amy.send("MODE #c -k")
    await bob.expect("MODE", ["#c", "-k", ANY])
    cid = await h.connect("cid")
    await cid.send("JOIN #c")
    await cid.expect("JOIN", ["#c"], source="cid")


async def test_secret_channel_modes_and_bans_hidden_from_outsiders(h: Harness) -> None:
    """MODE #secret and its ban list answer 442 to non-members, as TOPIC, NAMES and LIST hide it."""
    amy, bob = await _pair(h)
    await amy.send("MODE #c +s", "MODE #c +b troll!*@*")
    await bob.expect("MODE", ["#c", "+b", "troll!*@*"])
    cid = await h.connect("cid")
    await cid.send("MODE #c")
    await cid.expect_numeric("442", "#c", ANY)
    await cid.send("MODE #c b")
    await cid.expect_numeric("442", "#c", ANY)
    await bob.send("MODE #c b")
    await bob.expect_numeric("367", "#c", "troll!*@*", ANY, ANY)
