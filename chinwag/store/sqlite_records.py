"""SQLite accounts, channels and server bans: small tables, written through the one writer.

Threads and durability are explained in ``sqlite.py``. Password hashing runs in a worker thread
*before* the write is queued, so the writer thread never spends CPU on argon2.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable
from typing import Any

from argon2 import PasswordHasher

from chinwag.store.account_rules import (
    hash_for_new_account,
    hash_for_new_password,
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
    new_account_uid,
)
from chinwag.store.errors import AccountExistsError, NoSuchAccountError
from chinwag.store.readers import ReaderPool
from chinwag.store.writer import Writer

__all__ = ["SqliteAccountStore", "SqliteBanStore", "SqliteChannelStore", "drop_account"]

_ACCOUNT_COLUMNS = (
    "SELECT name, name_folded, password_hash, email, created_at, admin, scram, uid FROM accounts"
)


def _row_account(row: Any) -> Account:
    name, folded, password_hash, email, created_at, admin, scram, uid = row
    return Account(
        name=str(name),
        name_folded=str(folded),
        password_hash=str(password_hash),
        email=None if email is None else str(email),
        created_at=float(created_at),
        admin=bool(admin),
        scram=str(scram or ""),
        uid=str(uid),
    )


_NAMES_PER_QUERY = 500
"""Names per ``IN (...)`` look-up: well under SQLite's limit on bound parameters."""


def _get_account(conn: sqlite3.Connection, name_folded: str) -> Account | None:
    row = conn.execute(_ACCOUNT_COLUMNS + " WHERE name_folded = ?", (name_folded,)).fetchone()
    return None if row is None else _row_account(row)


def _require_change(cursor: sqlite3.Cursor, name_folded: str) -> None:
    if cursor.rowcount == 0:
        raise NoSuchAccountError(name_folded)


class SqliteAccountStore:
    """Accounts in the ``accounts`` table."""

    def __init__(
        self, writer: Writer, readers: ReaderPool, hasher: PasswordHasher | None = None
    ) -> None:
        """Wrap a writer and a reader pool (normally made by ``SqliteStore``).

        Args:
            writer: the store's writer.
            readers: the store's reader pool.
            hasher: argon2 parameters (None: the default argon2id profile).
        """
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
        """See :meth:`AccountStore.register`."""
        password_hash = await hash_for_new_account(self, name, name_folded, password, self._hasher)
        scram = await scram_for(password)
        uid = new_account_uid()
        account = Account(name, name_folded, password_hash, email, time.time(), admin, scram, uid)

        def insert(conn: sqlite3.Connection) -> None:
            try:
                conn.execute(
                    "INSERT INTO accounts (name, name_folded, password_hash, email, created_at,"
                    " admin, scram, uid) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        name,
                        name_folded,
                        password_hash,
                        email,
                        account.created_at,
                        admin,
                        scram,
                        uid,
                    ),
                )
            except sqlite3.IntegrityError:
                raise AccountExistsError(name_folded) from None

        await self._writer.call(insert)
        return account

    async def verify(self, name_folded: str, password: str | bytes) -> Account | None:
        """See :meth:`AccountStore.verify`; an outdated hash is redone on success."""
        return await verify_and_rehash(self, name_folded, password, self._hasher)

    async def get(self, name_folded: str) -> Account | None:
        """See :meth:`AccountStore.get`."""
        return await self._readers.run(lambda conn: _get_account(conn, name_folded))

    async def registered_among(self, names_folded: Iterable[str]) -> set[str]:
        """See :meth:`AccountStore.registered_among`."""
        names = list(names_folded)

        def read(conn: sqlite3.Connection) -> set[str]:
            found: set[str] = set()
            for start in range(0, len(names), _NAMES_PER_QUERY):
                chunk = names[start : start + _NAMES_PER_QUERY]
                marks = ",".join("?" * len(chunk))
                sql = f"SELECT name_folded FROM accounts WHERE name_folded IN ({marks})"
                found.update(row[0] for row in conn.execute(sql, chunk))
            return found

        return await self._readers.run(read) if names else set()

    async def set_password(self, name_folded: str, password: str | bytes) -> None:
        """See :meth:`AccountStore.set_password`."""
        password_hash = await hash_for_new_password(self, name_folded, password, self._hasher)
        scram = await scram_for(password)
        await self._writer.call(
            lambda conn: _require_change(
                conn.execute(
                    "UPDATE accounts SET password_hash = ?, scram = ? WHERE name_folded = ?",
                    (password_hash, scram, name_folded),
                ),
                name_folded,
            )
        )

    async def set_admin(self, name_folded: str, admin: bool) -> None:
        """See :meth:`AccountStore.set_admin`."""
        await self._writer.call(
            lambda conn: _require_change(
                conn.execute(
                    "UPDATE accounts SET admin = ? WHERE name_folded = ?", (admin, name_folded)
                ),
                name_folded,
            )
        )

    async def drop(self, name_folded: str) -> bool:
        """See :meth:`AccountStore.drop`."""
        return await self._writer.call(lambda conn: drop_account(conn, name_folded) is not None)

    async def list_all(self) -> list[Account]:
        """See :meth:`AccountStore.list_all`."""
        return await self._readers.run(
            lambda conn: [
                _row_account(row)
                for row in conn.execute(_ACCOUNT_COLUMNS + " ORDER BY name_folded")
            ]
        )


def drop_account(conn: sqlite3.Connection, name_folded: str) -> str | None:
    """Delete an account inside a writer job. Returns: its party (`Account.party`), or None
    when there was no such account."""
    account = _get_account(conn, name_folded)
    if account is None:
        return None
    conn.execute("DELETE FROM accounts WHERE name_folded = ?", (name_folded,))
    return account.party


_CHANNEL_COLUMNS = (
    "SELECT name, name_folded, founder, registered_at, topic_text, topic_set_by, topic_set_at,"
    " modes, bans, identity FROM channels"
)


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


class SqliteChannelStore:
    """Channel records in the ``channels`` table."""

    def __init__(self, writer: Writer, readers: ReaderPool) -> None:
        """Wrap a writer and a reader pool (normally made by ``SqliteStore``)."""
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
        self._writer.fire(
            lambda conn: conn.execute(
                "INSERT OR REPLACE INTO channels (name, name_folded, founder, registered_at,"
                " topic_text, topic_set_by, topic_set_at, modes, bans, identity)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                row,
            )
        )

    def delete(self, name_folded: str) -> None:
        """See :meth:`ChannelStore.delete`. Raises: StoreClosedError after close."""
        self._writer.fire(
            lambda conn: conn.execute("DELETE FROM channels WHERE name_folded = ?", (name_folded,))
        )

    async def get(self, name_folded: str) -> ChannelRecord | None:
        """See :meth:`ChannelStore.get`."""

        def read(conn: sqlite3.Connection) -> ChannelRecord | None:
            sql = _CHANNEL_COLUMNS + " WHERE name_folded = ?"
            row = conn.execute(sql, (name_folded,)).fetchone()
            return None if row is None else _row_channel(row)

        return await self._readers.run(read)

    async def load_all(self) -> list[ChannelRecord]:
        """See :meth:`ChannelStore.load_all`."""
        return await self._readers.run(
            lambda conn: [
                _row_channel(row)
                for row in conn.execute(_CHANNEL_COLUMNS + " ORDER BY name_folded")
            ]
        )


class SqliteBanStore:
    """Server bans in the ``server_bans`` table."""

    def __init__(self, writer: Writer) -> None:
        """Wrap the writer; ban lists are read on the writer too, to purge expired bans."""
        self._writer = writer

    async def add(self, ban: ServerBan) -> None:
        """See :meth:`BanStore.add`."""
        check_name(ban.target, "ban target")
        await self._writer.call(
            lambda conn: conn.execute(
                "INSERT OR REPLACE INTO server_bans (kind, target, reason, set_by, set_at,"
                " expires_at) VALUES (?, ?, ?, ?, ?, ?)",
                (ban.kind.value, ban.target, ban.reason, ban.set_by, ban.set_at, ban.expires_at),
            )
        )

    async def remove(self, kind: BanKind, target: str) -> bool:
        """See :meth:`BanStore.remove`."""
        return await self._writer.call(
            lambda conn: (
                conn.execute(
                    "DELETE FROM server_bans WHERE kind = ? AND target = ?", (kind.value, target)
                ).rowcount
                > 0
            )
        )

    async def list_active(self, now: float) -> list[ServerBan]:
        """See :meth:`BanStore.list_active`."""

        def run(conn: sqlite3.Connection) -> list[ServerBan]:
            conn.execute(
                "DELETE FROM server_bans WHERE expires_at IS NOT NULL AND expires_at <= ?", (now,)
            )
            rows = conn.execute(
                "SELECT kind, target, reason, set_by, set_at, expires_at FROM server_bans"
                " ORDER BY set_at, kind, target"
            )
            return [ServerBan(BanKind(k), t, r, s, a, e) for k, t, r, s, a, e in rows]

        return await self._writer.call(run)
