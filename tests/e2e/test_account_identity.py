"""An account has an identity that a later registration of the same name never inherits:
private history belongs to that identity. And ``chinwag admin forget`` refuses to touch the
data directory of a running server (it would leave the forgotten account logged in)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

from .accounts_support import ServeAccounts, fast_hashing, register, sasl_connect, serve_accounts
from .harness import latest_history

__all__ = ["fast_hashing", "serve_accounts"]

CH = ["draft/chathistory", "batch", "server-time", "message-tags"]


async def test_a_new_account_of_a_forgotten_name_reads_nothing_of_the_old(
    serve_accounts: ServeAccounts, tmp_path: Path
) -> None:
    """amy talks privately with bob; amy's account is dropped from the store while amy is
    still logged in; a newcomer registers "amy": neither amy reads the other's conversation."""
    h = await serve_accounts(data_dir=tmp_path)
    old_amy = await register(h, "amy", "first-pw", caps=CH)
    bob = await register(h, "bob", "bob-pw", caps=CH)
    await old_amy.send("PRIVMSG bob :the old amy's secret")
    await bob.expect("PRIVMSG", ["bob", "the old amy's secret"])
    await h.server.store.forget("amy")  # what `admin forget` did to a running server's file
    await old_amy.send("NICK oldamy")
    await old_amy.expect("NICK")
    new_amy = await register(h, "amy", "second-pw", caps=CH)
    assert await latest_history(new_amy, "bob") == []
    await new_amy.send("PRIVMSG bob :the new amy's secret")
    await bob.expect("PRIVMSG", ["bob", "the new amy's secret"])
    assert "the new amy's secret" not in await latest_history(old_amy, "bob")
    assert await latest_history(bob, "amy") == ["the new amy's secret"]


async def test_private_history_with_an_offline_account(
    serve_accounts: ServeAccounts, tmp_path: Path
) -> None:
    """CHATHISTORY with the name of an account that is offline still finds the conversation."""
    h = await serve_accounts(data_dir=tmp_path)
    amy = await register(h, "amy", "amy-pw", caps=CH)
    bob = await register(h, "bob", "bob-pw", caps=CH)
    await amy.send("PRIVMSG bob :hello bob")
    await bob.expect("PRIVMSG", ["bob", "hello bob"])
    await amy.send("QUIT")
    await amy.expect_closed()
    assert await latest_history(bob, "amy") == ["hello bob"]
    again = await sasl_connect(h, "amy", "amy-pw", caps=CH)
    assert await latest_history(again, "bob") == ["hello bob"]


def _forget(data: Path, name: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "chinwag", "admin", "--data", str(data), "forget", name],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def test_admin_forget_goes_through_the_running_server(
    serve_accounts: ServeAccounts, tmp_path: Path
) -> None:
    """`chinwag admin forget` on the data directory of a running server asks the server over
    its admin socket: the account's session is logged out (901), then the account is dropped."""
    h = await serve_accounts(data_dir=tmp_path)
    amy = await register(h, "amy", "amy-pw")
    done = await asyncio.to_thread(_forget, tmp_path, "amy")
    assert done.returncode == 0, done
    assert "logged out 1 session(s)" in done.stdout, done.stdout
    await amy.expect("901")
    assert await h.server.store.accounts.get("amy") is None


async def test_admin_forget_refuses_a_server_it_cannot_ask(
    serve_accounts: ServeAccounts, tmp_path: Path
) -> None:
    """With no admin socket to ask, `chinwag admin forget` finds the running server's lock,
    exits 1 and says why; the account is untouched."""
    h = await serve_accounts(data_dir=tmp_path)
    await register(h, "amy", "amy-pw")
    assert h.server.admin is not None
    h.server.admin.close()  # as if the socket were gone
    done = await asyncio.to_thread(_forget, tmp_path, "amy")
    assert done.returncode == 1, done
    assert "running" in done.stderr and "NickServ DROP" in done.stderr, done.stderr
    assert await h.server.store.accounts.get("amy") is not None
