"""A channel's history belongs to that channel's lifetime: when an unregistered channel empties
and someone creates one of the same name, it starts empty (no replay, no CHATHISTORY), also
after a restart. Registered channels, and the configured common rooms, keep their history."""

from __future__ import annotations

from pathlib import Path

from .accounts_support import ServeAccounts, fast_hashing, register, sasl_connect, serve_accounts
from .harness import Client, latest_history

__all__ = ["fast_hashing", "serve_accounts"]

CH = ["draft/chathistory", "batch", "server-time", "message-tags", "echo-message"]


async def _make_vault(amy: Client) -> None:
    await amy.send("JOIN #vault")
    await amy.expect("366")
    await amy.send("MODE #vault +sik hush", "PRIVMSG #vault :the combination is 4-8-15")
    await amy.expect("PRIVMSG")  # the echo: delivered once stored
    assert await latest_history(amy, "#vault") == ["the combination is 4-8-15"]
    await amy.send("PART #vault")
    await amy.expect("PART")


async def test_a_recreated_channel_starts_empty(
    serve_accounts: ServeAccounts, tmp_path: Path
) -> None:
    """#vault is created, talked in and emptied; eve then creates #vault: she gets no replay
    and CHATHISTORY gives her nothing."""
    h = await serve_accounts(data_dir=tmp_path)
    amy = await h.connect("amy", caps=CH)
    await _make_vault(amy)
    eve = await h.connect("eve", caps=CH)
    plain_eve = await h.connect("plaineve")  # no chathistory: the join replays history
    await plain_eve.send("JOIN #vault")
    await plain_eve.expect("366")
    replay = await plain_eve.sync()
    assert not [m for m in replay if m.command == "PRIVMSG"], replay
    await eve.send("JOIN #vault")
    await eve.expect("366")
    assert await latest_history(eve, "#vault") == []


async def test_a_recreated_channel_starts_empty_after_a_restart(
    serve_accounts: ServeAccounts, tmp_path: Path
) -> None:
    """The history of an unregistered channel from before a restart is not the history of a
    channel of that name created after it."""
    h = await serve_accounts(data_dir=tmp_path)
    amy = await h.connect("amy", caps=CH)
    await _make_vault(amy)
    await h.close()
    await h.server.stop()
    h2 = await serve_accounts(data_dir=tmp_path)
    eve = await h2.connect("eve", caps=CH)
    await eve.send("JOIN #vault")
    await eve.expect("366")
    assert await latest_history(eve, "#vault") == []


async def test_registered_channels_and_the_lobby_keep_their_history(
    serve_accounts: ServeAccounts, tmp_path: Path
) -> None:
    """A channel registered with ChanServ keeps its history (from before its registration too)
    across emptying and restarts; so does the configured common room."""
    h = await serve_accounts(data_dir=tmp_path)
    amy = await register(h, "amy", "amy-pw", caps=CH)
    await amy.send("JOIN #club", "PRIVMSG #club :before registering")
    await amy.expect("366")
    await amy.expect("PRIVMSG")
    await amy.send("PRIVMSG ChanServ :REGISTER #club")
    await amy.expect("NOTICE", ["amy", "#club is registered to amy."])
    await amy.send("PRIVMSG #club :after registering", "PRIVMSG #lobby :hello lobby")
    await amy.expect("PRIVMSG", ["#lobby", "hello lobby"])
    await amy.send("PART #club")
    await amy.expect("PART")
    await h.close()
    await h.server.stop()
    h2 = await serve_accounts(data_dir=tmp_path)
    again = await sasl_connect(h2, "amy", "amy-pw", caps=CH)
    await again.send("JOIN #club")
    await again.expect("366")
    assert await latest_history(again, "#club") == ["before registering", "after registering"]
    assert await latest_history(again, "#lobby") == ["hello lobby"]
