"""bench.scenarios against a real chinwag server (in process, real sockets): ``lost`` is exact
in a room past ``large_channel``, where each sender's JOIN is shown when it first speaks; the
mass disconnect sees everyone out."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from typing import Any

import pytest

from bench.loadgen import Generator
from bench.report import lost_cell
from bench.scenarios import _channel, _traffic, accounting_error, execute
from chinwag.server import Server, load_config

LARGE = 3
"""The server's ``large_channel``: every room of these runs is past it (delayed join, +D)."""


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    """A chinwag server whose rooms go +D past three members, pacing off, memory store."""
    overrides: dict[str, dict[str, Any]] = {
        "server": {"port": 0, "name": "test.chinwag", "data_dir": "none", "default_channels": []},
        "limits": {"flood_rate": 0, "large_channel": LARGE},
        "privacy": {"cloak_hosts": False},
    }
    server = Server(load_config(None, environ={}, overrides=overrides))
    await server.start()
    yield server
    await server.stop()


async def _run(server: Server, spec: dict[str, Any]) -> dict[str, Any]:
    gen = Generator({**spec, "port": server.port, "server_pid": os.getpid()})
    await execute(gen)
    return gen.result


async def test_fanout_in_a_large_room_loses_nothing_and_counts_no_join(server: Server) -> None:
    """C=8 S=2 past large_channel: the senders' JOINs reach everyone, yet lost is exactly 0."""
    result = await _run(server, _traffic([_channel(8, 2)], 0.3, connect_rate=500))
    assert result["errors"] == []
    assert result["sent"] > 0
    assert result["delivered"] == result["expected"] == result["sent"] * 7
    assert result["lost"] == 0


async def test_lobby_storm_counts_what_the_bystanders_heard(server: Server) -> None:
    """A small storm into a room where two bystanders talk: each listener got every line."""
    talk = {"bystanders": 4, "senders": 2, "rate": 100.0}
    spec = {"kind": "connect", "clients": 20, "rate": 400, "join": "#storm", "talk": talk}
    result = await _run(server, spec)
    assert result["errors"] == []
    assert result["talk_sent"] > 0
    assert result["talk_expected"] == result["talk_sent"] * 2
    assert result["lost"] == 0


async def test_mass_disconnect_sees_everyone_out(server: Server) -> None:
    """20 members reset at once: the run ends when the server counts only its watcher, and
    names that window (for bench.turns) and what it cost."""
    spec = {"kind": "drop", "clients": 20, "rate": 400, "join": "#storm"}
    result = await _run(server, spec)
    assert result["errors"] == []
    assert result["registered"] == 20
    assert result["window_end"] > result["window_start"]
    assert result["drop_s"] > 0 and result["drop_us_per_client"] is not None
    assert server.network.user_count == 1


def test_more_counted_than_sent_is_an_accounting_error() -> None:
    """A negative lost is never shown as lines: the run's error and the report's cell say so."""
    assert "9990 too many" in accounting_error(expected=1000, delivered=10990)
    assert lost_cell([0.0, -9990.0]) == "**accounting error** (-9990)"
    assert lost_cell([0.0, 3.0]) == "3"
    assert lost_cell([]) == "-"
