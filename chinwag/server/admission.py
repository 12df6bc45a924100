"""Admission at accept time: TLS connections count against the connection limits from the first
byte, and their handshake has a deadline.

Theory of operation
-------------------
asyncio's ``create_server(ssl=...)`` tells the protocol about a connection only once the TLS
handshake is done, so a client that opens the TLS port and never sends a ClientHello would hold
a file descriptor that no limit knows about: thousands of them exhaust the server. Instead, the
TLS port listens in plain TCP and each accepted socket gets a `TlsGate`. The gate counts the
connection in `Handshakes` at once (``Server.admission_refusal`` adds these counts to the
registered and registering connections), refuses it outright when a limit is reached, and puts
the TLS protocol on the socket with ``tls_handshake_timeout``. When the handshake succeeds, the
slot passes to a normal `Connection`; when it fails or times out, the socket is dropped and the
slot freed.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import ssl
from asyncio import sslproto
from typing import Protocol, cast

from chinwag.server.config import LimitsConfig
from chinwag.server.connection import Connection, ConnectionOwner
from chinwag.server.network import Network
from chinwag.server.stats import Stats

__all__ = ["GateOwner", "Handshakes", "TlsGate"]

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


class GateOwner(ConnectionOwner, Protocol):
    """What a `TlsGate` asks of the server: a connection's owner that counts handshakes."""

    handshakes: Handshakes


class TlsGate(asyncio.Protocol):
    """The first protocol of a socket accepted on the TLS port: admission, then the handshake.

    Args:
        owner: who admits connections and owns them (the server).
        network: the network the connection joins.
        limits: the ``[limits]`` settings (``tls_handshake_timeout`` among them).
        context: the server's TLS context.
        stats: where the connection, once admitted, is counted (a private one if None).
    """

    def __init__(
        self,
        owner: GateOwner,
        network: Network,
        limits: LimitsConfig,
        context: ssl.SSLContext,
        *,
        stats: Stats | None = None,
    ) -> None:
        self.owner = owner
        self.stats = stats
        self.network = network
        self.limits = limits
        self.context = context
        self.ip = "unknown"
        self.counted = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Refuse the socket when a limit is reached; otherwise count it and start TLS."""
        transport = cast(asyncio.Transport, transport)
        peer = transport.get_extra_info("peername")
        self.ip = ip = str(peer[0]) if peer else "unknown"
        refusal = self.owner.admission_refusal(ip)
        if refusal is not None:
            # No TLS yet, so no ERROR line can be understood: the socket is simply closed.
            if self.stats is not None:
                self.stats.refused["limit"] += 1
            log.info("refused %s on the TLS port: %s", ip, refusal)
            transport.abort()
            return
        self.owner.handshakes.add(ip)
        self.counted = True
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        done.add_done_callback(self._handshake_done)
        # What loop.start_tls does, but here and now: a coroutine would run a loop turn later,
        # and uvloop reads the socket (the ClientHello) as soon as this method returns.
        secure = sslproto.SSLProtocol(
            loop,
            _Admitted(self),
            self.context,
            done,
            server_side=True,
            # typeshed says int; asyncio takes any number of seconds
            ssl_handshake_timeout=self.limits.tls_handshake_timeout,  # type: ignore[arg-type]
        )
        transport.set_protocol(secure)
        secure.connection_made(transport)

    def release(self) -> None:
        """Stop counting this socket as a handshake (once)."""
        if self.counted:
            self.counted = False
            self.owner.handshakes.remove(self.ip)

    def _handshake_done(self, done: asyncio.Future[None]) -> None:
        self.release()
        if not done.cancelled() and done.exception() is not None:
            log.info("TLS handshake from %s failed: %s", self.ip, done.exception())


class _Admitted(asyncio.Protocol):
    """Receives the TLS connection once the handshake is done and hands it to a `Connection`."""

    def __init__(self, gate: TlsGate) -> None:
        self.gate = gate

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.gate.release()  # from now on the Connection is counted, by the network
        gate = self.gate
        conn = Connection(gate.owner, gate.network, gate.limits, tls=True, stats=gate.stats)
        cast(asyncio.Transport, transport).set_protocol(conn)
        conn.connection_made(transport)
