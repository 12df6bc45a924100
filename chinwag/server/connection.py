"""One socket: framing, limits, flood control, the outbound queue and the SendQ.

Theory of operation
-------------------
`Connection` is an `asyncio.Protocol`, so reading costs no task and no await. Bytes go through the
sans-I/O `LineDecoder`; each complete line is handed to the command dispatcher synchronously.

Input is paced by a token bucket (``flood_burst`` lines at once, then ``flood_rate`` lines a
second): a line that finds the bucket empty waits in a backlog and is processed when a token is
due, the way other servers pace a paste. Only when the backlog passes ``flood_queue`` lines is
the client cut off with "Excess Flood".

The same backlog keeps a client's lines in order when a command has to wait for something (an
argon2 check in a thread, a store query): the handler passes its background task to
`wait_for`, and the connection's later lines wait in the backlog until it is done (other
connections are not affected). A client that sends more than ``flood_queue`` lines meanwhile is
not at fault: it is simply not read until the backlog drains.

Output never blocks anybody. `enqueue` appends bytes to a per-connection list and registers the
connection with the server's outbox once; at the end of the event-loop turn the outbox writes each
dirty connection's pending lines with ONE ``transport.write`` (the kernel is far happier with one
write of ten lines than ten writes of one); with durable delivery, behind the commit of the
messages the turn stored (``server/outbox.py``). Channel messages arrive as shared `fanout.Batch`
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
from typing import Any, Protocol, cast

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
        """``conn`` has output: write it at the end of this loop turn."""

    def finish(self, conn: Connection, data: bytes) -> None:
        """Write ``conn``'s last bytes in turn with everybody's output, then close it."""

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
        # Commands of this connection still running in the background (`wait_for`): its later
        # lines wait in the backlog until they are done.
        self._waiting: set[asyncio.Future[Any]] = set()
        self._paused = False

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
            if self._backlog or self._waiting or not self._take_token(item):
                self._backlog.append(item)
                if len(self._backlog) > self.limits.flood_queue:
                    if not self._waiting:
                        self.close("Excess Flood")
                        return
                    self._pause()  # our slowness, not the client's: stop reading meanwhile
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

    def wait_for(self, task: asyncio.Future[Any]) -> None:
        """Hold this connection's later lines until ``task`` (a command's background part) is
        done, so that a client's lines are handled, and answered, in the order it sent them."""
        if task.done():
            return
        self._waiting.add(task)
        task.add_done_callback(self._resume)

    def _resume(self, task: asyncio.Future[Any]) -> None:
        self._waiting.discard(task)
        if self._waiting or self.closing:
            return
        if self._paused:
            self._paused = False
            if self.transport is not None:
                self.transport.resume_reading()
        self._drain_backlog()

    def _pause(self) -> None:
        if not self._paused and self.transport is not None:
            self._paused = True
            self.transport.pause_reading()

    def _schedule_backlog(self) -> None:
        if self._backlog_timer is not None or self._waiting:
            return
        rate = self.limits.flood_rate
        delay = max(0.0, (1.0 - self._tokens) / rate) if rate > 0 else 0.0
        loop = asyncio.get_running_loop()
        self._backlog_timer = loop.call_later(delay, self._drain_backlog)

    def _drain_backlog(self) -> None:
        self._backlog_timer = None
        backlog = self._backlog
        while backlog and not self.closing and not self._waiting and self._take_token(backlog[0]):
            self._handle(backlog.popleft())
        if backlog and not self.closing:
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
        if self.pending:
            self.write(self.take())

    def take(self) -> bytes:
        """Everything queued, as this peer's bytes; the queue is left empty."""
        pending = self.pending
        if not pending:
            return b""
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
        return data

    def write(self, data: bytes, *, last: bool = False) -> None:
        """Write ``data`` now (the outbox decides when), then enforce the SendQ.

        Args:
            data: bytes taken from this connection's queue earlier (`take`).
            last: the connection's final bytes (ERROR): close the socket after them.
        """
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        if data:
            transport.write(data)
        if last:
            transport.close()
        elif transport.get_write_buffer_size() > self._sendq_bytes:
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
        self.closing = True
        head = f"ERROR :Closing Link: {nick}[{host}] (".encode()
        # A QUIT or KILL reason can be as long as the client's line: keep ERROR within 512 bytes.
        text = fit_utf8(reason.encode(), MAX_BODY_BYTES - 3 - len(head))
        error = head + text + b")\r\n"
        if abort:  # it stopped reading: what it has not read is dropped with the socket
            self.pending.clear()
            self.transport.write(error)
            self._finish(quit_message if quit_message is not None else reason)
            self.transport.abort()
            return
        # What it was sent, then ERROR, then the end: in turn with everybody's output.
        last = self.take() + error
        self._finish(quit_message if quit_message is not None else reason)
        self.owner.finish(self, last)

    def _finish(self, reason: str) -> None:
        client = self.client
        if client is None or client.state is RegState.CLOSED:
            return
        if client.registered:
            log.info("quit %s (%s): %s", client.nick, client.ip, reason)
        else:
            log.info("disconnect %s before registration: %s", client.ip, reason)
        self.owner.client_gone(client, reason)
