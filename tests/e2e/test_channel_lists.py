"""Channel lists: +e ban exceptions, +I invite exceptions, and the ~a: (account) and ~m: (mute)
extended bans."""

from __future__ import annotations

from .accounts_support import ServeAccounts, fast_hashing, register, serve_accounts
from .harness import ANY, Client, Harness

__all__ = ["fast_hashing", "serve_accounts"]  # fixtures, imported to be used here


async def _op_room(h: Harness, *modes: str) -> Client:
    amy = await h.connect("amy")
    await amy.send("JOIN #c")
    await amy.expect("366")
    for mode in modes:
        await amy.send(f"MODE #c {mode}")
        echoed = await amy.expect("MODE")
        assert echoed.params[1] == mode.split()[0]
    return amy


async def test_a_ban_exception_lets_one_user_through(h: Harness) -> None:
    """+b *!*@127.0.0.1 and +e bob: bob joins, cid gets 474."""
    await _op_room(h, "+b *!*@127.0.0.1", "+e bob!*@*")
    bob = await h.connect("bob")
    await bob.send("JOIN #c")
    await bob.expect("JOIN", ["#c"])
    cid = await h.connect("cid")
    await cid.send("JOIN #c")
    await cid.expect_numeric("474", "#c", ANY)


async def test_an_invite_exception_opens_an_invite_only_room(h: Harness) -> None:
    """+i and +I bob: bob joins without an invitation, cid gets 473."""
    await _op_room(h, "+i", "+I bob!*@*")
    bob = await h.connect("bob")
    await bob.send("JOIN #c")
    await bob.expect("JOIN", ["#c"])
    cid = await h.connect("cid")
    await cid.send("JOIN #c")
    await cid.expect_numeric("473", "#c", ANY)


async def test_lists_are_shown_to_operators(h: Harness) -> None:
    """MODE #c e and MODE #c I list entries (348/349, 346/347); a non-op gets 482."""
    amy = await _op_room(h, "+e bob", "+I ~a:bob")
    await amy.send("MODE #c e")
    await amy.expect_numeric("348", "#c", "bob!*@*", ANY, ANY)
    await amy.expect_numeric("349", "#c", ANY)
    await amy.send("MODE #c I")
    await amy.expect_numeric("346", "#c", "~a:bob", ANY, ANY)
    await amy.expect_numeric("347", "#c", ANY)
    bob = await h.connect("bob")
    await bob.send("JOIN #c", "MODE #c e")
    await bob.expect_numeric("482", "#c", ANY)


async def test_an_account_ban_keeps_out_that_account(serve_accounts: ServeAccounts) -> None:
    """+b ~a:bob keeps the user logged in as bob out, whatever the nick; a guest gets in."""
    h = await serve_accounts()
    await _op_room(h, "+b ~a:bob")
    bob = await register(h, "bob", "secret-words")
    await bob.send("NICK robert", "JOIN #c")
    await bob.expect_numeric("474", "#c", ANY)
    guest = await h.connect("guest")
    await guest.send("JOIN #c")
    await guest.expect("JOIN", ["#c"])


async def test_a_mute_lets_a_user_in_but_not_speak(h: Harness) -> None:
    """+b ~m:bob!*@*: bob joins but gets 404; voiced, he may speak; others always may."""
    amy = await _op_room(h, "+b ~m:bob!*@*")
    bob = await h.connect("bob")
    await bob.send("JOIN #c")
    await bob.expect("JOIN", ["#c"])
    await bob.send("PRIVMSG #c :hello?")
    await bob.expect_numeric("404", "#c", ANY)
    await amy.send("MODE #c +v bob")
    await bob.expect("MODE", ["#c", "+v", "bob"])
    await bob.send("PRIVMSG #c :thanks")
    await amy.expect("PRIVMSG", ["#c", "thanks"])


async def test_bad_list_entries_get_696(h: Harness) -> None:
    """An unknown extban type, or a mute inside +e, is refused with 696."""
    amy = await _op_room(h)
    await amy.send("MODE #c +b ~z:x")
    await amy.expect_numeric("696", "#c", "b", "~z:x", ANY)
    await amy.send("MODE #c +e ~m:bob")
    await amy.expect_numeric("696", "#c", "e", "~m:bob", ANY)
