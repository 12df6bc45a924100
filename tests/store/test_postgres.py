"""What only the PostgreSQL store has to promise: several servers on one database."""

from __future__ import annotations

import asyncio
import functools
import threading
import time
from collections.abc import Callable

import psycopg
import pytest

from chinwag.store import HistoryStore, Store, StoreError
from chinwag.store.postgres import SCHEMA_VERSION, PgHistoryStore, PostgresStore

from .factories import FAST_HASHER, LOBBY, T0, direct, entry, hold_writer, ids


def test_protocol_conformance(postgres_url: str) -> None:
    """The PostgreSQL store and its history satisfy the Protocols (checked by mypy)."""
    store = PostgresStore(postgres_url, hasher=FAST_HASHER)
    try:
        as_store: Store = store
        history: HistoryStore = PgHistoryStore(store.database, store.writer, store.readers)
        assert isinstance(as_store.history, PgHistoryStore) and history is not as_store.history
    finally:
        store.close_sync()


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


async def test_a_big_group_keeps_append_order_and_nulls(postgres_url: str) -> None:
    """Thousands of rows in one group (one statement) keep their order and their callbacks'
    order; None (no account, no parties) reads back as None."""
    store = PostgresStore(postgres_url, hasher=FAST_HASHER)
    try:
        release = hold_writer(store)
        seen: list[int] = []
        for i in range(2500):
            target = direct("amy", "bob") if i % 2 else LOBBY
            account = "amy" if i % 3 == 0 else None
            store.history.append(
                entry(f"m{i}", T0, target, account=account), then=functools.partial(seen.append, i)
            )
        release()
        await store.flush()
        assert seen == list(range(2500))
        lobby = await store.history.latest(LOBBY, None, 5000)
        assert ids(lobby) == [f"m{i}" for i in range(0, 2500, 2)]
        assert [e.account for e in lobby[:3]] == ["amy", None, None]
        private = await store.history.latest(direct("bob", "amy"), None, 5000)
        assert ids(private) == [f"m{i}" for i in range(1, 2500, 2)]
        assert all(e.target == direct("amy", "bob") for e in private)
    finally:
        await store.close()


async def test_rows_of_a_failed_commit_are_reported_to_their_callbacks(postgres_url: str) -> None:
    """When a group cannot commit, its rows' callbacks still run, in order, and commit_error
    tells them the rows were not stored; the next group stores again."""
    store = PostgresStore(postgres_url, hasher=FAST_HASHER)
    seen: list[tuple[str, bool]] = []

    def outcome(msgid: str) -> Callable[[], None]:
        return lambda: seen.append((msgid, store.history.commit_error() is None))

    try:
        release = hold_writer(store)
        store.writer.fire(lambda conn: conn.execute("COMMIT"))  # breaks the group
        store.history.append(entry("lost", T0), then=outcome("lost"))
        waiter = asyncio.ensure_future(store.writer.call(lambda conn: None))
        await asyncio.sleep(0)  # queue the waiter in the same group
        release()
        with pytest.raises(psycopg.Error):
            await waiter
        assert seen == [("lost", False)]
        assert store.history.commit_error() is None  # outside a callback
        store.history.append(entry("kept", T0 + 1), then=outcome("kept"))
        await store.flush()
        assert seen[-1] == ("kept", True)
        assert ids(await store.history.latest(LOBBY, None, 10)) == ["kept"]
    finally:
        await store.close()


async def test_a_lost_connection_fails_one_group_then_the_store_reconnects(
    postgres_url: str,
) -> None:
    """A PostgreSQL restart (here: every session of the store killed) fails the write and the
    read that were using the old connections; the next ones open new connections and work."""
    store = PostgresStore(postgres_url, hasher=FAST_HASHER)
    try:
        await store.accounts.register("Amy", "amy", "pw")
        assert await store.accounts.get("amy") is not None
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        with pytest.raises(psycopg.OperationalError):
            await store.accounts.set_admin("amy", True)
        with pytest.raises(psycopg.OperationalError):
            await store.accounts.get("amy")
        await store.accounts.set_admin("amy", True)
        amy = await store.accounts.get("amy")
        assert amy is not None and amy.admin
    finally:
        await store.close()


async def test_a_line_of_a_dropped_identity_that_arrives_later_is_not_stored(
    postgres_url: str,
) -> None:
    """A private line of a dropped account that the history feed inserts after the drop (it
    was still in Redis) is left out: the drop's tombstone keeps its identity out for good,
    while the other lines of the same group are stored."""
    store = PostgresStore(postgres_url, hasher=FAST_HASHER)
    try:
        amy = await store.accounts.register("Amy", "amy", "pw-amy")
        assert await store.forget("amy") == (True, 0)
        store.history.append(entry("late", T0, direct(amy.party, "bob")))
        store.history.append(entry("other", T0 + 1))
        await store.flush()
        assert await store.history.latest(direct(amy.party, "bob"), None, 10) == []
        assert ids(await store.history.latest(LOBBY, None, 10)) == ["other"]
    finally:
        await store.close()


async def test_a_drop_waits_for_a_line_another_node_is_inserting(postgres_url: str) -> None:
    """Node two is inserting a line of amy's (its transaction open) as node one drops her
    account: the drop waits for that commit, then deletes the line; nothing of hers stays."""
    one = PostgresStore(postgres_url, hasher=FAST_HASHER)
    two = PostgresStore(postgres_url, hasher=FAST_HASHER)
    try:
        amy = await one.accounts.register("Amy", "amy", "pw-amy")
        release_first = hold_writer(two)
        inserted, gate = threading.Event(), threading.Event()

        def hold_open(conn: object) -> None:
            inserted.set()  # the line's insert ran in this group: its commit waits here
            gate.wait(5.0)

        two.history.append(entry("inflight", T0, direct(amy.party, "bob")))
        two.writer.fire(hold_open)
        release_first()
        assert await asyncio.to_thread(inserted.wait, 5.0)
        dropping = asyncio.create_task(one.forget("amy"))
        waiting = asyncio.create_task(asyncio.to_thread(_until_a_lock_waits, postgres_url))
        await asyncio.wait([dropping, waiting], return_when=asyncio.FIRST_COMPLETED)
        gate.set()
        assert await dropping == (True, 1)
        assert await waiting  # the drop did wait for the insert's lock
        await two.flush()
        assert await one.history.latest(direct(amy.party, "bob"), None, 10) == []
    finally:
        await one.close()
        await two.close()


async def test_two_drops_on_two_nodes_at_once_both_succeed(postgres_url: str) -> None:
    """Two nodes each insert a line and then drop an account, in one writer group each, at
    the same moment: neither drop waits on the other's insert while holding its own (which
    PostgreSQL would end as a deadlock, failing one drop): both succeed."""
    one = PostgresStore(postgres_url, hasher=FAST_HASHER)
    two = PostgresStore(postgres_url, hasher=FAST_HASHER)
    try:
        await one.accounts.register("Amy", "amy", "pw-amy")
        await two.accounts.register("Bob", "bob", "pw-bob")
        both_inserted = threading.Barrier(2, timeout=5.0)

        def meet(conn: object) -> None:
            both_inserted.wait()  # each node's insert ran before either drop starts

        releases = [hold_writer(one), hold_writer(two)]
        drops = []
        for store, name, line in ((one, "amy", "l1"), (two, "bob", "l2")):
            store.history.append(entry(line, T0))
            store.writer.fire(meet)
            drops.append(asyncio.create_task(store.forget(name)))
        while one.writer.pending < 3 or two.writer.pending < 3:
            await asyncio.sleep(0)  # each drop's call queued behind its node's insert
        for release in releases:
            release()
        async with asyncio.timeout(10):
            assert await asyncio.gather(*drops) == [(True, 0), (True, 0)]
        assert sorted(ids(await one.history.latest(LOBBY, None, 10))) == ["l1", "l2"]
    finally:
        await one.close()
        await two.close()


async def test_a_call_whose_connection_dies_under_it_gets_the_error(postgres_url: str) -> None:
    """A writer call that loses the connection (a deadlock or a killed backend fails the whole
    transaction) gets that error instead of waiting forever; the next call reconnects."""
    store = PostgresStore(postgres_url, hasher=FAST_HASHER)
    try:

        def die(conn: psycopg.Connection[tuple[object, ...]]) -> None:
            conn.execute("SELECT pg_terminate_backend(pg_backend_pid())")

        async with asyncio.timeout(10):
            with pytest.raises(psycopg.OperationalError):
                await store.writer.call(die)
        store.history.append(entry("after", T0))
        await store.flush()
        assert ids(await store.history.latest(LOBBY, None, 10)) == ["after"]
    finally:
        await store.close()


def _until_a_lock_waits(url: str) -> bool:
    """Return True when some session waits for an advisory lock, False after 5 s without."""
    with psycopg.connect(url, autocommit=True) as conn:
        deadline = time.monotonic() + 5.0
        while time.monotonic() < deadline:
            row = conn.execute(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
            ).fetchone()
            if row is not None and row[0]:
                return True
            time.sleep(0.01)  # pg_locks has no event to wait for
    return False


async def test_a_read_of_several_statements_sees_one_snapshot(postgres_url: str) -> None:
    """A line committed between two statements of one read (CHATHISTORY AROUND and TARGETS
    read with several) is seen by neither: the read is one snapshot."""
    store = PostgresStore(postgres_url, hasher=FAST_HASHER)
    try:
        store.history.append(entry("m1", T0))
        await store.flush()

        def two_counts(conn: psycopg.Connection[tuple[object, ...]]) -> tuple[object, object]:
            first = conn.execute("SELECT count(*) FROM history").fetchone()
            with psycopg.connect(postgres_url, autocommit=True) as other:
                other.execute(
                    "INSERT INTO history (msgid, conv, time_ms, time, target_name, sender,"
                    " command, text) VALUES ('m2', '#lobby', 0, 0, '#lobby', 'x', 'PRIVMSG', 'x')"
                )
            second = conn.execute("SELECT count(*) FROM history").fetchone()
            return (first[0] if first else None), (second[0] if second else None)

        assert await store.readers.run(two_counts) == (1, 1)
        assert sorted(ids(await store.history.latest(LOBBY, None, 10))) == ["m1", "m2"]
    finally:
        await store.close()
