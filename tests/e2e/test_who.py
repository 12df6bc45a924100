"""WHO with WHOX fields and tokens, and the draft/bot mode (+B, the bot tag, the WHO flag, 335)."""

from __future__ import annotations

from .accounts_support import ServeAccounts, fast_hashing, register, serve_accounts
from .harness import ANY, Harness

__all__ = ["fast_hashing", "serve_accounts"]  # fixtures, imported to be used here


async def test_whox_fields_come_in_the_spec_order_with_the_token(
    serve_accounts: ServeAccounts,
) -> None:
    """WHO #c %nuat,42: 354 with token, user, nick, account (0 when logged out), in that order."""
    h = await serve_accounts()
    amy = await register(h, "amy", "secret-words")
    bob = await h.connect("bob")
    await bob.send("WHO #lobby %nuat,42")
    rows = {}
    while True:
        msg = await bob.next()
        if msg.command == "315":
            break
        if msg.command == "354":
            rows[msg.params[3]] = msg.params[1:]
    assert rows == {"amy": ("42", "~amy", "amy", "amy"), "bob": ("42", "~bob", "bob", "0")}
    assert amy.nick == "amy"


async def test_whox_every_field(h: Harness) -> None:
    """All fields: the IP is hidden from others, op level is n/a, realname is last."""
    amy = await h.connect("amy")
    bob = await h.connect("bob")
    await bob.send("WHO amy %tcuihsnfdlaor,7")
    row = await bob.expect("354")
    assert row.params == (
        "bob",
        "7",
        "#lobby",
        "~amy",
        "255.255.255.255",
        "127.0.0.1",
        "test.chinwag",
        "amy",
        "H",
        "0",
        ANY,
        "0",
        "n/a",
        ANY,
    )
    await bob.expect("315")
    await amy.send("WHO amy %ni")
    assert (await amy.expect("354")).params == ("amy", "127.0.0.1", "amy")


async def test_plain_who_is_unchanged(h: Harness) -> None:
    """WHO without % still answers 352."""
    amy = await h.connect("amy")
    await amy.send("WHO amy")
    await amy.expect("352", ["amy", "#lobby", "~amy", "127.0.0.1", "test.chinwag", "amy", "H", ANY])


async def test_isupport_announces_whox_and_bot(h: Harness) -> None:
    """005 has WHOX and BOT=B."""
    amy = await h.connect("amy")
    tokens = {p for m in amy.history if m.command == "005" for p in m.params[1:-1]}
    assert {"WHOX", "BOT=B"} <= tokens


async def test_a_bot_is_tagged_flagged_and_named(h: Harness) -> None:
    """MODE +B: messages carry the bot tag (message-tags), WHO shows B, WHOIS sends 335."""
    bot = await h.connect("bot")
    amy = await h.connect("amy", caps=["message-tags"])
    await bot.send("MODE bot +B")
    await bot.expect("MODE", ["bot", "+B"])
    await bot.send("PRIVMSG #lobby :beep")
    msg = await amy.expect("PRIVMSG", ["#lobby", "beep"])
    assert "bot" in msg.tags
    await amy.send("WHO bot")
    assert "B" in (await amy.expect("352")).params[6]
    await amy.send("WHOIS bot")
    await amy.expect_numeric("335", "bot", ANY)
    await bot.send("MODE bot -B", "PRIVMSG #lobby :human again")
    msg = await amy.expect("PRIVMSG", ["#lobby", "human again"])
    assert "bot" not in msg.tags
