"""Padded multi-row inserts: any number of rows, in order, from a few cached statements."""

from __future__ import annotations

import sqlite3

from chinwag.store.padded_insert import PaddedInsert, bucket_sizes


def _insert_sql(rows: int) -> str:
    values = ", ".join(["(?, ?)"] * rows)
    return (
        "INSERT INTO t (a, b) SELECT column1, column2"
        f" FROM (VALUES {values}) WHERE column1 IS NOT 0"
    )


def test_buckets_waste_at_most_a_third() -> None:
    """Every row count up to the largest bucket fits one with at most a third of padding."""
    sizes = bucket_sizes(1024)
    assert sizes[:8] == [1, 2, 3, 4, 6, 8, 12, 16] and sizes[-1] == 1024
    for rows in range(1, 1025):
        fit = min(size for size in sizes if size >= rows)
        assert fit - rows <= fit / 3


def test_rows_go_in_in_order_and_padding_does_not() -> None:
    """5 rows use the 6-row statement; 2000 rows take several; each statement is compiled once."""
    conn = sqlite3.connect(":memory:", isolation_level=None)
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, a TEXT, b INTEGER)")
    compiled: list[int] = []

    def counting_sql(rows: int) -> str:
        compiled.append(rows)
        return _insert_sql(rows)

    insert = PaddedInsert(conn, counting_sql, 2)
    insert.insert([value for i in range(5) for value in (f"r{i}", i)])
    insert.insert([value for i in range(5, 10) for value in (f"r{i}", i)])
    assert compiled == [6]
    many: list[object] = [value for i in range(10, 2010) for value in (f"r{i}", i)]
    assert not insert.fits(many)
    insert.insert(many)
    rows = conn.execute("SELECT a, b FROM t ORDER BY id").fetchall()
    assert rows == [(f"r{i}", i) for i in range(2010)]
