"""One socket: framing, limits, flood control, the outbound queue and the SendQ.

Theory of operation
-------------------
`Connection` is an `asyncio.Protocol`, so reading costs no task and no await. Bytes go through the
sans-I/O `LineDecoder`; each complete line is handed to the command dispatcher synchronously.

Input is paced by a token bucket (``flood_burst`` lines at once, then ``flood_rate`` lines a
second): a line that finds the bucket empty waits in a backlog and is processed when a token is
due, the way other servers pace a paste. Only when the backlog passes ``flood_queue`` lines is
the client cut off with "Excess Flood".

Output never blocks anybody. `enqueue` appends bytes to a per-connection list and registers the
connection with the server's flusher once; at the end of the event-loop turn the flusher writes each
dirty connection's pending lines with ONE ``transport.write`` (the kernel is far happier with one
write of ten lines than ten writes of one). Channel messages arrive as shared `fanout.Batch`
objects (`hold`), turned into this peer's bytes at flush time. If what this peer has not yet
read passes ``sendq_bytes`` it is cut off with "SendQ exceeded"; the others never wait for it.

While a command runs, the lines meant for its sender can be captured (`capture`) so that the
dispatcher can label them for ``labeled-response``.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from typing import Protocol, cast

from chinwag.protocol import MAX_BODY_BYTES, DecodeError, LineDecoder, Message, fit_utf8
from chinwag.server.config import LimitsConfig
from chinwag.server.network import Network
from chinwag.server.state import Channel, ChannelBatch, Client, RegState

__all__ = ["Connection", "ConnectionOwner"]

log = logging.getLogger("chinwag.connection")

_HTTP_VERBS = frozenset({"GET", "POST", "PUT", "HEAD", "OPTIONS", "CONNECT", "DELETE", "PATCH"})
_FREE_COMMANDS = frozenset({"PONG"})


class ConnectionOwner(Protocol):
    """What a connection asks of whoever accepted it (the server, in ``app.py``)."""

    def admission_refusal(self, ip: str) -> str | None:
        """Why a new connection from ``ip`` must be refused, or None to accept it."""

    def dispatch(self, client: Client, item: Message | DecodeError) -> None:
        """Run one received line."""

    def mark_dirty(self, conn: Connection) -> None:
        """``conn`` has output: flush it at the end of this loop turn."""

    def client_gone(self, client: Client, reason: str) -> None:
        """The connection of ``client`` ended."""


class Connection(asyncio.Protocol):
    """The asyncio side of one client connection.

    Args:
        owner: who accepted it: admission, dispatch, the end-of-turn flush, departures.
        network: where the connection is counted once admitted.
        limits: flood, SendQ and registration limits.
        tls: whether the socket is a TLS one.
    """

    def __init__(
        self,
        owner: ConnectionOwner,
        network: Network,
        limits: LimitsConfig,
        *,
        tls: bool = False,
    ) -> None:
        self.owner = owner
        self.network = network
        self.limits = limits
        self.tls = tls
        self.transport: asyncio.Transport | None = None
        self.client: Client | None = None
        # IRCv3 message-tags: a client may send at most 4094 bytes of tag data (4096 with the
        # "@" and the space), so that the server's own tags still fit when the line is relayed.
        self.decoder = LineDecoder(max_tags_bytes=4096)
        self.lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.closing = False
        self.connected_at = time.monotonic()
        self.last_read = self.connected_at
        self.ping_sent_at: float | None = None
        self.lines_before_registration = 0
        # Output waiting for the end of this loop turn: bytes (`enqueue`) and channel batches
        # (`hold`). tail_owner: the channel whose open batch ends it, if one does.
        self.pending: list[bytes | ChannelBatch] = []
        self.tail_owner: Channel | None = None
        self._batched = False  # some of pending is a Batch
        self._held: list[bytes | ChannelBatch] | None = None
        self._sendq_bytes = limits.sendq_bytes
        self._tokens = float(limits.flood_burst)
        self._tokens_at = self.connected_at
        self._backlog: collections.deque[Message | DecodeError] = collections.deque()
        self._backlog_timer: asyncio.TimerHandle | None = None

    # -- asyncio.Protocol ----------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Accept the socket, or refuse it politely when a connection limit is reached."""
        # uvloop's transports are not asyncio.Transport subclasses, but have the same methods.
        transport = cast(asyncio.Transport, transport)
        self.transport = transport
        peer = transport.get_extra_info("peername")
        ip = str(peer[0]) if peer else "unknown"
        self.client = Client(conn=self, host=ip, ip=ip)
        refusal = self.owner.admission_refusal(ip)
        if refusal is not None:
            log.info("refused %s: %s", ip, refusal)
            self.closing = True
            transport.write(f"ERROR :Closing Link: {ip} ({refusal})\r\n".encode())
            transport.close()
            return
        self.network.add_connection(self.client)
        log.info("connect from %s", ip)

    def data_received(self, data: bytes) -> None:
        """Frame the bytes into messages and dispatch them, paced by the flood budget."""
        if self.closing:
            return
        self.last_read = time.monotonic()
        self.ping_sent_at = None
        for item in self.decoder.feed(data):
            if self.closing:
                return
            if self._backlog or not self._take_token(item):
                self._backlog.append(item)
                if len(self._backlog) > self.limits.flood_queue:
                    self.close("Excess Flood")
                    return
                self._schedule_backlog()
                continue
            self._handle(item)

    def connection_lost(self, exc: Exception | None) -> None:
        """The socket is gone: the user quits (with the reason we gave, if we closed it)."""
        if self._backlog_timer is not None:
            self._backlog_timer.cancel()
        if not self.lost.done():
            self.lost.set_result(None)
        if not self.closing:
            self.closing = True
            reason = "Connection closed" if exc is None else f"Read error: {exc}"
            self._finish(reason)

    # -- input ---------------------------------------------------------------------------------

    def _take_token(self, item: Message | DecodeError) -> bool:
        limits = self.limits
        if limits.flood_rate <= 0:
            return True
        if isinstance(item, Message) and item.command in _FREE_COMMANDS:
            return True
        client = self.client
        if client is not None and client.is_oper:
            return True
        now = time.monotonic()
        self._tokens = min(
            float(limits.flood_burst), self._tokens + (now - self._tokens_at) * limits.flood_rate
        )
        self._tokens_at = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False

    def _schedule_backlog(self) -> None:
        if self._backlog_timer is not None:
            return
        rate = self.limits.flood_rate
        delay = max(0.0, (1.0 - self._tokens) / rate) if rate > 0 else 0.0
        loop = asyncio.get_running_loop()
        self._backlog_timer = loop.call_later(delay, self._drain_backlog)

    def _drain_backlog(self) -> None:
        self._backlog_timer = None
        while self._backlog and not self.closing and self._take_token(self._backlog[0]):
            self._handle(self._backlog.popleft())
        if self._backlog and not self.closing:
            self._schedule_backlog()

    def _handle(self, item: Message | DecodeError) -> None:
        client = self.client
        assert client is not None
        if not client.registered:
            self.lines_before_registration += 1
            if isinstance(item, Message) and item.command in _HTTP_VERBS:
                self.close("This is an IRC server, not a web server")
                return
            if self.lines_before_registration > self.limits.max_registration_lines:
                self.close("Too many lines before registration")
                return
        self.owner.dispatch(client, item)

    # -- output --------------------------------------------------------------------------------

    def enqueue(self, data: bytes) -> None:
        """Queue bytes for this peer; written at the end of the event-loop turn.

        Called once per recipient per line, so the common case is one test and one append.
        """
        out = self.pending
        if not out:
            if self.closing:
                return
            if self._held is None:
                self.owner.mark_dirty(self)
        elif self.tail_owner is not None:
            self._close_tail()  # a channel line after this one would overtake it
        out.append(data)

    def can_hold(self) -> bool:
        """Whether a channel batch may go in this peer's output (not while capturing)."""
        return self._held is None

    def hold(self, batch: ChannelBatch) -> None:
        """Queue a channel's batch for this peer: its lines are added until the batch closes."""
        owner = self.tail_owner
        if owner is not batch.channel:
            if owner is not None:
                owner.close_batches()
            self.tail_owner = batch.channel
        out = self.pending
        if not out:
            self.owner.mark_dirty(self)
        out.append(batch)
        self._batched = True

    def _close_tail(self) -> None:
        """Close the batch that ends this peer's output: nothing may be added to it now."""
        owner = self.tail_owner
        if owner is not None:
            owner.close_batches()
            self.tail_owner = None

    def flush(self) -> None:
        """Write everything queued in one call, then enforce the SendQ."""
        pending = self.pending
        transport = self.transport
        if not pending or transport is None:
            return
        owner = self.tail_owner
        if owner is not None:  # _close_tail, inlined: this runs for every recipient
            owner.close_batches()
            self.tail_owner = None
        if len(pending) == 1:  # the usual case: one line, or one channel batch
            item = pending[0]
            data = item if isinstance(item, bytes) else item.share_of(self.client)
        elif self._batched:
            client = self.client
            data = b"".join(
                [item if isinstance(item, bytes) else item.share_of(client) for item in pending]
            )
        else:
            data = b"".join(cast(list[bytes], pending))
        self._batched = False
        pending.clear()
        if self.closing or not data:
            return
        transport.write(data)
        if transport.get_write_buffer_size() > self._sendq_bytes:
            self.close("SendQ exceeded", abort=True)

    def capture(self) -> None:
        """Start collecting this client's output instead of queueing it (labeled-response)."""
        self._close_tail()
        self._held, self.pending = self.pending, []

    def release(self) -> list[bytes]:
        """Stop collecting and return what was collected; queued output goes on as before.

        What was collected is bytes only: no batch is put in a connection that captures.
        """
        if self._held is None:
            return []
        captured, self.pending, self._held = self.pending, self._held, None
        return cast(list[bytes], captured)

    # -- closing -------------------------------------------------------------------------------

    def close(self, reason: str, *, abort: bool = False, quit_message: str | None = None) -> None:
        """End this connection: ``ERROR`` line first, then the peers are told, then the socket.

        Args:
            reason: why, for the ERROR line, the log and (by default) the QUIT others see.
            abort: drop unsent output (for a peer that stopped reading).
            quit_message: what peers see in QUIT, when it differs from ``reason``.
        """
        if self.closing or self.transport is None:
            return
        client = self.client
        host = client.host if client else "unknown"
        nick = client.nick if client else "*"
        if self._held is not None:
            # Replies collected for a label still go out, before the ERROR (a 465, say).
            self.pending.extend(self.release())
        self.flush()
        if self.closing:  # the flush itself found the SendQ exceeded and closed us
            return
        self.closing = True
        head = f"ERROR :Closing Link: {nick}[{host}] (".encode()
        # A QUIT or KILL reason can be as long as the client's line: keep ERROR within 512 bytes.
        text = fit_utf8(reason.encode(), MAX_BODY_BYTES - 3 - len(head))
        self.transport.write(head + text + b")\r\n")
        self._finish(quit_message if quit_message is not None else reason)
        if abort:
            self.transport.abort()
        else:
            self.transport.close()

    def _finish(self, reason: str) -> None:
        client = self.client
        if client is None or client.state is RegState.CLOSED:
            return
        if client.registered:
            log.info("quit %s (%s): %s", client.nick, client.ip, reason)
        else:
            log.info("disconnect %s before registration: %s", client.ip, reason)
        self.owner.client_gone(client, reason)
