"""The connect command's arguments: targets, nick prompting, defaults."""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import sys
from pathlib import Path

import pytest

from chinwag.client.cli import add_arguments, ask_nick_on_terminal, parse_target

from .conftest import LOBBY, ROOT, TIMEOUT, RawClient, Server

CONNECT = (
    "import argparse, sys; from chinwag.client import cli; p = argparse.ArgumentParser(); "
    "cli.add_arguments(p); sys.exit(cli.run(p.parse_args()))"
)


@pytest.mark.parametrize(
    ("target", "tls", "expected"),
    [
        ("127.0.0.1:6667", False, ("127.0.0.1", 6667)),
        ("chat.example", False, ("chat.example", 6667)),
        ("chat.example", True, ("chat.example", 6697)),
        ("chat.example:7000", True, ("chat.example", 7000)),
        ("[::1]:6668", False, ("::1", 6668)),
        ("[::1]", True, ("::1", 6697)),
        (":6000", False, ("127.0.0.1", 6000)),
    ],
)
def test_parse_target(target: str, tls: bool, expected: tuple[str, int]) -> None:
    """HOST[:PORT] splits into host and port, with the right default port."""
    assert parse_target(target, tls) == expected


@pytest.mark.parametrize("target", ["host:port", "host:0", "host:70000"])
def test_parse_target_rejects_bad_ports(target: str) -> None:
    """A port that is not 1..65535 is refused."""
    with pytest.raises(ValueError, match="invalid port"):
        parse_target(target, False)


def test_defaults() -> None:
    """With no arguments: 127.0.0.1:6667, no nick, TUI, reconnecting, 10,000 lines."""
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args([])
    assert args.target == "127.0.0.1:6667"
    assert args.nick is None
    assert not args.tls and not args.plain
    assert args.reconnect
    assert args.scrollback == 10_000
    assert parser.parse_args(["--join", "#a", "--join", "b"]).join == ["#a", "b"]


def test_nick_prompt_explains_and_asks_again() -> None:
    """An invalid nick is explained and another one read; end of input gives None."""
    stdin = io.StringIO("9lives\n  good_nick \n")
    stderr = io.StringIO()
    assert ask_nick_on_terminal(stdin, stderr, prompt=True) == "good_nick"
    assert "'9lives' is not a valid nick" in stderr.getvalue()
    assert stderr.getvalue().count("Your nick: ") == 2
    assert ask_nick_on_terminal(io.StringIO(""), stderr, prompt=False) is None


async def test_account_name_is_the_nick(
    tmp_path: Path, irc_server: Server, raw_clients: list[RawClient]
) -> None:
    """--account NAME without --nick connects as NAME (the login itself may fail)."""
    bob = await RawClient.connect(irc_server, "bob")
    raw_clients.append(bob)
    env = {**os.environ, "HOME": str(tmp_path)}
    env.pop("XDG_CONFIG_HOME", None)
    args = [f"127.0.0.1:{irc_server.port}", "--plain", "--account", "carol", "--password", "x"]
    if not irc_server.autojoins:
        args += ["--join", LOBBY]
    carol = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        CONNECT,
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
        cwd=ROOT,
        env=env,
    )
    try:
        await bob.expect(lambda m: m.command == "JOIN" and m.source_nick == "carol")
    finally:
        assert carol.stdin is not None
        carol.stdin.close()
        try:
            await asyncio.wait_for(carol.wait(), TIMEOUT)
        except TimeoutError:
            carol.kill()
            await carol.wait()
