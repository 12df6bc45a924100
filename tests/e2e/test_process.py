"""`chinwag serve` as a real process: it logs, serves, and stops cleanly on SIGTERM and SIGINT."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path

import pytest

from chinwag import __version__
from chinwag.protocol import core_name
from chinwag.protocol._core import PURE_PYTHON_ENV

from .harness import Clients

ROOT = Path(__file__).resolve().parents[2]
CONFIG = """\
[server]
name = "proc.chinwag"
default_channels = ["#lobby"]
motd = ""

[limits]
flood_rate = 0
"""


class ServeProcess:
    """``python -m chinwag serve --port 0`` in a temporary directory; its log gives the port."""

    def __init__(self, workdir: Path, *args: str, config_text: str = CONFIG) -> None:
        config = self.config = workdir / "chinwag.toml"
        config.write_text(config_text, encoding="utf-8")
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        env = {k: v for k, v in env.items() if not k.startswith("CHINWAG__")}
        command = [sys.executable, "-m", "chinwag", "serve", "--port", "0", "--config", str(config)]
        self.proc = subprocess.Popen(
            [*command, *args],
            cwd=workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        self.log: list[str] = []
        self.port = 0

    async def started(self, timeout: float = 15.0) -> int:
        """Read the log until the listening line; returns the port."""
        assert self.proc.stderr is not None
        stderr = self.proc.stderr
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = await asyncio.to_thread(stderr.readline)
            if not line:
                break
            text = line.decode(errors="replace")
            self.log.append(text)
            found = re.search(r"listening on [^ ]*:(\d+)", text)
            if found:
                self.port = int(found.group(1))
                return self.port
        raise AssertionError(f"server did not start: {''.join(self.log)}")

    async def wait(self, timeout: float) -> int:
        """Wait for the exit status (bounded); the rest of the log is collected."""
        code = await asyncio.to_thread(self.proc.wait, timeout)
        assert self.proc.stderr is not None
        self.log.append(self.proc.stderr.read().decode(errors="replace"))
        return code

    def kill(self) -> None:
        """Make sure the process is gone."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        if self.proc.stderr is not None:
            self.proc.stderr.close()


@pytest.fixture
async def process(tmp_path: Path) -> AsyncIterator[ServeProcess]:
    """A started server process, killed at the end if the test left it running."""
    running = ServeProcess(tmp_path)
    try:
        await running.started()
        yield running
    finally:
        running.kill()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
async def test_graceful_shutdown(process: ServeProcess, signum: signal.Signals) -> None:
    """On SIGTERM/SIGINT every client gets ERROR ...Server shutting down, sockets close, exit 0."""
    clients = Clients(process.port)
    try:
        amy = await clients.connect("amy")
        bob = await clients.connect("bob")
        await amy.send("PRIVMSG bob :before the end")
        await bob.expect("PRIVMSG", ["bob", "before the end"])
        started = time.monotonic()
        process.proc.send_signal(signum)
        for client in (amy, bob):
            error = await client.expect_error("Server shutting down", timeout=2.0)
            assert error.params[0].startswith("Closing Link")
        assert await process.wait(timeout=2.0) == 0
        assert time.monotonic() - started < 2.0
    finally:
        await clients.close()
    log = "".join(process.log)
    assert "Traceback" not in log


async def test_process_logs_connect_registration_and_quit(process: ServeProcess) -> None:
    """The server logs a line per connect, registration and quit on stderr."""
    clients = Clients(process.port)
    try:
        amy = await clients.connect("amy")
        await amy.send("QUIT :bye")
        await amy.expect_closed()
    finally:
        await clients.close()
    process.proc.send_signal(signal.SIGTERM)
    assert await process.wait(timeout=2.0) == 0
    log = "".join(process.log)
    assert "connect from 127.0.0.1" in log
    assert re.search(r"registered amy", log)
    assert re.search(r"quit amy .*bye", log)


async def test_shutdown_with_an_unregistered_connection(process: ServeProcess) -> None:
    """A half-registered connection also gets the ERROR line and the server still exits 0."""
    clients = Clients(process.port)
    try:
        raw = await clients.open()
        await raw.send("NICK half")
        await raw.alive()
        process.proc.send_signal(signal.SIGTERM)
        await raw.expect_error("Server shutting down", timeout=2.0)
        assert await process.wait(timeout=2.0) == 0
    finally:
        await clients.close()


async def test_password_flag(tmp_path: Path) -> None:
    """`chinwag serve --password` makes PASS required: the right one registers, none does not."""
    running = ServeProcess(tmp_path, "--password", "letmein")
    try:
        port = await running.started()
        clients = Clients(port)
        try:
            amy = await clients.connect("amy", password="letmein")
            await amy.alive()
            raw = await clients.open()
            await raw.send("NICK bob", "USER bob 0 * :Bob")
            await raw.expect_error("Bad password")
        finally:
            await clients.close()
    finally:
        running.kill()


async def test_name_and_motd_flags(tmp_path: Path) -> None:
    """`--name` sets the server name and `--motd FILE` the message of the day."""
    motd = tmp_path / "motd.txt"
    motd.write_text("flag motd\n", encoding="utf-8")
    running = ServeProcess(tmp_path, "--name", "flagged.example", "--motd", str(motd))
    try:
        clients = Clients(await running.started())
        try:
            amy = await clients.connect("amy")
            assert amy.history[0].source == "flagged.example"
            assert [m.params[-1] for m in amy.history if m.command == "372"] == ["- flag motd"]
        finally:
            await clients.close()
    finally:
        running.kill()


def _run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "chinwag", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_serve_help_mentions_the_flags() -> None:
    """`chinwag serve --help` documents every flag the issue promises."""
    result = _run_cli("serve", "--help")
    assert result.returncode == 0
    for flag in ("--host", "--port", "--name", "--motd", "--config", "--log-level", "--password"):
        assert flag in result.stdout


def test_bad_config_exits_with_an_error(tmp_path: Path) -> None:
    """An unknown key in the config file stops `chinwag serve` with a message naming it."""
    path = tmp_path / "bad.toml"
    path.write_text("[limits]\nsendq = 5\n", encoding="utf-8")
    result = _run_cli("serve", "--port", "0", "--config", str(path))
    assert result.returncode != 0
    assert "limits.sendq" in result.stderr


async def test_start_line_names_the_protocol_core(process: ServeProcess) -> None:
    """The start-up line says which protocol core runs: the same one as this test process."""
    assert process.log[-1].rstrip().endswith(f"(core={core_name()})")


@pytest.mark.parametrize("pure", ["", "1"], ids=["default", "CHINWAG_PURE_PYTHON=1"])
def test_serve_version_names_the_protocol_core(pure: str) -> None:
    """`chinwag serve --version` gives the version and the core; the variable forces Python."""
    env = {k: v for k, v in os.environ.items() if k != PURE_PYTHON_ENV}
    result = subprocess.run(
        [sys.executable, "-m", "chinwag", "serve", "--version"],
        cwd=ROOT,
        env={**env, PURE_PYTHON_ENV: pure} if pure else env,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    package = ROOT / "chinwag" / "protocol"
    built = any((package / f"codec{suffix}").exists() for suffix in EXTENSION_SUFFIXES)
    core = "compiled" if built and not pure else "python"
    assert result.stdout == f"chinwag {__version__} (core={core})\n"


async def test_startup_log_says_how_others_join(process: ServeProcess) -> None:
    """After 'listening on', the log gives the chinwag connect command and the loopback hint."""
    assert process.proc.stderr is not None
    while not any("only this machine can connect" in line for line in process.log):
        line = await asyncio.wait_for(asyncio.to_thread(process.proc.stderr.readline), 15.0)
        assert line, "".join(process.log)
        process.log.append(line.decode(errors="replace"))
    log = "".join(process.log)
    assert f"others join with: chinwag connect 127.0.0.1:{process.port}" in log
    assert "only this machine can connect (127.0.0.1 is loopback)" in log
    assert "--host 0.0.0.0" in log
