"""The SQLite history rows' one convention for "no value": 0 in the parameters, NULL on disk."""

from __future__ import annotations

import sqlite3
from contextlib import closing

from chinwag.store import SqliteStore
from chinwag.store.history_rows import NO_VALUE, or_no_value

from .factories import LOBBY, T0, direct, entry


def test_none_is_bound_as_no_value_and_text_as_itself() -> None:
    """None becomes NO_VALUE (0); a string, even an empty one, stays as it is."""
    assert or_no_value(None) == NO_VALUE == 0
    assert or_no_value("amy") == "amy"
    assert or_no_value("") == ""


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
