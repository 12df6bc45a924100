"""Crash safety: SIGKILL a real ``chinwag serve`` (and so leave its journal's tail unindexed and
its indexer orphaned) in the middle of a message flood, several times, restart it on the same
data directory, and find every message that any client received in the history."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from pathlib import Path

from chinwag.protocol import decode_text, parse_line
from chinwag.store import DB_FILENAME

from .harness import Client, Clients
from .test_process import ServeProcess

CONFIG = """\
[server]
name = "crash.chinwag"
default_channels = ["#lobby"]
motd = ""

[limits]
flood_rate = 0
sendq_bytes = 67108864

[history]
replay_on_join = 0
chathistory_max = 1000000
"""
CAPS = ["message-tags", "echo-message", "batch", "server-time", "draft/chathistory"]
SENDERS = 4
FLOOD_SECONDS = 0.5
KILLS = 3


def _received(client: Client) -> dict[str, tuple[str, str]]:
    """msgid -> (target, text) of every PRIVMSG this client received (echoes included)."""
    out: dict[str, tuple[str, str]] = {}
    for raw in client.raw:
        if b" PRIVMSG " not in raw or not raw.endswith(b"\r\n"):
            continue  # a line cut by the kill was never received whole
        msg = parse_line(decode_text(raw.rstrip(b"\r\n")))
        if msg.command == "PRIVMSG" and "msgid" in msg.tags and "batch" not in msg.tags:
            out[msg.tags["msgid"]] = (msg.params[0], msg.params[1])
    return out


async def _flood(client: Client, index: int, peer: str, stop: asyncio.Event) -> int:
    """Send bursts of channel and private messages until ``stop``; returns how many."""
    sent = 0
    with contextlib.suppress(ConnectionError, OSError):
        while not stop.is_set():
            burst = []
            for _ in range(5):
                burst.append(f"PRIVMSG #lobby :c{index}-{sent}")
                burst.append(f"PRIVMSG {peer} :p{index}-{sent}")
                sent += 1
            await client.send(*burst)
            await asyncio.sleep(0.005)  # a hard flood the server keeps up with
    return sent


async def _flood_and_kill(tmp_path: Path, args: tuple[str, ...]) -> dict[str, tuple[str, str]]:
    """Start a server on the data directory, flood it, SIGKILL it mid-flood; returns what the
    clients received (msgid -> (target, text))."""
    server = ServeProcess(tmp_path, *args)
    try:
        clients = Clients(await server.started())
        nicks = [f"flood{i}" for i in range(SENDERS)]
        flooders = [await clients.connect(nick, caps=CAPS) for nick in nicks]
        stop = asyncio.Event()
        tasks = [
            asyncio.create_task(_flood(c, i, nicks[(i + 1) % SENDERS], stop))
            for i, c in enumerate(flooders)
        ]
        await asyncio.sleep(FLOOD_SECONDS)
        assert not any(t.done() for t in tasks), "the flood must still be running at the kill"
        server.proc.kill()  # SIGKILL: no flush, no close, no goodbye
        await asyncio.to_thread(server.proc.wait, 5)
        stop.set()
        await asyncio.gather(*tasks)
        for client in flooders:
            await asyncio.wait_for(client.closed.wait(), 5)
        seen: dict[str, tuple[str, str]] = {}
        for client in flooders:
            seen.update(_received(client))
        await clients.close()
    finally:
        server.kill()
    return seen


async def test_sigkill_mid_flood_loses_nothing_anyone_saw(tmp_path: Path) -> None:
    """Three SIGKILLs mid-flood, each on the last one's data: every message a client received
    is in history after a restart, and the database passes ``PRAGMA integrity_check``."""
    config = tmp_path / "crash.toml"
    config.write_text(CONFIG, encoding="utf-8")
    data = tmp_path / "data"
    args = ("--config", str(config), "--data", str(data))
    seen: dict[str, tuple[str, str]] = {}
    for _kill in range(KILLS):
        seen.update(await _flood_and_kill(tmp_path, args))
    channel_seen = {m: text for m, (target, text) in seen.items() if target == "#lobby"}
    private_seen = {m: text for m, (target, text) in seen.items() if target != "#lobby"}
    assert len(channel_seen) > 100 * KILLS and len(private_seen) > 100 * KILLS, len(seen)

    second = ServeProcess(tmp_path, *args)
    try:
        clients = Clients(await second.started())
        checker = await clients.connect("checker", caps=CAPS)
        await checker.send("CHATHISTORY LATEST #lobby * 1000000")
        start = await checker.expect("BATCH", timeout=10)
        ref = start.params[0][1:]
        stored: dict[str, str] = {}
        while True:
            msg = await checker.next(timeout=10)
            if msg.command == "BATCH" and msg.params == (f"-{ref}",):
                break
            stored[msg.tags["msgid"]] = msg.params[1]
        await clients.close()
    finally:
        second.kill()
    missing = {m: t for m, t in channel_seen.items() if stored.get(m) != t}
    assert not missing, f"{len(missing)} channel messages seen but not in history"

    conn = sqlite3.connect(f"file:{data / DB_FILENAME}?mode=ro", uri=True)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        private_stored = dict(
            conn.execute("SELECT msgid, text FROM history WHERE party_a IS NOT NULL").fetchall()
        )
    finally:
        conn.close()
    missing = {m: t for m, t in private_seen.items() if private_stored.get(m) != t}
    assert not missing, f"{len(missing)} private messages seen but not in history"
