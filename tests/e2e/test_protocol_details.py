"""Protocol details other servers get right: labels on every error, account-tag on everything a
logged-in user sends, 461 for an empty realname."""

from __future__ import annotations

from .accounts_support import ServeAccounts, fast_hashing, register, serve_accounts
from .harness import ANY, Harness

__all__ = ["fast_hashing", "serve_accounts"]  # fixtures, imported to be used here


async def test_an_unknown_command_is_answered_with_its_label(h: Harness) -> None:
    """labeled-response: 421 (and 461) carry the label of the command they answer."""
    amy = await h.connect("amy", caps=["labeled-response", "batch"])
    await amy.send("@label=u1 FOOBAR x")
    reply = await amy.expect("421")
    assert reply.tags.get("label") == "u1"
    await amy.send("@label=u2 TOPIC")
    reply = await amy.expect("461")
    assert reply.tags.get("label") == "u2"


async def test_an_empty_realname_is_not_enough_parameters(h: Harness) -> None:
    """USER u * * : (empty realname) gets 461 and does not register."""
    raw = await h.open()
    await raw.send("NICK raw", "USER u * * :")
    await raw.expect("461", ["raw", "USER", ANY])
    await raw.send("USER u * * :Real Name")
    await raw.expect("001")


async def test_account_tag_on_everything_a_logged_in_user_sends(
    serve_accounts: ServeAccounts,
) -> None:
    """account-tag: TOPIC, MODE, KICK, AWAY, NICK, PART and QUIT of a logged-in user carry its
    account."""
    h = await serve_accounts()
    amy = await register(h, "amy", "secret-words")
    bob = await h.connect("bob", caps=["account-tag", "away-notify", "invite-notify"])
    cid = await h.connect("cid")
    for client in (amy, bob, cid):
        await client.send("JOIN #c")
        await client.expect("366")
    await amy.expect("JOIN", ["#c"], source="cid")
    await amy.send(
        "TOPIC #c :news",
        "MODE #c +v bob",
        "KICK #c cid :out",
        "AWAY :later",
        "NICK amy2",
        "PART #c",
        "QUIT :bye",
    )
    seen = []
    for command in ("TOPIC", "MODE", "KICK", "AWAY", "NICK", "PART", "QUIT"):
        msg = await bob.expect(command)
        seen.append((command, msg.tags.get("account")))
    assert seen == [(command, "amy") for command, _ in seen]


async def test_utf8only_is_announced_and_held(h: Harness) -> None:
    """005 has UTF8ONLY; a Latin-1 line is relayed as UTF-8, never as the bytes it came in."""
    amy = await h.connect("amy")
    bob = await h.connect("bob")
    assert any("UTF8ONLY" in m.params for m in amy.history if m.command == "005")
    await amy.send(b"PRIVMSG #lobby :caf\xe9\r\n")
    await bob.expect("PRIVMSG", ["#lobby", "café"])
    assert b"caf\xc3\xa9" in bob.raw[-1]


async def test_no_implicit_names_skips_the_names_reply_on_join(h: Harness) -> None:
    """draft/no-implicit-names: JOIN (the automatic #lobby one too) sends no 353/366; NAMES
    still answers."""
    raw = await h.open()
    await raw.send("CAP REQ draft/no-implicit-names", "NICK quiet", "USER q 0 * :Q", "CAP END")
    await raw.expect("JOIN", ["#lobby"])
    await raw.send("JOIN #c")
    await raw.expect("JOIN", ["#c"])
    lines = await raw.sync()
    assert not [m for m in raw.history + lines if m.command in ("353", "366")]
    await raw.send("NAMES #c")
    await raw.expect_numeric("353", "=", "#c", "@quiet")
    await raw.expect_numeric("366", "#c", ANY)
