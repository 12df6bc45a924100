"""Operators over IRC: REHASH reloads the configuration, STATS m and l show the counters."""

from __future__ import annotations

import dataclasses
import re

from .accounts_support import ServeAccounts, connect_oper, fast_hashing, serve_accounts
from .harness import ANY

__all__ = ["fast_hashing", "serve_accounts"]


async def test_rehash_reloads_for_operators_only(serve_accounts: ServeAccounts) -> None:
    """REHASH needs +o (481); an operator gets 382 and a notice of what changed."""
    h = await serve_accounts()
    server = h.server
    wanted = dataclasses.replace(
        server.config, server=dataclasses.replace(server.config.server, motd="rehashed")
    )
    server.reloader.source = lambda: wanted
    amy = await h.connect("amy")
    await amy.send("REHASH")
    await amy.expect("481")
    boss = await connect_oper(h)
    await boss.send("REHASH")
    await boss.expect("382", ["boss", ANY, "Rehashing"])
    await boss.expect("NOTICE", ["boss", "configuration reloaded: server.motd"])
    late = await h.connect("late")
    assert [m.params[-1] for m in late.history if m.command == "372"] == ["- rehashed"]


async def test_stats_counters(serve_accounts: ServeAccounts) -> None:
    """STATS m counts commands by verb (212); STATS l shows traffic and disconnections."""
    h = await serve_accounts()
    boss = await connect_oper(h)
    amy = await h.connect("amy")
    await amy.send("QUIT :gone")
    await amy.expect_closed()
    await boss.send("STATS m")
    await boss.expect("212", ["boss", "OPER", "1"])
    await boss.expect("219", ["boss", "m", ANY])
    await boss.send("STATS l")
    await boss.expect("249", ["boss", re.compile(r"received \d+ lines, \d+ bytes; sent .*")])
    await boss.expect("249", ["boss", "disconnected (quit): 1"])
