"""The writer's queue on its own: segments, groups, backpressure bounds and the stop marker."""

from __future__ import annotations

import pytest

from chinwag.store import StoreClosedError
from chinwag.store.write_queue import STOP, Call, Rows, WriteQueue


def _queue(max_group: int = 100) -> WriteQueue:
    return WriteQueue(2, max_queue=1000, max_group=max_group, consumer_alive=lambda: True)


def _noop() -> None:
    """A commit callback."""


def test_consecutive_appends_share_one_segment() -> None:
    """Appends from one thread extend one flat segment; a call ends it."""
    queue = _queue()
    queue.append(("a", 1), _noop)
    queue.append(("b", 2), None)
    call = Call(lambda conn: None, None)
    queue.put(call)
    queue.append(("c", 3), None)
    assert queue.pending == 4
    taken = queue.take()
    assert [type(job) for job in taken] == [Rows, Call, Rows]
    first = taken[0]
    assert isinstance(first, Rows)
    assert first.params == ["a", 1, "b", 2] and first.thens == [_noop] and first.jobs == 2
    assert queue.pending == 0


def test_take_stops_at_max_group_between_segments() -> None:
    """A group holds at most max_group jobs, cut between whole segments."""
    queue = _queue(max_group=3)
    for i in range(3):
        queue.append((f"m{i}", i), None)  # one segment of 3: a segment never exceeds max_group
    queue.append(("m3", 3), None)  # a new segment
    first = queue.take()
    assert len(first) == 1 and isinstance(first[0], Rows) and first[0].jobs == 3
    assert queue.pending == 1
    second = queue.take()
    assert isinstance(second[0], Rows) and second[0].params == ["m3", 3]


def test_a_row_of_the_wrong_width_is_refused() -> None:
    """A row must hold row_width values."""
    queue = _queue()
    with pytest.raises(ValueError, match="2 values"):
        queue.append(("only one",), None)
    assert queue.pending == 0


def test_nothing_is_accepted_after_the_stop_marker() -> None:
    """After STOP the queue refuses appends and calls."""
    queue = _queue()
    queue.put(STOP, last=True)
    with pytest.raises(StoreClosedError):
        queue.append(("a", 1), None)
    with pytest.raises(StoreClosedError):
        queue.put(Call(lambda conn: None, None))
    assert queue.take() == [STOP]
