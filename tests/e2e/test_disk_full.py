"""A full disk, for real: the data directory on a small tmpfs (``tests/small_disk.py``: root or
password-less ``sudo`` mounts it; elsewhere skipped loudly, and failed under ``CI=true``). A
message that finds no disk space reserved for it in the journal is refused before delivery, and
so is every later one (their senders told) until a probe finds room again: nothing anyone
received is missing from history. Operators get one notice per episode; storing resumes by
itself when space returns. Store errors in handlers become replies (REGISTER on a full disk
answers)."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from chinwag.server.config import OperConfig
from chinwag.store.journal import Journal

from .accounts_support import FAST_HASHER, ServeAccounts, fast_hashing, serve_accounts
from .harness import ANY, Client

__all__ = ["fast_hashing", "serve_accounts"]

RESERVE_BYTES = 8 * 1024
"""The journal's reservation here: about 20 messages fit in it, so a few dozen fill it."""
SENT = 80
NOT_STORED = re.compile(r"Your message to \S+ was not delivered: .*")
MAYBE_LOST = re.compile(r"Your message to \S+ could not be stored .*")


async def _oper(client: Client) -> None:
    await client.send("OPER root hunter2")
    await client.expect("381")


async def _history(client: Client, target: str) -> list[str]:
    """The texts of ``CHATHISTORY LATEST <target> * 100`` (the most one query gives)."""
    await client.send(f"CHATHISTORY LATEST {target} * 100")
    start = await client.expect("BATCH")
    ref = start.params[0][1:]
    texts: list[str] = []
    while (msg := await client.next()).params != (f"-{ref}",):
        texts.append(msg.params[-1])
    return texts


async def test_no_message_anyone_received_is_missing_from_history(
    serve_accounts: ServeAccounts,
    small_disk: Path,
    fill_disk: Callable[[Path], Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """On a full disk the journal's reserved space runs out and every later message is refused
    before delivery: each message either reached everyone and is in history once the disk has
    room, or reached nobody (its sender told); operators get one notice for the episode and one
    when storing resumes by itself."""
    monkeypatch.setattr(Journal, "reserve_bytes", RESERVE_BYTES)
    h = await serve_accounts(data_dir=small_disk / "data")
    h.server.config.opers = [OperConfig("root", FAST_HASHER.hash("hunter2"))]
    boss = await h.connect("boss")
    await _oper(boss)
    amy = await h.connect("amy")
    bob = await h.connect("bob")
    filler = fill_disk(small_disk)
    texts = [f"message {i} " + "x" * 300 for i in range(SENT)]
    try:
        await amy.send(*(f"PRIVMSG #lobby :{text}" for text in texts))
        amy_lines = await amy.sync()
        got = [m.params[-1] for m in await bob.sync() if m.command == "PRIVMSG"]
        boss_lines = await boss.sync()
        seen_by_boss = [m.params[-1] for m in boss_lines if m.command == "PRIVMSG"]
        episode = [
            m for m in boss_lines if m.command == "NOTICE" and "cannot store" in m.params[-1]
        ]
        told = [m for m in amy_lines if m.command == "NOTICE" and NOT_STORED.match(m.params[-1])]
        assert got, "nothing fitted into the reserved space"
        assert told, "no message was refused"
        assert got == seen_by_boss == texts[: len(got)]  # from the first refusal on, none went out
        assert len(got) + len(told) == len(texts), (len(got), len(told))
        assert not [m for m in amy_lines if MAYBE_LOST.match(m.params[-1])]
        assert len(episode) == 1, episode  # one notice for the whole episode
    finally:
        os.unlink(filler)
    await boss.expect("NOTICE", ["boss", re.compile(".*stor(ing|es) .*again.*")])
    await amy.send("PRIVMSG #lobby :after the storm")
    await bob.expect("PRIVMSG", ["#lobby", "after the storm"])
    carol = await h.connect("carol", caps=["batch", "draft/chathistory", "server-time"])
    stored = await _history(carol, "#lobby")
    assert stored == [*got, "after the storm"]


async def test_register_on_a_full_disk_gets_an_answer(
    serve_accounts: ServeAccounts, small_disk: Path, fill_disk: Callable[[Path], Path]
) -> None:
    """REGISTER while the disk is full is answered with FAIL (not silence); so is NickServ."""
    h = await serve_accounts(data_dir=small_disk / "data")
    amy = await h.connect("amy")
    filler = fill_disk(small_disk)
    try:
        await amy.send("REGISTER * * secret-pw")
        await amy.expect(
            "FAIL", ["REGISTER", "TEMPORARILY_UNAVAILABLE", "amy", re.compile(".*stor.*")]
        )
        await amy.send("PRIVMSG NickServ :REGISTER secret-pw")
        await amy.expect("NOTICE", ["amy", re.compile(".*stor.*")], source="NickServ")
    finally:
        os.unlink(filler)
    await amy.send("REGISTER * * secret-pw")
    await amy.expect("REGISTER", ["SUCCESS", "amy", ANY])
