"""Two servers on one PostgreSQL store (``--store``): accounts and history are shared.

This is the store half of a network (the Redis half, which lets users of the two servers talk,
is not built yet): each server has its own users, and what one stores the other reads.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from chinwag.server import Server, load_config

from .accounts_support import fast_hashing, register, sasl_connect
from .harness import ANY, Harness

__all__ = ["fast_hashing"]

ServeShared = Callable[[], Awaitable[Harness]]
CH = ["draft/chathistory", "batch", "server-time", "message-tags"]


@pytest.fixture
async def shared(postgres_url: str, fast_hashing: None) -> AsyncIterator[ServeShared]:
    """Start servers that all keep their data in this test's PostgreSQL namespace."""
    started: list[Harness] = []

    async def start() -> Harness:
        overrides: dict[str, dict[str, Any]] = {
            "server": {"port": 0, "name": f"n{len(started) + 1}.test", "data_dir": "none"},
            "limits": {"flood_rate": 0},
            "cluster": {"store": postgres_url},
        }
        server = Server(load_config(None, environ={}, overrides=overrides))
        await server.start()
        harness = Harness(server)
        started.append(harness)
        return harness

    yield start
    for harness in started:
        await harness.close()
        await harness.server.stop()


async def test_account_registered_on_one_server_logs_in_on_the_other(
    shared: ServeShared,
) -> None:
    """REGISTER on n1, then SASL PLAIN on n2 with the same password succeeds."""
    n1, n2 = await shared(), await shared()
    await register(n1, "amy", "correct horse")
    amy = await sasl_connect(n2, "amy", "correct horse")
    await amy.send("WHOIS amy")
    await amy.expect_numeric("330", "amy", "amy", ANY)  # RPL_WHOISACCOUNT: logged in on n2


async def test_history_stored_by_one_server_is_read_on_the_other(shared: ServeShared) -> None:
    """A channel line said on n1 is in CHATHISTORY asked on n2, with its msgid."""
    n1, n2 = await shared(), await shared()
    amy = await n1.connect("amy", caps=["echo-message", "message-tags"])
    await amy.send("PRIVMSG #lobby :hello from n1")
    echo = await amy.expect("PRIVMSG", ["#lobby", "hello from n1"])
    bob = await n2.connect("bob", caps=CH)
    await bob.send("CHATHISTORY LATEST #lobby * 10")
    await bob.expect("BATCH")
    line = await bob.expect("PRIVMSG", ["#lobby", "hello from n1"])
    assert line.tags["msgid"] == echo.tags["msgid"]
    assert line.source is not None and line.source.startswith("amy!")


def _serve(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "chinwag", "serve", "--port", "0", "--data", "none", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_unreachable_store_is_a_clear_error(tmp_path: Path) -> None:
    """A PostgreSQL URL that cannot be reached stops the server at once with status 1 and why."""
    result = _serve("--store", f"postgresql://nobody@/chinwag?host={tmp_path}")
    assert result.returncode == 1
    assert "cannot use the PostgreSQL store" in result.stderr
    assert str(tmp_path) in result.stderr  # libpq says which socket it tried


def test_store_must_be_a_postgresql_url() -> None:
    """--store with anything but a PostgreSQL URL is a configuration error (status 2)."""
    result = _serve("--store", "sqlite:///tmp/x.db")
    assert result.returncode == 2
    assert "cluster.store must be a PostgreSQL URL" in result.stderr
