"""Admission at accept time: TLS connections count against the connection limits from the first
byte, and their handshake has a deadline.

Theory of operation
-------------------
asyncio's ``create_server(ssl=...)`` tells the protocol about a connection only once the TLS
handshake is done, so a client that opens the TLS port and never sends a ClientHello would hold
a file descriptor that no limit knows about: thousands of them exhaust the server. Instead, the
TLS port listens in plain TCP and each accepted socket gets a `TlsGate`. The gate counts the
connection in `Handshakes` at once (``Server.admission_refusal`` adds these counts to the
registered and registering connections), refuses it outright when a limit is reached, and runs
``loop.start_tls`` with ``tls_handshake_timeout``. When the handshake succeeds, the slot passes
to a normal `Connection`; when it fails or times out, the socket is dropped and the slot freed.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import ssl
from typing import TYPE_CHECKING, cast

from chinwag.server.connection import Connection

if TYPE_CHECKING:
    from chinwag.server.app import Server

__all__ = ["Handshakes", "TlsGate"]

log = logging.getLogger("chinwag.admission")


class Handshakes:
    """TLS connections accepted and still in their handshake, in total and per IP."""

    def __init__(self) -> None:
        self.total = 0
        self.per_ip: collections.Counter[str] = collections.Counter()

    def add(self, ip: str) -> None:
        """Count a connection whose handshake starts."""
        self.total += 1
        self.per_ip[ip] += 1

    def remove(self, ip: str) -> None:
        """Stop counting a connection whose handshake ended (either way)."""
        self.total -= 1
        self.per_ip[ip] -= 1
        if self.per_ip[ip] <= 0:
            del self.per_ip[ip]


class TlsGate(asyncio.Protocol):
    """The first protocol of a socket accepted on the TLS port: admission, then the handshake.

    Args:
        server: the server (its limits, its handshake counts, its task set).
        context: the server's TLS context.
    """

    def __init__(self, server: Server, context: ssl.SSLContext) -> None:
        self.server = server
        self.context = context

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Refuse the socket when a limit is reached; otherwise count it and start TLS."""
        transport = cast(asyncio.Transport, transport)
        peer = transport.get_extra_info("peername")
        ip = str(peer[0]) if peer else "unknown"
        refusal = self.server.admission_refusal(ip)
        if refusal is not None:
            # No TLS yet, so no ERROR line can be understood: the socket is simply closed.
            log.info("refused %s on the TLS port: %s", ip, refusal)
            transport.abort()
            return
        # Whatever arrives before start_tls takes the socket over must wait for it.
        transport.pause_reading()
        self.server.handshakes.add(ip)
        self.server.spawn(self._handshake(transport, ip))

    async def _handshake(self, transport: asyncio.Transport, ip: str) -> None:
        early = _Early()
        loop = asyncio.get_running_loop()
        timeout = self.server.config.limits.tls_handshake_timeout
        try:
            secure = await loop.start_tls(
                transport, early, self.context, server_side=True, ssl_handshake_timeout=timeout
            )
        except (OSError, ssl.SSLError, TimeoutError, ConnectionError) as exc:
            log.info("TLS handshake from %s failed: %s", ip, exc or type(exc).__name__)
            transport.abort()
            return
        except asyncio.CancelledError:
            transport.abort()
            raise
        finally:
            self.server.handshakes.remove(ip)
        if secure is None or early.lost:  # the peer went away as the handshake ended
            transport.abort()
            return
        conn = Connection(self.server, tls=True)
        secure.set_protocol(conn)
        conn.connection_made(secure)
        for data in early.received:
            conn.data_received(data)


class _Early(asyncio.Protocol):
    """Keeps what arrives between the end of the handshake and the `Connection` taking over
    (a TLS 1.3 client may send its first lines with its last handshake message)."""

    def __init__(self) -> None:
        self.received: list[bytes] = []
        self.lost = False

    def data_received(self, data: bytes) -> None:
        self.received.append(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
