"""The PostgreSQL store: accounts, channels, bans and history shared by the nodes of a network.

``--store postgresql://user@host/db`` (or the socket form ``postgresql://user@/db?host=/dir``,
any URL libpq takes) puts everything that survives a restart in one PostgreSQL database, so that
several chinwag nodes share it: register on one node, log in on another, page through the same
CHATHISTORY from any.

It is the SQLite store's code (``sqlite.py`` has the theory): the same writer thread with group
commits and commit callbacks in append order (``writer.py``), the same reader pool
(``readers.py``), the same SQL for records and history queries (``sql_records.py``,
``sql_history.py``); `PostgresDatabase` (``postgres_connection.py``) is what differs. What is
this module's own: the schema, and how history rows get in. There is no journal here: the
writer inserts a group's rows with one statement, and the commit is the durability point. A
row's ``seq`` is an identity column (arrival order in the database), and inserts are idempotent
(``ON CONFLICT (msgid) DO NOTHING``), since in a network the same line may be handed to the
database more than once (a node that restarts re-reads what it had not acknowledged).

Forgetting. In a network, a line reaches PostgreSQL after it was delivered (the history feed
moves it from Redis), so a line of an account being dropped may arrive after the drop: it was
still in Redis, or another node was inserting it at that moment. So a drop leaves a tombstone
(``forgotten``: the dropped identity), and an insert skips every row of a forgotten identity.
An advisory lock orders the two: every insert holds it shared for its transaction, a drop
exclusively, so a drop waits for the inserts in flight (and then deletes their rows), and an
insert that comes after it sees the tombstone.

Reads. A read of several statements (CHATHISTORY AROUND, TARGETS) runs in one ``REPEATABLE
READ`` read-only transaction, so that it sees one snapshot, as SQLite's read transaction does
(``postgres_connection.py``).

Schema. Created on first use inside a transaction that holds an advisory lock, so that nodes
starting together create it once; its version is kept in ``chinwag_schema``, and a database of a
newer version is refused, as in SQLite. Every statement of ``_SCHEMA`` may run again (``IF NOT
EXISTS``), so an older database is brought up to date by running it whole.
"""

from __future__ import annotations

import asyncio
import json

from argon2 import PasswordHasher

from chinwag.store import _query
from chinwag.store.base import DirectTarget, HistoryEntry, OnCommit, StoreParts
from chinwag.store.errors import StoreError
from chinwag.store.history_rows import HISTORY_COLUMNS, ROW_WIDTH
from chinwag.store.postgres_connection import Conn, PostgresDatabase, connect
from chinwag.store.readers import ReaderPool
from chinwag.store.sql_history import SqlHistoryIndex, forget_history
from chinwag.store.sql_records import SqlAccountStore, SqlBanStore, SqlChannelStore, drop_account
from chinwag.store.writer import Writer, commit_error

__all__ = ["SCHEMA_VERSION", "PgHistoryStore", "PostgresStore"]

SCHEMA_VERSION = 4
_SCHEMA_LOCK = 0x63686E77  # "chnw": the advisory lock key held while creating the schema
_FORGET_LOCK = 0x63686E78  # "chnx": held shared by inserts of history, exclusively by a drop

_SCHEMA = """
CREATE TABLE IF NOT EXISTS chinwag_schema (version INTEGER NOT NULL);

CREATE TABLE IF NOT EXISTS history (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    msgid TEXT NOT NULL UNIQUE,
    conv TEXT NOT NULL,
    time_ms BIGINT NOT NULL,
    time DOUBLE PRECISION NOT NULL,
    party_a TEXT,
    party_b TEXT,
    target_name TEXT NOT NULL,
    sender TEXT NOT NULL,
    account TEXT,
    command TEXT NOT NULL,
    text TEXT NOT NULL,
    tags TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS history_conv_position ON history (conv, time_ms, seq);

-- One row per private conversation (see the SQLite migration 0002), kept by a trigger.
CREATE TABLE IF NOT EXISTS conversations (
    conv TEXT PRIMARY KEY,
    party_a TEXT NOT NULL,
    party_b TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS conversations_party_a ON conversations (party_a);
CREATE INDEX IF NOT EXISTS conversations_party_b ON conversations (party_b);

CREATE OR REPLACE FUNCTION chinwag_history_conversation() RETURNS trigger AS $$
BEGIN
    INSERT INTO conversations (conv, party_a, party_b)
        VALUES (NEW.conv, NEW.party_a, NEW.party_b) ON CONFLICT DO NOTHING;
    RETURN NULL;
END $$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS history_conversation ON history;
CREATE TRIGGER history_conversation AFTER INSERT ON history
    FOR EACH ROW WHEN (NEW.party_a IS NOT NULL)
    EXECUTE FUNCTION chinwag_history_conversation();

CREATE TABLE IF NOT EXISTS accounts (
    name_folded TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    email TEXT,
    created_at DOUBLE PRECISION NOT NULL,
    admin BOOLEAN NOT NULL DEFAULT FALSE
);
-- Schema 2: SCRAM-SHA-256 credentials beside the argon2 hash (see SQLite migration 0003).
ALTER TABLE accounts ADD COLUMN IF NOT EXISTS scram TEXT;
-- Schema 3: identities (SQLite migrations 0004 and 0005).
ALTER TABLE accounts ADD COLUMN IF NOT EXISTS uid TEXT NOT NULL DEFAULT '';

CREATE TABLE IF NOT EXISTS channels (
    name_folded TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    founder TEXT,
    registered_at DOUBLE PRECISION,
    topic_text TEXT,
    topic_set_by TEXT,
    topic_set_at DOUBLE PRECISION,
    modes TEXT NOT NULL DEFAULT '',
    bans TEXT NOT NULL DEFAULT '[]'
);
ALTER TABLE channels ADD COLUMN IF NOT EXISTS identity TEXT NOT NULL DEFAULT '';

-- Schema 4: the identities whose history was dropped (tombstones: see the module header).
CREATE TABLE IF NOT EXISTS forgotten (party TEXT PRIMARY KEY);

CREATE TABLE IF NOT EXISTS server_bans (
    kind TEXT NOT NULL,
    target TEXT NOT NULL,
    reason TEXT NOT NULL,
    set_by TEXT NOT NULL,
    set_at DOUBLE PRECISION NOT NULL,
    expires_at DOUBLE PRECISION,
    PRIMARY KEY (kind, target)
);
"""

# The type of each of the row's columns (`HISTORY_COLUMNS`), for its array.
_COLUMN_TYPES = (
    "text", "text", "int8", "float8", "text", "text", "text", "text", "text", "text", "text",
    "text",
)  # fmt: skip
assert len(_COLUMN_TYPES) == ROW_WIDTH
_ARRAYS = ", ".join(f"%s::{kind}[]" for kind in _COLUMN_TYPES)
_NAMES = ", ".join(f"c{i}" for i in range(ROW_WIDTH))
# One statement per group, whatever its size: each column travels as one array, and the rows
# are inserted in the order they were appended (ORDINALITY), which is the order of ``seq``.
# A row of a forgotten identity (c4, c5: its parties; NULL for a channel) is left out.
_INSERT_HISTORY = (
    f"INSERT INTO history ({HISTORY_COLUMNS}) SELECT {_NAMES}"
    f" FROM unnest({_ARRAYS}) WITH ORDINALITY AS r({_NAMES}, n)"
    " WHERE NOT EXISTS (SELECT 1 FROM forgotten WHERE party IN (c4, c5))"
    " ORDER BY n ON CONFLICT (msgid) DO NOTHING"
)
_INSERTING = f"SELECT pg_advisory_xact_lock_shared({_FORGET_LOCK})"
_FORGETTING = f"SELECT pg_advisory_xact_lock({_FORGET_LOCK})"
_TOMBSTONE = "INSERT INTO forgotten (party) VALUES (%s) ON CONFLICT DO NOTHING"


_encode_tags = json.JSONEncoder(separators=(",", ":")).encode


def _entry_row(entry: HistoryEntry) -> tuple[object, ...]:
    msgid, when, target, target_name, sender, account, command, text, tags = entry
    party_a: str | None = None
    party_b: str | None = None
    if isinstance(target, DirectTarget):
        conv, party_a, party_b = target.key, target.party_a, target.party_b
    else:
        conv = target.channel_folded
    return (
        msgid,
        conv,
        _query.time_key(when),
        when,
        party_a,
        party_b,
        target_name,
        sender,
        account,
        command,
        text,
        _encode_tags(dict(tags)) if tags else "{}",
    )


def _insert_rows(conn: Conn, params: list[object]) -> None:
    """Insert a flat list of history rows with one statement (one array per column), after
    any drop in progress (its statement then sees the drop's tombstone)."""
    conn.execute(_INSERTING)
    conn.execute(_INSERT_HISTORY, [params[i::ROW_WIDTH] for i in range(ROW_WIDTH)])


def _forget(db: PostgresDatabase, conn: Conn, party: str, *, account: bool) -> tuple[bool, int]:
    """Drop the account named ``party`` (with ``account``) and the private history of its
    identity (or of ``party`` itself), and leave the identity's tombstone (a writer job).

    Returns:
        Whether an account was dropped, and how many history entries were deleted.
    """
    conn.execute(_FORGETTING)  # waits for the inserts in flight, on every node
    identity = drop_account(db, conn, party) if account else None
    conn.execute(_TOMBSTONE, (identity or party,))
    return identity is not None, forget_history(db, conn, identity or party)


class PgHistoryStore(SqlHistoryIndex[Conn]):
    """History in the ``history`` table: the shared queries, and appends through the writer."""

    def append(self, entry: HistoryEntry, then: OnCommit | None = None) -> None:
        """See :meth:`HistoryStore.append`. Raises: StoreClosedError after close."""
        self._writer.append(_entry_row(entry), then)

    async def probe_write(self) -> None:
        """See :meth:`HistoryStore.probe_write`: one real write, committed."""
        await self._writer.call(
            lambda conn: conn.execute("UPDATE chinwag_schema SET version = version")
        )

    def commit_error(self) -> BaseException | None:
        """See :meth:`HistoryStore.commit_error`."""
        return commit_error()

    def end_turn(self) -> None:
        """See :meth:`HistoryStore.end_turn`: nothing to do, the writer thread commits groups
        on its own and reports each entry through its callback."""

    def after_writes(self, then: OnCommit) -> None:
        """See :meth:`HistoryStore.after_writes`. Raises: StoreClosedError after close."""
        self._writer.append(None, then)

    async def flush(self) -> None:
        """See :meth:`HistoryStore.flush`."""
        await self._writer.call(lambda conn: None)

    async def forget(self, party: str) -> int:
        """See :meth:`HistoryStore.forget`: with a tombstone (see the module header)."""
        db = self._db
        assert isinstance(db, PostgresDatabase)
        # Alone: an insert's shared lock earlier in its transaction would deadlock with a drop
        # on another node.
        _, deleted = await self._writer.call(
            lambda conn: _forget(db, conn, party, account=False), alone=True
        )
        return deleted


def create_schema(url: str) -> None:
    """Create the tables (once, whoever comes first) and check the schema's version.

    Raises:
        StoreError: when the database's schema is newer than this code.
        psycopg.Error: when the database cannot be reached or changed.
    """
    with connect(url) as conn, conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
        exists = conn.execute("SELECT to_regclass('chinwag_schema') IS NOT NULL").fetchone()
        version = 0
        if exists is not None and exists[0]:
            row = conn.execute("SELECT max(version) FROM chinwag_schema").fetchone()
            version = 0 if row is None or row[0] is None else int(row[0])
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"the database's schema is version {version}, newer than this chinwag"
                f" ({SCHEMA_VERSION}): upgrade chinwag"
            )
        if version < SCHEMA_VERSION:
            conn.execute(_SCHEMA)
            conn.execute("DELETE FROM chinwag_schema")
            conn.execute("INSERT INTO chinwag_schema (version) VALUES (%s)", (SCHEMA_VERSION,))


class PostgresStore(StoreParts):
    """All four stores in one PostgreSQL database: one writer thread, a few readers."""

    def __init__(
        self,
        url: str,
        *,
        hasher: PasswordHasher | None = None,
        readers: int = 4,
        max_queue: int = 65_536,
        max_group: int = 4_096,
    ) -> None:
        """Connect to ``url``, creating the schema when the database has none.

        Args:
            url: a libpq URL (``postgresql://user@host/db``, ``postgresql://user@/db?host=/dir``).
            hasher: argon2 parameters for accounts (None: the default profile).
            readers: how many read connections at most.
            max_queue: writes that may wait before producers block.
            max_group: writes committed in one transaction at most.

        Raises:
            StoreError: when the schema is newer than this code.
            psycopg.Error: when the database cannot be reached.
        """
        self.url = url
        create_schema(url)
        self._db = PostgresDatabase(url)
        self._writer = Writer(
            self._db,
            self._db.connect(),
            max_queue=max_queue,
            max_group=max_group,
            insert_rows=_insert_rows,
            row_width=ROW_WIDTH,
        )
        self._readers = ReaderPool(self._db, readers)
        super().__init__(
            PgHistoryStore(self._db, self._writer, self._readers),
            SqlAccountStore(self._db, self._writer, self._readers, hasher),
            SqlChannelStore(self._db, self._writer, self._readers),
            SqlBanStore(self._db, self._writer),
        )

    @property
    def database(self) -> PostgresDatabase:
        """The database, as the shared SQL code sees it."""
        return self._db

    @property
    def readers(self) -> ReaderPool[Conn]:
        """The pool of read connections."""
        return self._readers

    @property
    def writer(self) -> Writer[Conn]:
        """The writer thread (its ``groups`` counter shows the grouping)."""
        return self._writer

    async def forget(self, party: str) -> tuple[bool, int]:
        """See :meth:`Store.forget`: account and private history go in one transaction, and
        the identity's tombstone with them (see the module header)."""
        return await self._writer.call(
            lambda conn: _forget(self._db, conn, party, account=True), alone=True
        )

    async def flush(self) -> None:
        """See :meth:`Store.flush`."""
        await self._writer.call(lambda conn: None)

    async def close(self) -> None:
        """See :meth:`Store.close`; idempotent."""
        await asyncio.to_thread(self.close_sync)

    def close_sync(self) -> None:
        """:meth:`close` for code without an event loop."""
        self._writer.close()
        self._readers.close()
