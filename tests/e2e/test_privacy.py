"""Host cloaks end to end: other users see a cloak, operators the real address, and bans match
both; logged-in users may get an account cloak."""

from __future__ import annotations

import re

from .accounts_support import (
    ServeAccounts,
    connect_oper,
    fast_hashing,
    sasl_connect,
    serve_accounts,
)
from .harness import ANY

__all__ = ["fast_hashing", "serve_accounts"]

CLOAK = re.compile(r"[0-9a-f]{8}\.[0-9a-f]{8}\.[0-9a-f]{8}\.ip\.chinwag")
CLOAKED = {"cloak_hosts": True}


async def test_users_see_a_cloak_never_the_address(serve_accounts: ServeAccounts) -> None:
    """Another user's JOIN, WHOIS and WHO show the cloak; no line to them holds the address,
    and WHOIS by a non-operator has no 338."""
    h = await serve_accounts(privacy=CLOAKED)
    amy = await h.connect("amy")
    bob = await h.connect("bob")
    joined = await amy.expect("JOIN", ["#lobby"], source="bob")
    assert joined.source is not None and CLOAK.fullmatch(joined.source.split("@")[1])
    await bob.send("WHOIS amy")
    whois = await bob.expect("311", ["bob", "amy", "~amy", CLOAK, "*", ANY])
    await bob.expect("318")
    await bob.send("WHO #lobby")
    await bob.expect("352", ["bob", "#lobby", "~amy", CLOAK, ANY, "amy", ANY, ANY])
    await bob.expect("315")
    assert not any(m.command == "338" for m in bob.history)
    assert not any(b"127.0.0.1" in raw for raw in bob.raw), "an address reached a user"
    assert whois.params[3] == joined.source.split("@")[1]  # stable: the same cloak everywhere


async def test_operators_and_the_user_see_the_real_address(serve_accounts: ServeAccounts) -> None:
    """WHOIS by an operator (or of oneself) adds 338 with the real user@address and address."""
    h = await serve_accounts(privacy=CLOAKED)
    amy = await h.connect("amy")
    boss = await connect_oper(h)
    await boss.send("WHOIS amy")
    await boss.expect("338", ["boss", "amy", "~amy@127.0.0.1", "127.0.0.1", ANY])
    await amy.send("WHOIS amy")
    await amy.expect("338", ["amy", "amy", "~amy@127.0.0.1", "127.0.0.1", ANY])


async def test_server_bans_match_the_address_and_the_cloak(serve_accounts: ServeAccounts) -> None:
    """KLINE on the real address and KLINE on a cloak mask both disconnect a cloaked user."""
    h = await serve_accounts(privacy=CLOAKED)
    boss = await connect_oper(h)
    amy = await h.connect("amy")
    await boss.send("KLINE amy!*@127.0.0.1 :by address")
    await amy.expect_error("K-Lined: by address")
    await boss.send("UNKLINE amy!*@127.0.0.1")
    await boss.expect("NOTICE", ["boss", ANY])
    bob = await h.connect("bob")
    await bob.send("WHOIS bob")
    cloak = (await bob.expect("311")).params[3]
    wide = "*." + cloak.split(".", 1)[1]  # the /24 and wider parts: a range ban
    await boss.send(f"KLINE bob!*@{wide} :by cloak")
    await bob.expect_error("K-Lined: by cloak")


async def test_channel_bans_match_the_address_behind_a_cloak(serve_accounts: ServeAccounts) -> None:
    """A channel ban on the real address keeps a cloaked user out, as does one on the cloak."""
    h = await serve_accounts(privacy=CLOAKED)
    amy = await h.connect("amy")
    bob = await h.connect("bob")
    await amy.send("JOIN #room")
    await amy.expect("366")
    await amy.send("MODE #room +b bob!*@127.0.0.1")
    await amy.expect("MODE", ["#room", "+b", "bob!*@127.0.0.1"])
    await bob.send("JOIN #room")
    await bob.expect("474", ["bob", "#room", ANY])
    await amy.send("MODE #room -b bob!*@127.0.0.1", "MODE #room +b *!*@*.ip.chinwag")
    await amy.expect("MODE", ["#room", "+b", "*!*@*.ip.chinwag"])
    await bob.send("JOIN #room")
    await bob.expect("474", ["bob", "#room", ANY])


async def test_account_cloak_after_sasl(serve_accounts: ServeAccounts) -> None:
    """With account_cloaks, a user logged in by SASL is shown as ACCOUNT.user.SUFFIX."""
    h = await serve_accounts(privacy={**CLOAKED, "account_cloaks": True, "cloak_suffix": "ex"})
    await h.server.store.accounts.register("amy", "amy", "secret")
    amy = await sasl_connect(h, "amy", "secret")
    bob = await h.connect("bob")
    await bob.send("WHOIS amy")
    await bob.expect("311", ["bob", "amy", "~amy", "amy.user.ex", "*", ANY])
    await bob.send("WHOIS bob")
    await bob.expect("311", ["bob", "bob", "~bob", re.compile(r"[0-9a-f.]+\.ip\.ex"), "*", ANY])
    assert amy.nick == "amy"
