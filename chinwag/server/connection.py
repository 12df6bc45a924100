"""One socket: framing, limits, flood control, the outbound queue and the SendQ.

Theory of operation
-------------------
`Connection` is an `asyncio.Protocol`, so reading costs no task and no await. Bytes go through the
sans-I/O `LineDecoder`; each complete line is handed to the command dispatcher synchronously.

Input is paced by a token bucket (``flood_burst`` lines at once, then ``flood_rate`` lines a
second): a line that finds the bucket empty waits in a backlog and is processed when a token is
due, the way other servers pace a paste. Only when the backlog passes ``flood_queue`` lines is
the client cut off with "Excess Flood". Every line pays, PONG included; blank lines are skipped
by the decoder but charged too (the bucket may go into debt), or a stream of newlines would
cost a core for free.

The same backlog keeps a client's lines in order when a command has to wait for something (an
argon2 check in a thread, a store query): the handler passes its background task to
`wait_for`, and the connection's later lines wait in the backlog until it is done (other
connections are not affected). A client that sends more than ``flood_queue`` lines meanwhile is
not at fault: it is simply not read until the backlog drains.

Output never blocks anybody. `enqueue` appends bytes to a per-connection list and registers the
connection with the server's outbox once; at the end of the event-loop turn the outbox writes each
dirty connection's pending lines with ONE ``transport.write`` (the kernel is far happier with one
write of ten lines than ten writes of one); with durable delivery, behind the commit of the
messages the turn stored (``server/outbox.py``), and for a huge fan-out over a few turns (what
is queued meanwhile joins the same write). Channel messages arrive as shared `fanout.Batch`
objects (`hold`), turned into this peer's bytes at flush time (`take_due`: an open batch of
others' arrivals that ends the queue waits for the lazy flush, so that writing this peer early
does not close it for everyone). If what this peer has not yet read passes ``sendq_bytes`` it
is cut off with "SendQ exceeded"; the others never wait for it.

While a command runs, the lines meant for its sender can be captured (`capture`) so that the
dispatcher can label them for ``labeled-response``.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import socket
import time
from typing import Any, Protocol, cast

from chinwag.logs import fields
from chinwag.protocol import MAX_BODY_BYTES, DecodeError, LineDecoder, Message, fit_utf8
from chinwag.server.config import LimitsConfig
from chinwag.server.network import Network
from chinwag.server.state import Channel, ChannelBatch, Client, RegState
from chinwag.server.stats import Stats, disconnect_reason

__all__ = ["Connection", "ConnectionOwner"]

log = logging.getLogger("chinwag.connection")

REPLY_LINES_PER_TOKEN = 10
"""Lines of a long answer (WHO, LIST) that cost as much flood budget as one line received."""

_HTTP_VERBS = frozenset({"GET", "POST", "PUT", "HEAD", "OPTIONS", "CONNECT", "DELETE", "PATCH"})


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

    def mark_lazy(self, conn: Connection) -> None:
        """``conn`` has output that may wait a few milliseconds: flush it with others."""

    def client_gone(self, client: Client, reason: str) -> None:
        """The connection of ``client`` ended."""


class Connection(asyncio.Protocol):
    """The asyncio side of one client connection.

    Args:
        owner: who accepted it: admission, dispatch, the end-of-turn flush, departures.
        network: where the connection is counted once admitted.
        limits: flood, SendQ and registration limits.
        tls: whether the socket is a TLS one.
        stats: where bytes, lines and disconnections are counted (a private one if None).
        send_buffer: the kernel send buffer its listening socket already gave it (accepted
            sockets inherit the listener's): 0 when it must be set here.
    """

    remote = False
    """A connection to this server (`Link.remote`)."""

    def __init__(
        self,
        owner: ConnectionOwner,
        network: Network,
        limits: LimitsConfig,
        *,
        tls: bool = False,
        stats: Stats | None = None,
        send_buffer: int = 0,
    ) -> None:
        self.owner = owner
        self._send_buffer = send_buffer
        self.stats = stats if stats is not None else Stats()
        self.network = network
        self.limits = limits
        self.tls = tls
        self.transport: asyncio.Transport | None = None
        self.client: Client | None = None
        # IRCv3 message-tags: a client may send at most 4094 bytes of tag data (4096 with the
        # "@" and the space), so that the server's own tags still fit when the line is relayed.
        self.decoder = LineDecoder(max_tags_bytes=4096)
        self._lost: asyncio.Future[None] | None = None  # made when somebody waits (`lost`)
        self._gone = False
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
        self._lazy_only = False  # all of pending may wait for the owner's lazy flush
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

    @property
    def lost(self) -> asyncio.Future[None]:
        """Done once the socket is gone. Made on demand: only a shutdown waits for it, and
        made at every arrival it cost a future and a running-loop look-up (on Python 3.11 a
        ``getpid`` system call: ``strace -c`` of a join storm)."""
        lost = self._lost
        if lost is None:
            lost = self._lost = asyncio.get_running_loop().create_future()
            if self._gone:
                lost.set_result(None)
        return lost

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
            self.stats.refused["limit"] += 1
            log.info("refused %s: %s", ip, refusal, extra=fields("refuse", ip=ip, reason=refusal))
            self.closing = True
            transport.write(f"ERROR :Closing Link: {ip} ({refusal})\r\n".encode())
            transport.close()
            return
        self.network.add_connection(self.client)
        self._bound_kernel_buffer(transport)
        self.stats.accepted += 1
        if log.isEnabledFor(logging.INFO):  # its fields cost more than the check, at every arrival
            log.info("connect from %s", ip, extra=fields("connect", ip=ip))

    def _bound_kernel_buffer(self, transport: asyncio.Transport) -> None:
        """Fix the socket's kernel send buffer at ``socket_send_buffer``: left to itself the
        kernel grows it to megabytes for a peer that stops reading, on top of the SendQ.

        Nothing to do when the listening socket was given that size (`set_send_buffer`): an
        accepted socket inherits it. Setting it here costs uvloop a socket object per call
        (with three system calls to describe it) and the ``setsockopt``: about a twentieth of
        connection set-up (py-spy, ``connect 5k``)."""
        size = self.limits.socket_send_buffer
        if size == self._send_buffer:
            return
        sock = transport.get_extra_info("socket")
        if size > 0 and sock is not None:
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, size)
            except OSError as exc:  # not every transport has a real socket underneath
                log.debug("cannot set SO_SNDBUF: %s", exc)

    @staticmethod
    def set_send_buffer(listener: socket.socket, size: int) -> int:
        """Give ``listener`` the kernel send buffer of ``size`` bytes that the sockets it
        accepts inherit; returns what was set (0: nothing, for ``size`` 0 or on failure), for
        the connections' ``send_buffer``."""
        if size <= 0:
            return 0
        try:
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, size)
        except OSError as exc:
            log.debug("cannot set SO_SNDBUF on the listener: %s", exc)
            return 0
        return size

    def data_received(self, data: bytes) -> None:
        """Frame the bytes into messages and dispatch them, paced by the flood budget."""
        if self.closing:
            return
        self.stats.bytes_received += len(data)
        self.last_read = time.monotonic()
        self.ping_sent_at = None
        decoder = self.decoder
        items = decoder.feed(data)
        if decoder.blank_lines:
            blank, decoder.blank_lines = decoder.blank_lines, 0
            if not self._spend(blank, cut_past_queue=True):
                return
        for item in items:
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
        self._gone = True
        lost = self._lost
        if lost is not None and not lost.done():
            lost.set_result(None)
        if not self.closing:
            self.closing = True
            self._drop_output()  # nobody will read it
            reason = "Connection closed" if exc is None else f"Read error: {exc}"
            self._finish(reason)

    # -- input ---------------------------------------------------------------------------------

    def _take_token(self, item: Message | DecodeError) -> bool:
        limits = self.limits
        if limits.flood_rate <= 0:
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

    def charge(self, replies: int) -> None:
        """Charge the flood budget for ``replies`` lines a command answered with (WHO, LIST):
        one token per `REPLY_LINES_PER_TOKEN`. The bucket goes into debt, so the client's
        next lines wait until it has paid: a few bytes cannot buy seconds of server time."""
        self._spend(replies / REPLY_LINES_PER_TOKEN, cut_past_queue=False)

    def _spend(self, tokens: float, *, cut_past_queue: bool) -> bool:
        """Take ``tokens`` from the bucket, which may go below zero (later lines then wait
        longer). Blank lines are charged this way too, and past ``flood_queue`` lines of debt
        (``cut_past_queue``) the connection ends like any flood. Returns: False when it ended."""
        limits = self.limits
        client = self.client
        if limits.flood_rate <= 0 or (client is not None and client.is_oper):
            return True
        now = time.monotonic()
        self._tokens = min(
            float(limits.flood_burst), self._tokens + (now - self._tokens_at) * limits.flood_rate
        )
        self._tokens_at = now
        self._tokens -= tokens
        if cut_past_queue and self._tokens < -limits.flood_queue:
            self.close("Excess Flood")
            return False
        return True

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
        else:
            if self._lazy_only:  # what waited lazily goes now, before this line
                self._lazy_only = False
                self.owner.mark_dirty(self)
            # A channel line added after this one would overtake it: the batch closes, or,
            # when the tail is this peer's own part of one, this line goes in before it.
            if self.tail_owner is not None and self._cut_tail(data):
                return
        out.append(data)

    def enqueue_lazy(self, data: bytes) -> None:
        """Queue bytes that may wait a few milliseconds (others' JOINs): written with the
        owner's next lazy flush, or sooner with anything urgent queued after them.

        In a join storm every arrival is one JOIN line to every member; written each in its
        own loop turn that is one ``write`` per member per arrival. Waiting a little lets one
        write carry the JOINs of many arrivals. Order is kept: it is the same queue.
        """
        out = self.pending
        if out or self._held is not None:
            if self._held is not None or not self._lazy_only:
                self.enqueue(data)  # already due this turn (or captured): no reason to wait
                return
            if self.tail_owner is not None and self._cut_tail(data):
                return
            out.append(data)
            return
        if self.closing:
            return
        self._lazy_only = True
        self.owner.mark_lazy(self)
        out.append(data)

    def can_hold(self) -> bool:
        """Whether a channel batch may go in this peer's output (not while capturing)."""
        return self._held is None

    def due_lazily(self) -> bool:
        """Whether output that waited lazily is still queued (nothing urgent took it out):
        the owner then writes it now; from here on it is due like any other. The window's
        batch of arrivals that ends it closes here, for every holder: it is due now."""
        if not (self._lazy_only and self.pending):
            return False
        self._lazy_only = False
        self._close_tail()
        return True

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
        elif self._lazy_only:
            self._lazy_only = False
            self.owner.mark_dirty(self)
        out.append(batch)
        batch.holders += 1
        self._batched = True

    def hold_lazily(self, batch: ChannelBatch) -> None:
        """Queue a channel's batch of arrivals: like `hold`, but written with the owner's next
        lazy flush unless something urgent is queued after it (`enqueue_lazy` for a batch)."""
        owner = self.tail_owner
        if owner is not batch.channel:
            if owner is not None:
                owner.close_batches()
            self.tail_owner = batch.channel
        out = self.pending
        if not out:
            self._lazy_only = True
            self.owner.mark_lazy(self)
        out.append(batch)
        batch.holders += 1
        self._batched = True

    def _cut_tail(self, data: bytes) -> bool:
        """Put ``data`` before the open tail of this peer's output when that tail is its own
        part of a batch of arrivals (``fanout.Tail``): what the part holds so far, then
        ``data``, then a new part, so that the batch stays open for every other holder. Else
        close the batch (every holder's: see `Channel.close_batches`) and return False."""
        pending = self.pending
        tail = pending[-1]
        cut = None if isinstance(tail, bytes) or not tail.open else tail.cut()
        if cut is None:
            self._close_tail()
            return False
        held, rest = cut
        if held:
            pending[-1] = held
            pending.append(data)
        else:  # nothing in it yet (the newcomer's own replies right after its JOIN)
            pending[-1] = data
        pending.append(rest)
        return True

    def _close_tail(self) -> None:
        """Close the batch that ends this peer's output: nothing may be added to it now."""
        owner = self.tail_owner
        if owner is not None:
            owner.close_batches()
            self.tail_owner = None

    def flush(self) -> None:
        """Write what is due in one call, then enforce the SendQ."""
        if self.pending:
            self.write(self.take_due())

    def take_due(self) -> bytes:
        """What is due now, as this peer's bytes, taken from the queue: everything but an open
        batch of arrivals that ends it, which stays queued for the owner's next lazy flush.
        Writing this peer must not close that batch for every other member (``fanout.py``)."""
        pending = self.pending
        if not pending or self.tail_owner is None:
            return self.take()
        tail = pending[-1]
        if isinstance(tail, bytes) or not (tail.lazy and tail.open):
            return self.take()
        # Everything before the tail is closed already: a peer's output has at most one open
        # batch, at its end.
        pending.pop()
        data = self._join(pending) if pending else b""
        pending.append(tail)
        self._batched = True
        self._lazy_only = True
        self.owner.mark_lazy(self)
        return data

    def take(self) -> bytes:
        """Everything queued, as this peer's bytes; the queue is left empty."""
        pending = self.pending
        if not pending:
            return b""
        owner = self.tail_owner
        if owner is not None:  # _close_tail, inlined: this runs for every recipient
            owner.close_batches()
            self.tail_owner = None
        return self._join(pending)

    def _join(self, pending: list[bytes | ChannelBatch]) -> bytes:
        """``pending`` (this peer's queue, not empty) as bytes; it is left empty."""
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
        self._lazy_only = False
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
            self.stats.bytes_sent += len(data)  # the only count per write (lines: `stats.SENT`)
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
            self._drop_output()
            self.transport.write(error)
            self._finish(quit_message if quit_message is not None else reason)
            self.transport.abort()
            return
        # What it was sent, then ERROR, then the end: in turn with everybody's output.
        last = self._take_last() + error
        self._finish(quit_message if quit_message is not None else reason)
        self.owner.finish(self, last)

    def _take_last(self) -> bytes:
        """Everything queued, as this closing peer's last bytes, like `take`, but an open batch
        that ends the queue is not sealed: this peer takes its lines so far and lets go of it,
        and the batch goes on for the others (`Link.closing`). Sealed, it would make the QUIT
        of every member leaving in the same turn (a ping timeout of a whole room, a K-line,
        shutdown) open a new batch in every member's output."""
        pending = self.pending
        if not pending:
            return b""
        tail = pending[-1]
        if not isinstance(tail, bytes) and tail.open:  # only the last item can be open
            pending[-1] = tail.share_so_far(self.client)
            tail.channel.let_go(tail)
        self.tail_owner = None  # what it holds is written as it is: nothing to close
        return self._join(pending)

    def _drop_output(self) -> None:
        """Forget what is queued, unformatted: the batches held go on without this peer (it
        holds none now, so a room's open batch need not close when it leaves: see
        `Link.closing`), and the outbox finds nothing to write here."""
        pending = self.pending
        if pending:
            tail = pending[-1]
            if not isinstance(tail, bytes) and tail.open:  # only the last item can be open
                tail.channel.let_go(tail)
        pending.clear()
        self.tail_owner = None
        self._batched = False
        self._lazy_only = False

    def _finish(self, reason: str) -> None:
        client = self.client
        if client is None or client.state is RegState.CLOSED:
            return
        label = disconnect_reason(reason)
        stats = self.stats
        stats.disconnects[label] += 1
        if client.registered:
            log.info(
                "quit %s (%s): %s",
                client.nick,
                client.ip,
                reason,
                extra=fields("quit", nick=client.nick, account=client.account, ip=client.ip,
                             reason=reason),
            )  # fmt: skip
        else:
            if label == "banned":
                stats.refused["ban"] += 1
            log.info(
                "disconnect %s before registration: %s",
                client.ip,
                reason,
                extra=fields("disconnect", ip=client.ip, reason=reason),
            )
        self.owner.client_gone(client, reason)
