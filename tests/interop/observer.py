"""A minimal raw-socket IRC client that records every line it receives.

The observer is the third party of the scenarios: it asserts exactly what a
bystander sees (and, as importantly, what it never sees, such as a private
message between two others). A reader thread collects lines; the test thread
polls them with ``wait_until``. It answers PING so that it stays connected.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass

from .waiting import DEFAULT_TIMEOUT, wait_until


@dataclass(frozen=True)
class Line:
    """One received IRC line, split just enough for assertions."""

    raw: str
    source: str
    command: str
    params: tuple[str, ...]

    @property
    def nick(self) -> str:
        """The nick part of the source prefix ("" for server lines)."""
        return self.source.split("!", 1)[0]


def parse_line(raw: str) -> Line:
    """Split a raw IRC line (without CRLF) into source, command and params.

    Tags are dropped: the observer requests no capabilities, so a server that
    sends it tags anyway shows up in ``raw`` and can be asserted on.
    """
    rest = raw
    if rest.startswith("@"):
        _, _, rest = rest.partition(" ")
    source = ""
    if rest.startswith(":"):
        source, _, rest = rest[1:].partition(" ")
    trailing: str | None = None
    if " :" in rest:
        rest, _, trailing = rest.partition(" :")
    elif rest.startswith(":"):
        rest, trailing = "", rest[1:]
    words = rest.split()
    command = words[0].upper() if words else ""
    params = [*words[1:]]
    if trailing is not None:
        params.append(trailing)
    return Line(raw=raw, source=source, command=command, params=tuple(params))


class Observer:
    """A bystander connection that records everything the server sends it."""

    def __init__(self, port: int, nick: str, host: str = "127.0.0.1") -> None:
        self.nick = nick
        self.lines: list[Line] = []
        self._lock = threading.Lock()
        self._sock = socket.create_connection((host, port), timeout=DEFAULT_TIMEOUT)
        self._sock.settimeout(None)
        self._closed = threading.Event()
        self._reader = threading.Thread(target=self._read_loop, name=f"observer-{nick}")
        self._reader.daemon = True
        self._reader.start()

    def register(self, timeout: float = DEFAULT_TIMEOUT) -> None:
        """Send NICK and USER, then wait for the 001 welcome."""
        self.send(f"NICK {self.nick}")
        self.send(f"USER {self.nick} 0 * :chinwag interop observer")
        self.wait_for(lambda line: line.command == "001", timeout, "001 welcome")

    def send(self, line: str) -> None:
        """Send one raw line; CRLF is added."""
        self._sock.sendall(line.encode("utf-8") + b"\r\n")

    def snapshot(self) -> list[Line]:
        """Return a copy of every line received so far."""
        with self._lock:
            return list(self.lines)

    def find(self, match: Callable[[Line], bool]) -> Line | None:
        """Return the first received line for which ``match`` holds, if any."""
        return next((line for line in self.snapshot() if match(line)), None)

    def wait_for(
        self,
        match: Callable[[Line], bool],
        timeout: float = DEFAULT_TIMEOUT,
        what: str = "a matching line",
    ) -> Line:
        """Wait, polled and bounded, for a received line matching ``match``."""
        return wait_until(
            lambda: self.find(match),
            timeout,
            lambda: f"{self.nick} to receive {what}; it got:\n{self.transcript()}",
        )

    def transcript(self) -> str:
        """Every received line, one per line, for failure messages."""
        return "\n".join(f"  {line.raw}" for line in self.snapshot())

    def close(self) -> None:
        """Close the socket (without QUIT) and stop the reader thread."""
        self._closed.set()
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        self._sock.close()
        self._reader.join(timeout=5)

    def _read_loop(self) -> None:
        buffer = b""
        while not self._closed.is_set():
            try:
                chunk = self._sock.recv(65536)
            except OSError:
                return
            if not chunk:
                return
            buffer += chunk
            *complete, buffer = buffer.split(b"\n")
            for raw_bytes in complete:
                raw = raw_bytes.rstrip(b"\r").decode("utf-8", errors="replace")
                if not raw:
                    continue
                line = parse_line(raw)
                if line.command == "PING":
                    token = line.params[0] if line.params else ""
                    try:
                        self.send(f"PONG :{token}")
                    except OSError:
                        return
                with self._lock:
                    self.lines.append(line)
