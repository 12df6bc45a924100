"""The outbox: a turn's output is written at its end, behind the commit of what it stored
(durable delivery), in the order it was queued; closing goes the same road. ``committed()`` is
called here where the store would call it (once per row, after its commit)."""

from __future__ import annotations

import asyncio
from typing import cast

from chinwag.server.connection import Connection
from chinwag.server.outbox import Outbox
from chinwag.server.state import Client


class _Transport:
    def __init__(self) -> None:
        self.paused = False

    def pause_reading(self) -> None:
        self.paused = True

    def resume_reading(self) -> None:
        self.paused = False


class _Peer:
    """What the outbox uses of a connection: its queued bytes, and where they are written."""

    def __init__(self) -> None:
        self.queued: list[bytes] = []
        self.written: list[bytes] = []
        self.closed = False
        self.transport = _Transport()
        self.closing = False

    def take(self) -> bytes:
        data, self.queued = b"".join(self.queued), []
        return data

    def flush(self) -> None:
        self.write(self.take())

    def write(self, data: bytes, *, last: bool = False) -> None:
        if data:
            self.written.append(data)
        self.closed = self.closed or last


def _conn(peer: _Peer) -> Connection:
    return cast(Connection, peer)


def _queue(outbox: Outbox, peer: _Peer, data: bytes) -> None:
    if not peer.queued:
        outbox.mark_dirty(_conn(peer))
    peer.queued.append(data)


def _sender(peer: _Peer) -> Client:
    return Client(conn=_conn(peer), host="h", ip="127.0.0.1", nick="amy")


async def test_without_records_a_turn_is_written_at_its_end() -> None:
    """Nothing stored: the turn's output goes out when the turn ends, one write per peer."""
    outbox = Outbox()
    peer = _Peer()
    _queue(outbox, peer, b"one\r\n")
    peer.queued.append(b"two\r\n")
    assert peer.written == []
    await asyncio.sleep(0)
    assert peer.written == [b"one\r\ntwo\r\n"]


async def test_a_turn_that_stored_waits_for_the_commit_and_the_next_follows_it() -> None:
    """A turn that stored a message is written after the commit; a later turn that stored
    nothing is written with it, after it, never before."""
    outbox = Outbox()
    peer, other = _Peer(), _Peer()
    outbox.recorded(_sender(peer))
    _queue(outbox, peer, b"message\r\n")
    outbox.end_turn()  # the turn ends: gated behind the row's commit
    _queue(outbox, peer, b"pong\r\n")
    _queue(outbox, other, b"late\r\n")
    outbox.end_turn()
    assert peer.written == [] and other.written == [] and outbox.waiting == 1
    outbox.committed()
    assert peer.written == [b"message\r\n", b"pong\r\n"]
    assert other.written == [b"late\r\n"]
    assert outbox.waiting == 0


async def test_gates_open_in_order_as_their_rows_commit() -> None:
    """Two turns with a row each: the first opens at the first commit, the second at the next."""
    outbox = Outbox()
    peer = _Peer()
    for word in (b"one\r\n", b"two\r\n"):
        outbox.recorded(_sender(peer))
        _queue(outbox, peer, word)
        outbox.end_turn()
    outbox.committed()
    assert peer.written == [b"one\r\n"]
    outbox.committed()
    assert peer.written == [b"one\r\n", b"two\r\n"]


async def test_a_close_is_written_in_turn_then_closes() -> None:
    """finish while a gate is closed: the last bytes wait for it, then the socket closes."""
    outbox = Outbox()
    peer = _Peer()
    outbox.recorded(_sender(peer))
    _queue(outbox, peer, b"words\r\n")
    outbox.end_turn()
    outbox.finish(_conn(peer), b"ERROR :bye\r\n")
    outbox.end_turn()
    assert not peer.closed
    outbox.committed()
    assert peer.written == [b"words\r\n", b"ERROR :bye\r\n"] and peer.closed


async def test_finish_with_nothing_waiting_is_at_once() -> None:
    """finish with no gate: written and closed immediately."""
    outbox = Outbox()
    peer = _Peer()
    outbox.finish(_conn(peer), b"ERROR :bye\r\n")
    assert peer.written == [b"ERROR :bye\r\n"] and peer.closed


async def test_too_many_waiting_records_pause_the_sender() -> None:
    """Past max_waiting records behind gates the sender stops being read, until half are out."""
    outbox = Outbox()
    outbox.max_waiting = 4
    peer = _Peer()
    sender = _sender(peer)
    for _ in range(5):
        outbox.recorded(sender)
    assert peer.transport.paused
    outbox.end_turn()
    outbox.committed()
    assert peer.transport.paused  # 4 still wait
    outbox.committed()
    outbox.committed()
    assert not peer.transport.paused  # 2 wait: half of max_waiting


async def _turn() -> None:
    """Let the loop run one turn (the outbox's end of turn is a `call_soon`)."""
    await asyncio.sleep(0)


async def test_past_the_budget_the_rest_is_written_in_the_next_turns_in_order() -> None:
    """A turn writes at most write_budget connections; the others are written in the next
    turns, and what is queued for them meanwhile goes in the same write, after."""
    outbox = Outbox()
    outbox.write_budget = 2
    peers = [_Peer() for _ in range(5)]
    for number, peer in enumerate(peers):
        _queue(outbox, peer, b"line %d\r\n" % number)
    await _turn()
    assert [bool(peer.written) for peer in peers] == [True, True, False, False, False]
    assert outbox.behind
    peers[4].queued.append(b"more\r\n")  # still waiting: no new mark, same queue
    await _turn()
    await _turn()
    assert [peer.written for peer in peers] == [
        [b"line 0\r\n"],
        [b"line 1\r\n"],
        [b"line 2\r\n"],
        [b"line 3\r\n"],
        [b"line 4\r\nmore\r\n"],
    ]
    assert not outbox.behind


async def test_new_output_goes_before_the_leftovers_which_keep_a_quarter() -> None:
    """Connections with output for the first time are written before those left over from
    earlier turns, but a quarter of each turn's budget goes to the oldest leftovers."""
    outbox = Outbox()
    outbox.write_budget = 4
    old = [_Peer() for _ in range(10)]
    for peer in old:
        _queue(outbox, peer, b"old\r\n")
    await _turn()  # 4 written, 6 left over
    new = [_Peer() for _ in range(4)]
    for peer in new:
        _queue(outbox, peer, b"new\r\n")
    await _turn()
    assert [bool(peer.written) for peer in new] == [True, True, True, False]
    assert [bool(peer.written) for peer in old] == [True] * 5 + [False] * 5
    for _ in range(3):
        await _turn()
    assert all(peer.written for peer in [*old, *new]) and not outbox.behind


async def test_a_gate_takes_the_leftovers_along_in_their_order() -> None:
    """A turn that stored a message while output of earlier turns waits for its slice: that
    output goes into the gate first, so nobody receives a later line before an earlier one."""
    outbox = Outbox()
    outbox.write_budget = 1
    first, second = _Peer(), _Peer()
    _queue(outbox, first, b"one\r\n")
    _queue(outbox, second, b"two\r\n")
    await _turn()
    assert first.written == [b"one\r\n"] and second.written == []
    outbox.recorded(_sender(first))
    second.queued.append(b"stored\r\n")
    await _turn()
    assert second.written == [] and not outbox.behind  # in the gate now
    outbox.committed()
    assert second.written == [b"two\r\nstored\r\n"]


async def test_catching_up_is_reported_once_the_last_slice_is_written() -> None:
    """The outbox tells its owner when the output left over from earlier turns is all out
    (the server opens its next lazy window then), and not before."""
    calls: list[bool] = []
    outbox = Outbox(caught_up=lambda: calls.append(True))
    outbox.write_budget = 2
    for _ in range(3):
        _queue(outbox, _Peer(), b"x\r\n")
    await _turn()
    assert calls == []
    await _turn()
    assert calls == [True]
