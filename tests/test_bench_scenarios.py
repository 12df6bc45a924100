"""bench.scenarios against a real chinwag server (in process, real sockets): ``lost`` is exact
in a room past ``large_channel``, where each sender's JOIN is shown when it first speaks; the
mass disconnect sees everyone out."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from typing import Any

import pytest

from bench import scenarios
from bench.loadgen import Generator
from bench.report import lost_cell
from bench.scenarios import _channel, _traffic, accounting_error, execute, shortfall
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
    assert result["lost"] == result["extra"] == 0


async def test_lobby_storm_counts_what_the_bystanders_heard(server: Server) -> None:
    """A small storm into a room where two bystanders talk: each listener got every line."""
    talk = {"bystanders": 4, "senders": 2, "rate": 100.0}
    spec = {"kind": "connect", "clients": 20, "rate": 400, "join": "#storm", "talk": talk}
    result = await _run(server, spec)
    assert result["errors"] == []
    assert result["talk_sent"] > 0
    assert result["talk_expected"] == result["talk_sent"] * 2
    assert result["lost"] == result["extra"] == 0


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


async def test_mass_disconnect_gives_up_when_the_count_never_settles(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A user the run did not bring (here a stranger; in a real run, one of its clients cut
    early) keeps the server's count off: the run records an error after its deadline and
    resets nobody, instead of waiting for ever."""
    monkeypatch.setattr(scenarios, "DROP_TIMEOUT", 0.5)
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(b"NICK stranger\r\nUSER s 0 * :s\r\n")
    while b" 001 " not in await reader.readline():
        pass
    spec = {"kind": "drop", "clients": 5, "rate": 400, "join": "#storm"}
    result = await _run(server, spec)
    assert [e for e in result["errors"] if "not run" in e], result["errors"]
    assert "drop_s" not in result
    writer.close()


def test_a_duplicate_at_one_receiver_never_hides_a_loss_at_another() -> None:
    """lost and extra are summed per receiver: one line counted twice here and one missed there
    are one lost and one too many, not zero."""
    assert shortfall([(5, 6), (5, 4), (5, 5)]) == (1, 1)
    assert shortfall([(5, 5), (0, 0)]) == (0, 0)
    assert shortfall([(3, 0), (2, 7)]) == (3, 5)
    assert shortfall([]) == (0, 0)


def test_more_counted_than_sent_is_an_accounting_error() -> None:
    """Too many counted is never shown as lines: the run's error and the report's cell say so,
    beside the real loss of another run (or of a record from before ``extra``)."""
    assert "9990 messages beyond" in accounting_error(9990)
    assert lost_cell([0.0, 0.0], [0.0, 9990.0]) == "0; **accounting error** (9990 too many)"
    assert lost_cell([3.0, -2.0]) == "3; **accounting error** (2 too many)"
    assert lost_cell([-2.0]) == "**accounting error** (2 too many)"
    assert lost_cell([0.0, 3.0]) == "3"
    assert lost_cell([]) == "-"
