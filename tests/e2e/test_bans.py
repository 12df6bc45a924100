"""Server bans end to end: KLINE by mask and by account, at once and at registration or login,
with durations, persisted across a restart, lifted by UNKLINE, listed by STATS k."""

from __future__ import annotations

import re
import time
from pathlib import Path

from chinwag.store import BanKind, ServerBan

from .accounts_support import (
    ServeAccounts,
    connect_oper,
    fast_hashing,
    plain,
    sasl_connect,
    serve_accounts,
)
from .harness import ANY

__all__ = ["fast_hashing", "serve_accounts"]


async def test_kline_needs_oper(serve_accounts: ServeAccounts) -> None:
    """KLINE, UNKLINE and STATS from a non-operator get 481 and nothing is banned."""
    h = await serve_accounts()
    amy = await h.connect("amy")
    for line in ("KLINE *!*@127.0.0.1 :bye", "UNKLINE *!*@*", "STATS k"):
        await amy.send(line)
        await amy.expect("481")
    assert not h.server.accounts.bans
    await amy.send("KLINE")
    await amy.expect("461")


async def test_kline_by_mask(serve_accounts: ServeAccounts) -> None:
    """A mask ban disconnects matching users at once (465, ERROR) and refuses them at
    registration; the issuer is spared; UNKLINE lets them back."""
    h = await serve_accounts()
    boss = await connect_oper(h)
    bad = await h.connect("spammer")
    good = await h.connect("amy")
    await boss.send("KLINE spam*!*@* :no spam please")
    await boss.expect("NOTICE", ["boss", re.compile(r"Banned spam\*!\*@\* permanently.*")])
    await bad.expect("465", ["spammer", re.compile(".*no spam please")])
    await bad.expect_error("K-Lined: no spam please")
    await good.expect("QUIT", ["K-Lined: no spam please"], source="spammer")
    again = await h.open("again")
    await again.send("NICK spammer2", "USER x 0 * :x")
    await again.expect("465", ["spammer2", ANY])
    await again.expect_error("K-Lined")
    await boss.send("KLINE *!*@*")
    await boss.expect("NOTICE", ["boss", re.compile("Refusing to ban everybody.*")])
    await boss.send("STATS k")
    await boss.expect("216", ["boss", "K", "spam*!*@*", "permanent", "root", "no spam please"])
    await boss.expect("219", ["boss", "k", ANY])
    await boss.send("UNKLINE spam*!*@*")
    await boss.expect("NOTICE", ["boss", "Removed the ban on spam*!*@*"])
    await boss.send("UNKLINE spam*!*@*")
    await boss.expect("NOTICE", ["boss", "No ban on spam*!*@*"])
    await h.connect("spammer")


async def test_kline_by_account(serve_accounts: ServeAccounts) -> None:
    """An account ban disconnects its users, refuses SASL at registration and IDENTIFY later."""
    h = await serve_accounts()
    await h.server.store.accounts.register("amy", "amy", "secret")
    boss = await connect_oper(h)
    amy = await sasl_connect(h, "amy", "secret")
    await boss.send("KLINE 30 account:AMY :abuse")
    await boss.expect("NOTICE", ["boss", "Banned account:amy for 30 minutes: abuse"])
    await amy.expect("465")
    await amy.expect_error("K-Lined: abuse")
    raw = await h.open("raw")
    await raw.send("CAP REQ sasl", "NICK amy", "USER amy 0 * :Amy", "AUTHENTICATE PLAIN")
    await raw.expect("AUTHENTICATE", ["+"])
    await raw.send(f"AUTHENTICATE {plain('amy', 'secret')}", "CAP END")
    await raw.expect("465")
    await raw.expect_error("K-Lined: abuse")
    other = await h.connect("someone")
    await other.send("PRIVMSG NickServ :IDENTIFY amy secret")
    await other.expect("465")
    await other.expect_error("K-Lined: abuse")
    await boss.send("STATS k")
    await boss.expect("216", ["boss", "K", "account:amy", re.compile("(30|29)m"), "root", ANY])


async def test_expired_bans_do_not_apply(serve_accounts: ServeAccounts) -> None:
    """A ban whose time is up no longer refuses anybody."""
    h = await serve_accounts()
    past = time.time() - 10
    ban = ServerBan(BanKind.MASK, "amy!*@*", "old", "root", past - 60, expires_at=past)
    h.server.accounts.bans[BanKind.MASK, "amy!*@*"] = ban
    await h.connect("amy")
    assert not h.server.accounts.bans


async def test_bans_survive_a_restart(serve_accounts: ServeAccounts, tmp_path: Path) -> None:
    """A KLINE is stored: after a restart on the same data directory it still applies."""
    h = await serve_accounts(data_dir=tmp_path)
    boss = await connect_oper(h)
    await boss.send("KLINE troll!*@* :go away")
    await boss.expect("NOTICE", ["boss", ANY])
    await boss.send("KLINE 1 temp!*@* :brief")
    await boss.expect("NOTICE", ["boss", ANY])
    await h.close()
    await h.server.stop()
    h2 = await serve_accounts(data_dir=tmp_path)
    assert {target for _, target in h2.server.accounts.bans} == {"troll!*@*", "temp!*@*"}
    troll = await h2.open("troll")
    await troll.send("NICK troll", "USER t 0 * :t")
    await troll.expect_error("K-Lined: go away")
