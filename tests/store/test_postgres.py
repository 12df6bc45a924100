"""What only the PostgreSQL store has to promise: several servers on one database."""

from __future__ import annotations

import asyncio

import psycopg
import pytest

from chinwag.store import StoreError
from chinwag.store.postgres import SCHEMA_VERSION, PostgresStore

from .factories import FAST_HASHER, LOBBY, T0, entry, ids


async def test_the_same_line_from_two_nodes_is_stored_once(postgres_url: str) -> None:
    """Two stores on one database append the same msgid: one row, the first one's."""
    one = PostgresStore(postgres_url, hasher=FAST_HASHER)
    two = PostgresStore(postgres_url, hasher=FAST_HASHER)
    try:
        one.history.append(entry("m1", T0, text="first"))
        await one.flush()
        two.history.append(entry("m1", T0 + 1, text="again"))
        two.history.append(entry("m2", T0 + 2))
        await two.flush()
        stored = await one.history.latest(LOBBY, None, 10)
        assert ids(stored) == ["m1", "m2"]
        assert stored[0].text == "first"
    finally:
        await one.close()
        await two.close()


async def test_nodes_starting_together_create_the_schema_once(postgres_url: str) -> None:
    """Four stores opened at the same moment on an empty database all work."""
    stores = await asyncio.gather(
        *(asyncio.to_thread(PostgresStore, postgres_url, hasher=FAST_HASHER) for _ in range(4))
    )
    try:
        await stores[0].accounts.register("amy", "amy", "secret")
        assert [a.name for a in await stores[3].accounts.list_all()] == ["amy"]
    finally:
        for store in stores:
            await store.close()


def test_a_newer_schema_is_refused(postgres_url: str) -> None:
    """A database written by a newer chinwag is not touched: a StoreError says to upgrade."""
    PostgresStore(postgres_url).close_sync()
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("UPDATE chinwag_schema SET version = %s", (SCHEMA_VERSION + 1,))
    with pytest.raises(StoreError, match="upgrade chinwag"):
        PostgresStore(postgres_url)
