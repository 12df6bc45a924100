"""Bounded, polled waiting and process handling shared by the interop drivers.

Nothing here sleeps for a fixed time to let something happen: every wait polls a
predicate until it holds or a deadline passes, and then says what it waited for.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

# Generous on purpose: CI runs on 2 cores with another test worker beside us.
DEFAULT_TIMEOUT = 20.0
_POLL_INTERVAL = 0.05


class WaitTimeout(AssertionError):
    """A polled wait ran out of time; the message says what was awaited."""


def wait_until(
    predicate: Callable[[], T | None],
    timeout: float = DEFAULT_TIMEOUT,
    what: str | Callable[[], str] = "condition",
) -> T:
    """Poll ``predicate`` until it returns something truthy, and return that.

    Args:
        predicate: called repeatedly; a truthy result ends the wait.
        timeout: seconds before giving up.
        what: description (or a callable producing one, evaluated only on
            failure, e.g. to dump a log) used in the failure message.

    Returns:
        The first truthy value returned by ``predicate``.

    Raises:
        WaitTimeout: the deadline passed first.
    """
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() >= deadline:
            description = what() if callable(what) else what
            raise WaitTimeout(f"timed out after {timeout:.1f}s waiting for {description}")
        time.sleep(_POLL_INTERVAL)


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def port_accepts(port: int, host: str = "127.0.0.1") -> bool:
    """Tell whether something accepts TCP connections on ``host:port`` right now."""
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def start_process(
    argv: list[str], *, cwd: Path, env: dict[str, str], output: Path, append: bool = False
) -> subprocess.Popen[bytes]:
    """Start ``argv`` in its own session, stdout and stderr going to the file ``output``.

    Its own session lets :func:`stop_process` signal the whole process group. ``append``
    keeps what earlier attempts wrote to ``output``; otherwise the file starts empty.
    """
    with output.open("ab" if append else "wb") as log:
        return subprocess.Popen(
            argv,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )


def stop_process(proc: subprocess.Popen[bytes], grace: float = 5.0) -> None:
    """Stop ``proc`` by its PID: SIGTERM, a bounded wait, then SIGKILL.

    The process was started in its own session, so its whole process group gets
    the signal: helpers it spawned do not outlive it.
    """
    if proc.poll() is not None:
        return
    _signal_group(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        _signal_group(proc.pid, signal.SIGKILL)
        proc.wait(timeout=grace)


def kill_pid(pid: int, grace: float = 5.0) -> None:
    """Stop a process we did not start through Popen (e.g. a tmux pane) by PID."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    try:
        wait_until(lambda: not pid_alive(pid), timeout=grace, what=f"pid {pid} to exit")
    except WaitTimeout:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def pid_alive(pid: int) -> bool:
    """Tell whether ``pid`` still runs (zombies count as gone)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            fields = stat.read().rsplit(")", 1)[-1].split()
    except OSError:
        return False
    return bool(fields) and fields[0] != "Z"


def _signal_group(pid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


def read_text(path: str | os.PathLike[str]) -> str:
    """Return a file's text, or "" while it does not exist yet."""
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read()
    except FileNotFoundError:
        return ""
