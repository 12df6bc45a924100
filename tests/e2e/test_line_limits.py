"""Every line the server relays fits in 512 bytes, however long the sender's nick and text.

The client's line is at most 512 bytes, but the server adds a ``nick!user@host`` source before
relaying it, so full-length text has to be cut. The harness fails any test in which a client
receives a line over 512 bytes (tags aside), so these tests only need to provoke the longest lines.
"""

from __future__ import annotations

import pytest

from .conftest import Serve
from .harness import ANY, Client, Harness

NICK_A = "a" * 32
NICK_B = "b" * 32
CHANNEL = "#" + "c" * 63


async def _pair(h: Harness) -> tuple[Client, Client]:
    amy = await h.connect(NICK_A, caps=["away-notify"])
    bob = await h.connect(NICK_B, caps=["away-notify"])
    await amy.send(f"JOIN {CHANNEL}")
    await amy.expect("366")
    await bob.send(f"JOIN {CHANNEL}")
    await bob.expect("366")
    await amy.expect("JOIN", [CHANNEL], source=NICK_B)
    return amy, bob


def _fill(head: str, char: str) -> str:
    """``head`` followed by as many ``char`` as fit in a 512-byte client line."""
    room = 510 - len(head.encode())
    return head + char * (room // len(char.encode()))


@pytest.mark.parametrize("char", ["x", "é", "€", "😀"], ids=["1byte", "2bytes", "3bytes", "4bytes"])
@pytest.mark.parametrize(
    ("head", "command"),
    [
        (f"PRIVMSG {CHANNEL} :", "PRIVMSG"),
        (f"NOTICE {NICK_B} :", "NOTICE"),
        (f"TOPIC {CHANNEL} :", "TOPIC"),
        (f"KICK {CHANNEL} {NICK_B} :", "KICK"),
        (f"PART {CHANNEL} :", "PART"),
        ("AWAY :", "AWAY"),
        ("QUIT :", "QUIT"),
    ],
    ids=lambda value: str(value).split(" ", 1)[0],
)
async def test_relayed_text_fits_512_bytes(h: Harness, head: str, command: str, char: str) -> None:
    """Full-length text (one-, two-, three- and four-byte characters) is relayed within 512."""
    amy, bob = await _pair(h)
    await amy.send(_fill(head, char))
    msg = await bob.expect(command, source=NICK_A)
    text = msg.params[-1]
    assert text and set(text.removeprefix("Quit: ")) == {char}
    if command == "QUIT":
        await amy.expect_closed()
    else:
        await amy.alive()
    await bob.alive()


async def test_topic_replies_fit_512_bytes(h: Harness) -> None:
    """A full TOPICLEN topic on a full-length channel name fits in 332 and 322 replies."""
    amy, bob = await _pair(h)
    await amy.send(f"TOPIC {CHANNEL} :" + "t" * 400)
    await bob.expect("TOPIC")
    await bob.send(f"TOPIC {CHANNEL}", "LIST")
    await bob.expect_numeric("332", CHANNEL, ANY)
    await bob.expect("323")


async def test_replies_fit_512_bytes_under_a_long_server_name(serve: Serve) -> None:
    """With a 39-character server name, 332 and 322 for a full topic still fit in 512 bytes."""
    h = await serve(server={"name": "irc.a-rather-long-host-name.example.org"})
    amy = await h.connect(NICK_A)
    await amy.send(f"JOIN {CHANNEL}", f"TOPIC {CHANNEL} :" + "t" * 390, f"TOPIC {CHANNEL}", "LIST")
    topic = await amy.expect_numeric("332", CHANNEL, ANY)
    assert set(topic.params[-1]) == {"t"}
    await amy.expect("323")
    bob = await h.connect(NICK_B, realname="r" * 128)
    await bob.send("AWAY :" + "w" * 200, f"WHOIS {NICK_B}", f"WHO {NICK_B}")
    await bob.expect("315")


async def test_names_lines_fit_under_long_server_and_channel_names(serve: Serve) -> None:
    """NAMES of a 12-member channel named with 63 four-byte characters fits, every nick whole.

    CHANNELLEN counts characters, so the channel name alone takes 253 of the 512 bytes.
    """
    h = await serve(server={"name": "irc.a-rather-long-host-name.example.org"})
    channel = "#" + "😀" * 63
    members = []
    for n in range(12):
        member = await h.connect(f"n{n:02d}" + "x" * 29)
        await member.send(f"JOIN {channel}")
        await member.expect("366")
        members.append(member)
    await members[0].send(f"NAMES {channel}")
    lines = await members[0].collect_until("366")
    names = " ".join(m.params[-1] for m in lines if m.command == "353").split()
    assert sorted(name.lstrip("@") for name in names) == sorted(m.nick for m in members)


async def test_whois_channels_are_split_over_several_lines(h: Harness) -> None:
    """WHOIS of a user in many long-named channels gives several 319 lines, no name cut."""
    amy = await h.connect(NICK_A)
    channels = [f"#{n:02d}" + "c" * 60 for n in range(12)]
    await amy.send("JOIN " + ",".join(channels[:6]), "JOIN " + ",".join(channels[6:]))
    for channel in channels:
        await amy.expect("366", [NICK_A, channel, ANY])
    await amy.send(f"WHOIS {NICK_A}")
    lines = await amy.collect_until("318")
    listed = " ".join(m.params[-1] for m in lines if m.command == "319").split()
    assert sorted(name.lstrip("@") for name in listed) == sorted([*channels, "#lobby"])


async def test_421_for_a_long_unknown_command_fits_512_bytes(h: Harness) -> None:
    """421 echoes an unknown command cut to fit; random bytes as a command too (the harness
    fails the test on any line over 512 bytes)."""
    amy = await h.connect("amy")
    await amy.send("X" * 480)
    await amy.expect("421")
    await amy.send(bytes(range(0x80, 0xFF)) * 3 + b"\r\n")
    await amy.expect("421")
    await amy.alive()


async def test_a_long_cap_ack_fits_512_bytes(h: Harness) -> None:
    """A CAP REQ that repeats capabilities up to the line limit is acknowledged within 512
    bytes, and the capabilities are on."""
    amy = await h.open("amy")
    caps = ("server-time " * 41).strip()  # the ACK would be 516 bytes if echoed
    await amy.send(f"CAP REQ :{caps}")
    ack = await amy.expect("CAP", [ANY, "ACK", ANY])
    assert ack.params[-1].split() == ["server-time"]
