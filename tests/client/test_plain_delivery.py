"""Plain mode never loses a line: piped lines arrive complete and in order, or the exit says not.

Each test pipes numbered lines into a real ``chinwag connect`` process and watches them arrive at
another client on a real server. With the default flood limits (20 lines at once, then 5 a
second) 200 lines take about 40 seconds: that is the server's pace, which the client must keep.
A pipe never reconnects; input on a terminal (a pty here) does.
"""

from __future__ import annotations

import asyncio
import os
import pty
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from chinwag.client.pacing import BARRIER_EVERY, WINDOW

from .conftest import CHINWAG_DEFAULT_FLOOD_CONFIG, ROOT, RawClient, Server, server_kind
from .test_plain import LAUNCH, Plain, launch, plains, server_args

__all__ = ["plains"]  # the fixture, shared with test_plain

# Lines at 5 a second after a burst of 20, plus the barriers, plus slack for a loaded machine.
PACED_TIMEOUT = 120.0

pytestmark = pytest.mark.skipif(server_kind() != "chinwag", reason="needs chinwag's flood limits")


@pytest.fixture
def flood_limited_server(tmp_path: Path) -> Iterator[Server]:
    """A chinwag server with the default flood limits."""
    server = Server("chinwag", tmp_path, config=CHINWAG_DEFAULT_FLOOD_CONFIG)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def said_by(client: RawClient, nick: str) -> list[str]:
    """The texts of the PRIVMSGs ``client`` received from ``nick``, in order."""
    return [m.param(1) for m in client.received if m.command == "PRIVMSG" and m.source_nick == nick]


async def pipe_lines(amy: Plain, count: int) -> list[str]:
    """Write ``count`` numbered lines to the client and end its input; return them."""
    lines = [str(i) for i in range(1, count + 1)]
    amy.type(*lines)
    amy.close_stdin()
    return lines


async def exit_of(amy: Plain, timeout: float) -> tuple[int, str]:
    """Wait (bounded) for the process to exit; its status and stderr."""
    assert amy.proc.stderr is not None
    err = await asyncio.wait_for(amy.proc.stderr.read(), timeout)
    status = await asyncio.wait_for(amy.proc.wait(), timeout)
    return status, err.decode()


async def test_200_lines_at_the_default_flood_limits(
    flood_limited_server: Server, raw_clients: list[RawClient], plains: list[Plain]
) -> None:
    """``seq 1 200 | chinwag connect``: all 200 arrive in order, no Excess Flood, exit 0."""
    bob = await RawClient.connect(flood_limited_server, "bob")
    raw_clients.append(bob)
    amy = await launch(*server_args(flood_limited_server, "--nick", "amy"))
    plains.append(amy)
    lines = await pipe_lines(amy, 200)
    status, err = await exit_of(amy, PACED_TIMEOUT)
    assert status == 0, err
    await bob.expect(lambda m: m.command == "QUIT" and m.source_nick == "amy")
    assert said_by(bob, "amy") == lines
    assert "Excess Flood" not in err


async def test_5000_lines_without_flood_control(
    irc_server: Server, raw_clients: list[RawClient], plains: list[Plain]
) -> None:
    """5,000 piped lines to a server without flood control arrive complete and in order."""
    bob = await RawClient.connect(irc_server, "bob")
    raw_clients.append(bob)
    amy = await launch(*server_args(irc_server, "--nick", "amy"))
    plains.append(amy)
    lines = await pipe_lines(amy, 5000)
    status, err = await exit_of(amy, PACED_TIMEOUT)
    assert status == 0, err
    await bob.expect(lambda m: m.command == "QUIT" and m.source_nick == "amy")
    assert said_by(bob, "amy") == lines


async def test_server_gone_midway_exits_non_zero_with_the_count(
    flood_limited_server: Server, raw_clients: list[RawClient], plains: list[Plain]
) -> None:
    """The server stops after some lines: exit 1, and stderr says how many were not sent."""
    bob = await RawClient.connect(flood_limited_server, "bob")
    raw_clients.append(bob)
    amy = await launch(*server_args(flood_limited_server, "--nick", "amy"))
    plains.append(amy)
    await pipe_lines(amy, 200)
    await bob.expect(lambda m: m.command == "PRIVMSG" and m.param(1) == "30")
    flood_limited_server.stop()
    status, err = await exit_of(amy, PACED_TIMEOUT)
    assert status == 1
    match = re.search(r"(\d+) of 200 lines were not sent", err)
    assert match is not None, err
    unsent = int(match.group(1))
    delivered = len(said_by(bob, "amy"))
    # Never more lines reported sent than arrived; the lines in flight when the server went may
    # have arrived (they are counted as not sent): at most a window's worth of them.
    assert 200 - unsent <= delivered <= 200 - unsent + WINDOW + WINDOW // BARRIER_EVERY, err
    assert "the connection was closed" in err


async def test_a_refused_message_is_counted_as_not_sent(
    irc_server: Server, raw_clients: list[RawClient], plains: list[Plain]
) -> None:
    """A message the server refuses (no such nick) has no echo: exit 1, "1 of 3 lines"."""
    bob = await RawClient.connect(irc_server, "bob")
    raw_clients.append(bob)
    amy = await launch(*server_args(irc_server, "--nick", "amy"))
    plains.append(amy)
    amy.type("before", "/msg nobody-here hi", "after")
    amy.close_stdin()
    status, err = await exit_of(amy, PACED_TIMEOUT)
    assert status == 1
    assert "1 of 3 lines was not sent: the server did not echo it" in err
    assert said_by(bob, "amy") == ["before", "after"]


async def test_on_a_terminal_a_lost_connection_is_made_again(
    irc_server: Server, raw_clients: list[RawClient]
) -> None:
    """Input on a terminal (a pty): the server restarts, the client reconnects, typing goes on."""
    master, slave = pty.openpty()
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        LAUNCH,
        *server_args(irc_server, "--plain", "--nick", "amy"),
        stdin=slave,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
        cwd=ROOT,
    )
    os.close(slave)
    try:
        bob = await RawClient.connect(irc_server, "bob")
        raw_clients.append(bob)
        await bob.expect(lambda m: m.command == "JOIN" and m.source_nick == "amy")
        irc_server.restart()
        bob = await RawClient.connect(irc_server, "bob")
        raw_clients.append(bob)
        # amy is back in #lobby: she joins after bob, or bob's NAMES list her.
        await bob.expect(
            lambda m: (
                (m.command == "JOIN" and m.source_nick == "amy")
                or (m.command == "353" and "amy" in m.param(3).split())
            )
        )
        os.write(master, b"after the restart\n")
        await bob.expect(lambda m: m.command == "PRIVMSG" and m.param(1) == "after the restart")
        os.write(master, b"\x04")  # Ctrl+D: the end of input
        status, err = await exit_of_pty(proc)
        assert status == 0, err
        assert "connection lost" in err
    finally:
        os.close(master)
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def exit_of_pty(proc: asyncio.subprocess.Process) -> tuple[int, str]:
    """Wait (bounded) for a pty-driven process to exit; its status and stderr."""
    assert proc.stderr is not None
    err = await asyncio.wait_for(proc.stderr.read(), PACED_TIMEOUT)
    return await asyncio.wait_for(proc.wait(), PACED_TIMEOUT), err.decode()
