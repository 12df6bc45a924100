"""Plain mode as a subprocess through pipes: chat, private messages, nick prompts, EOF, refusal."""

from __future__ import annotations

import asyncio
import contextlib
import re
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from .conftest import LOBBY, ROOT, TIMEOUT, RawClient, Server, free_port, server_kind

LAUNCH = (
    "import argparse, sys; from chinwag.client import cli; p = argparse.ArgumentParser(); "
    "cli.add_arguments(p); sys.exit(cli.run(p.parse_args()))"
)


class Plain:
    """A plain-mode client process with its stdout collected line by line."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.lines: list[str] = []
        self._arrived = asyncio.Event()
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.proc.stdout is not None
        while raw := await self.proc.stdout.readline():
            self.lines.append(raw.decode().rstrip("\n"))
            self._arrived.set()

    def type(self, *lines: str) -> None:
        """Write lines to the client's stdin."""
        assert self.proc.stdin is not None
        self.proc.stdin.write("".join(line + "\n" for line in lines).encode())

    def close_stdin(self) -> None:
        """End the input."""
        assert self.proc.stdin is not None
        self.proc.stdin.close()

    async def expect(self, pattern: str) -> str:
        """Wait (bounded) for an output line matching the regular expression ``pattern``."""
        deadline = asyncio.get_running_loop().time() + TIMEOUT
        while True:
            for line in self.lines:
                if re.search(pattern, line):
                    return line
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                raise AssertionError(f"no line matching {pattern!r} in:\n" + "\n".join(self.lines))
            self._arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), remaining)

    async def wait(self) -> tuple[int, str]:
        """Wait (bounded) for the exit; return the status and stderr."""
        assert self.proc.stderr is not None
        err = await asyncio.wait_for(self.proc.stderr.read(), TIMEOUT)
        status = await asyncio.wait_for(self.proc.wait(), TIMEOUT)
        await self._reader
        return status, err.decode()


async def launch(*args: str, env: dict[str, str] | None = None) -> Plain:
    """Start ``chinwag connect ARGS`` with pipes for stdin, stdout and stderr."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        LAUNCH,
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=ROOT,
        env=env,
    )
    return Plain(proc)


def server_args(server: Server, *extra: str) -> list[str]:
    """Arguments to reach ``server`` (and join #lobby when it does not do it itself)."""
    args = [f"127.0.0.1:{server.port}", *extra]
    return args if server.autojoins else [*args, "--join", LOBBY]


@pytest.fixture
async def plains() -> AsyncIterator[list[Plain]]:
    """Plain clients killed (by PID) if a test leaves them running."""
    items: list[Plain] = []
    yield items
    for item in items:
        if item.proc.returncode is None:
            item.proc.kill()
            await item.proc.wait()


async def test_chat_private_and_eof(
    irc_server: Server, raw_clients: list[RawClient], plains: list[Plain]
) -> None:
    """Room and private messages flow both ways; end of input quits with status 0."""
    bob = await RawClient.connect(irc_server, "bob")
    raw_clients.append(bob)
    amy = await launch(*server_args(irc_server, "--nick", "amy"))
    plains.append(amy)
    await amy.expect(r"^\* You have joined #lobby$")
    await bob.expect(lambda m: m.command == "JOIN" and m.source_nick == "amy")
    amy.type("hello from amy")
    await bob.expect(lambda m: m.command == "PRIVMSG" and m.params == (LOBBY, "hello from amy"))
    await amy.expect(r"^\[\d\d:\d\d\] <amy> hello from amy$")
    bob.send(f"PRIVMSG {LOBBY} :hi amy", "PRIVMSG amy :psst")
    await amy.expect(r"^\[\d\d:\d\d\] <bob> hi amy$")
    await amy.expect(r"^<- bob: psst$")
    amy.type("/msg bob back at you", "/me waves")
    await bob.expect(lambda m: m.command == "PRIVMSG" and m.params == ("bob", "back at you"))
    await amy.expect(r"^-> bob: back at you$")
    await amy.expect(r"^\[\d\d:\d\d\] \* amy waves$")
    amy.close_stdin()
    status, _ = await amy.wait()
    assert status == 0
    await bob.expect(lambda m: m.command == "QUIT" and m.source_nick == "amy")


async def test_piped_message_is_sent_before_quit(
    irc_server: Server, raw_clients: list[RawClient], plains: list[Plain]
) -> None:
    """``echo hi | chinwag connect``: the line reaches the room, then the client quits."""
    bob = await RawClient.connect(irc_server, "bob")
    raw_clients.append(bob)
    amy = await launch(*server_args(irc_server, "--nick", "amy"))
    plains.append(amy)
    amy.type("just passing by")
    amy.close_stdin()
    await bob.expect(lambda m: m.command == "PRIVMSG" and m.params == (LOBBY, "just passing by"))
    await bob.expect(lambda m: m.command == "QUIT" and m.source_nick == "amy")
    status, _ = await amy.wait()
    assert status == 0


async def test_pipe_without_nick_is_refused_before_reading(plains: list[Plain]) -> None:
    """Input is not a terminal and no --nick: exit 2 at once; no line is taken as a nick."""
    amy = await launch(f"127.0.0.1:{free_port()}")
    plains.append(amy)
    amy.type("hello")
    amy.close_stdin()
    status, err = await amy.wait()
    assert status == 2
    assert "--nick is needed when input is not a terminal" in err


async def test_taken_nick_in_a_pipe_gets_underscores(
    irc_server: Server, raw_clients: list[RawClient], plains: list[Plain]
) -> None:
    """--nick bob taken (and bob_ too): the client becomes bob__; every line stays a message."""
    for nick in ("bob", "bob_"):
        raw_clients.append(await RawClient.connect(irc_server, nick))
    bob = raw_clients[0]
    amy = await launch(*server_args(irc_server, "--nick", "bob"))
    plains.append(amy)
    amy.type("amy", "hello")
    amy.close_stdin()
    status, err = await amy.wait()
    assert status == 0, err
    said = [m for m in bob.received if m.command == "PRIVMSG" and m.source_nick == "bob__"]
    assert [m.param(1) for m in said] == ["amy", "hello"]
    assert "already taken; trying bob_" in err and "trying bob__" in err


async def test_no_nick_left_fails_clearly(
    irc_server: Server, raw_clients: list[RawClient], plains: list[Plain]
) -> None:
    """bob, bob_ and bob__ all taken: exit 1 with a message naming --nick; nothing is sent."""
    for nick in ("bob", "bob_", "bob__"):
        raw_clients.append(await RawClient.connect(irc_server, nick))
    amy = await launch(*server_args(irc_server, "--nick", "bob"))
    plains.append(amy)
    amy.type("a message, not a nick")
    amy.close_stdin()
    status, err = await amy.wait()
    assert status == 1
    assert "no nick left to try (bob, bob_, bob__); choose another with --nick" in err
    assert not raw_clients[0].got_privmsg("a message, not a nick")


async def test_unknown_command_and_server_error_are_shown(
    irc_server: Server, plains: list[Plain]
) -> None:
    """A typo'd command and a server error each show as a line; the refused one is counted."""
    amy = await launch(*server_args(irc_server, "--nick", "amy"))
    plains.append(amy)
    await amy.expect(r"joined #lobby")
    amy.type("/frob", "/msg nobody-here hi")
    await amy.expect(r"^! Unknown command /frob")
    await amy.expect(r"^! nobody-here: No such nick")
    amy.type("/quit see you")
    status, err = await amy.wait()
    if irc_server.kind == "chinwag":  # with echo-message, a refused message is known as such
        assert status == 1
        assert "1 of 3 lines was not sent: the server did not echo it" in err
    else:
        assert status == 0


async def test_refused_connection_exits_non_zero(plains: list[Plain]) -> None:
    """Connecting to nothing says so on stderr and exits 1."""
    amy = await launch(f"127.0.0.1:{free_port()}", "--nick", "amy")
    plains.append(amy)
    status, err = await amy.wait()
    assert status == 1
    assert "cannot connect to 127.0.0.1:" in err
    assert "connection refused" in err


async def test_ctrl_c_quits_cleanly(
    irc_server: Server, raw_clients: list[RawClient], plains: list[Plain]
) -> None:
    """SIGINT (Ctrl+C) sends QUIT and exits 0, like the end of input."""
    bob = await RawClient.connect(irc_server, "bob")
    raw_clients.append(bob)
    amy = await launch(*server_args(irc_server, "--nick", "amy"))
    plains.append(amy)
    await amy.expect(r"^\* You have joined #lobby$")
    amy.proc.send_signal(signal.SIGINT)
    await bob.expect(lambda m: m.command == "QUIT" and m.source_nick == "amy")
    status, _ = await amy.wait()
    assert status == 0


async def test_wrong_password_exits_non_zero(tmp_path: Path, plains: list[Plain]) -> None:
    """A server that refuses the password is reported once, without retrying forever."""
    if server_kind() != "chinwag":
        pytest.skip("needs chinwag's --password")
    server = Server("chinwag", tmp_path, extra_args=["--password", "sesame"])
    server.start()
    try:
        amy = await launch(f"127.0.0.1:{server.port}", "--nick", "amy", "--password", "nope")
        plains.append(amy)
        status, err = await amy.wait()
        assert status == 1
        assert "did not let us in" in err
        await amy.expect(r"^! Password incorrect")
    finally:
        server.stop()
