"""A full disk, for real: the data directory on a small tmpfs. Mounting one needs root (or
password-less ``sudo``): elsewhere the tests are skipped with a loud reason, and under ``CI=true``
(CI runs as root) they fail instead, so that CI never passes without having filled a disk.

Once a commit has failed, messages are refused (not delivered, their senders told) until a probe
write works again; the messages of the loop turns whose commit failed went out
with their turn, and their senders are told they may be missing from history. Operators get one
notice per episode; storing resumes by itself when space returns. Store errors in handlers
become replies (REGISTER on a full disk answers)."""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
import sqlite3
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from chinwag.server.config import OperConfig

from .accounts_support import FAST_HASHER, ServeAccounts, fast_hashing, serve_accounts
from .harness import ANY, Client

__all__ = ["fast_hashing", "serve_accounts"]

DISK_BYTES = 8 * 1024 * 1024
NOT_STORED = re.compile(r"Your message to \S+ was not delivered: .*")
MAYBE_LOST = re.compile(r"Your message to \S+ could not be stored .*")


def _as_root(command: list[str]) -> list[str]:
    """``command`` as root: as it is for root, through password-less ``sudo -n`` otherwise."""
    if os.geteuid() == 0 or shutil.which("sudo") is None:
        return command
    return ["sudo", "-n", *command]


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A directory on a tmpfs of DISK_BYTES, mounted for this test (root or sudo only)."""
    mount = tmp_path / "small"
    mount.mkdir()
    done = subprocess.run(
        _as_root(["mount", "-t", "tmpfs", "-o", f"size={DISK_BYTES}", "tmpfs", str(mount)]),
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        reason = done.stderr.decode().strip() or f"exit status {done.returncode}"
        message = (
            f"DISK-FULL TESTS NOT RUN: cannot mount a small tmpfs as uid {os.geteuid()} ({reason});"
            " run them as root, or in a container with CAP_SYS_ADMIN"
        )
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:  # never silently
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    try:
        yield mount
    finally:
        subprocess.run(_as_root(["umount", "-l", str(mount)]), check=False)


def _fill(directory: Path) -> Path:
    """Write a file until the filesystem is full; returns it (delete it to free the space)."""
    filler = directory / f"filler-{uuid.uuid4().hex}"
    chunk = b"\0" * 65536
    with open(filler, "wb", buffering=0) as handle:
        while True:
            try:
                handle.write(chunk)
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
                break
        with contextlib.suppress(OSError):
            while True:
                handle.write(b"\0" * 512)
    return filler


async def _oper(client: Client) -> None:
    await client.send("OPER root hunter2")
    await client.expect("381")


async def test_a_message_that_cannot_be_stored_is_not_delivered(
    serve_accounts: ServeAccounts, small_disk: Path
) -> None:
    """On a full disk, once a commit failed, every later message is refused and not delivered;
    every message is either delivered or refused, never both; operators get one notice for the
    episode; after space returns the next message is stored and delivered, and operators are
    told."""
    h = await serve_accounts(data_dir=small_disk / "data")
    h.server.config.opers = [OperConfig("root", FAST_HASHER.hash("hunter2"))]
    boss = await h.connect("boss")
    await _oper(boss)
    amy = await h.connect("amy")
    bob = await h.connect("bob")
    filler = _fill(small_disk)
    try:
        texts = [f"message {i} " + "x" * 300 for i in range(200)]
        await amy.send(*(f"PRIVMSG #lobby :{text}" for text in texts))
        amy_lines = await amy.sync()
        with contextlib.suppress(sqlite3.Error):  # the flush's own commit may fail too
            await h.server.store.history.flush()  # every message's fate is decided by now
        bob_lines = await bob.sync()
        amy_lines += await amy.sync()
        got = {m.params[-1] for m in bob_lines if m.command == "PRIVMSG"}
        told = [m for m in amy_lines if m.command == "NOTICE" and NOT_STORED.match(m.params[-1])]
        maybe = [m for m in amy_lines if m.command == "NOTICE" and MAYBE_LOST.match(m.params[-1])]
        assert told, "no message was refused"
        assert maybe, "the sender of the message whose commit failed was not told"
        assert len(got) + len(told) == len(texts), (len(got), len(told))
        episode = await boss.expect("NOTICE", ["boss", re.compile(".*cannot store.*")])
        assert episode
        await boss.sync()
        assert not [m for m in boss.drain() if "cannot store" in m.params[-1]]
    finally:
        os.unlink(filler)
    await boss.expect("NOTICE", ["boss", re.compile(".*stor(ing|es) .*again.*")])
    await amy.send("PRIVMSG #lobby :after the storm")
    await bob.expect("PRIVMSG", ["#lobby", "after the storm"])


async def test_register_on_a_full_disk_gets_an_answer(
    serve_accounts: ServeAccounts, small_disk: Path
) -> None:
    """REGISTER while the disk is full is answered with FAIL (not silence); so is NickServ."""
    h = await serve_accounts(data_dir=small_disk / "data")
    amy = await h.connect("amy")
    filler = _fill(small_disk)
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
