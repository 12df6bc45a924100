"""A history row: what it holds (in SQLite and PostgreSQL), SQLite's one convention for "no
value", and SQLite's INSERT of many.

The indexer (``indexer.py``) inserts rows through `insert_history_sql` with ``padded_insert.py``;
the PostgreSQL store has its own INSERT of many (``postgres.py``); the reads are in
``sql_history.py``.
"""

from __future__ import annotations

__all__ = ["HISTORY_COLUMNS", "NO_VALUE", "ROW_WIDTH", "insert_history_sql"]

HISTORY_COLUMNS = (
    "msgid, conv, time_ms, time, party_a, party_b, target_name, sender, account, command, text,"
    " tags"
)
"""A row's columns, in the order of its parameters."""
ROW_WIDTH = 12
NO_VALUE = 0
"""What a history row's parameters hold for "no value" (None): the INSERT turns it back into
NULL (`_select_column`). Binding the int 0 is cheaper than binding None (``sqlite3`` binds int,
float and str at C speed, every other value through its adaptation protocol: measured, about
half a microsecond more per None), and 0 also marks the padding rows of ``padded_insert.py``,
which no real row is (its msgid is a str)."""

_NULLABLE = frozenset({"party_a", "party_b", "account"})


def _select_column(index: int, name: str) -> str:
    """Column ``index`` of a VALUES row (named ``columnK``), `NO_VALUE` back to NULL where the
    column may be NULL."""
    column = f"column{index}"
    return f"NULLIF({column}, {NO_VALUE})" if name in _NULLABLE else column


_HISTORY_SELECT = ", ".join(
    _select_column(index, name.strip())
    for index, name in enumerate(HISTORY_COLUMNS.split(","), start=1)
)
_VALUES_ROW = "(" + ", ".join(["?"] * ROW_WIDTH) + ")"


def insert_history_sql(rows: int) -> str:
    """The statement that inserts ``rows`` history rows, skipping padding (``padded_insert.py``)."""
    return (
        f"INSERT OR IGNORE INTO history ({HISTORY_COLUMNS}) SELECT {_HISTORY_SELECT}"
        f" FROM (VALUES {', '.join([_VALUES_ROW] * rows)}) WHERE column1 IS NOT {NO_VALUE}"
    )
