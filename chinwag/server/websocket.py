"""IRC over WebSocket (the IRCv3 WebSocket specification), and the web client, on one listener.

Theory of operation
-------------------
A WebSocket user must be an ordinary chinwag client: the same limits, flood control, SendQ,
history and accounts as over TCP. So nothing here handles IRC. `WebSocketPeer` is the
`asyncio.Protocol` of the socket; it speaks HTTP and WebSocket through the sans-I/O
``websockets.server.ServerProtocol`` (no task and no await per connection or per message, like
`Connection`), and once the handshake at ``/irc`` succeeds it creates an ordinary `Connection` and
hands it a `FrameTransport`:

- in: each complete WebSocket message is one IRC line (no CR LF, per the specification); it is
  fed to ``Connection.data_received`` with a line ending, so the same decoder applies the same
  size limits and the same flood budget as for TCP. A message with a line break inside counts as
  the lines it holds, exactly as the same bytes would over TCP.
- out: ``Connection`` writes its batch of CR LF lines once per loop turn; the transport turns
  each line into one frame and writes them all with one write on the socket. The SendQ is
  measured on the socket, frames included.

Subprotocols: ``binary.ircv3.net`` exchanges binary messages (any bytes); ``text.ircv3.net``
exchanges text messages, so lines that are not UTF-8 are sent with U+FFFD in place of the bad
bytes (a browser drops a connection that receives invalid UTF-8 in a text message). The client's
order of preference wins. A client that offers neither but does offer something else is refused
(400); one that offers none at all (older libraries) gets text messages.

Every other path is HTTP: ``/`` and the web client's files (`StaticSite`), else 404; one request
per connection. Abuse of the HTTP side is bounded: a handshake must complete within
``HANDSHAKE_TIMEOUT`` seconds, and one address may hold at most ``max_clients_per_ip`` sockets
that have not become IRC connections yet.
"""

from __future__ import annotations

import asyncio
import collections
import http
import logging
import ssl
from collections.abc import Callable, Sequence
from typing import Any, cast

from websockets.exceptions import NegotiationError
from websockets.frames import Frame, Opcode
from websockets.http11 import Request
from websockets.protocol import State
from websockets.server import ServerProtocol
from websockets.typing import Subprotocol

from chinwag.protocol import MAX_BODY_BYTES, MAX_TAGS_BYTES
from chinwag.server.config import WebSocketConfig, parse_listen
from chinwag.server.connection import Connection
from chinwag.server.webfiles import StaticSite, origin_allowed, plain_response

__all__ = [
    "ENDPOINT",
    "SUBPROTOCOLS",
    "FrameTransport",
    "WebSocketListener",
    "WebSocketPeer",
    "data_frame",
]

log = logging.getLogger("chinwag.websocket")

ENDPOINT = "/irc"
BINARY = Subprotocol("binary.ircv3.net")
TEXT = Subprotocol("text.ircv3.net")
SUBPROTOCOLS = (BINARY, TEXT)
HANDSHAKE_TIMEOUT = 10.0
# The longest valid line is 8191 bytes of tags and 510 of the rest. Messages up to twice that are
# fed to the decoder, which answers a too-long line with 417 like over TCP; a longer message is
# refused by the WebSocket layer (close code 1009) before its payload is even read.
MAX_MESSAGE_BYTES = 2 * (MAX_TAGS_BYTES + MAX_BODY_BYTES)

Admission = Callable[[str], "str | None"]
ConnectionFactory = Callable[[], Connection]


def select_subprotocol(_: ServerProtocol, offered: Sequence[Subprotocol]) -> Subprotocol | None:
    """The client's most preferred subprotocol we speak; None for a client that offers none."""
    for name in offered:
        if name in SUBPROTOCOLS:
            return name
    if offered:
        raise NegotiationError(f"unsupported subprotocol; offer {TEXT} or {BINARY}")
    return None


FIN_TEXT = 0x81  # first byte of an unfragmented text frame (FIN bit, opcode 1)
FIN_BINARY = 0x82  # of an unfragmented binary frame (opcode 2)


def data_frame(first_byte: int, payload: bytes) -> bytes:
    """One unfragmented, unmasked data frame, as a server sends it (RFC 6455 section 5.2)."""
    size = len(payload)
    if size < 126:
        return bytes((first_byte, size)) + payload
    if size < 65536:
        return bytes((first_byte, 126)) + size.to_bytes(2, "big") + payload
    return bytes((first_byte, 127)) + size.to_bytes(8, "big") + payload


def _utf8(line: bytes) -> bytes:
    """The line as valid UTF-8: bytes that are not become U+FFFD (text messages must be)."""
    try:
        line.decode("utf-8")
    except UnicodeDecodeError:
        return line.decode("utf-8", "replace").encode("utf-8")
    return line


class FrameTransport(asyncio.Transport):
    """What a `Connection` writes to: IRC lines in, one WebSocket message per line out.

    This is the per-recipient hot path, so data frames are built here (a frame from a server is
    a two- to ten-byte header and the payload) rather than through the library's frame objects,
    which costs three times as much; everything else (the handshake, reading and unmasking the
    client's frames, pings, closing) is the library's.
    """

    def __init__(self, peer: WebSocketPeer, *, text: bool) -> None:
        super().__init__()
        self._peer = peer
        self._text = text
        self._first_byte = FIN_TEXT if text else FIN_BINARY
        self._closing = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        """Send each CR LF line of ``data`` as one message; all of them in one socket write."""
        if self.is_closing() or self._peer.ws.state is not State.OPEN:
            return
        data = bytes(data)
        lines = data.split(b"\r\n")
        if lines[-1] == b"":
            lines.pop()
        if self._text:
            try:
                data.decode("utf-8")  # valid as a whole means every line is (CR LF is ASCII)
            except UnicodeDecodeError:
                lines = [_utf8(line) for line in lines]
        first = self._first_byte
        self._peer.flush()  # anything the protocol queued (a pong) goes first
        self._peer.transport.write(b"".join([data_frame(first, line) for line in lines]))

    def get_write_buffer_size(self) -> int:
        """What the peer has not read yet, frames included (the SendQ)."""
        return self._peer.transport.get_write_buffer_size()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        """The socket's details (``peername`` gives the client's address)."""
        return self._peer.transport.get_extra_info(name, default)

    def pause_reading(self) -> None:
        """Stop reading the socket (the history's backpressure on a fast sender)."""
        self._peer.transport.pause_reading()

    def resume_reading(self) -> None:
        """Read the socket again."""
        self._peer.transport.resume_reading()

    def is_reading(self) -> bool:
        """Whether the socket is being read."""
        return self._peer.transport.is_reading()

    def is_closing(self) -> bool:
        """Whether `close` or `abort` was called, or the socket is closing."""
        return self._closing or self._peer.transport.is_closing()

    def close(self) -> None:
        """End the WebSocket with a close frame after what was written, then the socket."""
        if self._closing:
            return
        self._closing = True
        ws = self._peer.ws
        if ws.state is State.OPEN:
            ws.send_close()
        self._peer.flush()
        self._peer.transport.close()

    def abort(self) -> None:
        """Drop the socket at once, unsent output and all (a peer that stopped reading)."""
        self._closing = True
        self._peer.transport.abort()


class WebSocketPeer(asyncio.Protocol):
    """One socket on the WebSocket listener: HTTP, then (at ``/irc``) an IRC connection."""

    def __init__(self, listener: WebSocketListener) -> None:
        self.listener = listener
        self.ws = ServerProtocol(
            subprotocols=list(SUBPROTOCOLS),
            select_subprotocol=select_subprotocol,
            max_size=MAX_MESSAGE_BYTES,
        )
        self.transport: asyncio.Transport = None  # type: ignore[assignment]  # set at once
        self.ip = "unknown"
        self.conn: Connection | None = None
        self._message = bytearray()
        self._timer: asyncio.TimerHandle | None = None

    # -- asyncio.Protocol ----------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Start the handshake clock; refuse an address with too many handshakes under way."""
        # uvloop's transports are not asyncio.Transport subclasses, but have the same methods.
        self.transport = cast(asyncio.Transport, transport)
        peer = self.transport.get_extra_info("peername")
        self.ip = str(peer[0]) if peer else "unknown"
        if not self.listener.admit_pending(self):
            log.info("refused %s: too many WebSocket handshakes under way", self.ip)
            self.transport.abort()
            return
        loop = asyncio.get_running_loop()
        self._timer = loop.call_later(HANDSHAKE_TIMEOUT, self._handshake_timed_out)

    def data_received(self, data: bytes) -> None:
        """Feed the sans-I/O protocol; act on the request or the frames it found."""
        self.ws.receive_data(data)
        for event in self.ws.events_received():
            if isinstance(event, Request):
                self._handle_request(event)
            elif isinstance(event, Frame):
                self._handle_frame(event)
        self.flush()

    def eof_received(self) -> bool | None:
        """The client closed its side: let the protocol finish, then close ours."""
        self.ws.receive_eof()
        self.flush()
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        """The socket is gone: end the IRC connection (its user quits) if there is one."""
        self._stop_timer()
        self.listener.forget(self)
        if self.conn is not None:
            failure = self.ws.parser_exc if exc is None else exc
            self.conn.connection_lost(failure if isinstance(failure, Exception) else None)

    # -- HTTP ----------------------------------------------------------------------------------

    def _handle_request(self, request: Request) -> None:
        path = request.path.partition("?")[0]
        if path != ENDPOINT:
            self.ws.send_response(self.listener.site.response(request))
            return
        refusal = self.listener.admission(self.ip)
        if refusal is not None:
            log.info("refused WebSocket from %s: %s", self.ip, refusal)
            status = http.HTTPStatus.SERVICE_UNAVAILABLE
            self.ws.send_response(plain_response(status, refusal + "\n"))
            return
        if not origin_allowed(request, self.listener.config.allowed_origins):
            origin = request.headers.get("Origin")
            log.info("refused WebSocket from %s: origin %s is not allowed", self.ip, origin)
            forbidden = http.HTTPStatus.FORBIDDEN
            self.ws.send_response(plain_response(forbidden, f"Origin {origin} is not allowed.\n"))
            return
        response = self.ws.accept(request)
        self.ws.send_response(response)
        if response.status_code != http.HTTPStatus.SWITCHING_PROTOCOLS:
            return
        self._stop_timer()
        self.listener.forget(self)
        # The handshake response must be on the wire before the first IRC line (a refusal).
        self.flush()
        text = response.headers.get("Sec-WebSocket-Protocol") != BINARY
        self.conn = self.listener.make_connection()
        self.conn.connection_made(FrameTransport(self, text=text))

    def _handshake_timed_out(self) -> None:
        self._timer = None
        if self.conn is None:
            log.info("WebSocket handshake from %s timed out", self.ip)
            self.transport.abort()

    def _stop_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    # -- WebSocket -----------------------------------------------------------------------------

    def _handle_frame(self, frame: Frame) -> None:
        if frame.opcode in (Opcode.TEXT, Opcode.BINARY):
            self._message[:] = frame.data
        elif frame.opcode is Opcode.CONT:
            self._message += frame.data
        else:
            return  # ping (answered by the protocol), pong, close (likewise)
        if not frame.fin:
            return
        line = bytes(self._message).rstrip(b"\r\n")  # tolerate a client that sends CR LF anyway
        self._message.clear()
        if self.conn is not None:
            self.conn.data_received(line + b"\n")

    def flush(self) -> None:
        """Write what the protocol produced; an empty chunk means: close the socket after it."""
        chunks = self.ws.data_to_send()
        if not chunks:
            return
        data = b"".join(chunks)
        if data and not self.transport.is_closing():
            self.transport.write(data)
        if not chunks[-1]:
            self.transport.close()


class WebSocketListener:
    """The listening socket, and what its peers share: settings, files, handshake counts.

    Args:
        config: the ``[websocket]`` settings.
        make_connection: builds the ordinary `Connection` for a WebSocket that opened.
        admission: why a new IRC connection from an address must be refused, or None.
        max_pending_per_ip: how many unfinished handshakes one address may hold (0: no limit).
        exempt: addresses free of that limit (loopback, when the server exempts it).
    """

    def __init__(
        self,
        config: WebSocketConfig,
        make_connection: ConnectionFactory,
        admission: Admission,
        *,
        max_pending_per_ip: int = 0,
        exempt: Callable[[str], bool] = lambda ip: False,
    ) -> None:
        self.config = config
        self.make_connection = make_connection
        self.admission = admission
        self.site = StaticSite()
        self._listening: asyncio.AbstractServer | None = None
        self._sockname: tuple[str, int] = ("", 0)
        self._max_pending = max_pending_per_ip
        self._exempt = exempt
        self._pending: collections.Counter[str] = collections.Counter()
        self._peers: set[WebSocketPeer] = set()

    async def start(
        self, ssl_context: ssl.SSLContext | None = None, *, reuse_port: bool = False
    ) -> None:
        """Listen on the configured address (with TLS when given a context); ``reuse_port``
        shares the port with the other workers of ``--workers`` (SO_REUSEPORT)."""
        host, port = parse_listen(self.config.listen)
        loop = asyncio.get_running_loop()
        listening = await loop.create_server(
            lambda: WebSocketPeer(self),
            host,
            port,
            ssl=ssl_context,
            reuse_address=True,
            reuse_port=reuse_port,
            backlog=1024,
        )
        self._listening = listening
        self._sockname = listening.sockets[0].getsockname()[:2]
        scheme = "https" if ssl_context is not None else "http"
        log.info("web client at %s://%s/ (IRC over WebSocket: %s)", scheme, self.address, ENDPOINT)

    @property
    def address(self) -> str:
        """``host:port`` actually listened on (the real port when 0 was asked for)."""
        host, port = self._sockname
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"

    @property
    def port(self) -> int:
        """The port actually listened on."""
        return self._sockname[1]

    def close(self) -> None:
        """Stop listening and drop the sockets that are not IRC connections (those stop with
        the server's other clients)."""
        if self._listening is not None:
            self._listening.close()
        for peer in list(self._peers):
            peer.transport.abort()

    def admit_pending(self, peer: WebSocketPeer) -> bool:
        """Count a new socket against its address's handshakes; False when over the limit."""
        limited = self._max_pending and not self._exempt(peer.ip)
        if limited and self._pending[peer.ip] >= self._max_pending:
            return False
        self._pending[peer.ip] += 1
        self._peers.add(peer)
        return True

    def forget(self, peer: WebSocketPeer) -> None:
        """The socket upgraded or closed: it no longer counts as a handshake under way."""
        if peer in self._peers:
            self._peers.discard(peer)
            self._pending[peer.ip] -= 1
            if self._pending[peer.ip] <= 0:
                del self._pending[peer.ip]
