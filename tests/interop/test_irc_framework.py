"""irc-framework (the IRC library under Kiwi IRC) chats with a TCP user over chinwag's WebSocket.

The library runs under node (tests/interop/node/irc_framework_bot.js reports events as JSON lines
and takes orders the same way). It is installed from npm, pinned, into ``.cache/npm`` at the
repository root (ignored by git) the first time, under a lock so that parallel workers install it
once. Without node or the npm registry the test is skipped, except under ``CI=true``.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from e2e.harness import Harness, make_server

REPO_ROOT = Path(__file__).resolve().parents[2]
NPM_PREFIX = REPO_ROOT / ".cache" / "npm"
PACKAGES = ("irc-framework@4.14.0", "ws@8.18.3")
BOT = Path(__file__).resolve().parent / "node" / "irc_framework_bot.js"
WAIT = 10.0


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
        pytest.fail(reason)
    pytest.skip(reason)


def _install() -> Path:
    """The node_modules holding irc-framework, installed once (npm registry only)."""
    modules = NPM_PREFIX / "node_modules"
    if shutil.which("node") is None or shutil.which("npm") is None:
        _unavailable("node and npm are needed for the irc-framework test")
    NPM_PREFIX.mkdir(parents=True, exist_ok=True)
    with open(NPM_PREFIX / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (modules / "irc-framework" / "package.json").exists():
            done = subprocess.run(
                # --prefix: without a package.json here npm would look for one further up.
                [
                    "npm",
                    "install",
                    "--prefix",
                    str(NPM_PREFIX),
                    "--no-audit",
                    "--no-fund",
                    "--no-save",
                    *PACKAGES,
                ],
                cwd=NPM_PREFIX,
                capture_output=True,
                text=True,
                timeout=300,
                check=False,
            )
            if done.returncode != 0:
                _unavailable(f"npm install {' '.join(PACKAGES)} failed: {done.stderr[-500:]}")
    return modules


class Bot:
    """The node process: its reports read into a queue, orders written to its stdin."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.events: list[dict[str, Any]] = []

    async def expect(self, **fields: Any) -> dict[str, Any]:
        """Read reports until one has all of ``fields``."""
        assert self.process.stdout is not None
        async with asyncio.timeout(WAIT):
            while True:
                raw = await self.process.stdout.readline()
                assert raw, f"the bot ended; it reported {self.events}"
                event: dict[str, Any] = json.loads(raw)
                self.events.append(event)
                if all(event.get(key) == value for key, value in fields.items()):
                    return event

    async def order(self, **order: Any) -> None:
        """Tell the bot what to do."""
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(order).encode() + b"\n")
        await self.process.stdin.drain()


@pytest.fixture
async def harness() -> AsyncIterator[Harness]:
    """An in-process server with a WebSocket listener, and a harness for TCP users."""
    server = make_server(websocket={"listen": "127.0.0.1:0"})
    await server.start()
    h = Harness(server)
    try:
        yield h
    finally:
        await h.close()
        await server.stop()


@pytest.fixture
async def bot(harness: Harness) -> AsyncIterator[Bot]:
    """irc-framework, connected over WebSocket as ``kiwi``."""
    modules = await asyncio.to_thread(_install)
    listener = harness.server.websocket
    assert listener is not None
    process = await asyncio.create_subprocess_exec(
        "node",
        str(BOT),
        "127.0.0.1",
        str(listener.port),
        "kiwi",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "NODE_PATH": str(modules)},
    )
    try:
        yield Bot(process)
    finally:
        if process.returncode is None:
            process.kill()
        with contextlib.suppress(ProcessLookupError):
            await process.wait()


async def test_irc_framework_chats_with_a_tcp_user(harness: Harness, bot: Bot) -> None:
    """irc-framework registers over WebSocket, joins, and messages go both ways with TCP."""
    await bot.expect(event="registered", nick="kiwi")
    await bot.expect(event="join", nick="kiwi", channel="#lobby")
    tcp = await harness.connect("tcp")
    await bot.expect(event="join", nick="tcp", channel="#lobby")
    await tcp.send("PRIVMSG #lobby :hello kiwi")
    await bot.expect(event="message", nick="tcp", target="#lobby", text="hello kiwi")
    await bot.order(say=["#lobby", "hello from irc-framework"])
    await tcp.expect("PRIVMSG", ["#lobby", "hello from irc-framework"], source="kiwi")
    await tcp.send("PRIVMSG kiwi :psst")
    await bot.expect(event="message", nick="tcp", target="kiwi", text="psst")
    await bot.order(say=["tcp", "psst yourself"])
    await tcp.expect("PRIVMSG", ["tcp", "psst yourself"], source="kiwi")
    await bot.order(quit="done")
    await tcp.expect("QUIT", ["Quit: done"], source="kiwi")
