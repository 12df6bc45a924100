"""The PostgreSQL store: accounts, channels, bans and history shared by the nodes of a network.

``--store postgresql://user@host/db`` (or the socket form ``postgresql://user@/db?host=/dir``,
any URL libpq takes) puts everything that survives a restart in one PostgreSQL database, so that
several chinwag nodes share it: register on one node, log in on another, page through the same
CHATHISTORY from any.

It keeps the promises of the SQLite store (``sqlite.py`` has the theory) with the same shape:
one writer thread with group commits and commit callbacks in append order, reads on a small pool
of connections in worker threads, never the event loop (``postgres_connection.py``). The tables
are the SQLite ones; a history row's ``seq`` is an identity column (arrival order in the
database), and inserts are idempotent (``ON CONFLICT (msgid) DO NOTHING``), since in a network
the same line may be handed to the database more than once (a node that restarts re-reads what
it had not acknowledged). CHATHISTORY semantics are ``_query.py``'s, over this module's
`RangeReader`, so every store answers alike (``tests/store`` runs the same suite on all three).

Schema. Created on first use inside a transaction that holds an advisory lock, so that nodes
starting together create it once; its version is kept in ``chinwag_schema``, and a database of a
newer version is refused, as in SQLite. Every statement of ``_SCHEMA`` may run again (``IF NOT
EXISTS``), so an older database is brought up to date by running it whole.
"""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import Iterable
from typing import Any

from argon2 import PasswordHasher

from chinwag.store import _query
from chinwag.store._query import Position
from chinwag.store.base import (
    NO_TAGS,
    Bound,
    ChannelTarget,
    DirectTarget,
    HistoryEntry,
    OnCommit,
    StoreParts,
    Target,
)
from chinwag.store.errors import StoreError
from chinwag.store.postgres_connection import Conn, PgReaders, PgWriter, connect
from chinwag.store.postgres_records import (
    PgAccountStore,
    PgBanStore,
    PgChannelStore,
    drop_account,
)
from chinwag.store.writer import commit_error

__all__ = ["SCHEMA_VERSION", "PgHistoryStore", "PostgresStore", "is_postgres_url"]

SCHEMA_VERSION = 3
_SCHEMA_LOCK = 0x63686E77  # "chnw": the advisory lock key held while creating the schema

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

_HISTORY_COLUMNS = (
    "msgid, conv, time_ms, time, party_a, party_b, target_name, sender, account, command, text,"
    " tags"
)
_COLUMN_TYPES = (
    "text", "text", "int8", "float8", "text", "text", "text", "text", "text", "text", "text",
    "text",
)  # fmt: skip
_ROW_WIDTH = len(_COLUMN_TYPES)
_ARRAYS = ", ".join(f"%s::{kind}[]" for kind in _COLUMN_TYPES)
_NAMES = ", ".join(f"c{i}" for i in range(_ROW_WIDTH))
# One statement per group, whatever its size: each column travels as one array, and the rows
# are inserted in the order they were appended (ORDINALITY), which is the order of ``seq``.
_INSERT_HISTORY = (
    f"INSERT INTO history ({_HISTORY_COLUMNS}) SELECT {_NAMES}"
    f" FROM unnest({_ARRAYS}) WITH ORDINALITY AS r({_NAMES}, n) ORDER BY n"
    " ON CONFLICT (msgid) DO NOTHING"
)

_ENTRY_COLUMNS = (
    "SELECT msgid, conv, time, party_a, party_b, target_name, sender, account, command, text, tags"
    " FROM history"
)


def is_postgres_url(value: str) -> bool:
    """Whether a ``--store`` value names a PostgreSQL database."""
    return value.startswith(("postgresql://", "postgres://"))


def _range_sql(has_lo: bool, has_hi: bool, newest: bool) -> str:
    where = " WHERE conv = %s"
    if has_lo:
        where += " AND (time_ms, seq) > (%s, %s)"
    if has_hi:
        where += " AND (time_ms, seq) < (%s, %s)"
    order = " ORDER BY time_ms DESC, seq DESC" if newest else " ORDER BY time_ms, seq"
    return _ENTRY_COLUMNS + where + order + " LIMIT %s"


_RANGE_SQL = {
    (lo, hi, newest): _range_sql(lo, hi, newest)
    for lo in (False, True)
    for hi in (False, True)
    for newest in (False, True)
}

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
    """Insert a flat list of history rows with one statement (one array per column)."""
    conn.execute(_INSERT_HISTORY, [params[i::_ROW_WIDTH] for i in range(_ROW_WIDTH)])


def _row_entry(row: tuple[Any, ...] | Any) -> HistoryEntry:
    msgid, conv, when, party_a, party_b, target_name, sender, account, command, text, tags = row
    target: Target
    if party_a is not None and party_b is not None:
        target = DirectTarget(str(party_a), str(party_b))
    else:
        target = ChannelTarget(str(conv))
    return HistoryEntry(
        msgid=str(msgid),
        time=float(when),
        target=target,
        target_name=str(target_name),
        sender=str(sender),
        account=None if account is None else str(account),
        command=str(command),
        text=str(text),
        tags=json.loads(str(tags)) if tags != "{}" else NO_TAGS,
    )


class _Range(_query.RangeReader):
    """:class:`~chinwag.store._query.RangeReader` over one reader connection."""

    def __init__(self, conn: Conn) -> None:
        self._conn = conn

    def resolve(self, conv: str, msgid: str) -> Position | None:
        row = self._conn.execute(
            "SELECT time_ms, seq FROM history WHERE msgid = %s AND conv = %s", (msgid, conv)
        ).fetchone()
        return None if row is None else (int(row[0]), int(row[1]))

    def range(
        self, conv: str, lo: Position | None, hi: Position | None, limit: int, newest: bool
    ) -> list[HistoryEntry]:
        params: list[object] = [conv]
        if lo is not None:
            params.extend(lo)
        if hi is not None:
            params.extend(hi)
        params.append(limit)
        sql = _RANGE_SQL[(lo is not None, hi is not None, newest)]
        entries = [_row_entry(row) for row in self._conn.execute(sql, params)]
        if newest:
            entries.reverse()
        return entries


def _forget_history(conn: Conn, party: str) -> int:
    convs = [
        row[0]
        for row in conn.execute(
            "SELECT conv FROM conversations WHERE party_a = %s OR party_b = %s", (party, party)
        ).fetchall()
    ]
    deleted = 0
    for conv in convs:
        deleted += conn.execute("DELETE FROM history WHERE conv = %s", (conv,)).rowcount
        conn.execute("DELETE FROM conversations WHERE conv = %s", (conv,))
    return deleted


class PgHistoryStore:
    """History in the ``history`` table; see the module header."""

    def __init__(self, writer: PgWriter, readers: PgReaders) -> None:
        """Wrap a writer and readers (normally made by :class:`PostgresStore`)."""
        self._writer = writer
        self._readers = readers

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

    async def latest(self, target: Target, after: Bound | None, limit: int) -> list[HistoryEntry]:
        """See :meth:`HistoryStore.latest`."""
        key = target.key
        return await self._readers.run(lambda c: _query.query_latest(_Range(c), key, after, limit))

    async def before(self, target: Target, bound: Bound, limit: int) -> list[HistoryEntry]:
        """See :meth:`HistoryStore.before`."""
        key = target.key
        return await self._readers.run(lambda c: _query.query_before(_Range(c), key, bound, limit))

    async def after(self, target: Target, bound: Bound, limit: int) -> list[HistoryEntry]:
        """See :meth:`HistoryStore.after`."""
        key = target.key
        return await self._readers.run(lambda c: _query.query_after(_Range(c), key, bound, limit))

    async def around(self, target: Target, bound: Bound, limit: int) -> list[HistoryEntry]:
        """See :meth:`HistoryStore.around`."""
        key = target.key
        return await self._readers.run(lambda c: _query.query_around(_Range(c), key, bound, limit))

    async def between(
        self, target: Target, start: Bound, end: Bound, limit: int
    ) -> list[HistoryEntry]:
        """See :meth:`HistoryStore.between`."""
        key = target.key
        return await self._readers.run(
            lambda c: _query.query_between(_Range(c), key, start, end, limit)
        )

    async def targets(
        self, viewer: str, channels: Iterable[str], start: float, end: float, limit: int
    ) -> list[HistoryEntry]:
        """See :meth:`HistoryStore.targets`."""
        if limit <= 0:
            return []
        lo, hi = sorted((_query.time_key(start), _query.time_key(end)))
        wanted = _query.channel_keys(channels)

        def run(conn: Conn) -> list[tuple[int, int, HistoryEntry]]:
            convs = set(wanted)
            convs.update(
                str(row[0])
                for row in conn.execute(
                    "SELECT conv FROM conversations WHERE party_a = %s OR party_b = %s",
                    (viewer, viewer),
                ).fetchall()
            )
            found = []
            for conv in convs:
                row = conn.execute(
                    "SELECT time_ms, seq, msgid, conv, time, party_a, party_b, target_name,"
                    " sender, account, command, text, tags FROM history"
                    " WHERE conv = %s AND time_ms > %s AND time_ms < %s"
                    " ORDER BY time_ms DESC, seq DESC LIMIT 1",
                    (conv, lo, hi),
                ).fetchone()
                if row is not None:
                    found.append((int(row[0]), int(row[1]), _row_entry(row[2:])))
            return found

        found = sorted(await self._readers.run(run), key=lambda item: item[:2])
        return [entry for _, _, entry in _query.keep_targets(found, start, end, limit)]

    async def prune(
        self,
        max_age_days: float | None,
        max_lines_per_target: int | None,
        *,
        now: float | None = None,
    ) -> int:
        """See :meth:`HistoryStore.prune`; one writer job per conversation."""
        if max_age_days is None and max_lines_per_target is None:
            return 0
        cutoff = _query.age_cutoff(max_age_days, now)
        keep = None if max_lines_per_target is None else max(0, max_lines_per_target)
        convs = await self._readers.run(
            lambda c: [
                str(row[0]) for row in c.execute("SELECT DISTINCT conv FROM history").fetchall()
            ]
        )

        def prune_one(conn: Conn, conv: str) -> int:
            deleted = 0
            if cutoff is not None:
                deleted += conn.execute(
                    "DELETE FROM history WHERE conv = %s AND time_ms < %s", (conv, cutoff)
                ).rowcount
            if keep is not None:
                deleted += conn.execute(
                    "DELETE FROM history WHERE seq IN (SELECT seq FROM history WHERE conv = %s"
                    " ORDER BY time_ms DESC, seq DESC OFFSET %s)",
                    (conv, keep),
                ).rowcount
            if deleted:
                conn.execute(
                    "DELETE FROM conversations WHERE conv = %s"
                    " AND NOT EXISTS (SELECT 1 FROM history WHERE conv = %s)",
                    (conv, conv),
                )
            return deleted

        futures = [self._writer.submit(functools.partial(prune_one, conv=conv)) for conv in convs]
        counts = await asyncio.gather(*(asyncio.wrap_future(f) for f in futures))
        return sum(counts)

    async def forget(self, party: str) -> int:
        """See :meth:`HistoryStore.forget`."""
        return await self._writer.call(lambda conn: _forget_history(conn, party))


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
        self._writer = PgWriter(
            url, _insert_rows, _ROW_WIDTH, max_queue=max_queue, max_group=max_group
        )
        self._readers = PgReaders(url, readers)
        super().__init__(
            PgHistoryStore(self._writer, self._readers),
            PgAccountStore(self._writer, self._readers, hasher),
            PgChannelStore(self._writer, self._readers),
            PgBanStore(self._writer),
        )

    @property
    def writer(self) -> PgWriter:
        """The writer thread (its ``groups`` counter shows the grouping)."""
        return self._writer

    async def forget(self, party: str) -> tuple[bool, int]:
        """See :meth:`Store.forget`: account and private history go in one transaction."""

        def run(conn: Conn) -> tuple[bool, int]:
            identity = drop_account(conn, party)
            return identity is not None, _forget_history(conn, identity or party)

        return await self._writer.call(run)

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
