"""Property tests: pagination reconstructs history, and SQLite answers like memory."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chinwag.store import Bound, HistoryEntry, MsgidBound, SqliteStore, Store, TimeBound
from chinwag.store._query import time_key

from .factories import LOBBY, T0, entry, ids, open_kind

# Few distinct times, so that many entries share a millisecond.
times = st.lists(st.sampled_from([T0 + k / 4000 for k in range(12)]), min_size=0, max_size=40)
PROPERTY_SETTINGS = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


def model(stamps: list[float]) -> list[str]:
    """The expected order: by millisecond, then by arrival."""
    order = sorted(range(len(stamps)), key=lambda i: (time_key(stamps[i]), i))
    return [f"m{i}" for i in order]


async def filled(kind: str, directory: Path, stamps: list[float]) -> Store:
    """A store of ``kind`` holding one #lobby entry per stamp, flushed."""
    store = open_kind(kind, directory)
    for i, stamp in enumerate(stamps):
        store.history.append(entry(f"m{i}", stamp))
    await store.flush()
    return store


async def pages_backwards(store: Store, page: int) -> list[HistoryEntry]:
    """Walk LATEST then BEFORE the oldest seen, until nothing is left."""
    got = await store.history.latest(LOBBY, None, page)
    result = list(got)
    while got:
        got = await store.history.before(LOBBY, MsgidBound(result[0].msgid), page)
        result[:0] = got
    return result


async def pages_forwards(store: Store, page: int) -> list[HistoryEntry]:
    """Walk AFTER a time before everything, then AFTER the newest seen."""
    got = await store.history.after(LOBBY, TimeBound(T0 - 1), page)
    result = list(got)
    while got:
        got = await store.history.after(LOBBY, MsgidBound(result[-1].msgid), page)
        result.extend(got)
    return result


@PROPERTY_SETTINGS
@given(stamps=times, page=st.integers(1, 7), kind=st.sampled_from(["memory", "sqlite"]))
def test_pagination_reconstructs_history(stamps: list[float], page: int, kind: str) -> None:
    """Paging with BEFORE or AFTER by msgid returns every entry exactly once, in order."""

    async def run(directory: Path) -> None:
        store = await filled(kind, directory, stamps)
        try:
            assert ids(await pages_backwards(store, page)) == model(stamps)
            assert ids(await pages_forwards(store, page)) == model(stamps)
        finally:
            await store.close()

    with tempfile.TemporaryDirectory() as directory:
        asyncio.run(run(Path(directory)))


bounds = st.one_of(
    st.integers(0, 45).map(lambda i: MsgidBound(f"m{i}")),
    st.integers(-2, 14).map(lambda k: TimeBound(T0 + k / 4000)),
)


@PROPERTY_SETTINGS
@given(
    stamps=times,
    queries=st.lists(
        st.tuples(
            st.sampled_from(["latest", "before", "after", "around", "between"]),
            bounds,
            bounds,
            st.integers(0, 12),
        ),
        min_size=1,
        max_size=15,
    ),
)
def test_sqlite_answers_like_memory(
    stamps: list[float], queries: list[tuple[str, Bound, Bound, int]]
) -> None:
    """For any history and any query, SQLite returns exactly what the memory store returns."""

    async def ask(store: Store, name: str, a: Bound, b: Bound, limit: int) -> list[str]:
        h = store.history
        if name == "latest":
            return ids(await h.latest(LOBBY, a, limit))
        if name == "before":
            return ids(await h.before(LOBBY, a, limit))
        if name == "after":
            return ids(await h.after(LOBBY, a, limit))
        if name == "around":
            return ids(await h.around(LOBBY, a, limit))
        return ids(await h.between(LOBBY, a, b, limit))

    async def run(directory: Path) -> None:
        memory = await filled("memory", directory, stamps)
        sqlite = await filled("sqlite", directory, stamps)
        assert isinstance(sqlite, SqliteStore)
        try:
            for name, a, b, limit in queries:
                expected = await ask(memory, name, a, b, limit)
                assert await ask(sqlite, name, a, b, limit) == expected, (name, a, b, limit)
                assert len(expected) <= limit
        finally:
            await memory.close()
            await sqlite.close()

    with tempfile.TemporaryDirectory() as directory:
        asyncio.run(run(Path(directory)))


@PROPERTY_SETTINGS
@given(stamps=times, pivot=st.integers(0, 45), limit=st.integers(1, 12))
def test_around_is_a_window_containing_the_pivot(
    stamps: list[float], pivot: int, limit: int
) -> None:
    """AROUND msgid returns a contiguous slice of history that holds the pivot."""

    async def run(directory: Path) -> None:
        store = await filled("memory", directory, stamps)
        got = ids(await store.history.around(LOBBY, MsgidBound(f"m{pivot}"), limit))
        full = model(stamps)
        if pivot >= len(stamps):
            assert got == []
            return
        assert f"m{pivot}" in got
        assert len(got) == min(limit, len(full))
        start = full.index(got[0])
        assert full[start : start + len(got)] == got

    with tempfile.TemporaryDirectory() as directory:
        asyncio.run(run(Path(directory)))
