"""A recording TCP relay between one real client and the server.

Theory of operation: the client is pointed at the wiretap's port instead of the
server's. The wiretap accepts that one connection, opens its own to the server,
and copies bytes both ways unchanged on two threads, while splitting a copy of
each direction into lines. A test can then say exactly what the client sent and
what the server answered, e.g. in a failure message or to assert that no
command of a real client was refused as unknown.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from dataclasses import dataclass

_ACCEPT_TIMEOUT = 30.0


@dataclass(frozen=True)
class WireLine:
    """One line seen on the wire.

    Attributes:
        at: monotonic time it was seen.
        outgoing: True for client -> server, False for server -> client.
        text: the line without CRLF.
    """

    at: float
    outgoing: bool
    text: str

    def render(self) -> str:
        """``C> line`` or ``S< line``."""
        return f"{'C>' if self.outgoing else 'S<'} {self.text}"


class Wiretap:
    """Relay one client connection to ``upstream_port`` and record its lines."""

    def __init__(self, upstream_port: int, name: str, host: str = "127.0.0.1") -> None:
        self.name = name
        self.upstream = (host, upstream_port)
        self._listener = socket.create_server((host, 0))
        self._listener.settimeout(_ACCEPT_TIMEOUT)
        self.port: int = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._lines: list[WireLine] = []
        self._sockets: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self._closed = False
        acceptor = threading.Thread(target=self._accept, name=f"wiretap-{name}", daemon=True)
        self._threads.append(acceptor)
        acceptor.start()

    def lines(self) -> list[WireLine]:
        """Every line seen so far, both directions, in order of arrival."""
        with self._lock:
            return list(self._lines)

    def transcript(self, limit: int = 400) -> str:
        """The last ``limit`` lines, rendered for a failure message."""
        rendered = [line.render() for line in self.lines()[-limit:]]
        return f"===== wire {self.name} (C> client sent, S< server sent) =====\n" + "\n".join(
            rendered
        )

    def close(self) -> None:
        """Close every socket and join the relay threads (bounded)."""
        with self._lock:
            self._closed = True
            sockets = [self._listener, *self._sockets]
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        for thread in self._threads:
            thread.join(timeout=5)

    def _accept(self) -> None:
        try:
            client, _ = self._listener.accept()
        except OSError:
            return
        try:
            server = socket.create_connection(self.upstream, timeout=_ACCEPT_TIMEOUT)
        except OSError:
            client.close()
            return
        for sock in (client, server):
            sock.settimeout(None)
        with self._lock:
            if self._closed:
                client.close()
                server.close()
                return
            self._sockets += [client, server]
        pumps = [
            threading.Thread(target=self._pump, args=(client, server, True), daemon=True),
            threading.Thread(target=self._pump, args=(server, client, False), daemon=True),
        ]
        self._threads += pumps
        for pump in pumps:
            pump.start()

    def _pump(self, source: socket.socket, sink: socket.socket, outgoing: bool) -> None:
        pending = b""
        while True:
            try:
                chunk = source.recv(65536)
            except OSError:
                chunk = b""
            if not chunk:
                # Pass the half-close on so that each side sees the other leave.
                with contextlib.suppress(OSError):
                    sink.shutdown(socket.SHUT_WR)
                return
            # Record before forwarding: the peer cannot answer a line before it is
            # recorded, so the transcript keeps cause before effect.
            pending += chunk
            *complete, pending = pending.split(b"\n")
            now = time.monotonic()
            with self._lock:
                self._lines += [
                    WireLine(now, outgoing, raw.rstrip(b"\r").decode("utf-8", "replace"))
                    for raw in complete
                    if raw.strip()
                ]
            try:
                sink.sendall(chunk)
            except OSError:
                return
