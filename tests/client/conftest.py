"""Fixtures for the client tests: a real IRC server subprocess and raw-socket IRC clients.

The server is chinwag (``python -m chinwag serve``) when it runs; ngircd stands in while it does
not, or when ``CHINWAG_CLIENT_TEST_SERVER=ngircd``. Each test gets its own server on a free port in
its own directory, so the tests are safe under pytest-xdist; the server is stopped by its PID.
Every wait here is bounded and polled; nothing sleeps for a fixed time.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from chinwag.protocol import DecodeError, LineDecoder, Message, encode_message, parse_line

LOBBY = "#lobby"
ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 15.0

CHINWAG_CONFIG = """\
[server]
name = "test.chinwag"
default_channels = ["#lobby"]

[limits]
max_clients_per_ip = 0
flood_rate = 0
"""

CHINWAG_DEFAULT_FLOOD_CONFIG = CHINWAG_CONFIG.replace("flood_rate = 0\n", "")
"""The test server with chinwag's default flood limits (20 lines at once, then 5 a second)."""

NGIRCD_CONFIG = """\
[Global]
Name = test.ngircd
Info = chinwag client tests
Listen = 127.0.0.1
Ports = {port}
MotdPhrase = hello

[Limits]
MaxConnectionsIP = 0
MaxJoins = 0

[Options]
DNS = no
Ident = no
PAM = no
"""


def _environment(workdir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["HOME"] = str(workdir)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env["PYTHONUNBUFFERED"] = "1"
    return env


@functools.cache
def server_kind() -> str:
    """Which server the tests run against: chinwag when it starts, else ngircd."""
    wanted = os.environ.get("CHINWAG_CLIENT_TEST_SERVER", "")
    if wanted:
        return wanted
    probe = subprocess.run(
        [sys.executable, "-m", "chinwag", "serve", "--help"],
        capture_output=True,
        cwd=ROOT,
        env=_environment(ROOT),
        timeout=60,
        check=False,
    )
    return "chinwag" if probe.returncode == 0 else "ngircd"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def port_accepts(port: int) -> bool:
    """Whether something accepts connections on 127.0.0.1:port right now."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def wait_for(predicate: Callable[[], object], what: str, timeout: float = TIMEOUT) -> None:
    """Poll ``predicate`` (blocking) until it is truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.02)


async def eventually(predicate: Callable[[], object], what: str, timeout: float = TIMEOUT) -> None:
    """Poll ``predicate`` without blocking the event loop; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.02)


def _exited_or_listening(proc: subprocess.Popen[bytes], port: int) -> bool:
    return proc.poll() is not None or port_accepts(port)


@dataclass
class Server:
    """An IRC server subprocess on 127.0.0.1; ``autojoins`` says whether it puts users in #lobby."""

    kind: str
    workdir: Path
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None
    extra_args: list[str] = field(default_factory=list)
    config: str = CHINWAG_CONFIG

    @property
    def autojoins(self) -> bool:
        """chinwag joins everyone to #lobby; ngircd does not."""
        return self.kind == "chinwag"

    @property
    def log(self) -> str:
        """What the server printed so far."""
        path = self.workdir / "server.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def _command(self) -> list[str]:
        if self.kind == "chinwag":
            config = self.workdir / "chinwag.toml"
            config.write_text(self.config)
            return [
                sys.executable,
                "-m",
                "chinwag",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--config",
                str(config),
                "--log-level",
                "debug",
                *self.extra_args,
            ]
        config = self.workdir / "ngircd.conf"
        config.write_text(NGIRCD_CONFIG.format(port=self.port))
        return [shutil.which("ngircd") or "/usr/sbin/ngircd", "--nodaemon", "--config", str(config)]

    def start(self) -> None:
        """Start (again, on the same port when it has one) and wait until it accepts."""
        restarting = self.port != 0
        for _ in range(3):
            self.port = self.port or free_port()
            with (self.workdir / "server.log").open("ab") as log:
                self.proc = subprocess.Popen(
                    self._command(),
                    cwd=self.workdir,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=_environment(self.workdir),
                    start_new_session=True,
                )
            wait_for(
                functools.partial(_exited_or_listening, self.proc, self.port),
                f"{self.kind} on port {self.port}\n{self.log}",
            )
            if self.proc.poll() is None:
                return
            if not restarting:
                self.port = 0  # taken by a parallel worker: pick another one
        raise RuntimeError(f"{self.kind} did not start:\n{self.log}")

    def stop(self) -> None:
        """Stop the server by its PID (its process group): TERM, bounded wait, KILL."""
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)

    def restart(self) -> None:
        """Stop and start again on the same port."""
        self.stop()
        wait_for(lambda: not port_accepts(self.port), "the old server to stop listening")
        self.start()


@pytest.fixture
def irc_server(tmp_path: Path) -> Iterator[Server]:
    """A fresh IRC server for one test."""
    server = Server(server_kind(), tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@dataclass
class RawClient:
    """A bare IRC client over a socket, for the other side of a conversation."""

    nick: str
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    received: list[Message] = field(default_factory=list)
    task: asyncio.Task[None] | None = None
    _arrived: asyncio.Event = field(default_factory=asyncio.Event)

    @classmethod
    async def connect(cls, server: Server, nick: str) -> RawClient:
        """Connect, register, and be in #lobby (joining it when the server does not)."""
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        client = cls(nick, reader, writer)
        client.task = asyncio.create_task(client._read())
        client.send(f"NICK {nick}", f"USER {nick} 0 * :{nick}")
        await client.expect(lambda m: m.command == "001")
        if not server.autojoins:
            client.send(f"JOIN {LOBBY}")
        await client.expect(lambda m: m.command == "366")
        return client

    async def _read(self) -> None:
        with contextlib.suppress(ConnectionError):
            await self._read_lines()

    async def _read_lines(self) -> None:
        decoder = LineDecoder()
        while data := await self.reader.read(65536):
            for item in decoder.feed(data):
                if isinstance(item, DecodeError):
                    continue
                if item.command == "PING":
                    self.writer.write(encode_message(Message("PONG", item.params)))
                self.received.append(item)
            self._arrived.set()

    def send(self, *lines: str) -> None:
        """Send raw IRC lines."""
        for line in lines:
            self.writer.write(encode_message(parse_line(line)))

    async def expect(
        self, predicate: Callable[[Message], bool], timeout: float = TIMEOUT
    ) -> Message:
        """Wait (bounded) for a received message matching ``predicate``; return it."""
        deadline = time.monotonic() + timeout
        seen = 0
        while True:
            for msg in self.received[seen:]:
                if predicate(msg):
                    return msg
            seen = len(self.received)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                lines = "\n".join(str(m) for m in self.received[-20:])
                raise AssertionError(f"{self.nick} did not get the expected line; last:\n{lines}")
            self._arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), remaining)

    def got_privmsg(self, text: str) -> bool:
        """Whether a PRIVMSG with exactly ``text`` arrived."""
        return any(m.command == "PRIVMSG" and m.param(1) == text for m in self.received)

    async def close(self) -> None:
        """Disconnect without ceremony."""
        self.writer.close()
        with contextlib.suppress(OSError):
            await self.writer.wait_closed()
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task


@pytest.fixture
async def raw_clients() -> AsyncIterator[list[RawClient]]:
    """A list to put raw clients in; they are all closed after the test."""
    clients: list[RawClient] = []
    yield clients
    for client in clients:
        await client.close()
