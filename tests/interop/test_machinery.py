"""The interop machinery itself: line splitting, polled waits, the wiretap relay.

These need no IRC client installed, so they run everywhere.
"""

from __future__ import annotations

import socket
import threading
import time

import pytest

from .observer import parse_line
from .scenario import refusals
from .waiting import WaitTimeout, wait_until
from .wiretap import Wiretap


@pytest.mark.parametrize(
    ("raw", "source", "command", "params"),
    [
        (":wee!~w@h PRIVMSG #lobby :hi there", "wee!~w@h", "PRIVMSG", ("#lobby", "hi there")),
        ("@time=x;msgid=1 :irs!~i@h NICK irs2", "irs!~i@h", "NICK", ("irs2",)),
        ("PING :token", "", "PING", ("token",)),
        (":s 353 me = #lobby :a b", "s", "353", ("me", "=", "#lobby", "a b")),
        (":s 366 me #lobby :", "s", "366", ("me", "#lobby", "")),
    ],
)
def test_parse_line_splits_source_command_params(
    raw: str, source: str, command: str, params: tuple[str, ...]
) -> None:
    """parse_line keeps the source, upper-cases nothing but the verb, and keeps the trailing."""
    line = parse_line(raw)
    assert (line.source, line.command, line.params) == (source, command, params)


def test_wait_until_returns_the_first_truthy_value() -> None:
    """wait_until polls until the predicate holds and hands back its value."""
    calls = iter([None, None, "ready"])
    assert wait_until(lambda: next(calls), timeout=5) == "ready"


def test_wait_until_times_out_with_the_description() -> None:
    """A wait that never succeeds fails after its deadline, saying what it waited for."""
    started = time.monotonic()
    with pytest.raises(WaitTimeout, match="the moon"):
        wait_until(lambda: False, timeout=0.3, what=lambda: "the moon")
    assert time.monotonic() - started < 5


class _OneShotServer:
    """Accept one connection, read one chunk, answer ``reply``, close."""

    def __init__(self, reply: bytes) -> None:
        self.received = b""
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(10)
        self.port: int = self._listener.getsockname()[1]
        self._reply = reply
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        conn, _ = self._listener.accept()
        with conn:
            conn.settimeout(10)
            self.received = conn.recv(100)
            conn.sendall(self._reply)

    def close(self) -> None:
        self._listener.close()
        self._thread.join(timeout=10)


def test_wiretap_relays_and_records_both_directions() -> None:
    """Bytes pass through the wiretap unchanged and each direction is split into lines."""
    upstream = _OneShotServer(b":s 001 wee :Welcome\r\n")
    wire = Wiretap(upstream.port, "test")
    try:
        with socket.create_connection(("127.0.0.1", wire.port), timeout=10) as client:
            client.sendall(b"NICK wee\r\n")
            assert client.recv(100) == b":s 001 wee :Welcome\r\n"
        wait_until(lambda: len(wire.lines()) == 2, timeout=10, what="two recorded lines")
        assert upstream.received == b"NICK wee\r\n"
        assert [(line.outgoing, line.text) for line in wire.lines()] == [
            (True, "NICK wee"),
            (False, ":s 001 wee :Welcome"),
        ]
    finally:
        wire.close()
        upstream.close()


def test_refusals_ignore_451_before_welcome_only() -> None:
    """A 451 before 001 (irssi's JOIN probe) is not a refusal; later error numerics are."""
    upstream = _OneShotServer(
        b":s 451 * :You have not registered\r\n:s 001 me :hi\r\n:s 421 me FOO :Unknown\r\n"
    )
    wire = Wiretap(upstream.port, "test")
    try:
        with socket.create_connection(("127.0.0.1", wire.port), timeout=10) as client:
            client.sendall(b"FOO\r\n")
            wait_until(lambda: len(wire.lines()) == 4, timeout=10, what="four recorded lines")
        assert refusals(wire) == ["after C> FOO: S< :s 421 me FOO :Unknown"]
    finally:
        wire.close()
        upstream.close()
