"""The SQLite history rows' one convention for "no value": 0 in the parameters, NULL on disk."""

from __future__ import annotations

import sqlite3
from contextlib import closing

from chinwag.store import SqliteStore
from chinwag.store.history_rows import NO_VALUE
from chinwag.store.journal_records import decode_rows, encode_entry

from .factories import LOBBY, T0, direct, entry


def test_an_empty_journal_field_is_bound_as_no_value() -> None:
    """The indexer binds NO_VALUE (0) for a channel line's parties and a guest's account."""
    rows: list[object] = []
    decode_rows(encode_entry(entry("chan", T0, account=None)).encode(), rows, {})
    assert NO_VALUE == 0
    assert (rows[4], rows[5], rows[8]) == (NO_VALUE, NO_VALUE, NO_VALUE)


async def test_no_value_is_stored_as_null_and_read_back_as_none(sqlite_store: SqliteStore) -> None:
    """A channel line has NULL parties and a guest's line a NULL account; both read back None."""
    sqlite_store.history.append(entry("chan", T0, target=LOBBY, account=None))
    sqlite_store.history.append(entry("priv", T0 + 1, target=direct("amy", "bob"), account="amy"))
    await sqlite_store.flush()
    with closing(sqlite3.connect(sqlite_store.path)) as conn:
        found = conn.execute("SELECT msgid, party_a, party_b, account FROM history").fetchall()
    rows = {str(row[0]): tuple(row[1:]) for row in found}
    assert rows == {"chan": (None, None, None), "priv": ("amy", "bob", "amy")}
    (chan,) = await sqlite_store.history.latest(LOBBY, None, 10)
    assert chan.account is None
