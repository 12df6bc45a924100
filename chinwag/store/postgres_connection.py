"""PostgreSQL connections for the store: `PostgresDatabase`, what the shared SQL store needs to
know of PostgreSQL (``database.py``).

The writer thread (``writer.py``) and the reader pool (``readers.py``) are the SQLite store's:
one thread owns the writing connection and commits groups, reads run in worker threads on a few
connections (PostgreSQL's MVCC lets them see the last committed state while the writer works),
each read in one ``REPEATABLE READ`` read-only transaction: a query of several statements
(CHATHISTORY AROUND, TARGETS) sees one snapshot, as in SQLite, where a line committed between
two of its statements would otherwise be seen by one and not the other. A lost connection
(PostgreSQL restarted, network cut) fails the group it was writing, or the read;
`PostgresDatabase.lost` then says so and the next one reconnects.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import psycopg
from psycopg import IsolationLevel
from psycopg.pq import TransactionStatus

__all__ = ["Conn", "PostgresDatabase", "connect"]

T = TypeVar("T")

Conn = psycopg.Connection[tuple[Any, ...]]


def connect(url: str) -> Conn:
    """An autocommit connection to ``url`` (transactions are explicit).

    Raises:
        psycopg.OperationalError: when the server cannot be reached or refuses us.
    """
    return psycopg.connect(url, autocommit=True)


class PostgresDatabase:
    """The PostgreSQL database at ``url`` as a :class:`~chinwag.store.database.Database`."""

    duplicate_key: type[Exception] = psycopg.errors.UniqueViolation
    error: type[Exception] = psycopg.Error
    fatal: tuple[type[Exception], ...] = (psycopg.OperationalError,)
    begin = "BEGIN"

    def __init__(self, url: str) -> None:
        self.url = url
        self._sql: dict[str, str] = {}

    def sql(self, text: str) -> str:
        """``text`` with psycopg's ``%s`` placeholders for ``?`` (translated once per text)."""
        translated = self._sql.get(text)
        if translated is None:
            translated = self._sql[text] = text.replace("?", "%s")
        return translated

    def connect(self, *, readonly: bool = False) -> Conn:
        """See `connect`; a ``readonly`` one starts its transactions (`read`) as ``REPEATABLE
        READ READ ONLY``.

        Raises:
            psycopg.OperationalError: when the server cannot be reached or refuses us.
        """
        conn = connect(self.url)
        if readonly:
            conn.isolation_level = IsolationLevel.REPEATABLE_READ
            conn.read_only = True
        return conn

    def read(self, conn: Conn, fn: Callable[[Conn], T]) -> T:
        """Run ``fn(conn)`` in one transaction of a read connection: one snapshot for all of
        its statements."""
        with conn.transaction():
            return fn(conn)

    def in_transaction(self, conn: Conn) -> bool:
        """See :meth:`Database.in_transaction`."""
        return conn.info.transaction_status != TransactionStatus.IDLE

    def lost(self, conn: Conn) -> bool:
        """Whether the connection broke or was closed."""
        return conn.broken or conn.closed
