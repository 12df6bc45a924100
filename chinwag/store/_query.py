"""CHATHISTORY query semantics, written once over a tiny range-reading interface.

Entries of a conversation are totally ordered by their *position* ``(time_ms, seq)``: the
server time rounded to milliseconds (what a client sees in ``server-time``, so a
``timestamp=`` copied from a message selects exactly what the client expects) and a sequence
number that grows with arrival order. Every query is one or two calls to
:meth:`RangeReader.range` with exclusive position bounds, so the memory and SQL stores
(``memory.py``, ``sql_history.py``) share these semantics and differ only in how they scan.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Protocol, TypeVar

from chinwag.store.base import Bound, HistoryEntry, MsgidBound

__all__ = [
    "MAX_SEQ",
    "Position",
    "RangeReader",
    "age_cutoff",
    "channel_keys",
    "keep_targets",
    "query_after",
    "query_around",
    "query_before",
    "query_between",
    "query_latest",
    "time_key",
]

T = TypeVar("T")

Position = tuple[int, int]
MAX_SEQ = 2**62
"""Above every sequence number; sequence numbers start at 1, so 0 is below them all."""


def time_key(time: float) -> int:
    """Milliseconds since the epoch, rounded exactly as ``protocol.format_server_time`` rounds.

    So ``timestamp=`` bounds a client copies from ``server-time`` tags select by the value the
    client saw.
    """
    return round(time * 1000)


class RangeReader(Protocol):
    """The two primitives a store provides to run history queries."""

    def resolve(self, conv: str, msgid: str) -> Position | None:
        """The position of ``msgid`` in conversation ``conv``, or None when it is not there."""
        ...

    def range(
        self, conv: str, lo: Position | None, hi: Position | None, limit: int, newest: bool
    ) -> list[HistoryEntry]:
        """Entries with ``lo < position < hi``, chronological.

        Args:
            conv: the conversation key.
            lo: exclusive lower position, or None for no lower bound.
            hi: exclusive upper position, or None for no upper bound.
            limit: how many entries at most.
            newest: keep the ``limit`` newest matches instead of the oldest.
        """
        ...


def _below(reader: RangeReader, conv: str, bound: Bound) -> Position | None:
    """The position every entry *before* ``bound`` is below."""
    if isinstance(bound, MsgidBound):
        return reader.resolve(conv, bound.msgid)
    return (time_key(bound.time), 0)


def _above(reader: RangeReader, conv: str, bound: Bound) -> Position | None:
    """The position every entry *after* ``bound`` is above."""
    if isinstance(bound, MsgidBound):
        return reader.resolve(conv, bound.msgid)
    return (time_key(bound.time), MAX_SEQ)


def query_latest(
    reader: RangeReader, conv: str, after: Bound | None, limit: int
) -> list[HistoryEntry]:
    """CHATHISTORY LATEST: the newest ``limit`` entries, after ``after`` if given."""
    if limit <= 0:
        return []
    lo: Position | None = None
    if after is not None:
        lo = _above(reader, conv, after)
        if lo is None:
            return []
    return reader.range(conv, lo, None, limit, newest=True)


def query_before(reader: RangeReader, conv: str, bound: Bound, limit: int) -> list[HistoryEntry]:
    """CHATHISTORY BEFORE: the ``limit`` entries just before ``bound``."""
    hi = _below(reader, conv, bound) if limit > 0 else None
    if hi is None:
        return []
    return reader.range(conv, None, hi, limit, newest=True)


def query_after(reader: RangeReader, conv: str, bound: Bound, limit: int) -> list[HistoryEntry]:
    """CHATHISTORY AFTER: the ``limit`` entries just after ``bound``."""
    lo = _above(reader, conv, bound) if limit > 0 else None
    if lo is None:
        return []
    return reader.range(conv, lo, None, limit, newest=False)


def query_around(reader: RangeReader, conv: str, bound: Bound, limit: int) -> list[HistoryEntry]:
    """CHATHISTORY AROUND: ``limit // 2`` entries before the pivot, the rest from it onwards.

    A ``msgid`` pivot is included; a ``timestamp`` pivot splits at that millisecond. When one
    side runs short the other side fills the gap, so the answer has ``limit`` entries whenever
    the conversation has that many.
    """
    pivot = _below(reader, conv, bound) if limit > 0 else None
    if pivot is None:
        return []
    earlier = reader.range(conv, None, pivot, limit, newest=True)
    # Positions are integers, so "above (t, s - 1)" means "at or above the pivot".
    later = reader.range(conv, (pivot[0], pivot[1] - 1), None, limit, newest=False)
    n_earlier = min(len(earlier), limit // 2)
    n_later = min(len(later), limit - n_earlier)
    n_earlier = min(len(earlier), limit - n_later)
    return earlier[len(earlier) - n_earlier :] + later[:n_later]


def query_between(
    reader: RangeReader, conv: str, start: Bound, end: Bound, limit: int
) -> list[HistoryEntry]:
    """CHATHISTORY BETWEEN: entries strictly between, the ``limit`` closest to ``start``.

    When ``start`` is after ``end`` the walk goes backwards from ``start``; the answer is
    chronological either way.
    """
    if limit <= 0:
        return []
    start_lo, start_hi = _above(reader, conv, start), _below(reader, conv, start)
    end_lo, end_hi = _above(reader, conv, end), _below(reader, conv, end)
    if start_lo is None or start_hi is None or end_lo is None or end_hi is None:
        return []
    if start_hi <= end_hi:
        return reader.range(conv, start_lo, end_hi, limit, newest=False)
    return reader.range(conv, end_lo, start_hi, limit, newest=True)


def channel_keys(channels: Iterable[str]) -> set[str]:
    """TARGETS: the conversation keys of the channels the asker may read.

    A name with a space is a private key (:class:`~chinwag.store.base.DirectTarget`): it is
    dropped here, since private conversations may only come from the asker's own parties.
    """
    return {name for name in channels if " " not in name}


def keep_targets(found: list[T], start: float, end: float, limit: int) -> list[T]:
    """TARGETS: of the conversations' latest entries, sorted by time, the ``limit`` nearest
    ``start`` (the newest ones when ``start`` is the later end of the window)."""
    return found[:limit] if start <= end else found[-limit:]


def age_cutoff(max_age_days: float | None, now: float | None) -> int | None:
    """Retention: the time key below which entries are older than ``max_age_days``.

    Args:
        max_age_days: the age limit in days, or None for no age limit (then None is returned).
        now: the current time; None for ``time.time()``.
    """
    if max_age_days is None:
        return None
    moment = time.time() if now is None else now
    return time_key(moment - max_age_days * 86400.0)
