"""Getting a registered nick back: NickServ GHOST and REGAIN for its owner, and a grace period
that belongs to the nick, so that hopping away and back does not start it again."""

from __future__ import annotations

import re

from .accounts_support import ServeAccounts, fast_hashing, register, serve_accounts
from .harness import ANY

__all__ = ["fast_hashing", "serve_accounts"]


async def test_regain_takes_the_nick_back(serve_accounts: ServeAccounts) -> None:
    """The owner, logged in under another nick, REGAINs it: the holder becomes a guest and the
    owner gets the nick."""
    h = await serve_accounts()
    amy = await register(h, "amy", "amy-pw")
    await amy.send("NICK amy_away")
    await amy.expect("NICK")
    eve = await h.connect("eve")
    await eve.send("NICK amy")
    await eve.expect("NICK", ["amy"])
    await amy.send("PRIVMSG NickServ :REGAIN amy")
    renamed = await eve.expect("NICK", [re.compile("Guest[0-9]+")])
    assert renamed.source_nick == "amy"
    await amy.expect("NICK", ["amy"], source="amy_away")


async def test_ghost_disconnects_the_holder(serve_accounts: ServeAccounts) -> None:
    """GHOST with the account's password, from a connection not logged in, ends the
    connection that holds the nick."""
    h = await serve_accounts()
    amy = await register(h, "amy", "amy-pw")
    await amy.send("QUIT")
    await amy.expect_closed()
    eve = await h.connect("amy")
    owner = await h.connect("owner")
    await owner.send("PRIVMSG NickServ :GHOST amy wrong-pw")
    await owner.expect("NOTICE", ["owner", re.compile(".*invalid account name or password.*")])
    await owner.send("PRIVMSG NickServ :GHOST amy amy-pw")
    await eve.expect_error("Ghosted")
    await owner.expect("NOTICE", ["owner", re.compile(".*amy.* disconnected.*")])


async def test_ghost_and_regain_refuse_strangers(serve_accounts: ServeAccounts) -> None:
    """Without the account or its password, GHOST and REGAIN say why and touch nobody."""
    h = await serve_accounts()
    await register(h, "amy", "amy-pw")
    eve = await h.connect("eve")
    for verb in ("GHOST", "REGAIN"):
        await eve.send(f"PRIVMSG NickServ :{verb} amy")
        await eve.expect("NOTICE", ["eve", re.compile(".*log in to amy.*|.*password.*")])
    await eve.send("PRIVMSG NickServ :GHOST nobody-here")
    await eve.expect("NOTICE", ["eve", re.compile(".*nobody-here.*not online.*")])


async def test_the_grace_period_belongs_to_the_nick(serve_accounts: ServeAccounts) -> None:
    """Once a registered nick's grace has run out, taking it again without logging in renames
    at once: hopping away and back does not start a new grace period."""
    h = await serve_accounts(accounts={"nick_protection_grace": 0.6})
    await register(h, "amy", "amy-pw")
    await h.clients[0].send("NICK amy_away")
    eve = await h.connect("eve")
    await eve.send("NICK amy")
    await eve.expect("NOTICE", ["amy", re.compile(".*within 0.6 seconds.*")])
    await eve.expect("NICK", [re.compile("Guest[0-9]+")])
    await eve.send("NICK amy")
    await eve.expect("NICK", ["amy"])
    # At once: well before a new grace period of 0.6 s could have run out.
    await eve.expect("NICK", [re.compile("Guest[0-9]+")], timeout=0.45)
    await eve.expect("NOTICE", [ANY, re.compile(".*did not log in to amy in time.*")])
