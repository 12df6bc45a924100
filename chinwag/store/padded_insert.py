"""Many history rows in one statement, from a few statements compiled once each.

The indexer (``indexer.py``) inserts each pass's rows with it. Why one statement for many rows,
not ``executemany``: ``sqlite3`` releases the GIL around every ``sqlite3_step`` and takes it back
after, and taking it back from a busy thread (the event loop, when the indexer is a thread of
the server's process) can wait for the switch interval (5 ms); ``INSERT ... SELECT ... FROM
(VALUES (...), (...), ...)`` is one step for up to `MAX_ROWS_PER_STATEMENT` rows. In CPU alone
the two cost the same (measured, one thread, Python 3.11, WAL file: 2.3 against 2.8 us a row in
groups of 8, 1.5 against 1.5 in groups of 64); what the statement saves is GIL hand-offs, whose
cost depends on how busy the loop is.

Why buckets: a statement for every group size would be compiled over and over, and compiling
costs more than running (measured: a group of 8 rows in a statement compiled for it costs 7.4 us
a row, 2.3 with the statement cached; a group of 64, 4.4 against 1.5). So row counts are rounded
up to a few bucket sizes (1, 2, 3, 4, 6, 8, 12, ...: at most a third of padding), each compiled
once, and the rest of the statement is padded with rows of zeros, which the statement skips
(``WHERE column1 IS NOT 0``; a real row's first value is a str).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Final

__all__ = ["MAX_ROWS_PER_STATEMENT", "PaddedInsert", "bucket_sizes"]

MAX_ROWS_PER_STATEMENT: Final = 1024
"""The largest bucket: bigger groups take several statements (and an explicit transaction)."""


def bucket_sizes(largest: int) -> list[int]:
    """The row counts insert statements are compiled for: 1, 2, 3, 4, 6, 8, 12, ... (each at
    most a third of padding), up to ``largest``.

    Args:
        largest: the most rows one statement may hold (at least 1).
    """
    sizes = {1}
    power = 2
    while power <= largest:
        sizes.add(power)
        if power + power // 2 <= largest:
            sizes.add(power + power // 2)
        power *= 2
    return sorted(sizes)


class PaddedInsert:
    """Inserts flattened rows with the fewest statements, each from a small cached set.

    Args:
        conn: the writing connection.
        insert_sql: ``insert_sql(n)`` is a statement taking ``n`` rows of ``row_width``
            parameters each that inserts them in order, skipping every row whose first
            parameter is the integer 0 (padding).
        row_width: how many values each row holds.
    """

    def __init__(
        self, conn: sqlite3.Connection, insert_sql: Callable[[int], str], row_width: int
    ) -> None:
        self._conn = conn
        self._insert_sql = insert_sql
        self._width = row_width
        variables = conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
        sizes = bucket_sizes(max(1, min(MAX_ROWS_PER_STATEMENT, variables // row_width)))
        self._max_rows = sizes[-1]
        # _bucket[n]: the statement size that holds n rows with the least padding.
        self._bucket = [0] * (self._max_rows + 1)
        for low, high in zip([0, *sizes], sizes, strict=False):
            self._bucket[low + 1 : high + 1] = [high] * (high - low)
        self._padding: list[object] = [0] * (self._max_rows * row_width)
        self._statements: dict[int, str] = {}

    def fits(self, params: list[object]) -> bool:
        """Whether ``params`` holds few enough rows for one statement."""
        return len(params) <= self._max_rows * self._width

    def insert(self, params: list[object]) -> None:
        """Insert the rows in ``params`` (flattened), one padded statement per
        ``_max_rows`` rows."""
        width = self._width
        rows = len(params) // width
        done = 0
        while done < rows:
            count = min(rows - done, self._max_rows)
            size = self._bucket[count]
            chunk = params if count == rows else params[done * width : (done + count) * width]
            if size > count:
                chunk += self._padding[: (size - count) * width]
            sql = self._statements.get(size)
            if sql is None:
                sql = self._statements[size] = self._insert_sql(size)
            self._conn.execute(sql, chunk)
            done += count
