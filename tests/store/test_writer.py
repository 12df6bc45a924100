"""The writer thread, the same code in SQLite and PostgreSQL: group commits, savepoints,
failed commits and backpressure (run on both)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from chinwag.store import ChannelRecord, SqliteStore, StoreClosedError
from chinwag.store.database import Connection
from chinwag.store.postgres import PostgresStore

from .factories import FAST_HASHER, hold_writer

SqlStore = SqliteStore | PostgresStore


def _open(
    kind: str, tmp_path: Path, url: str, max_queue: int = 65_536, max_group: int = 4_096
) -> SqlStore:
    if kind == "postgres":
        return PostgresStore(url, hasher=FAST_HASHER, max_queue=max_queue, max_group=max_group)
    path = tmp_path / "chinwag.sqlite3"
    return SqliteStore(path, hasher=FAST_HASHER, max_queue=max_queue, max_group=max_group)


@pytest.fixture(params=["sqlite", "postgres"])
def sql_kind(request: pytest.FixtureRequest) -> tuple[str, str]:
    """Each SQL store kind, with the PostgreSQL URL when it needs one."""
    kind = str(request.param)
    url = str(request.getfixturevalue("postgres_url")) if kind == "postgres" else ""
    return kind, url


@pytest.fixture
async def sql_store(sql_kind: tuple[str, str], tmp_path: Path) -> AsyncIterator[SqlStore]:
    """Each SQL store in turn, closed after the test."""
    opened = _open(sql_kind[0], tmp_path, sql_kind[1])
    yield opened
    await opened.close()


def _channel(i: int) -> ChannelRecord:
    return ChannelRecord(f"#c{i}", f"#c{i}")


async def test_writes_queued_while_the_writer_is_busy_share_a_transaction(
    sql_store: SqlStore,
) -> None:
    """Hundreds of writes queued behind a busy writer are committed in one group."""
    release = hold_writer(sql_store)
    before = sql_store.writer.groups
    for i in range(500):
        sql_store.channels.save(_channel(i))
    release()
    await sql_store.flush()
    assert sql_store.writer.groups - before <= 3  # the held group, the 500, the flush
    assert len(await sql_store.channels.load_all()) == 500


async def test_a_failing_job_is_rolled_back_alone(sql_store: SqlStore) -> None:
    """A job that raises loses its own writes only; the rest of its group commits."""
    sql = sql_store.database.sql(
        "INSERT INTO accounts (name_folded, name, password_hash, created_at) VALUES (?, ?, ?, ?)"
    )

    def boom(conn: Connection) -> None:
        conn.execute(sql, ("x", "x", "h", 0))
        raise RuntimeError("boom")

    release = hold_writer(sql_store)
    sql_store.channels.save(_channel(1))
    failing = sql_store.writer.submit(boom)
    sql_store.channels.save(_channel(2))
    release()
    with pytest.raises(RuntimeError, match="boom"):
        await asyncio.wrap_future(failing)
    await sql_store.flush()
    assert [r.name for r in await sql_store.channels.load_all()] == ["#c1", "#c2"]
    assert await sql_store.accounts.get("x") is None


async def test_a_failed_commit_fails_every_waiter_and_the_next_group_commits(
    sql_store: SqlStore, caplog: pytest.LogCaptureFixture
) -> None:
    """When a group cannot commit, each of its waiters gets the database's error, it is logged,
    and the writer goes on with the next group."""
    writer = sql_store.writer
    release = hold_writer(sql_store)
    writer.fire(lambda conn: conn.execute("COMMIT"))  # ends the group's transaction under it
    sql_store.channels.save(_channel(1))
    waiter = asyncio.ensure_future(writer.call(lambda conn: None))
    await asyncio.sleep(0)  # queue the waiter behind the rest
    release()
    with pytest.raises(sql_store.database.error):
        await waiter
    assert "not committed" in caplog.text
    sql_store.channels.save(_channel(2))
    await sql_store.flush()
    assert "#c2" in [r.name for r in await sql_store.channels.load_all()]


def test_a_full_queue_blocks_the_producer_until_the_writer_catches_up(
    sql_kind: tuple[str, str], tmp_path: Path
) -> None:
    """With a tiny queue, producers wait for the writer instead of losing writes."""
    store = _open(sql_kind[0], tmp_path, sql_kind[1], max_queue=4, max_group=2)
    release = hold_writer(store)
    produced = threading.Event()

    def produce() -> None:
        for i in range(20):
            store.channels.save(_channel(i))
        produced.set()

    producer = threading.Thread(target=produce)
    producer.start()
    assert not produced.wait(0.2)  # blocked on the full queue
    assert store.writer.pending == 4
    release()
    producer.join(5.0)
    assert produced.is_set()
    store.writer.submit(lambda conn: None).result(5.0)
    rows = store.readers.run_sync(lambda conn: conn.execute("SELECT name FROM channels").fetchall())
    assert len(rows) == 20
    store.close_sync()


async def test_a_loop_that_never_yields_still_gets_its_writes_done(
    sql_kind: tuple[str, str], tmp_path: Path
) -> None:
    """Writes queued from one loop turn that fill the queue wake the writer at once instead of
    waiting forever for the end of the turn."""
    store = _open(sql_kind[0], tmp_path, sql_kind[1], max_queue=8, max_group=4)
    for i in range(100):
        store.channels.save(_channel(i))
    await store.flush()
    assert len(await store.channels.load_all()) == 100
    await store.close()


async def test_writes_after_close_are_refused(sql_store: SqlStore) -> None:
    """A closed writer refuses jobs with StoreClosedError; closing twice is harmless."""
    await sql_store.close()
    await sql_store.close()
    with pytest.raises(StoreClosedError):
        sql_store.channels.save(_channel(1))
    with pytest.raises(StoreClosedError):
        await sql_store.accounts.get("amy")


async def test_rows_go_only_to_a_writer_that_inserts_them(sql_store: SqlStore) -> None:
    """The SQLite writer takes no rows (history goes to the journal); the PostgreSQL one takes
    rows of the history table's width only."""
    expected = "12 values" if isinstance(sql_store, PostgresStore) else "takes no rows"
    with pytest.raises(ValueError, match=expected):
        sql_store.writer.append(("too", "short"), None)
    assert sql_store.writer.pending == 0
