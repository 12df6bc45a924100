"""Fixtures: every store implementation, with a cheap argon2 profile so tests stay fast."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from chinwag.store import SqliteStore, Store

from .factories import FAST_HASHER, open_kind


@pytest.fixture(params=["memory", "sqlite"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    """Each store implementation in turn, closed after the test."""
    opened = open_kind(str(request.param), tmp_path)
    yield opened
    await opened.close()


@pytest.fixture
async def sqlite_store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    """A SQLite store in the test's temporary directory."""
    opened = SqliteStore(tmp_path / "chinwag.sqlite3", hasher=FAST_HASHER)
    yield opened
    await opened.close()
