"""What only the SQLite store does: files, migrations, reopening, WAL checkpoints."""

from __future__ import annotations

import asyncio
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
    HistoryIndex,
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
from chinwag.store.sql_history import SqlHistoryIndex
from chinwag.store.sql_records import SqlAccountStore, SqlBanStore, SqlChannelStore
from chinwag.store.sqlite_connection import MIN_SQLITE

from .factories import FAST_HASHER, LOBBY, T0, direct, entry, ids


def test_protocol_conformance(sqlite_store: SqliteStore) -> None:
    """Both implementations satisfy the Protocols (checked by mypy on these assignments)."""
    stores: list[Store] = [sqlite_store, MemoryStore()]
    db, writer, readers = sqlite_store.database, sqlite_store.writer, sqlite_store.readers
    history: HistoryIndex = SqlHistoryIndex(db, writer, readers)
    memory_history: HistoryStore = MemoryHistoryStore()
    accounts: AccountStore = SqlAccountStore(db, writer, readers)
    channels: ChannelStore = SqlChannelStore(db, writer, readers)
    bans: BanStore = SqlBanStore(db, writer)
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


def test_an_sqlite_too_old_for_the_store_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An SQLite older than 3.24 (no upsert) is refused with a StoreError naming both versions,
    before any file is made; the library this test runs on is new enough."""
    assert sqlite3.sqlite_version_info >= MIN_SQLITE
    monkeypatch.setattr(sqlite3, "sqlite_version_info", (3, 22, 0))
    monkeypatch.setattr(sqlite3, "sqlite_version", "3.22.0")
    with pytest.raises(StoreError, match=r"SQLite 3\.24\.0 or newer; Python uses 3\.22\.0"):
        SqliteStore(tmp_path / DB_FILENAME)
    assert list(tmp_path.iterdir()) == []


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


async def test_then_without_event_loop_runs_at_once(tmp_path: Path) -> None:
    """Appends from a plain thread (no event loop) are written and get their callback at once."""
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
