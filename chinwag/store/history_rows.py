"""A SQLite history row: what it holds, its one convention for "no value", and the INSERT of many.

The server's old writer thread and the indexer (``indexer.py``) both insert rows through
`insert_history_sql` with ``padded_insert.py``; the reads are in ``sqlite.py``.
"""

from __future__ import annotations

__all__ = ["NO_VALUE", "ROW_WIDTH", "insert_history_sql", "or_no_value"]

_HISTORY_COLUMNS = (
    "msgid, conv, time_ms, time, party_a, party_b, target_name, sender, account, command, text,"
    " tags"
)
ROW_WIDTH = 12
NO_VALUE = 0
"""What a history row's parameters hold for "no value" (None): the INSERT turns it back into
NULL (`_select_column`). Binding the int 0 is cheaper than binding None, and 0 also marks the
writer's padding rows, which no real row is (its msgid is a str)."""

_NULLABLE = frozenset({"party_a", "party_b", "account"})


def or_no_value(value: str | None) -> str | int:
    """``value`` as a history row's parameter: `NO_VALUE` for None (see `_select_column`)."""
    return NO_VALUE if value is None else value


def _select_column(index: int, name: str) -> str:
    """Column ``index`` of a VALUES row (named ``columnK``), `NO_VALUE` back to NULL where the
    column may be NULL: the other half of `or_no_value`."""
    column = f"column{index}"
    return f"NULLIF({column}, {NO_VALUE})" if name in _NULLABLE else column


_HISTORY_SELECT = ", ".join(
    _select_column(index, name.strip())
    for index, name in enumerate(_HISTORY_COLUMNS.split(","), start=1)
)
_VALUES_ROW = "(" + ", ".join(["?"] * ROW_WIDTH) + ")"


def insert_history_sql(rows: int) -> str:
    """The statement that inserts ``rows`` history rows, skipping padding (see ``writer.py``)."""
    return (
        f"INSERT OR IGNORE INTO history ({_HISTORY_COLUMNS}) SELECT {_HISTORY_SELECT}"
        f" FROM (VALUES {', '.join([_VALUES_ROW] * rows)}) WHERE column1 IS NOT {NO_VALUE}"
    )
