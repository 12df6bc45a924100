"""What the SQL store needs of a database, so that SQLite and PostgreSQL share one store.

The record stores (``sql_records.py``), the history index (``sql_history.py``), the writer
thread (``writer.py``) and the reader pool (``readers.py``) are written once, over the DB-API
shape both drivers share: ``conn.execute(sql, params)`` returns a cursor with ``fetchone``,
``fetchall``, ``rowcount`` and iteration. What really differs is a `Database`:

* the placeholder style (SQL is written with ``?``; `Database.sql` turns it into the driver's);
* the exceptions: a taken key, any driver error, and the errors that mean the connection is gone;
* how a writing transaction begins (SQLite takes its write lock up front: ``BEGIN IMMEDIATE``);
* how connections are opened, read from (SQLite reads in one snapshot transaction) and found
  dead (a PostgreSQL server restarts; a SQLite file never goes away under its connection).

Savepoints, COMMIT and ROLLBACK are the same SQL in both. The schema is not here: SQLite's
lives in numbered migrations (``migrations/``), PostgreSQL's in ``postgres.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol, TypeVar

__all__ = ["Connection", "Cursor", "Database"]

T = TypeVar("T")


class Cursor(Protocol):
    """The result of one statement."""

    @property
    def rowcount(self) -> int:
        """How many rows the statement changed."""
        ...

    def fetchone(self) -> Any:
        """The next row, or None."""
        ...

    def fetchall(self) -> list[Any]:
        """Every remaining row."""
        ...

    def __iter__(self) -> Iterator[Any]:
        """The remaining rows, one by one."""
        ...


class Connection(Protocol):
    """A connection of either driver (``sqlite3.Connection``, ``psycopg.Connection``)."""

    def execute(self, sql: str, params: Sequence[Any] = ..., /) -> Cursor:
        """Run one statement with its parameters."""
        ...

    def close(self) -> None:
        """Close the connection."""
        ...


C = TypeVar("C", bound=Connection)


class Database(Protocol[C]):
    """One database's connections and its few differences from the others (module header).

    Attributes:
        duplicate_key: what an INSERT raises when its key is taken.
        error: the base of every error the driver raises (a failed commit, a lost connection).
        fatal: what a job may raise that fails its whole group, not only its savepoint: the
            connection is gone (empty for SQLite).
        begin: the statement that opens a writing transaction.
    """

    duplicate_key: type[Exception]
    error: type[Exception]
    fatal: tuple[type[Exception], ...]
    begin: str

    def sql(self, text: str) -> str:
        """``text``, written with ``?`` placeholders, in this driver's placeholder style.

        ``text`` must hold no ``?`` but its placeholders, nor any ``%``.
        """
        ...

    def connect(self, *, readonly: bool = False) -> C:
        """A new autocommit connection (transactions are explicit SQL).

        Args:
            readonly: for the reader pool: refuse writes where the database can.
        """
        ...

    def read(self, conn: C, fn: Callable[[C], T]) -> T:
        """Run ``fn(conn)`` as a read (in one snapshot where that is cheap)."""
        ...

    def in_transaction(self, conn: C) -> bool:
        """Whether ``conn`` is inside a transaction (to roll back after a failure)."""
        ...

    def lost(self, conn: C) -> bool:
        """Whether ``conn`` is unusable: it is dropped and a new one opened when needed."""
        ...
