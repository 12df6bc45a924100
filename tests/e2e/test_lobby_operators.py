"""Somebody can run the common room: server operators, and the owner account named in the
configuration, get op in the default channels from ChanServ, so they can set the topic and
moderate; ordinary users still cannot."""

from __future__ import annotations

import re

from chinwag.server.config import OperConfig

from .accounts_support import FAST_HASHER, ServeAccounts, fast_hashing, sasl_connect, serve_accounts

__all__ = ["fast_hashing", "serve_accounts"]


async def test_an_operator_gets_op_in_the_lobby(serve_accounts: ServeAccounts) -> None:
    """After OPER, ChanServ ops the operator in #lobby; the operator sets its topic."""
    h = await serve_accounts()
    h.server.config.opers = [OperConfig("root", FAST_HASHER.hash("hunter2"))]
    amy = await h.connect("amy")
    boss = await h.connect("boss")
    await amy.send("TOPIC #lobby :mine now")
    await amy.expect("482")
    await boss.send("OPER root hunter2")
    await boss.expect("381")
    await amy.expect("MODE", ["#lobby", "+o", "boss"], source="ChanServ")
    await boss.send("TOPIC #lobby :Welcome, be kind")
    await amy.expect("TOPIC", ["#lobby", "Welcome, be kind"], source="boss")
    await boss.send("MODE #lobby +m")
    await amy.expect("MODE", ["#lobby", "+m"])


async def test_the_owner_account_gets_op_on_joining(serve_accounts: ServeAccounts) -> None:
    """The account in server.default_channel_owner is opped by ChanServ when it arrives."""
    h = await serve_accounts(server={"default_channel_owner": "Keeper"})
    await h.server.store.accounts.register("Keeper", "keeper", "keeper-pw")
    amy = await h.connect("amy")
    await sasl_connect(h, "keeper", "keeper-pw")
    await amy.expect("MODE", ["#lobby", "+o", "keeper"], source="ChanServ")
    other = await h.connect("other")
    await other.send("JOIN #elsewhere")
    await other.expect("366")
    await other.send("TOPIC #lobby :nope")
    await other.expect("482", ["other", "#lobby", re.compile(".*")])
