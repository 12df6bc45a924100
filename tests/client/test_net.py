"""The client connection against a real server: register, talk, refused, nick taken, reconnect."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import ssl
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from chinwag.client.command_runner import execute
from chinwag.client.handlers import HANDLERS
from chinwag.client.lines import ChatLine, Posted
from chinwag.client.net import ConnectError, Options, ServerConnection, Status
from chinwag.client.session import Session
from chinwag.client.user_commands import parse_input
from chinwag.protocol import Message

from .conftest import LOBBY, RawClient, Server, eventually, free_port


class Harness:
    """A ServerConnection running in a task, recording what it posted and its statuses."""

    def __init__(self, server: Server, nick: str, **options: object) -> None:
        self.session = Session(nick)
        if not server.autojoins:
            self.session.want_room(LOBBY)
        self.posted: list[Posted] = []
        self.statuses: list[Status] = []
        self.connection = ServerConnection(
            self.session,
            Options(port=server.port, **{"backoff_initial": 0.1, **options}),  # type: ignore[arg-type]
            on_lines=self.posted.extend,
            on_status=lambda status, detail: self.statuses.append(status),
            ask_nick=self.ask_nick,
        )
        self.nick_requests: list[str] = []
        self.task: asyncio.Task[None] | None = None

    async def ask_nick(self, reason: str) -> str | None:
        """Answer a nick question with the next nick (the first nick plus "x")."""
        self.nick_requests.append(reason)
        return self.session.nick + "x"

    def start(self) -> None:
        """Run the connection in the background."""
        self.task = asyncio.create_task(self.connection.run())

    def joined(self) -> bool:
        """Whether the session is in #lobby."""
        conv = self.session.conversations.get(LOBBY)
        return conv is not None and conv.joined and self.session.nick.casefold() in conv.members

    def type(self, text: str) -> None:
        """Type a line in the input bar."""
        command = parse_input(text)
        assert command is not None
        self.posted += execute(self.session, command).posted
        self.connection.flush()

    async def stop(self) -> None:
        """Quit and wait for the task."""
        await self.connection.quit("bye")
        if self.task is not None:
            with contextlib.suppress(ConnectError):
                await asyncio.wait_for(self.task, 5)


@pytest.fixture
async def harnesses() -> AsyncIterator[list[Harness]]:
    """Harnesses to stop after the test."""
    items: list[Harness] = []
    yield items
    for item in items:
        await item.stop()


async def test_register_join_and_chat(
    irc_server: Server, raw_clients: list[RawClient], harnesses: list[Harness]
) -> None:
    """The client registers, lands in #lobby, and messages flow both ways."""
    bob = await RawClient.connect(irc_server, "bob")
    raw_clients.append(bob)
    amy = Harness(irc_server, "amy")
    harnesses.append(amy)
    amy.start()
    await eventually(amy.joined, "amy in #lobby")
    assert amy.connection.status is Status.CONNECTED
    await eventually(lambda: "bob" in amy.session.conversations[LOBBY].members, "bob listed")
    amy.type("hello bob")
    await bob.expect(lambda m: m.command == "PRIVMSG" and m.params == (LOBBY, "hello bob"))
    bob.send(f"PRIVMSG {LOBBY} :hi amy")
    await eventually(
        lambda: any(
            isinstance(p.line, ChatLine) and p.line.text == "hi amy" and p.line.highlight
            for p in amy.posted
        ),
        "bob's message with a mention",
    )
    own = [p.line for p in amy.posted if isinstance(p.line, ChatLine) and p.line.own]
    assert [line.text for line in own] == ["hello bob"]


async def test_refused_connection_raises() -> None:
    """Connecting to a port nobody listens on is a ConnectError with a clear reason."""
    connection = ServerConnection(Session("amy"), Options(port=free_port()))
    with pytest.raises(ConnectError, match="connection refused"):
        await connection.run()


async def test_nick_in_use_asks_again(
    irc_server: Server, raw_clients: list[RawClient], harnesses: list[Harness]
) -> None:
    """A taken nick is explained and another one is asked for."""
    raw_clients.append(await RawClient.connect(irc_server, "amy"))
    amy = Harness(irc_server, "amy")
    harnesses.append(amy)
    amy.start()
    await eventually(lambda: amy.session.registered, "registration")
    assert amy.nick_requests == ["The nick amy is already taken"]
    assert amy.session.nick == "amyx"


async def test_reconnect_after_server_restart(irc_server: Server, harnesses: list[Harness]) -> None:
    """When the server restarts the client reconnects, is back in #lobby, shows no line twice."""
    amy = Harness(irc_server, "amy")
    harnesses.append(amy)
    amy.start()
    await eventually(amy.joined, "amy in #lobby")
    amy.type("said once")
    lobby = amy.session.conversations[LOBBY]
    await eventually(lambda: any(line.text == "said once" for line in lobby.lines), "my line")
    await asyncio.to_thread(irc_server.stop)
    await eventually(lambda: Status.LOST in amy.statuses, "the loss to be noticed")
    assert not amy.session.conversations[LOBBY].joined
    await asyncio.to_thread(irc_server.start)
    await eventually(amy.joined, "amy back in #lobby", timeout=30)
    assert amy.statuses.count(Status.CONNECTED) == 2
    amy.type("after the restart")
    await eventually(
        lambda: any(line.text == "after the restart" for line in lobby.lines), "a new line"
    )
    await eventually(lambda: not lobby.history_loading, "the history after the rejoin")
    assert sum(line.text == "said once" for line in lobby.lines) == 1  # history not repeated


@pytest.fixture
def tls_context(tmp_path: Path) -> ssl.SSLContext:
    """A server TLS context with a fresh self-signed certificate for 127.0.0.1."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            *(
                "openssl",
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
            ),
            *("-nodes", "-days", "1"),
            *("-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


async def _tiny_irc_server(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Just enough IRC: answer USER with 001 and the end of the MOTD; hang up after QUIT."""
    while line := await reader.readline():
        if line.startswith(b"USER"):
            writer.write(b":tls.test 001 amy :Welcome over TLS\r\n:tls.test 422 amy :No MOTD\r\n")
        if line.startswith(b"QUIT"):
            break
    writer.close()


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
async def test_tls_connection(tls_context: ssl.SSLContext) -> None:
    """--tls registers over TLS; checking the self-signed certificate fails clearly."""
    server = await asyncio.start_server(_tiny_irc_server, "127.0.0.1", 0, ssl=tls_context)
    port = server.sockets[0].getsockname()[1]
    try:
        strict = ServerConnection(Session("amy"), Options(port=port, tls=True))
        with pytest.raises(ConnectError, match="TLS error"):
            await strict.run()
        session = Session("amy")
        insecure = ServerConnection(session, Options(port=port, tls=True, tls_verify=False))
        task = asyncio.create_task(insecure.run())
        await eventually(lambda: session.registered, "registration over TLS")
        await insecure.quit()
        await asyncio.wait_for(task, 5)
    finally:
        server.close()
        await server.wait_closed()


async def _rude_server(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Registers the client, then sends a FROB (which the test makes the session choke on)."""
    while line := await reader.readline():
        if line.startswith(b"USER"):
            writer.write(b":rude 001 amy :hi\r\n:rude FROB x\r\n:rude 422 amy :No MOTD\r\n")
        if line.startswith(b"QUIT"):
            break
    writer.close()


async def test_malformed_server_line_does_not_stop_the_client(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A line the session cannot handle becomes an error line; the connection goes on."""

    def choke(session: Session, msg: Message) -> list[Posted]:
        raise IndexError("boom")

    monkeypatch.setitem(HANDLERS, "FROB", choke)
    server = await asyncio.start_server(_rude_server, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        session = Session("amy")
        posted: list[Posted] = []
        connection = ServerConnection(session, Options(port=port), on_lines=posted.extend)
        task = asyncio.create_task(connection.run())
        await eventually(lambda: session.registered, "registration")
        await eventually(
            lambda: any("Could not understand" in p.line.text for p in posted), "the error line"
        )
        assert connection.status is Status.CONNECTED
        await connection.quit()
        await asyncio.wait_for(task, 5)
    finally:
        server.close()
        await server.wait_closed()


async def test_register_then_log_in_with_sasl(irc_server: Server, harnesses: list[Harness]) -> None:
    """/register creates an account; the next connection logs in to it with SASL PLAIN."""
    if irc_server.kind != "chinwag":
        pytest.skip("needs chinwag's accounts")
    amy = Harness(irc_server, "amy")
    harnesses.append(amy)
    amy.start()
    await eventually(amy.joined, "amy in #lobby")
    amy.type("/register correct-horse-battery")
    await eventually(lambda: amy.session.logged_in_as == "amy", "the account to be created")
    await amy.stop()

    again = Harness(irc_server, "amy")
    again.session.account, again.session.account_password = "amy", "correct-horse-battery"
    harnesses.append(again)
    again.start()
    await eventually(again.joined, "amy back in #lobby")
    assert again.session.logged_in_as == "amy"

    wrong = Harness(irc_server, "zed")
    wrong.session.account, wrong.session.account_password = "amy", "not-the-password"
    harnesses.append(wrong)
    wrong.start()
    await eventually(wrong.joined, "zed in #lobby, not logged in")
    assert wrong.session.logged_in_as is None
    assert any("Could not log in as amy" in p.line.text for p in wrong.posted)
