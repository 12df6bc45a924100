"""Accounts, channels and server bans in SQL tables, for SQLite and PostgreSQL alike.

Small tables, written through the store's one writer (``writer.py``) and read on its reader pool
(``readers.py``); what differs between the two databases is a `Database` (``database.py``). The
statements are written once, with ``?`` placeholders, in SQL both run (the upsert is the
standard ``INSERT ... ON CONFLICT ... DO UPDATE``, which SQLite has had since 3.24). Several
nodes sharing one PostgreSQL database see one set of accounts, registered channels and bans;
the primary keys decide a race between them.

Password hashing runs in a worker thread *before* the write is queued (``account_rules.py``
runs the checks and argon2), so the writer thread never spends CPU on argon2.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, Generic

from argon2 import PasswordHasher

from chinwag.store.account_rules import (
    hash_for_new_password,
    new_account,
    scram_for,
    verify_and_rehash,
)
from chinwag.store.base import (
    Account,
    BanKind,
    ChannelBan,
    ChannelRecord,
    ServerBan,
    Topic,
    check_name,
)
from chinwag.store.database import C, Cursor, Database
from chinwag.store.errors import AccountExistsError, NoSuchAccountError
from chinwag.store.readers import ReaderPool
from chinwag.store.writer import Writer

__all__ = ["SqlAccountStore", "SqlBanStore", "SqlChannelStore", "drop_account", "upsert_sql"]


def upsert_sql(table: str, columns: tuple[str, ...], key: tuple[str, ...]) -> str:
    """The INSERT of one row of ``columns`` that replaces the row with the same ``key``.

    Args:
        table: the table.
        columns: every column the row sets, in parameter order.
        key: the primary key's columns (a subset of ``columns``).
    """
    updates = ", ".join(f"{column} = excluded.{column}" for column in columns if column not in key)
    return (
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
        f" ON CONFLICT ({', '.join(key)}) DO UPDATE SET {updates}"
    )


_SELECT_ACCOUNTS = (
    "SELECT name, name_folded, password_hash, email, created_at, admin, scram, uid FROM accounts"
)
_INSERT_ACCOUNT = (
    "INSERT INTO accounts (name, name_folded, password_hash, email, created_at, admin, scram,"
    " uid) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
_GET_ACCOUNT = _SELECT_ACCOUNTS + " WHERE name_folded = ?"
_NAMES_PER_QUERY = 500
"""Names per ``IN (...)`` look-up: well under either database's limit on bound parameters."""
_LIST_ACCOUNTS = _SELECT_ACCOUNTS + " ORDER BY name_folded"
_SET_PASSWORD = "UPDATE accounts SET password_hash = ?, scram = ? WHERE name_folded = ?"
_SET_ADMIN = "UPDATE accounts SET admin = ? WHERE name_folded = ?"
_DELETE_ACCOUNT = "DELETE FROM accounts WHERE name_folded = ?"


def _row_account(row: Any) -> Account:
    name, folded, password_hash, email, created_at, admin, scram, uid = row
    return Account(
        name=str(name),
        name_folded=str(folded),
        password_hash=str(password_hash),
        email=None if email is None else str(email),
        created_at=float(created_at),
        admin=bool(admin),
        scram=str(scram or ""),  # NULL: stored before SCRAM credentials existed
        uid=str(uid),
    )


def _get_account(db: Database[C], conn: C, name_folded: str) -> Account | None:
    row = conn.execute(db.sql(_GET_ACCOUNT), (name_folded,)).fetchone()
    return None if row is None else _row_account(row)


def _require_change(cursor: Cursor, name_folded: str) -> None:
    if cursor.rowcount == 0:
        raise NoSuchAccountError(name_folded)


def drop_account(db: Database[C], conn: C, name_folded: str) -> str | None:
    """Delete an account inside a writer job.

    Returns:
        Its party (`Account.party`), or None when there was no such account.
    """
    account = _get_account(db, conn, name_folded)
    if account is None:
        return None
    conn.execute(db.sql(_DELETE_ACCOUNT), (name_folded,))
    return account.party


class SqlAccountStore(Generic[C]):
    """Accounts in the ``accounts`` table."""

    def __init__(
        self,
        db: Database[C],
        writer: Writer[C],
        readers: ReaderPool[C],
        hasher: PasswordHasher | None = None,
    ) -> None:
        """Wrap a store's writer and reader pool.

        Args:
            db: the database.
            writer: the store's writer.
            readers: the store's reader pool.
            hasher: argon2 parameters (None: the default argon2id profile).
        """
        self._db = db
        self._writer = writer
        self._readers = readers
        self._hasher = hasher

    async def register(
        self,
        name: str,
        name_folded: str,
        password: str | bytes,
        *,
        email: str | None = None,
        admin: bool = False,
    ) -> Account:
        """See :meth:`AccountStore.register`; the primary key decides a race."""
        account = await new_account(
            self, name, name_folded, password, self._hasher, email=email, admin=admin
        )
        row = (
            name, name_folded, account.password_hash, email, account.created_at, admin,
            account.scram, account.uid,
        )  # fmt: skip
        db = self._db
        sql = db.sql(_INSERT_ACCOUNT)

        def insert(conn: C) -> None:
            try:
                conn.execute(sql, row)
            except db.duplicate_key:
                raise AccountExistsError(name_folded) from None

        await self._writer.call(insert)
        return account

    async def verify(self, name_folded: str, password: str | bytes) -> Account | None:
        """See :meth:`AccountStore.verify`; an outdated hash is redone on success."""
        return await verify_and_rehash(self, name_folded, password, self._hasher)

    async def get(self, name_folded: str) -> Account | None:
        """See :meth:`AccountStore.get`."""
        return await self._readers.run(lambda conn: _get_account(self._db, conn, name_folded))

    async def registered_among(self, names_folded: Iterable[str]) -> set[str]:
        """See :meth:`AccountStore.registered_among`."""
        names = list(names_folded)
        db = self._db

        def read(conn: C) -> set[str]:
            found: set[str] = set()
            for start in range(0, len(names), _NAMES_PER_QUERY):
                chunk = names[start : start + _NAMES_PER_QUERY]
                marks = ",".join("?" * len(chunk))
                sql = db.sql(f"SELECT name_folded FROM accounts WHERE name_folded IN ({marks})")
                found.update(str(row[0]) for row in conn.execute(sql, chunk))
            return found

        return await self._readers.run(read) if names else set()

    async def set_password(self, name_folded: str, password: str | bytes) -> None:
        """See :meth:`AccountStore.set_password`."""
        password_hash = await hash_for_new_password(self, name_folded, password, self._hasher)
        scram = await scram_for(password)
        sql = self._db.sql(_SET_PASSWORD)
        await self._writer.call(
            lambda conn: _require_change(
                conn.execute(sql, (password_hash, scram, name_folded)), name_folded
            )
        )

    async def set_admin(self, name_folded: str, admin: bool) -> None:
        """See :meth:`AccountStore.set_admin`."""
        sql = self._db.sql(_SET_ADMIN)
        await self._writer.call(
            lambda conn: _require_change(conn.execute(sql, (admin, name_folded)), name_folded)
        )

    async def drop(self, name_folded: str) -> bool:
        """See :meth:`AccountStore.drop`."""
        return await self._writer.call(
            lambda conn: drop_account(self._db, conn, name_folded) is not None
        )

    async def list_all(self) -> list[Account]:
        """See :meth:`AccountStore.list_all`."""
        sql = self._db.sql(_LIST_ACCOUNTS)
        return await self._readers.run(
            lambda conn: [_row_account(row) for row in conn.execute(sql)]
        )


_CHANNEL_COLUMNS = (
    "name",
    "name_folded",
    "founder",
    "registered_at",
    "topic_text",
    "topic_set_by",
    "topic_set_at",
    "modes",
    "bans",
    "identity",
)
_SELECT_CHANNELS = f"SELECT {', '.join(_CHANNEL_COLUMNS)} FROM channels"
_SAVE_CHANNEL = upsert_sql("channels", _CHANNEL_COLUMNS, ("name_folded",))
_GET_CHANNEL = _SELECT_CHANNELS + " WHERE name_folded = ?"
_LIST_CHANNELS = _SELECT_CHANNELS + " ORDER BY name_folded"
_DELETE_CHANNEL = "DELETE FROM channels WHERE name_folded = ?"


def _row_channel(row: Any) -> ChannelRecord:
    name, folded, founder, registered_at, text, set_by, set_at, modes, bans, identity = row
    topic = None
    if text is not None:
        topic = Topic(str(text), str(set_by), float(set_at))
    return ChannelRecord(
        name=str(name),
        name_folded=str(folded),
        founder=None if founder is None else str(founder),
        registered_at=None if registered_at is None else float(registered_at),
        topic=topic,
        modes=str(modes),
        bans=tuple(_list_entry(entry) for entry in json.loads(str(bans))),
        identity=str(identity),
    )


def _list_entry(entry: list[Any]) -> ChannelBan:
    """A stored list entry: ``[mask, set_by, set_at]`` is a ban (as schema 1 wrote them), a
    fourth element names another list (``e``, ``I``)."""
    mode = str(entry[3]) if len(entry) > 3 else "b"
    return ChannelBan(str(entry[0]), str(entry[1]), float(entry[2]), mode)


def _entry_json(ban: ChannelBan) -> list[object]:
    if ban.mode == "b":
        return [ban.mask, ban.set_by, ban.set_at]
    return [ban.mask, ban.set_by, ban.set_at, ban.mode]


class SqlChannelStore(Generic[C]):
    """Channel records in the ``channels`` table."""

    def __init__(self, db: Database[C], writer: Writer[C], readers: ReaderPool[C]) -> None:
        """Wrap a store's writer and reader pool."""
        self._db = db
        self._writer = writer
        self._readers = readers

    def save(self, record: ChannelRecord) -> None:
        """See :meth:`ChannelStore.save`. Raises: InvalidNameError, StoreClosedError."""
        check_name(record.name_folded, "channel")
        topic = record.topic
        row = (
            record.name,
            record.name_folded,
            record.founder,
            record.registered_at,
            None if topic is None else topic.text,
            None if topic is None else topic.set_by,
            None if topic is None else topic.set_at,
            record.modes,
            json.dumps([_entry_json(b) for b in record.bans]),
            record.identity,
        )
        sql = self._db.sql(_SAVE_CHANNEL)
        self._writer.fire(lambda conn: conn.execute(sql, row))

    def delete(self, name_folded: str) -> None:
        """See :meth:`ChannelStore.delete`. Raises: StoreClosedError after close."""
        sql = self._db.sql(_DELETE_CHANNEL)
        self._writer.fire(lambda conn: conn.execute(sql, (name_folded,)))

    async def get(self, name_folded: str) -> ChannelRecord | None:
        """See :meth:`ChannelStore.get`."""
        sql = self._db.sql(_GET_CHANNEL)

        def read(conn: C) -> ChannelRecord | None:
            row = conn.execute(sql, (name_folded,)).fetchone()
            return None if row is None else _row_channel(row)

        return await self._readers.run(read)

    async def load_all(self) -> list[ChannelRecord]:
        """See :meth:`ChannelStore.load_all`."""
        sql = self._db.sql(_LIST_CHANNELS)
        return await self._readers.run(
            lambda conn: [_row_channel(row) for row in conn.execute(sql)]
        )


_BAN_COLUMNS = ("kind", "target", "reason", "set_by", "set_at", "expires_at")
_ADD_BAN = upsert_sql("server_bans", _BAN_COLUMNS, ("kind", "target"))
_REMOVE_BAN = "DELETE FROM server_bans WHERE kind = ? AND target = ?"
_EXPIRE_BANS = "DELETE FROM server_bans WHERE expires_at IS NOT NULL AND expires_at <= ?"
_LIST_BANS = f"SELECT {', '.join(_BAN_COLUMNS)} FROM server_bans ORDER BY set_at, kind, target"


class SqlBanStore(Generic[C]):
    """Server bans in the ``server_bans`` table."""

    def __init__(self, db: Database[C], writer: Writer[C]) -> None:
        """Wrap the store's writer; ban lists are read on the writer too, to purge expired
        bans."""
        self._db = db
        self._writer = writer

    async def add(self, ban: ServerBan) -> None:
        """See :meth:`BanStore.add`."""
        check_name(ban.target, "ban target")
        sql = self._db.sql(_ADD_BAN)
        row = (ban.kind.value, ban.target, ban.reason, ban.set_by, ban.set_at, ban.expires_at)
        await self._writer.call(lambda conn: conn.execute(sql, row))

    async def remove(self, kind: BanKind, target: str) -> bool:
        """See :meth:`BanStore.remove`."""
        sql = self._db.sql(_REMOVE_BAN)
        return await self._writer.call(
            lambda conn: conn.execute(sql, (kind.value, target)).rowcount > 0
        )

    async def list_active(self, now: float) -> list[ServerBan]:
        """See :meth:`BanStore.list_active`."""
        expire, select = self._db.sql(_EXPIRE_BANS), self._db.sql(_LIST_BANS)

        def run(conn: C) -> list[ServerBan]:
            conn.execute(expire, (now,))
            rows = conn.execute(select).fetchall()
            return [ServerBan(BanKind(k), t, r, s, a, e) for k, t, r, s, a, e in rows]

        return await self._writer.call(run)
