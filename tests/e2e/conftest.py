"""Fixtures: an in-process server on a free port per test, and a harness of named clients."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from .harness import Harness, make_server

Serve = Callable[..., Awaitable[Harness]]


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    """Start servers with given overrides; each is stopped (clients closed first) after the test."""
    started: list[Harness] = []

    async def start(**overrides: Any) -> Harness:
        server = make_server(**overrides)
        await server.start()
        harness = Harness(server)
        started.append(harness)
        return harness

    yield start
    for harness in started:
        await harness.close()
        await harness.server.stop()
    for harness in started:
        assert not harness.violations(), harness.violations()


@pytest.fixture
async def h(serve: Serve) -> Harness:
    """A harness on a server with the default settings (flood pacing off)."""
    return await serve()
