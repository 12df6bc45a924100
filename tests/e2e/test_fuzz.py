"""Property: whatever one connection sends, the server keeps serving everyone else.

One live server runs in a background thread for the whole test. Each Hypothesis example opens a
fresh connection, maybe registers it, throws random bytes and random command lines (verbs from
the real command table, parameters drawn from interesting tokens and random text) at it, then
closes it. After every example two long-lived users must still get PING answered and a channel
message delivered, and no handler may have logged an unhandled exception.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
import time
from collections.abc import Coroutine, Iterator
from concurrent.futures import Future
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from protocol.hostile import hostile_items  # tests/protocol/hostile.py (tests/ is on the path)

from chinwag.protocol import Message, decode_text, parse_line
from chinwag.server import Server
from chinwag.server.commands import COMMANDS
from chinwag.server.commands.capabilities import CAPABILITIES

from .harness import make_server

WAIT = 3.0


class ServerThread:
    """A chinwag server running in its own event loop on a background thread."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self) -> ServerThread:
        self.thread.start()
        self._run(self.server.start())
        return self

    def __exit__(self, *exc: object) -> None:
        self._run(self.server.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)
        self.loop.close()

    def _run(self, coro: Coroutine[Any, Any, None]) -> None:
        future: Future[None] = asyncio.run_coroutine_threadsafe(coro, self.loop)
        future.result(timeout=10)

    @property
    def port(self) -> int:
        """The listening port."""
        return self.server.port


class LineSocket:
    """A blocking IRC connection for the fuzz driver (the server runs on another thread)."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
        self.buffer = b""
        self.eof = False

    def send(self, data: bytes) -> None:
        """Send raw bytes; a connection the server already closed is not an error."""
        try:
            self.sock.sendall(data)
        except OSError:
            self.eof = True

    def line(self, deadline: float) -> Message | None:
        """The next parsed line, or None at EOF; AssertionError past ``deadline``."""
        while b"\n" not in self.buffer:
            if self.eof:
                return None
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                chunk = self.sock.recv(65536)
            except TimeoutError:
                raise AssertionError("the server did not answer in time") from None
            except OSError:
                chunk = b""
            if not chunk:
                self.eof = True
                return None
            self.buffer += chunk
        raw, self.buffer = self.buffer.split(b"\n", 1)
        return parse_line(decode_text(raw.rstrip(b"\r")))

    def expect(self, command: str, last: str) -> None:
        """Read until ``command`` with last parameter ``last`` arrives."""
        deadline = time.monotonic() + WAIT
        while True:
            msg = self.line(deadline)
            assert msg is not None, f"closed while waiting for {command} {last}"
            if msg.command == command and msg.params and msg.params[-1] == last:
                return

    def finish(self) -> None:
        """PING and wait for the PONG (or EOF), so that all earlier input has been handled."""
        self.send(b"\r\nPING :fuzz-done\r\n")
        deadline = time.monotonic() + WAIT
        while True:
            msg = self.line(deadline)
            if msg is None or (msg.command == "PONG" and msg.params[-1:] == ("fuzz-done",)):
                return

    def register(self, nick: str) -> None:
        """NICK, USER, and wait for the end of the burst (the PONG after it: a client's lines
        are answered in order, and with draft/no-implicit-names no 366 ends the burst)."""
        self.send(f"NICK {nick}\r\nUSER {nick} 0 * :{nick}\r\nPING :registered\r\n".encode())
        deadline = time.monotonic() + WAIT
        while True:
            msg = self.line(deadline)
            assert msg is not None, "closed during registration"
            if msg.command == "PONG" and msg.params[-1:] == ("registered",):
                return

    def close(self) -> None:
        """Close the socket."""
        self.sock.close()


def assert_still_serving(
    watcher: LineSocket,
    speaker: LineSocket,
    caplog: pytest.LogCaptureFixture,
    *,
    logger: str = "",
) -> None:
    """The watcher gets its PONG and the speaker's message, and no logger whose name starts
    with ``logger`` (default: any) logged an error."""
    watcher.send(b"PING :still-there\r\n")
    watcher.expect("PONG", "still-there")
    token = f"round trip {time.monotonic_ns()}"
    speaker.send(f"PRIVMSG #lobby :{token}\r\n".encode())
    watcher.expect("PRIVMSG", token)
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR and r.name.startswith(logger)]
    assert not errors, [r.getMessage() for r in errors]


@pytest.fixture(scope="module")
def live() -> Iterator[tuple[ServerThread, LineSocket, LineSocket]]:
    """The server thread plus two registered users in #lobby: a watcher and a speaker."""
    with ServerThread(make_server()) as running:
        watcher = LineSocket(running.port)
        watcher.register("watcher")
        speaker = LineSocket(running.port)
        speaker.register("speaker")
        yield running, watcher, speaker
        watcher.close()
        speaker.close()


_ITEMS = hostile_items(st.sampled_from(sorted(COMMANDS)))
_CAPS = st.lists(
    st.sampled_from(sorted(CAPABILITIES)),
    unique=True,
)


@settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(items=_ITEMS, register=st.booleans(), caps=_CAPS)
def test_random_input_never_hurts_other_clients(
    live: tuple[ServerThread, LineSocket, LineSocket],
    caplog: pytest.LogCaptureFixture,
    items: list[bytes],
    register: bool,
    caps: list[str],
) -> None:
    """Random bytes and command lines from one client leave the others served, with no error."""
    running, watcher, speaker = live
    caplog.set_level(logging.WARNING)
    caplog.clear()  # the fixture is shared by every example: judge each one on its own records
    fuzzer = LineSocket(running.port)
    try:
        if caps:
            fuzzer.send(f"CAP REQ :{' '.join(caps)}\r\n".encode())
        if register:
            fuzzer.send(b"CAP END\r\n")
            fuzzer.register("fz")
            # Operator of its own channel, so that MODE, KICK, TOPIC and INVITE get past 482.
            fuzzer.send(b"JOIN #fz\r\n")
        for item in items:
            fuzzer.send(item)
        fuzzer.finish()
    finally:
        fuzzer.close()
    assert_still_serving(watcher, speaker, caplog)
    assert not [r for r in caplog.records if "error handling a line" in r.getMessage()]
