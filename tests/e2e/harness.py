"""A small async IRC test client that talks to an in-process chinwag server over real sockets.

``h = Harness(server)``; ``amy = await h.connect("amy", caps=["echo-message"])`` registers a
client and waits for its welcome burst and auto-joins; ``await amy.send("JOIN #c")``;
``await amy.expect(command="JOIN", params=["#c"])`` reads (and keeps aside) lines until one matches;
``await amy.assert_nothing()`` checks that nothing arrives for a short while. Every wait is
bounded. Every line the server sends is checked on arrival: it must end in CR LF, parse, and keep
within 512 bytes once its tags are set aside; a violation fails the test at teardown.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
import ssl
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from argon2 import PasswordHasher

from chinwag.protocol import Message, decode_text, parse_line
from chinwag.server import Server, load_config
from chinwag.server.passwords import hash_password
from chinwag.store.history_rows import ROW_WIDTH
from chinwag.store.journal import read_frames, segments
from chinwag.store.journal_records import decode_rows

__all__ = [
    "ANY",
    "FAST_HASHER",
    "Client",
    "Clients",
    "Harness",
    "cheap_hash",
    "journal_texts",
    "latest_history",
    "make_server",
]

C = TypeVar("C", bound="Client")

WAIT = 3.0
MAX_BODY = 512
MAX_TAGS = 8191

FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=64, parallelism=1)
"""A cheap argon2id profile. The default one costs ~0.3 s of CPU per check here, and over 2 s
on a loaded 2-core machine: longer than `WAIT`. A check runs with the cost its hash names."""


def cheap_hash(password: str) -> str:
    """An argon2id hash of ``password`` that the server checks in about a millisecond."""
    return hash_password(password, FAST_HASHER)


class _Any:
    """Equal to everything: a wildcard inside ``params`` lists."""

    def __eq__(self, other: object) -> bool:
        return True

    def __hash__(self) -> int:
        return 0

    def __repr__(self) -> str:
        return "ANY"


ANY: Any = _Any()


def make_server(
    *,
    server: dict[str, Any] | None = None,
    limits: dict[str, Any] | None = None,
    history: dict[str, Any] | None = None,
    websocket: dict[str, Any] | None = None,
    accounts: dict[str, Any] | None = None,
    opers: list[tuple[str, str]] | None = None,
    privacy: dict[str, Any] | None = None,
) -> Server:
    """A `Server` on a free loopback port, named ``test.chinwag``, flood pacing off by default.

    Host cloaking is off unless ``privacy`` turns it on, so that tests of other features can
    spell out a user's full ``nick!~user@127.0.0.1`` (tests/e2e/test_privacy.py covers cloaks).

    Args:
        server: ``[server]`` overrides (``data_dir`` is ``none``, a memory store, unless given).
        limits: ``[limits]`` overrides (``flood_rate`` is 0 unless given).
        history: ``[history]`` overrides.
        websocket: ``[websocket]`` overrides (``listen="127.0.0.1:0"`` for a free port).
        accounts: ``[accounts]`` overrides.
        opers: ``(name, password_hash)`` pairs.
        privacy: ``[privacy]`` overrides.
    """
    overrides: dict[str, dict[str, Any]] = {
        "server": {"port": 0, "name": "test.chinwag", "data_dir": "none", **(server or {})},
        "limits": {"flood_rate": 0, **(limits or {})},
        "history": history or {},
        "websocket": websocket or {},
        "accounts": accounts or {},
        "privacy": {"cloak_hosts": False, **(privacy or {})},
    }
    config = load_config(None, environ={}, overrides=overrides)
    if opers:
        from chinwag.server.config import OperConfig

        config.opers = [OperConfig(name, password_hash) for name, password_hash in opers]
        config.validate()
    return Server(config)


def _matches(expected: object, actual: str) -> bool:
    if isinstance(expected, re.Pattern):
        return expected.fullmatch(actual) is not None
    return expected == actual


class Client:
    """One raw IRC connection, read by a background task into a queue of parsed messages."""

    def __init__(
        self, name: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.name = name
        self.nick = name
        self.reader = reader
        self.writer = writer
        self.queue: asyncio.Queue[Message | None] = asyncio.Queue()
        self.history: list[Message] = []
        self.raw: list[bytes] = []
        self.violations: list[str] = []
        self.closed = asyncio.Event()
        # Set when the server is expected to abort this connection mid-line (SendQ exceeded).
        self.may_be_cut = False
        self._task = asyncio.get_running_loop().create_task(self._read())

    async def _read(self) -> None:
        buffer = b""
        try:
            while True:
                chunk = await self.reader.read(65536)
                if not chunk:
                    break
                buffer += chunk
                *lines, buffer = buffer.split(b"\n")
                for line in lines:
                    self._take(line + b"\n")
        except (ConnectionError, OSError):
            pass
        finally:
            if buffer and not self.may_be_cut:
                self.violations.append(f"unterminated line at close: {buffer!r}")
            self.closed.set()
            self.queue.put_nowait(None)

    def _take(self, raw: bytes) -> None:
        self.raw.append(raw)
        if not raw.endswith(b"\r\n"):
            self.violations.append(f"line without CR LF: {raw!r}")
        body = raw
        if body.startswith(b"@"):
            tags, _, body = body.partition(b" ")
            if len(tags) + 1 > MAX_TAGS:
                self.violations.append(f"tag section of {len(tags) + 1} bytes: {raw[:80]!r}...")
        if len(body) > MAX_BODY:
            self.violations.append(f"line of {len(body)} bytes: {raw[:80]!r}...")
        try:
            msg = parse_line(decode_text(raw.rstrip(b"\r\n")))
        except Exception as exc:
            self.violations.append(f"unparsable line {raw!r}: {exc}")
            return
        self.queue.put_nowait(msg)

    # -- sending -------------------------------------------------------------------------------

    async def send(self, *lines: str | bytes) -> None:
        """Send each line (CR LF added to ``str`` lines; ``bytes`` are sent exactly)."""
        for line in lines:
            self.writer.write(line if isinstance(line, bytes) else line.encode() + b"\r\n")
        with contextlib.suppress(ConnectionError):
            await self.writer.drain()

    # -- receiving -----------------------------------------------------------------------------

    async def next(self, timeout: float = WAIT) -> Message:
        """The next line, or AssertionError when none comes in time or the socket closes."""
        try:
            msg = await asyncio.wait_for(self.queue.get(), timeout)
        except TimeoutError:
            raise AssertionError(f"{self.name}: nothing received in {timeout}s") from None
        if msg is None:
            self.queue.put_nowait(None)
            raise AssertionError(f"{self.name}: connection closed")
        self.history.append(msg)
        return msg

    async def expect(
        self,
        command: str | None = None,
        params: Sequence[object] | None = None,
        *,
        source: object = ANY,
        tags: dict[str, object] | None = None,
        timeout: float = WAIT,
    ) -> Message:
        """Read lines until one matches; non-matching lines are skipped (kept in ``skipped``).

        Args:
            command: the command or numeric, or None for any.
            params: every parameter, in order; ``ANY`` or a compiled regex match one.
            source: the exact source (nick only is enough for ``nick!user@host``), or ``ANY``.
            tags: tags that must be present (value ``ANY`` for any value).
            timeout: the longest wait for the whole search.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        skipped: list[str] = []
        while True:
            remaining = deadline - loop.time()
            try:
                msg = await self.next(max(0.0, remaining))
            except AssertionError as exc:
                wanted = f"command={command} params={params} source={source} tags={tags}"
                seen = "\n  ".join(skipped[-25:])
                raise AssertionError(f"{exc}; wanted {wanted}; skipped:\n  {seen}") from None
            if self._match(msg, command, params, source, tags):
                return msg
            skipped.append(str(msg))

    @staticmethod
    def _match(
        msg: Message,
        command: str | None,
        params: Sequence[object] | None,
        source: object,
        tags: dict[str, object] | None,
    ) -> bool:
        if command is not None and msg.command != command:
            return False
        if params is not None and (
            len(params) != len(msg.params)
            or not all(_matches(e, a) for e, a in zip(params, msg.params, strict=True))
        ):
            return False
        if source is not ANY:
            actual = msg.source or ""
            if actual != source and actual.split("!", 1)[0] != source:
                return False
        if tags:
            for key, value in tags.items():
                if key not in msg.tags or not _matches(value, msg.tags[key]):
                    return False
        return True

    async def expect_numeric(self, numeric: str, *params: object, timeout: float = WAIT) -> Message:
        """Read until ``numeric`` arrives; ``params`` (after the nick) are checked when given."""
        msg = await self.expect(numeric, timeout=timeout)
        if params:
            rest = msg.params[1:]
            assert len(rest) == len(params) and all(
                _matches(e, a) for e, a in zip(params, rest, strict=True)
            ), f"{self.name}: {msg} does not have params {params}"
        return msg

    async def collect_until(self, command: str, timeout: float = WAIT) -> list[Message]:
        """Every line up to and including the first ``command``."""
        out: list[Message] = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            msg = await self.next(max(0.0, deadline - loop.time()))
            out.append(msg)
            if msg.command == command:
                return out

    async def assert_nothing(self, timeout: float = 0.2) -> None:
        """Fail if any line arrives within ``timeout`` seconds (only for must-NOT checks)."""
        try:
            msg = await asyncio.wait_for(self.queue.get(), timeout)
        except TimeoutError:
            return
        if msg is None:
            self.queue.put_nowait(None)
            raise AssertionError(f"{self.name}: connection closed, expected silence")
        raise AssertionError(f"{self.name}: expected nothing, got {msg}")

    async def sync(self, token: str = "sync") -> list[Message]:
        """PING the server and read up to its PONG; returns what came before it."""
        await self.send(f"PING {token}")
        lines = await self.collect_until("PONG")
        assert lines[-1].params[-1] == token, lines[-1]
        return lines[:-1]

    async def names(self, channel: str) -> list[str]:
        """The NAMES of ``channel`` as this client sees them, sorted."""
        await self.send(f"NAMES {channel}")
        lines = await self.collect_until("366")
        return sorted(" ".join(m.params[-1] for m in lines if m.command == "353").split())

    def drain(self) -> list[Message]:
        """Take every line already received, without waiting."""
        out: list[Message] = []
        while not self.queue.empty():
            msg = self.queue.get_nowait()
            if msg is None:
                self.queue.put_nowait(None)
                break
            self.history.append(msg)
            out.append(msg)
        return out

    async def expect_closed(self, timeout: float = WAIT) -> list[Message]:
        """Read to EOF; returns every line received on the way."""
        out: list[Message] = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            try:
                msg = await asyncio.wait_for(self.queue.get(), max(0.0, deadline - loop.time()))
            except TimeoutError:
                raise AssertionError(f"{self.name}: still open after {timeout}s: {out}") from None
            if msg is None:
                self.queue.put_nowait(None)
                return out
            self.history.append(msg)
            out.append(msg)

    async def expect_error(self, text: str, timeout: float = WAIT) -> Message:
        """Read to the ``ERROR`` line (it must contain ``text``), then to EOF."""
        lines = await self.expect_closed(timeout)
        errors = [m for m in lines if m.command == "ERROR"]
        assert errors, f"{self.name}: closed without ERROR: {lines}"
        assert text in errors[-1].params[-1], errors[-1]
        return errors[-1]

    async def alive(self) -> None:
        """Assert that the connection is still served: a PING gets its PONG."""
        await self.sync("alive")

    def stop_reading(self) -> None:
        """Stop reading from the socket (a client that hangs): the kernel buffers fill up."""
        transport = self.writer.transport
        assert isinstance(transport, asyncio.ReadTransport)
        transport.pause_reading()

    def resume_reading(self) -> None:
        """Read again after `stop_reading`."""
        transport = self.writer.transport
        assert isinstance(transport, asyncio.ReadTransport)
        transport.resume_reading()

    async def close(self) -> None:
        """Close the socket and stop the reader."""
        self.writer.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.writer.wait_closed(), 1.0)
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._task


class Clients:
    """Named clients of a server listening on ``port`` of the loopback address.

    Args:
        port: where the server listens.
        default_channels: the rooms every user is joined to (their 366 ends the burst).
    """

    def __init__(self, port: int, default_channels: Sequence[str] = ("#lobby",)) -> None:
        self.port = port
        self.default_channels = list(default_channels)
        self.clients: list[Client] = []

    async def open(self, name: str = "raw", *, rcvbuf: int | None = None) -> Client:
        """A connected socket that has sent nothing (``rcvbuf``: a small receive buffer)."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf is not None:
            # Before connect, so that the receive window is small from the start.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", self.port))
        reader, writer = await asyncio.open_connection(sock=sock)
        client = Client(name, reader, writer)
        self.clients.append(client)
        return client

    async def connect(
        self,
        nick: str,
        *,
        caps: Iterable[str] = (),
        password: str | None = None,
        user: str | None = None,
        realname: str | None = None,
        rcvbuf: int | None = None,
    ) -> Client:
        """Register ``nick`` (with ``caps`` negotiated first) and wait for the whole burst.

        The burst ends with the MOTD (376 or 422) and the 366 of every default channel.
        """
        client = await self.open(nick, rcvbuf=rcvbuf)
        return await self.register(
            client, nick, caps=caps, password=password, user=user, realname=realname
        )

    async def register(
        self,
        client: C,
        nick: str,
        *,
        caps: Iterable[str] = (),
        password: str | None = None,
        user: str | None = None,
        realname: str | None = None,
    ) -> C:
        """Register an open ``client`` as ``nick``; see `connect`."""
        wanted = list(caps)
        if wanted:
            await client.send("CAP LS 302")
            await client.expect("CAP", [ANY, "LS", ANY])
            await client.send("CAP REQ :" + " ".join(wanted))
            await client.expect("CAP", [ANY, "ACK", ANY])
        if password is not None:
            await client.send(f"PASS {password}")
        await client.send(f"NICK {nick}", f"USER {user or nick} 0 * :{realname or nick.title()}")
        if wanted:
            await client.send("CAP END")
        await client.expect("001", timeout=5.0)
        while True:
            msg = await client.next()
            if msg.command in ("376", "422"):
                break
        for _ in self.default_channels:
            await client.expect("366")
        return client

    def violations(self) -> list[str]:
        """Every framing problem seen by any client."""
        return [f"{c.name}: {v}" for c in self.clients for v in c.violations]

    async def close(self) -> None:
        """Close every client."""
        for client in self.clients:
            await client.close()


class Harness(Clients):
    """Named clients of an in-process `Server` (reachable as ``h.server`` for its clock)."""

    def __init__(self, server: Server) -> None:
        super().__init__(server.port, server.config.server.default_channels)
        self.server = server

    async def open_tls(self, name: str) -> Client:
        """A socket to the server's TLS listener, handshake done, that has sent nothing."""
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE  # the server's certificate is self-signed
        port = self.server.tls_port
        assert port is not None
        reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=context)
        client = Client(name, reader, writer)
        self.clients.append(client)
        return client


async def latest_history(client: Client, target: str) -> list[str]:
    """The texts ``CHATHISTORY LATEST <target> * 50`` gives ``client``, oldest first."""
    await client.send(f"CHATHISTORY LATEST {target} * 50")
    start = await client.expect("BATCH")
    ref = start.params[0][1:]
    texts: list[str] = []
    while True:
        msg = await client.next()
        if msg.command == "BATCH" and msg.params == (f"-{ref}",):
            return texts
        texts.append(msg.params[-1])


_MSGID, _TEXT = 0, 10  # in a history row (``history_rows.py``)


def journal_texts(journal_dir: Path) -> dict[str, str]:
    """msgid -> text of every whole record in the journal's segment files."""
    rows: list[object] = []
    for base, path in segments(journal_dir):
        frames, _end = read_frames(path.read_bytes(), base)
        for frame in frames:
            decode_rows(frame.payload, rows, {})
    records = [rows[i : i + ROW_WIDTH] for i in range(0, len(rows), ROW_WIDTH)]
    return {str(row[_MSGID]): str(row[_TEXT]) for row in records}
