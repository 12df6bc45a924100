"""The client's connection: asyncio streams around the sans-I/O `Session`, shared by both frontends.

Theory of operation
-------------------
`ServerConnection.run` opens the socket (TLS optional), has the session queue its registration,
then loops: read whatever bytes arrived, split them with `LineDecoder`, feed every message to the
session, write the session's outbox, and hand the lines posted by the whole read to ``on_lines``
in one call. One call per read (not per line) is what keeps a frontend responsive when a busy room
sends a thousand lines a second: the TUI renders a batch at once.

A nick refused before registration is asked for again through ``ask_nick`` on the first
connection; on a reconnect (where nobody may be watching) an underscore is added instead.

When the connection drops without the user quitting, the session forgets members and joined
state, the frontend hears ``Status.LOST``, and after an exponential backoff (with jitter, capped)
the connection is made again; the session rejoins the rooms that were open once registered. Only
the *first* connection failing is an error (`ConnectError`): a client that never connected has
nothing to wait for.

TLS: with ``Options.known_hosts`` set, a server the CA store does not vouch for is trusted on first
use (`chinwag.client.trust`): the connection is closed, ``trust_new`` asks the user about the
fingerprint, and a yes is written to the file; then (and for every later connection to a host
with a remembered fingerprint) the certificate is accepted only if its fingerprint is exactly the
remembered one. A different certificate raises `UntrustedCertificate` at any connection, first
or reconnect: that is never retried.

Paced sending (plain mode): with a `SendWindow`, `Connection.send_paced` writes one input line's
messages only while the window has room, and the ``PONG`` answers to its barriers (taken out here,
before the session sees them) open it again; `Connection.drain` waits until the server has
acknowledged everything, and (with ``echo-message``) echoed every message, within
`ECHO_GRACE`. See `chinwag.client.pacing`.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import random
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from chinwag.client.lines import Posted
from chinwag.client.pacing import SendWindow
from chinwag.client.session import Session
from chinwag.client.trust import KnownHosts, fingerprint, host_key, mismatch_warning
from chinwag.protocol import DecodeError, LineDecoder, Message, encode_message

__all__ = [
    "ECHO_GRACE",
    "AskNick",
    "ConnectError",
    "Options",
    "ServerConnection",
    "Status",
    "TrustNew",
    "UntrustedCertificate",
]

AskNick = Callable[[str], Awaitable[str | None]]
TrustNew = Callable[[str, str, str], Awaitable[bool]]
"""Asks whether to trust a certificate: ``(host:port, fingerprint, why it failed) -> yes?``"""


ECHO_GRACE = 3.0
"""Seconds `Connection.drain` waits for the next echo (a refused message never gets one)."""


class Status(enum.Enum):
    """Where the connection is."""

    CONNECTING = "connecting"
    REGISTERING = "registering"
    CONNECTED = "connected"
    LOST = "lost"
    CLOSED = "closed"


class ConnectError(Exception):
    """The first connection could not be made (refused, unreachable, TLS failure, no nick)."""


class UntrustedCertificate(ConnectError):
    """The server's certificate is not trusted: changed since remembered, or trust refused."""


@dataclass(slots=True)
class Options:
    """How to connect, and how to show what arrives.

    Attributes:
        host: server host name or address.
        port: TCP port.
        tls: wrap the connection in TLS.
        tls_verify: check the server certificate (turn off for self-signed test servers).
        known_hosts: remembered fingerprints; None trusts the CA store only (no first use).
        reconnect: reconnect when the connection drops.
        backoff_initial: first wait before reconnecting, in seconds; doubled at each failure.
        backoff_max: longest wait between attempts.
        connect_timeout: seconds to wait for a TCP (and TLS) connection.
        idle_timeout: seconds of silence before we PING the server; twice that and it is lost.
        on_login: called with ``(account, password)`` when the server confirms the session's
            SASL login (``--save-password`` saves it then, so a mistyped password is not kept).
        formatting: show IRC formatting (colours, bold...) as styles; False strips it.
    """

    host: str = "127.0.0.1"
    port: int = 6667
    tls: bool = False
    tls_verify: bool = True
    known_hosts: Path | None = None
    reconnect: bool = True
    backoff_initial: float = 1.0
    backoff_max: float = 30.0
    connect_timeout: float = 10.0
    idle_timeout: float = 120.0
    on_login: Callable[[str, str], None] | None = None
    formatting: bool = True


def _ignore_lines(posted: list[Posted]) -> None:
    del posted


def _ignore_status(status: Status, detail: str) -> None:
    del status, detail


class ServerConnection:
    """One client connection, reconnecting as needed.

    Args:
        session: the session model to feed and to take outgoing messages from.
        options: where and how to connect.
        on_lines: called with the lines each read posted (also when only state changed).
        on_status: called on every status change, with a human-readable detail.
        ask_nick: asks the user for another nick (given the reason); None gives up.
        trust_new: asks the user whether to trust a certificate seen for the first time; None
            refuses it.
        window: pace `send_paced` with this window (plain mode); None: only `flush` is used.

    Attributes:
        ended_because: why the last connection ended (for a frontend's last words).
    """

    def __init__(
        self,
        session: Session,
        options: Options,
        *,
        on_lines: Callable[[list[Posted]], None] = _ignore_lines,
        on_status: Callable[[Status, str], None] = _ignore_status,
        ask_nick: AskNick | None = None,
        trust_new: TrustNew | None = None,
        window: SendWindow | None = None,
    ) -> None:
        self.session = session
        self.window = window
        self.ended_because = ""
        self._acknowledged = asyncio.Event()
        self.trust_new = trust_new
        self.options = options
        self.on_lines = on_lines
        self.on_status = on_status
        self.ask_nick = ask_nick
        self.status = Status.CLOSED
        self._writer: asyncio.StreamWriter | None = None
        self._quitting = False
        self._ever_registered = False
        self._registered_here = False
        self._closed = asyncio.Event()
        self._stop = asyncio.Event()

    @property
    def connected(self) -> bool:
        """True while a socket is open."""
        return self._writer is not None and not self._writer.is_closing()

    @property
    def quitting(self) -> bool:
        """True once the user asked to quit (the connection will not be made again)."""
        return self._quitting

    def _set_status(self, status: Status, detail: str = "") -> None:
        self.status = status
        self.on_status(status, detail)

    def flush(self) -> None:
        """Write every message the session queued; without a socket they are dropped, and said."""
        messages = self.session.take_outbox()
        if not messages:
            return
        if not self.connected or self._writer is None:
            if any(m.command in ("PRIVMSG", "NOTICE") for m in messages):
                self.on_lines([self.session.error("Not connected: the message was not sent")])
            return
        self._writer.write(b"".join(encode_message(m) for m in messages))

    async def send_paced(self, messages: list[Message]) -> bool:
        """Write one input line's messages once the window has room; False when not connected.

        Needs a `SendWindow` (the ``window`` argument).
        """
        window = self.window
        assert window is not None, "send_paced needs a SendWindow"
        while window.full and self.connected:
            self._acknowledged.clear()
            await self._acknowledged.wait()
        if not self.connected or self._writer is None:
            return False
        echoed = "echo-message" in self.session.caps
        self._writer.write(
            b"".join(encode_message(m) for m in window.send(messages, echoed=echoed))
        )
        return True

    def settle(self) -> None:
        """Put a barrier after what was sent since the last one (the input paused)."""
        barrier = self.window.barrier() if self.window is not None else None
        if barrier is not None and self.connected and self._writer is not None:
            self._writer.write(encode_message(barrier))

    async def drain(self) -> None:
        """Wait until the server acknowledged (and echoed) every line sent, or the socket is gone.

        Echoes are waited for while they keep coming, at most `ECHO_GRACE` seconds for each.
        """
        window = self.window
        if window is None:
            return
        self.settle()
        while window.pending and self.connected:
            self._acknowledged.clear()
            await self._acknowledged.wait()
        while window.awaiting_echo and self.connected:
            self._acknowledged.clear()
            try:
                await asyncio.wait_for(self._acknowledged.wait(), ECHO_GRACE)
            except TimeoutError:
                return

    async def run(self) -> None:
        """Connect and serve the connection until the user quits or reconnecting is off.

        Raises:
            ConnectError: the first connection could not be made, or registration was abandoned.
        """
        attempt = 0
        delay = self.options.backoff_initial
        try:
            while not self._quitting:
                self._set_status(Status.CONNECTING, f"{self.options.host}:{self.options.port}")
                try:
                    reader, writer = await self._open()
                except (OSError, TimeoutError, ssl.SSLError) as exc:
                    reason = _describe(exc)
                    if not self._ever_registered and attempt == 0:
                        raise ConnectError(
                            f"cannot connect to {self.options.host}:{self.options.port}: {reason}"
                        ) from exc
                else:
                    self._registered_here = False
                    reason = await self._serve(reader, writer)
                    self.ended_because = reason
                    if self._quitting:
                        break
                    if not self._ever_registered:
                        # Refused during registration (bad password, banned...): retrying
                        # would only be refused again.
                        raise ConnectError(
                            f"{self.options.host}:{self.options.port} did not let us in: "
                            f"{self.session.closing_reason or reason}"
                        )
                    if not self.options.reconnect:
                        break
                    if self._registered_here:
                        attempt = 0
                        delay = self.options.backoff_initial
                attempt += 1
                wait = min(delay, self.options.backoff_max) * random.uniform(0.8, 1.2)
                delay *= 2
                self._set_status(Status.LOST, f"{reason}; reconnecting in {wait:.0f}s")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), wait)
        finally:
            self._set_status(Status.CLOSED, "")
            self._closed.set()

    async def _open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        options = self.options
        if not options.tls:
            return await self._connect(None)
        if not options.tls_verify:
            return await self._connect(_unverified_context())
        if options.known_hosts is None:
            return await self._connect(ssl.create_default_context())
        known = KnownHosts(options.known_hosts)
        key = host_key(options.host, options.port)
        pinned = known.get(key)
        if pinned is None:
            try:
                return await self._connect(ssl.create_default_context())
            except ssl.SSLCertVerificationError as exc:
                reason = exc.verify_message or str(exc.reason)
            presented = await self._presented_fingerprint()
            if self.trust_new is None or not await self.trust_new(key, presented, reason):
                raise UntrustedCertificate(
                    f"the certificate of {key} is not trusted ({reason}); its fingerprint is "
                    f"{presented}. Check it with the server's operator, then connect again and "
                    "accept it (plain mode: --trust-new)"
                )
            known.remember(key, presented)
            pinned = presented
        reader, writer = await self._connect(_unverified_context())
        presented = _fingerprint_of(writer)
        if presented != pinned:
            writer.close()
            raise UntrustedCertificate(mismatch_warning(key, pinned, presented, known.path))
        return reader, writer

    async def _connect(
        self, context: ssl.SSLContext | None
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await asyncio.wait_for(
            asyncio.open_connection(self.options.host, self.options.port, ssl=context, limit=2**20),
            self.options.connect_timeout,
        )

    async def _presented_fingerprint(self) -> str:
        """Connect without checks only to see the certificate; closed before anyone is asked."""
        _, writer = await self._connect(_unverified_context())
        try:
            return _fingerprint_of(writer)
        finally:
            writer.close()
            with contextlib.suppress(OSError, ssl.SSLError):
                await writer.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> str:
        """Register and read until the connection ends; return why it ended."""
        self._writer = writer
        self._set_status(Status.REGISTERING, "")
        self.session.connect()
        self.flush()
        decoder = LineDecoder()
        reason = "connection closed by the server"
        pinged = False
        try:
            while True:
                try:
                    data = await asyncio.wait_for(reader.read(65536), self.options.idle_timeout)
                except TimeoutError:
                    if pinged:
                        reason = "the server stopped answering"
                        break
                    pinged = True
                    self.session.send(Message.of("PING", "chinwag"))
                    self.flush()
                    continue
                if not data:
                    break
                pinged = False
                await self._handle(decoder.feed(data))
        except (OSError, ssl.SSLError) as exc:
            reason = _describe(exc)
        except ConnectError:
            writer.close()
            raise
        finally:
            self._writer = None
            if self.window is not None:
                self.window.forget()
            self._acknowledged.set()  # a line waiting for room must learn the socket is gone
            writer.close()
            with contextlib.suppress(OSError, ssl.SSLError):
                await writer.wait_closed()
        if not self._quitting:
            self.on_lines(self.session.connection_lost(reason))
        return reason

    async def _handle(self, items: list[Message | DecodeError]) -> None:
        posted: list[Posted] = []
        for item in items:
            if isinstance(item, DecodeError):
                continue
            if item.command == "PONG" and self._acknowledge(item):
                continue
            if item.command in ("PRIVMSG", "NOTICE"):
                self._echoed(item)
            was_registered = self.session.registered
            was_logged_in = self.session.logged_in_as
            try:
                posted += self.session.feed(item)
            except Exception as exc:  # a strange line must not end the whole client
                posted.append(self.session.error(f"Could not understand {item}: {exc!r}"))
            if self.session.logged_in_as and not was_logged_in:
                self._logged_in()
            if self.session.registered and not was_registered:
                self._ever_registered = True
                self._registered_here = True
                self._set_status(Status.CONNECTED, self.session.server_name)
            if self.session.nick_error is not None and not self.session.registered:
                self.flush()
                if posted:
                    self.on_lines(posted)
                    posted = []
                await self._choose_nick(self.session.nick_error)
        self.flush()
        if posted or self.session.changed:
            self.on_lines(posted)

    def _acknowledge(self, pong: Message) -> bool:
        """A PONG answering one of our barriers opens the window; True when it was one."""
        if self.window is None or not pong.params or not self.window.pong(pong.params[-1]):
            return False
        self._acknowledged.set()
        return True

    def _echoed(self, msg: Message) -> None:
        """Count the echo of a message we sent (not one replayed from history in a batch)."""
        if self.window is None or "batch" in msg.tags or "echo-message" not in self.session.caps:
            return
        is_mine = msg.source_nick is not None and self.session.is_me(msg.source_nick)
        if is_mine and self.window.echo(msg):
            self._acknowledged.set()

    def _logged_in(self) -> None:
        session, on_login = self.session, self.options.on_login
        account, password = session.account, session.account_password
        if on_login is None or not account or not password or session.logged_in_as is None:
            return
        if session.logged_in_as.casefold() == account.casefold():
            on_login(account, password)

    async def _choose_nick(self, reason: str) -> None:
        if self._ever_registered or self.ask_nick is None:
            if self.ask_nick is None and not self._ever_registered:
                self._quitting = True
                raise ConnectError(reason)
            self.session.change_nick(self.session.nick + "_")
            return
        nick = await self.ask_nick(reason)
        if not nick:
            self._quitting = True
            self.session.send(Message.of("QUIT", "No nick chosen"))
            self.flush()
            raise ConnectError(reason)
        self.session.change_nick(nick)

    async def quit(self, message: str = "Leaving", timeout: float = 2.0) -> None:
        """Send QUIT, give the server a moment to close, then stop for good."""
        self._quitting = True
        self.session.quitting = True
        pending = self.session.take_outbox()
        if not any(m.command == "QUIT" for m in pending):
            pending.append(Message.of("QUIT", message))
        if self.connected and self._writer is not None:
            self._writer.write(b"".join(encode_message(m) for m in pending))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closed.wait(), timeout)
        self.close()

    def close(self) -> None:
        """Stop without a QUIT (the socket is closed; `run` returns)."""
        self._quitting = True
        self._stop.set()
        if self._writer is not None:
            self._writer.close()


def _unverified_context() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def _fingerprint_of(writer: asyncio.StreamWriter) -> str:
    ssl_object = writer.get_extra_info("ssl_object")
    der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
    if not der:
        writer.close()
        raise ssl.SSLError("the server sent no certificate")
    return fingerprint(der)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused (is the server running?)"
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, ssl.SSLError):
        return f"TLS error: {exc.reason or exc}"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    return str(exc) or type(exc).__name__
