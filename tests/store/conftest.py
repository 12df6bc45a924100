"""Fixtures: every store implementation, with a cheap argon2 profile so tests stay fast.

The PostgreSQL store runs against a real server this test process starts (``tests/services.py``),
each test in a database of its own.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from chinwag.store import SqliteStore, Store

from .factories import FAST_HASHER, open_kind


@pytest.fixture(params=["memory", "sqlite", "postgres"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    """Each store implementation in turn, closed after the test."""
    kind = str(request.param)
    url = str(request.getfixturevalue("postgres_url")) if kind == "postgres" else ""
    opened = open_kind(kind, tmp_path, url)
    yield opened
    await opened.close()


@pytest.fixture
async def sqlite_store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    """A SQLite store in the test's temporary directory."""
    opened = SqliteStore(tmp_path / "chinwag.sqlite3", hasher=FAST_HASHER)
    yield opened
    await opened.close()
