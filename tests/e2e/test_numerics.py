"""Every error numeric a client can provoke, each followed by proof that the connection lives on."""

from __future__ import annotations

import pytest

from .conftest import Serve
from .harness import ANY, Client, Harness, cheap_hash


async def _op_in(h: Harness, channel: str = "#c") -> tuple[Client, Client]:
    """amy creates ``channel`` (so is its operator); bob is connected but elsewhere."""
    amy = await h.connect("amy")
    bob = await h.connect("bob")
    await amy.send(f"JOIN {channel}")
    await amy.expect("366", ["amy", channel, ANY])
    return amy, bob


async def test_417_line_too_long(h: Harness) -> None:
    """A line over 512 bytes (tags aside) gets 417 ERR_INPUTTOOLONG and is not acted on.

    modern.ircdocs.horse: "ERR_INPUTTOOLONG (417): Returned when a message is too long for the
    server to process." Dropping the line and keeping the connection is what it describes.
    """
    amy = await h.connect("amy")
    bob = await h.connect("bob")
    await amy.send("PRIVMSG #lobby :" + "x" * 600)
    await amy.expect_numeric("417", ANY)
    await amy.alive()
    await bob.assert_nothing()


async def test_417_exact_boundary(h: Harness) -> None:
    """510 bytes plus CR LF is accepted; 511 plus CR LF gets 417."""
    amy = await h.connect("amy")
    bob = await h.connect("bob")
    head = "PRIVMSG bob :"
    await amy.send(head + "a" * (510 - len(head)))
    msg = await bob.expect("PRIVMSG", source="amy")
    # The relayed line gained a source prefix, so the server cut the text to stay within 512.
    assert set(msg.params[1]) == {"a"}
    await amy.send(head + "a" * (511 - len(head)))
    await amy.expect_numeric("417", ANY)
    await amy.alive()


async def test_long_tags_are_allowed(h: Harness) -> None:
    """Client tags may take up to 8191 bytes on top of the 512 for the rest of the line."""
    amy = await h.connect("amy", caps=["message-tags"])
    bob = await h.connect("bob", caps=["message-tags"])
    await amy.send("@+x=" + "v" * 4000 + " PRIVMSG bob :tagged")
    msg = await bob.expect("PRIVMSG", ["bob", "tagged"])
    assert msg.tags["+x"] == "v" * 4000


async def test_417_client_tags_over_4094_bytes(h: Harness) -> None:
    """Tag data over 4094 bytes from a client gets 417 and is not relayed.

    IRCv3 message-tags: "Clients MUST NOT send messages with tag data exceeding 4094 bytes" and
    "Servers MUST NOT add tag data exceeding 4094 bytes to messages", so that with the server's
    own tags a relayed line stays within the 8191-byte tag section every client accepts.
    """
    amy = await h.connect("amy", caps=["message-tags"])
    bob = await h.connect("bob", caps=["message-tags"])
    await amy.send("@+x=" + "v" * 4200 + " PRIVMSG bob :too many tags")
    await amy.expect_numeric("417", ANY)
    await amy.alive()
    assert not [m for m in await bob.sync() if m.command == "PRIVMSG"]


async def test_421_unknown_command(h: Harness) -> None:
    """An unknown verb gets 421 ERR_UNKNOWNCOMMAND naming it."""
    amy = await h.connect("amy")
    await amy.send("FROBNICATE now")
    await amy.expect_numeric("421", "FROBNICATE", ANY)
    await amy.alive()


async def test_421_before_registration(h: Harness) -> None:
    """An unknown verb before registration gets 421 (not 451): it is not a command at all."""
    raw = await h.open()
    await raw.send("FROBNICATE")
    await raw.expect("421", ["*", "FROBNICATE", ANY])
    await raw.alive()


@pytest.mark.parametrize("line", ["NICK", "NICK :"])
async def test_431_no_nickname_given(h: Harness, line: str) -> None:
    """NICK without a nick gets 431 ERR_NONICKNAMEGIVEN.

    RFC 2812 3.1.2 lists 431 first among NICK's replies; some servers answer 461 instead, but
    431 is the one the RFC names for "a nickname parameter expected ... and isn't found".
    """
    amy = await h.connect("amy")
    await amy.send(line)
    await amy.expect_numeric("431", ANY)
    await amy.alive()


@pytest.mark.parametrize("nick", ["1amy", "-amy", "amy!x", "a@b", "#chan", "amy,bob", "ämy"])
async def test_432_erroneous_nickname(h: Harness, nick: str) -> None:
    """A nick against RFC 2812 2.3.1 gets 432 ERR_ERRONEUSNICKNAME naming it."""
    amy = await h.connect("amy")
    await amy.send(f"NICK {nick}")
    await amy.expect_numeric("432", nick, ANY)
    await amy.alive()


async def test_433_nickname_in_use(h: Harness) -> None:
    """Taking another user's nick gets 433 ERR_NICKNAMEINUSE; the user keeps its nick."""
    amy, _ = await _op_in(h)
    await amy.send("NICK Bob")
    await amy.expect_numeric("433", "Bob", ANY)
    await amy.send("WHOIS amy")
    await amy.expect_numeric("311", "amy", ANY, ANY, ANY, ANY)


async def test_401_no_such_nick(h: Harness) -> None:
    """PRIVMSG, WHOIS, KILL target and MODE to a missing nick get 401 ERR_NOSUCHNICK."""
    amy = await h.connect("amy")
    await amy.send("PRIVMSG zed :hi")
    await amy.expect_numeric("401", "zed", ANY)
    await amy.send("WHOIS zed")
    await amy.expect_numeric("401", "zed", ANY)
    await amy.expect_numeric("318", "zed", ANY)
    await amy.send("INVITE zed #lobby")
    await amy.expect_numeric("401", "zed", ANY)
    await amy.alive()


async def test_403_no_such_channel(h: Harness) -> None:
    """PART, TOPIC, MODE of a missing channel and JOIN of a bad name get 403 ERR_NOSUCHCHANNEL.

    RFC 2812: 403 "Used to indicate the given channel name is invalid." A PRIVMSG to a missing
    channel also gets 403 here (ergo does the same; some servers send 401 "No such nick/channel").
    """
    amy = await h.connect("amy")
    for line in ("PART #nope", "TOPIC #nope", "MODE #nope", "PRIVMSG #nope :hi"):
        await amy.send(line)
        await amy.expect_numeric("403", "#nope", ANY)
    await amy.send("JOIN lobby")
    await amy.expect_numeric("403", "lobby", ANY)
    await amy.alive()


async def test_404_cannot_send_to_channel(h: Harness) -> None:
    """Speaking from outside a +n channel, or unvoiced in a +m one, gets 404."""
    amy, bob = await _op_in(h)
    await bob.send("PRIVMSG #c :from outside")
    await bob.expect_numeric("404", "#c", ANY)
    await bob.send("JOIN #c")
    await amy.expect("JOIN", ["#c"], source="bob")
    await amy.send("MODE #c +m")
    await bob.expect("MODE", ["#c", "+m"])
    await bob.send("PRIVMSG #c :muted")
    await bob.expect_numeric("404", "#c", ANY)
    await bob.alive()
    assert not [m for m in await amy.sync() if m.command == "PRIVMSG"]


async def test_404_when_banned_but_present(h: Harness) -> None:
    """A member who gets banned cannot speak (404) until unbanned."""
    amy, bob = await _op_in(h)
    await bob.send("JOIN #c")
    await amy.expect("JOIN", ["#c"], source="bob")
    await amy.send("MODE #c +b bob!*@*")
    await bob.expect("MODE", ["#c", "+b", "bob!*@*"])
    await bob.send("PRIVMSG #c :hello?")
    await bob.expect_numeric("404", "#c", ANY)
    await amy.send("MODE #c -b bob!*@*")
    await bob.expect("MODE", ["#c", "-b", "bob!*@*"])
    await bob.send("PRIVMSG #c :hello!")
    await amy.expect("PRIVMSG", ["#c", "hello!"])


async def test_405_too_many_channels(serve: Serve) -> None:
    """Joining past limits.max_channels_per_user gets 405 ERR_TOOMANYCHANNELS."""
    h = await serve(limits={"max_channels_per_user": 2})
    amy = await h.connect("amy")
    await amy.send("JOIN #a,#b")
    await amy.expect_numeric("405", "#b", ANY)
    await amy.alive()


async def test_407_too_many_targets(h: Harness) -> None:
    """More PRIVMSG targets than TARGMAX allows gets 407 ERR_TOOMANYTARGETS and none is sent.

    RFC 2812: 407 "Returned to a client which is attempting to send a PRIVMSG/NOTICE using the
    user@host destination format and for a user@host which has several occurrences"; modern
    servers use it for too many targets, and refusing the whole line is what ergo does.
    """
    amy = await h.connect("amy")
    bob = await h.connect("bob")
    await amy.send("PRIVMSG bob,c1,c2,c3,c4 :hi")
    await amy.expect_numeric("407", ANY, ANY)
    await amy.alive()
    await bob.assert_nothing()


async def test_409_ping_without_origin(h: Harness) -> None:
    """PING with no token gets 409 ERR_NOORIGIN."""
    amy = await h.connect("amy")
    await amy.send("PING")
    await amy.expect_numeric("409", ANY)
    await amy.alive()


async def test_411_no_recipient(h: Harness) -> None:
    """PRIVMSG without a target gets 411 ERR_NORECIPIENT."""
    amy = await h.connect("amy")
    await amy.send("PRIVMSG")
    await amy.expect_numeric("411", ANY)
    await amy.alive()


@pytest.mark.parametrize("line", ["PRIVMSG bob", "PRIVMSG bob :"])
async def test_412_no_text_to_send(h: Harness, line: str) -> None:
    """PRIVMSG without text (or with empty text) gets 412 ERR_NOTEXTTOSEND."""
    amy = await h.connect("amy")
    await h.connect("bob")
    await amy.send(line)
    await amy.expect_numeric("412", ANY)
    await amy.alive()


async def test_442_not_on_channel(h: Harness) -> None:
    """PART, TOPIC-setting, KICK and INVITE on a channel one is not in get 442."""
    _, bob = await _op_in(h)
    for line in ("PART #c", "TOPIC #c :mine now", "KICK #c amy", "INVITE amy #c"):
        await bob.send(line)
        await bob.expect_numeric("442", "#c", ANY)
    await bob.alive()


async def test_451_not_registered(h: Harness) -> None:
    """PRIVMSG before registration gets 451 ERR_NOTREGISTERED with * as the target."""
    raw = await h.open()
    await raw.send("PRIVMSG amy :hi")
    await raw.expect("451", ["*", ANY])
    await raw.alive()


@pytest.mark.parametrize(
    ("line", "command"),
    [("JOIN", "JOIN"), ("KICK #c", "KICK"), ("MODE", "MODE"), ("OPER amy", "OPER")],
)
async def test_461_need_more_params(h: Harness, line: str, command: str) -> None:
    """A command short of parameters gets 461 ERR_NEEDMOREPARAMS naming the command."""
    amy = await h.connect("amy")
    await amy.send(line)
    await amy.expect_numeric("461", command, ANY)
    await amy.alive()


async def test_461_user_before_registration(h: Harness) -> None:
    """USER with fewer than four parameters gets 461 and registration can still finish."""
    raw = await h.open()
    await raw.send("NICK amy", "USER amy 0")
    await raw.expect("461", ["amy", "USER", ANY])
    await raw.send("USER amy 0 * :Amy")
    await raw.expect("001")


@pytest.mark.parametrize("line", ["USER amy 0 * :Amy", "PASS again"])
async def test_462_already_registered(h: Harness, line: str) -> None:
    """USER or PASS after registration gets 462 ERR_ALREADYREGISTERED."""
    amy = await h.connect("amy")
    await amy.send(line)
    await amy.expect_numeric("462", ANY)
    await amy.alive()


async def test_471_channel_is_full(h: Harness) -> None:
    """JOIN of a channel at its +l limit gets 471 ERR_CHANNELISFULL."""
    amy, bob = await _op_in(h)
    await amy.send("MODE #c +l 1")
    await amy.expect("MODE", ["#c", "+l", "1"])
    await bob.send("JOIN #c")
    await bob.expect_numeric("471", "#c", ANY)
    await bob.alive()


async def test_473_invite_only(h: Harness) -> None:
    """JOIN of a +i channel without an invitation gets 473 ERR_INVITEONLYCHAN."""
    amy, bob = await _op_in(h)
    await amy.send("MODE #c +i")
    await amy.expect("MODE", ["#c", "+i"])
    await bob.send("JOIN #c")
    await bob.expect_numeric("473", "#c", ANY)
    await bob.alive()


async def test_474_banned(h: Harness) -> None:
    """JOIN of a channel whose ban mask matches gets 474 ERR_BANNEDFROMCHAN."""
    amy, bob = await _op_in(h)
    await amy.send("MODE #c +b *!~bob@*")
    await amy.expect("MODE", ["#c", "+b", "*!~bob@*"])
    await bob.send("JOIN #c")
    await bob.expect_numeric("474", "#c", ANY)
    await bob.alive()


async def test_475_bad_key(h: Harness) -> None:
    """JOIN of a +k channel without the key, or with a wrong one, gets 475 ERR_BADCHANNELKEY."""
    amy, bob = await _op_in(h)
    await amy.send("MODE #c +k sesame")
    await amy.expect("MODE", ["#c", "+k", "sesame"])
    await bob.send("JOIN #c")
    await bob.expect_numeric("475", "#c", ANY)
    await bob.send("JOIN #c wrong")
    await bob.expect_numeric("475", "#c", ANY)
    await bob.alive()


async def test_441_user_not_in_channel(h: Harness) -> None:
    """KICK or MODE +o of a user who is not in the channel gets 441 ERR_USERNOTINCHANNEL."""
    amy, _ = await _op_in(h)
    await amy.send("KICK #c bob")
    await amy.expect_numeric("441", "bob", "#c", ANY)
    await amy.send("MODE #c +o bob")
    await amy.expect_numeric("441", "bob", "#c", ANY)
    await amy.alive()


async def test_443_user_on_channel(h: Harness) -> None:
    """INVITE of someone already in the channel gets 443 ERR_USERONCHANNEL."""
    amy, _ = await _op_in(h)
    await amy.send("INVITE bob #lobby")
    await amy.expect_numeric("443", "bob", "#lobby", ANY)
    await amy.alive()


async def test_472_unknown_channel_mode(h: Harness) -> None:
    """An unknown channel mode letter gets 472 ERR_UNKNOWNMODE; known ones still apply."""
    amy, _ = await _op_in(h)
    await amy.send("MODE #c +Zm")
    await amy.expect_numeric("472", "Z", ANY)
    await amy.expect("MODE", ["#c", "+m"])
    await amy.alive()


async def test_481_no_privileges(h: Harness) -> None:
    """KILL and WALLOPS by a non-operator get 481 ERR_NOPRIVILEGES."""
    amy, _ = await _op_in(h)
    await amy.send("KILL bob :bye")
    await amy.expect_numeric("481", ANY)
    await amy.send("WALLOPS :hello")
    await amy.expect_numeric("481", ANY)
    await amy.alive()


async def test_482_chanop_needed(h: Harness) -> None:
    """TOPIC under +t, KICK and MODE +o by a non-operator member get 482."""
    amy, bob = await _op_in(h)
    await bob.send("JOIN #c")
    await amy.expect("JOIN", ["#c"], source="bob")
    for line in ("TOPIC #c :mine", "KICK #c amy", "MODE #c +o bob", "MODE #c -t"):
        await bob.send(line)
        await bob.expect_numeric("482", "#c", ANY)
    await bob.alive()


async def test_oper_failures_get_464(serve: Serve) -> None:
    """OPER with an unknown name or a wrong password gets 464 ERR_PASSWDMISMATCH.

    RFC 2812 3.1.4 lists 464 and 491 ERR_NOOPERHOST ("No O-lines for your host"); chinwag has no
    host restriction on operators, so a failed OPER is always 464, for an unknown name too.
    """
    h = await serve(opers=[("root", cheap_hash("hunter2"))])
    amy = await h.connect("amy")
    await amy.send("OPER nobody hunter2")
    await amy.expect_numeric("464", ANY)
    await amy.send("OPER root wrong")
    await amy.expect_numeric("464", ANY)
    await amy.alive()
    assert "381" not in [m.command for m in amy.history]


async def test_501_unknown_user_mode(h: Harness) -> None:
    """An unknown user mode letter gets 501 ERR_UMODEUNKNOWNFLAG; known ones still apply."""
    amy = await h.connect("amy")
    await amy.send("MODE amy +Zi")
    await amy.expect_numeric("501", ANY)
    await amy.expect("MODE", ["amy", "+i"])
    await amy.alive()


async def test_502_users_dont_match(h: Harness) -> None:
    """MODE on another user's nick gets 502 ERR_USERSDONTMATCH."""
    amy = await h.connect("amy")
    await h.connect("bob")
    await amy.send("MODE bob +i")
    await amy.expect_numeric("502", ANY)
    await amy.alive()


async def test_525_invalid_key(h: Harness) -> None:
    """A +k key with a comma or over 23 characters gets 525 ERR_INVALIDKEY."""
    amy, _ = await _op_in(h)
    await amy.send("MODE #c +k " + "k" * 24)
    await amy.expect_numeric("525", "#c", ANY)
    await amy.alive()


async def test_406_was_no_such_nick(h: Harness) -> None:
    """WHOWAS of a nick never seen gets 406 then 369; of a nick that left, 314."""
    amy = await h.connect("amy")
    bob = await h.connect("bob", realname="Bob B")
    await bob.send("QUIT")
    await bob.expect_closed()
    await amy.send("WHOWAS zed")
    await amy.expect_numeric("406", "zed", ANY)
    await amy.expect_numeric("369", "zed", ANY)
    await amy.send("WHOWAS bob")
    await amy.expect_numeric("314", "bob", "~bob", "127.0.0.1", "*", "Bob B")
    await amy.expect_numeric("369", "bob", ANY)


@pytest.mark.parametrize(
    "line",
    [
        "CAP :",
        "TOPIC :",
        "MODE :",
        "WHOWAS :",
        "INVITE : #lobby",
        "KICK #lobby :",
        "TOPIC :#a b",
        "WHOIS :a b",
        "MODE :a b",
        "PRIVMSG :a b :hi",
        "JOIN :#a b",
        "NICK :a b",
    ],
)
async def test_numeric_echoing_an_empty_or_spaced_parameter(h: Harness, line: str) -> None:
    """A numeric echoing an empty or spaced parameter is still sent, and the client lives on."""
    amy = await h.connect("amy")
    await amy.send(line)
    msg = await amy.next()
    assert msg.command.isdigit() or msg.command == "CAP", msg
    await amy.alive()


async def test_ban_mask_with_a_space_does_not_poison_the_ban_list(h: Harness) -> None:
    """A ban mask with a space is refused (696): it could be neither echoed nor removed."""
    amy, bob = await _op_in(h)
    await amy.send("MODE #c +b :a b")
    await amy.expect_numeric("696", "#c", "b", ANY, ANY)
    await bob.send("MODE #c b")
    await bob.expect_numeric("368", "#c", ANY)
    await amy.alive()


async def test_key_starting_with_colon_does_not_break_mode_query(h: Harness) -> None:
    """A key like ":x" is refused (525); +l after it works and MODE still answers 324."""
    amy, _ = await _op_in(h)
    await amy.send("MODE #c +k ::x", "MODE #c +l 5")
    await amy.expect_numeric("525", "#c", ANY)
    await amy.expect("MODE", ["#c", "+l", "5"])
    await amy.send("MODE #c")
    await amy.expect_numeric("324", "#c", ANY, "5")
    await amy.alive()


async def test_notice_gets_no_error_replies(h: Harness) -> None:
    """A NOTICE to a missing nick, a missing channel or a +n channel gets no error back.

    RFC 1459 4.4.2: "automatic replies must never be sent in response to a NOTICE message. This
    rule applies to servers too - they must not send any error reply back to the client on
    receipt of a notice." (ergo and others follow it for 401/403/404.)
    """
    _, bob = await _op_in(h)
    await bob.send("NOTICE zed :hi", "NOTICE #nope :hi", "NOTICE #c :hi")
    lines = await bob.sync()
    assert not [m for m in lines if m.command in ("401", "403", "404")], lines
