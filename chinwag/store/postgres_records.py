"""PostgreSQL accounts, channels and server bans: small tables, written through the one writer.

The twin of ``sqlite_records.py``: the same rows, the same rules (``account_rules.py`` runs the
checks and argon2 in a worker thread *before* the write is queued), so several nodes sharing one
database see one set of accounts, registered channels and bans.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from typing import Any

import psycopg
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
    ChannelRecord,
    ServerBan,
    Topic,
    check_name,
    new_account_uid,
)
from chinwag.store.errors import AccountExistsError, NoSuchAccountError
from chinwag.store.postgres_connection import Conn, PgReaders, PgWriter
from chinwag.store.sqlite_records import _entry_json, _list_entry  # the same JSON lists

__all__ = ["PgAccountStore", "PgBanStore", "PgChannelStore", "drop_account"]

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
        scram="" if scram is None else str(scram),
        uid=str(uid),
    )


def _get_account(conn: Conn, name_folded: str) -> Account | None:
    row = conn.execute(_ACCOUNT_COLUMNS + " WHERE name_folded = %s", (name_folded,)).fetchone()
    return None if row is None else _row_account(row)


def _require_change(cursor: psycopg.Cursor[Any], name_folded: str) -> None:
    if cursor.rowcount == 0:
        raise NoSuchAccountError(name_folded)


class PgAccountStore:
    """Accounts in the ``accounts`` table."""

    def __init__(
        self, writer: PgWriter, readers: PgReaders, hasher: PasswordHasher | None = None
    ) -> None:
        """Wrap a writer and readers (normally made by ``PostgresStore``)."""
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
        """See :meth:`AccountStore.register`; the primary key decides a race between nodes."""
        password_hash = await hash_for_new_account(self, name, name_folded, password, self._hasher)
        scram = await scram_for(password)
        uid = new_account_uid()
        account = Account(name, name_folded, password_hash, email, time.time(), admin, scram, uid)
        row = (name, name_folded, password_hash, email, account.created_at, admin, scram, uid)

        def insert(conn: Conn) -> None:
            try:
                conn.execute(
                    "INSERT INTO accounts (name, name_folded, password_hash, email, created_at,"
                    " admin, scram, uid) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                    row,
                )
            except psycopg.errors.UniqueViolation:
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
        if not names:
            return set()
        sql = "SELECT name_folded FROM accounts WHERE name_folded = ANY(%s)"
        rows = await self._readers.run(lambda conn: conn.execute(sql, (names,)).fetchall())
        return {str(row[0]) for row in rows}

    async def set_password(self, name_folded: str, password: str | bytes) -> None:
        """See :meth:`AccountStore.set_password`."""
        password_hash = await hash_for_new_password(self, name_folded, password, self._hasher)
        scram = await scram_for(password)
        await self._writer.call(
            lambda conn: _require_change(
                conn.execute(
                    "UPDATE accounts SET password_hash = %s, scram = %s WHERE name_folded = %s",
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
                    "UPDATE accounts SET admin = %s WHERE name_folded = %s", (admin, name_folded)
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


def drop_account(conn: Conn, name_folded: str) -> str | None:
    """Delete an account inside a writer job. Returns: its party (`Account.party`), or None
    when there was no such account."""
    account = _get_account(conn, name_folded)
    if account is None:
        return None
    conn.execute("DELETE FROM accounts WHERE name_folded = %s", (name_folded,))
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


class PgChannelStore:
    """Channel records in the ``channels`` table."""

    def __init__(self, writer: PgWriter, readers: PgReaders) -> None:
        """Wrap a writer and readers (normally made by ``PostgresStore``)."""
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
                "INSERT INTO channels (name, name_folded, founder, registered_at, topic_text,"
                " topic_set_by, topic_set_at, modes, bans, identity)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
                " ON CONFLICT (name_folded) DO UPDATE SET name = EXCLUDED.name,"
                " founder = EXCLUDED.founder, registered_at = EXCLUDED.registered_at,"
                " topic_text = EXCLUDED.topic_text, topic_set_by = EXCLUDED.topic_set_by,"
                " topic_set_at = EXCLUDED.topic_set_at, modes = EXCLUDED.modes,"
                " bans = EXCLUDED.bans, identity = EXCLUDED.identity",
                row,
            )
        )

    def delete(self, name_folded: str) -> None:
        """See :meth:`ChannelStore.delete`. Raises: StoreClosedError after close."""
        self._writer.fire(
            lambda conn: conn.execute("DELETE FROM channels WHERE name_folded = %s", (name_folded,))
        )

    async def get(self, name_folded: str) -> ChannelRecord | None:
        """See :meth:`ChannelStore.get`."""

        def read(conn: Conn) -> ChannelRecord | None:
            sql = _CHANNEL_COLUMNS + " WHERE name_folded = %s"
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


class PgBanStore:
    """Server bans in the ``server_bans`` table."""

    def __init__(self, writer: PgWriter) -> None:
        """Wrap the writer; ban lists are read on the writer too, to purge expired bans."""
        self._writer = writer

    async def add(self, ban: ServerBan) -> None:
        """See :meth:`BanStore.add`."""
        check_name(ban.target, "ban target")
        await self._writer.call(
            lambda conn: conn.execute(
                "INSERT INTO server_bans (kind, target, reason, set_by, set_at, expires_at)"
                " VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (kind, target) DO UPDATE"
                " SET reason = EXCLUDED.reason, set_by = EXCLUDED.set_by,"
                " set_at = EXCLUDED.set_at, expires_at = EXCLUDED.expires_at",
                (ban.kind.value, ban.target, ban.reason, ban.set_by, ban.set_at, ban.expires_at),
            )
        )

    async def remove(self, kind: BanKind, target: str) -> bool:
        """See :meth:`BanStore.remove`."""
        return await self._writer.call(
            lambda conn: (
                conn.execute(
                    "DELETE FROM server_bans WHERE kind = %s AND target = %s", (kind.value, target)
                ).rowcount
                > 0
            )
        )

    async def list_active(self, now: float) -> list[ServerBan]:
        """See :meth:`BanStore.list_active`."""

        def run(conn: Conn) -> list[ServerBan]:
            conn.execute(
                "DELETE FROM server_bans WHERE expires_at IS NOT NULL AND expires_at <= %s", (now,)
            )
            rows = conn.execute(
                "SELECT kind, target, reason, set_by, set_at, expires_at FROM server_bans"
                " ORDER BY set_at, kind, target"
            ).fetchall()
            return [ServerBan(BanKind(k), t, r, s, a, e) for k, t, r, s, a, e in rows]

        return await self._writer.call(run)
