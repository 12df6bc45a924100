"""What only the SQLite store does: files, migrations, reopening, the writer thread."""

from __future__ import annotations

import asyncio
import functools
import sqlite3
import threading
import time
from pathlib import Path

import pytest
from argon2 import PasswordHasher

from chinwag.store import (
    DB_FILENAME,
    AccountStore,
    BanStore,
    ChannelRecord,
    ChannelStore,
    HistoryStore,
    MemoryStore,
    SqliteStore,
    Store,
    StoreClosedError,
    StoreError,
    open_store,
)
from chinwag.store.memory import MemoryHistoryStore
from chinwag.store.migrations import apply_migrations, load_migrations, schema_version
from chinwag.store.padded_insert import bucket_sizes
from chinwag.store.sqlite import SqliteHistoryStore, _entry_row
from chinwag.store.sqlite_records import SqliteAccountStore, SqliteBanStore, SqliteChannelStore
from chinwag.store.writer import commit_error

from .factories import FAST_HASHER, LOBBY, T0, direct, entry, ids


def test_protocol_conformance(sqlite_store: SqliteStore) -> None:
    """Both implementations satisfy the Protocols (checked by mypy on these assignments)."""
    stores: list[Store] = [sqlite_store, MemoryStore()]
    history: HistoryStore = SqliteHistoryStore(sqlite_store.writer, sqlite_store.readers)
    memory_history: HistoryStore = MemoryHistoryStore()
    accounts: AccountStore = SqliteAccountStore(sqlite_store.writer, sqlite_store.readers)
    channels: ChannelStore = SqliteChannelStore(sqlite_store.writer, sqlite_store.readers)
    bans: BanStore = SqliteBanStore(sqlite_store.writer)
    assert len(stores) == 2
    assert None not in (history, memory_history, accounts, channels, bans)


def test_fresh_database_is_migrated(tmp_path: Path) -> None:
    """An empty file gets every migration, in WAL mode, and passes integrity_check."""
    path = tmp_path / DB_FILENAME
    SqliteStore(path).close_sync()
    conn = sqlite3.connect(path)
    assert schema_version(conn) == len(load_migrations()) >= 1
    assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"history", "accounts", "channels", "server_bans", "schema_version"} <= tables
    assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    conn.close()


def test_new_database_is_private_to_its_owner(tmp_path: Path) -> None:
    """The file holding password hashes is created mode 0600 in a 0700 directory."""
    store = SqliteStore.in_directory(tmp_path / "data")
    store.close_sync()
    assert (tmp_path / "data").stat().st_mode & 0o777 == 0o700
    assert (tmp_path / "data" / DB_FILENAME).stat().st_mode & 0o777 == 0o600


def test_migrations_apply_once(tmp_path: Path) -> None:
    """Re-running the migrations on an up-to-date database does nothing."""
    conn = sqlite3.connect(tmp_path / "x.sqlite3", isolation_level=None)
    assert apply_migrations(conn) == list(range(1, len(load_migrations()) + 1))
    assert apply_migrations(conn) == []
    conn.close()


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    """A database written by a newer chinwag is not touched."""
    path = tmp_path / DB_FILENAME
    SqliteStore(path).close_sync()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("INSERT INTO schema_version VALUES (999, 'future', 0)")
    conn.close()
    with pytest.raises(StoreError, match="newer"):
        SqliteStore(path)


def test_not_a_database_is_an_error(tmp_path: Path) -> None:
    """A file that is not SQLite raises instead of being overwritten."""
    path = tmp_path / DB_FILENAME
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(sqlite3.DatabaseError):
        SqliteStore(path)


async def test_reopen_keeps_everything(tmp_path: Path) -> None:
    """History, accounts and channels survive close and reopen."""
    first = SqliteStore.in_directory(tmp_path / "data", hasher=FAST_HASHER)
    for i in range(5):
        first.history.append(entry(f"m{i}", T0 + i))
    await first.accounts.register("Amy", "amy", "pw")
    first.channels.save(ChannelRecord("#Lobby", "#lobby", founder="amy", modes="+nt"))
    await first.close()
    await first.close()  # idempotent
    again = open_store(tmp_path / "data", hasher=FAST_HASHER)
    assert (tmp_path / "data" / DB_FILENAME).exists()
    assert ids(await again.history.latest(LOBBY, None, 10)) == [f"m{i}" for i in range(5)]
    assert await again.accounts.verify("amy", "pw") is not None
    assert [c.founder for c in await again.channels.load_all()] == ["amy"]
    await again.close()


async def test_open_store_without_directory_is_memory() -> None:
    """``--data none`` maps to the memory store."""
    store = open_store(None)
    assert isinstance(store, MemoryStore)
    await store.close()


async def test_writes_after_close_raise(tmp_path: Path) -> None:
    """A closed store refuses writes and reads with StoreClosedError."""
    store = SqliteStore(tmp_path / DB_FILENAME)
    await store.close()
    with pytest.raises(StoreClosedError):
        store.history.append(entry("late", T0))
    with pytest.raises(StoreClosedError):
        await store.history.latest(LOBBY, None, 1)


async def test_appends_are_grouped_into_few_transactions(sqlite_store: SqliteStore) -> None:
    """Appends queued while the writer is busy share a transaction."""
    for i in range(5000):
        sqlite_store.history.append(entry(f"m{i}", T0 + i))
    await sqlite_store.flush()
    assert sqlite_store.writer.groups < 1000
    assert len(await sqlite_store.history.latest(LOBBY, None, 10_000)) == 5000


async def test_a_failing_job_does_not_cost_others_their_commit(sqlite_store: SqliteStore) -> None:
    """A job that raises is rolled back alone; the rest of its group commits."""
    sqlite_store.history.append(entry("before", T0))

    def boom(conn: sqlite3.Connection) -> None:
        conn.execute(
            "INSERT INTO accounts (name_folded, name, password_hash, created_at)"
            " VALUES ('x', 'x', 'h', 0)"
        )
        raise RuntimeError("boom")

    failing = sqlite_store.writer.submit(boom)
    sqlite_store.history.append(entry("after", T0 + 1))
    with pytest.raises(RuntimeError, match="boom"):
        await asyncio.wrap_future(failing)
    await sqlite_store.flush()
    assert ids(await sqlite_store.history.latest(LOBBY, None, 10)) == ["before", "after"]
    assert await sqlite_store.accounts.get("x") is None


async def test_a_failing_callback_does_not_starve_the_others(
    sqlite_store: SqliteStore, caplog: pytest.LogCaptureFixture
) -> None:
    """One ``then`` that raises is logged; later callbacks still run."""
    seen: list[str] = []

    def bad() -> None:
        raise ValueError("bad callback")

    sqlite_store.history.append(entry("a", T0), then=bad)
    sqlite_store.history.append(entry("b", T0 + 1), then=lambda: seen.append("b"))
    await sqlite_store.flush()
    assert seen == ["b"]
    assert "callback failed" in caplog.text


async def test_then_without_event_loop_runs_in_writer(tmp_path: Path) -> None:
    """Appends from a plain thread get their callback from the writer thread."""
    store = SqliteStore(tmp_path / DB_FILENAME)
    done = threading.Event()

    def from_thread() -> None:
        store.history.append(entry("t", T0), then=done.set)

    worker = threading.Thread(target=from_thread)
    worker.start()
    worker.join()
    assert await asyncio.to_thread(done.wait, 5.0)
    await store.close()


async def test_reads_run_while_the_writer_is_busy(sqlite_store: SqliteStore) -> None:
    """Concurrent queries see committed entries while appends keep flowing."""
    h = sqlite_store.history
    for i in range(100):
        h.append(entry(f"m{i}", T0 + i))
    await h.flush()

    async def reader() -> int:
        got = await h.latest(LOBBY, None, 50)
        return len(got)

    for i in range(100, 2100):
        h.append(entry(f"m{i}", T0 + i))
    counts = await asyncio.gather(*(reader() for _ in range(20)))
    assert all(count == 50 for count in counts)
    await h.flush()
    assert ids(await h.latest(LOBBY, None, 1)) == ["m2099"]


async def test_integrity_after_heavy_use(sqlite_store: SqliteStore) -> None:
    """Appends, prunes and forgets leave a database that passes integrity_check."""
    h = sqlite_store.history
    for i in range(3000):
        h.append(entry(f"m{i}", T0 + i, direct("amy", f"u{i % 7}") if i % 3 else LOBBY))
    await h.prune(None, 100)
    await h.forget("u3")
    await sqlite_store.flush()
    result = await asyncio.to_thread(
        lambda: sqlite3.connect(sqlite_store.path).execute("PRAGMA integrity_check").fetchall()
    )
    assert result == [("ok",)]


async def test_checkpoints_run_off_the_writer_and_close_truncates(tmp_path: Path) -> None:
    """The checkpointer folds the WAL into the file; after close the WAL is empty."""
    path = tmp_path / DB_FILENAME
    store = SqliteStore(path, checkpoint_interval=0.01)
    for i in range(500):
        store.history.append(entry(f"m{i}", T0 + i))
    await store.flush()
    for _ in range(200):
        if store.checkpointer.runs:
            break
        await asyncio.sleep(0.01)
    assert store.checkpointer.runs > 0
    await store.close()
    wal = path.with_name(path.name + "-wal")
    assert not wal.exists() or wal.stat().st_size == 0


def test_the_wal_starts_over_under_a_load_that_never_pauses(tmp_path: Path) -> None:
    """Appends with no pause for a second: the WAL stays near its limit instead of growing.

    (Without the writer's own checkpoints it reached 170 MB in two seconds of this; the indexer
    now is that writer.)
    """
    path = tmp_path / DB_FILENAME
    limit = 256 * 1024
    store = SqliteStore(path, checkpoint_interval=0.02, wal_limit=limit)
    wal = path.with_name(path.name + "-wal")
    biggest = count = 0
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline:
        for _ in range(200):
            target = direct(f"a{count % 50}", "bob") if count % 2 else LOBBY
            store.history.append(entry(f"m{count}", T0 + count / 1000, target))
            count += 1
        biggest = max(biggest, wal.stat().st_size if wal.exists() else 0)
        time.sleep(0.001)
    store.close_sync()
    assert biggest < 32 * limit, f"WAL reached {biggest} bytes after {count} appends"
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("SELECT count(*) FROM history").fetchone() == (count,)
    finally:
        conn.close()


def test_full_queue_blocks_the_producer_until_the_writer_catches_up(tmp_path: Path) -> None:
    """With a tiny queue, producers of the writer wait instead of losing rows."""
    store = SqliteStore(tmp_path / DB_FILENAME, max_queue=4, max_group=2)
    gate, held = threading.Event(), threading.Event()

    def hold(conn: sqlite3.Connection) -> None:
        held.set()
        gate.wait(5.0)

    store.writer.fire(hold)  # keep the writer busy
    assert held.wait(5.0)
    produced = threading.Event()

    def produce() -> None:
        for i in range(20):
            store.writer.append(_entry_row(entry(f"m{i}", T0 + i)), None)
        produced.set()

    producer = threading.Thread(target=produce)
    producer.start()
    assert not produced.wait(0.2)  # blocked on the full queue
    assert store.writer.pending == 4
    gate.set()
    producer.join(5.0)
    assert produced.is_set()
    store.writer.submit(lambda conn: None).result(5.0)
    count = store.readers.run_sync(lambda c: c.execute("SELECT COUNT(*) FROM history").fetchone())
    assert count == (20,)
    store.close_sync()


async def test_failed_commit_still_delivers_and_reports_the_error(
    sqlite_store: SqliteStore, caplog: pytest.LogCaptureFixture
) -> None:
    """When a writer's group cannot commit, its callbacks still run (commit_error says why,
    inside them) and every waiter gets the error."""
    seen: list[tuple[str, bool]] = []
    writer = sqlite_store.writer
    gate, held = threading.Event(), threading.Event()

    def hold(conn: sqlite3.Connection) -> None:
        held.set()
        gate.wait(5.0)

    writer.fire(hold)  # hold the writer, so the next three jobs form one group
    assert await asyncio.to_thread(held.wait, 5.0)
    writer.fire(lambda conn: conn.execute("COMMIT"))  # breaks the transaction
    writer.append(
        _entry_row(entry("lost", T0)), lambda: seen.append(("lost", bool(commit_error())))
    )
    waiter = asyncio.ensure_future(writer.call(lambda conn: None))
    await asyncio.sleep(0)
    gate.set()
    with pytest.raises(sqlite3.Error):
        await waiter
    assert seen == [("lost", True)]
    assert "not committed" in caplog.text
    assert commit_error() is None  # outside a callback
    writer.append(
        _entry_row(entry("kept", T0 + 1)), lambda: seen.append(("kept", bool(commit_error())))
    )
    await writer.call(lambda conn: None)
    assert seen[-1] == ("kept", False)
    assert ids(await sqlite_store.history.latest(LOBBY, None, 10)) == ["kept"]


async def test_login_upgrades_an_outdated_hash(tmp_path: Path) -> None:
    """After the argon2 parameters change, a successful login rehashes the password."""
    first = SqliteStore(tmp_path / DB_FILENAME, hasher=FAST_HASHER)
    old = await first.accounts.register("Amy", "amy", "pw")
    await first.close()
    stronger = PasswordHasher(time_cost=2, memory_cost=128, parallelism=1)
    again = SqliteStore(tmp_path / DB_FILENAME, hasher=stronger)
    assert await again.accounts.verify("amy", "wrong") is None
    upgraded = await again.accounts.verify("amy", "pw")
    assert upgraded is not None and upgraded.password_hash != old.password_hash
    assert "t=2" in upgraded.password_hash
    assert await again.accounts.verify("amy", "pw") == upgraded
    await again.close()


def test_bucket_sizes_waste_at_most_a_third() -> None:
    """Insert statements come in sizes 1, 2, 3, 4, 6, 8, ...: little padding, few compiles."""
    assert bucket_sizes(1) == [1]
    assert bucket_sizes(13) == [1, 2, 3, 4, 6, 8, 12]
    sizes = bucket_sizes(1024)
    assert sizes[-1] == 1024
    for rows in range(1, 1025):
        size = min(s for s in sizes if s >= rows)
        assert size - rows <= rows // 2


async def test_a_big_group_keeps_append_order_and_nulls(sqlite_store: SqliteStore) -> None:
    """Thousands of rows in one group (several padded statements) keep their order; None
    (no account, no parties) reads back as None."""
    gate, held = threading.Event(), threading.Event()

    def hold(conn: sqlite3.Connection) -> None:
        held.set()
        gate.wait(5.0)

    sqlite_store.writer.fire(hold)  # everything below lands in one group
    assert await asyncio.to_thread(held.wait, 5.0)
    seen: list[int] = []
    for i in range(2500):
        target = direct("amy", "bob") if i % 2 else LOBBY
        account = "amy" if i % 3 == 0 else None
        sqlite_store.history.append(
            entry(f"m{i}", T0, target, account=account), then=functools.partial(seen.append, i)
        )
    gate.set()
    await sqlite_store.flush()
    assert seen == list(range(2500))
    lobby = await sqlite_store.history.latest(LOBBY, None, 5000)
    assert ids(lobby) == [f"m{i}" for i in range(0, 2500, 2)]
    assert [e.account for e in lobby[:3]] == ["amy", None, None]
    private = await sqlite_store.history.latest(direct("bob", "amy"), None, 5000)
    assert ids(private) == [f"m{i}" for i in range(1, 2500, 2)]
    assert all(e.target == direct("amy", "bob") for e in private)


def test_rows_of_the_wrong_width_are_refused(sqlite_store: SqliteStore) -> None:
    """A row that does not match the insert statement fails at once, not in the writer."""
    with pytest.raises(ValueError, match="12 values"):
        sqlite_store.writer.append(("too", "short"), None)


async def test_a_loop_that_never_yields_still_gets_its_rows_written(tmp_path: Path) -> None:
    """Appends on a loop wake the writer at the end of the loop's turn; a turn that fills
    the queue wakes it at once instead of waiting forever."""
    store = SqliteStore(tmp_path / DB_FILENAME, max_queue=8, max_group=4)
    for i in range(100):
        store.history.append(entry(f"m{i}", T0 + i))
    await store.flush()
    assert len(await store.history.latest(LOBBY, None, 200)) == 100
    await store.close()


async def test_schema_1_history_migrates_its_conversations(tmp_path: Path) -> None:
    """A database written before ``conversations`` existed keeps TARGETS and forget working."""
    path = tmp_path / DB_FILENAME
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    apply_migrations(conn, load_migrations()[:1])
    conn.execute(
        "INSERT INTO history (msgid, conv, time_ms, time, party_a, party_b, target_name,"
        " sender, account, command, text) VALUES"
        " ('p1', 'amy bob', ?, ?, 'amy', 'bob', 'bob', 'amy!a@h', NULL, 'PRIVMSG', 'hi'),"
        " ('c1', '#lobby', ?, ?, NULL, NULL, '#lobby', 'amy!a@h', NULL, 'PRIVMSG', 'yo')",
        (int(T0 * 1000), T0, int(T0 * 1000) + 1, T0 + 0.001),
    )
    conn.close()
    store = SqliteStore(path)
    found = await store.history.targets("bob", [], T0 - 1, T0 + 1, 10)
    assert ids(found) == ["p1"]
    store.history.append(entry("p2", T0 + 2, direct("bob", "carol")))
    assert await store.history.forget("bob") == 2
    assert await store.history.targets("bob", ["#lobby"], T0 - 1, T0 + 9, 10) != []
    assert ids(await store.history.targets("carol", [], T0 - 1, T0 + 9, 10)) == []
    await store.close()
