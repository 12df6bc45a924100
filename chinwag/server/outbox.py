"""The outbox: each loop turn's output is written at the end of the turn, once what it shows is
on disk.

Theory of operation
-------------------
Handlers queue output synchronously, in the order things happen (`Connection.enqueue`), and
the first output of a turn for a connection registers it here (`mark_dirty`). At the end of the
turn `end_turn` writes every dirty connection's output with one ``transport.write`` each.

A turn writes at most `write_budget` connections. A line to a room of 10,000 is 10,000 writes,
about 0.1 s of one core: written in one turn, every registration, reply and small room's line
of that time would wait behind it. So the connections past the budget are written in the next
turns, a slice per turn, with whatever the loop does between the slices: a huge fan-out takes a
few turns, and nobody else waits for all of it. A connection keeps its queue until its turn
comes (what is queued for it meanwhile goes in the same write), so each client still receives
its bytes in the order they were queued. The connections that have output for the first time
go first and those left over from earlier turns after them, with at least a quarter of every
turn's budget: the newest output is what somebody is waiting for (a reply, the next line of a
conversation), while the rest of a big fan-out only gets a little later. The batches a channel
shares among its members make the slices cheap: a batch closed by the first slice's writes
stays as it is for the holders written later (``fanout.py``), and an open batch of arrivals
stays open until the lazy flush (``Connection.take_due``).

Durable delivery (``[history] durable_delivery``, the default) adds one rule: no client may see
a stored message before it is committed, or a crash could take back what somebody read. Delaying
each message until its commit would let everything that is not stored (a JOIN, a NICK, a KICK,
a PONG) overtake it. So the whole turn waits instead: every stored row is counted (`recorded`),
and the store calls `committed` after each row's commit, in order (one bound method for every
row: nothing is built per message). When the turn ends with rows not yet committed, its output
is taken out of the connections as bytes and kept in a *gate* marked with the count of rows
stored so far; the gate opens, and its bytes are written, once that many rows are committed.
Gates open in the order they were made, and a turn that stored nothing but follows a closed gate
joins that gate, so every connection receives its bytes in the order they were queued, and every
observer sees one client's events in the order they happened, exactly as without durable
delivery: the only difference is when the bytes leave. (A separate barrier queued at the end of
the turn would often miss the group commit the writer had already started for the turn's rows,
and wait for the next one.) The SQLite store writes a turn's rows to its journal with one
``write`` when the turn ends (``store/journal_history.py``), and `end_turn` (and `finish`) asks
it to do so first, so by the time the output is looked at everything it shows is in the
journal: `History` does not even count those rows here, and the bytes leave in the same turn.

Closing a connection follows the same road: its last output and the ERROR line go out with the
turn, then the socket is closed (`finish`).

The records waiting behind gates are bounded by `max_waiting`: past it, the connections that
store more stop being read until half of them are out, so an overload backs up into the
senders' TCP buffers instead of into latency and memory here.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from chinwag.server.connection import Connection
    from chinwag.server.state import Client

__all__ = ["Outbox"]

log = logging.getLogger("chinwag.outbox")

# One connection's bytes in a gate; ``last``: close the socket after writing them.
_Entry = tuple["Connection", bytes, bool]


class Outbox:
    """Writes the output of each loop turn, behind the commit of what the turn stored.

    Args:
        end_store_turn: called first at the end of each turn: a store that stores a turn's rows
            at once (the journal: ``HistoryStore.end_turn``) runs their callbacks there, so a
            turn whose rows it stored goes out at once, with no gate.
        caught_up: called when the last slice of output left over from earlier turns has been
            written (the server opens its next lazy window then).
    """

    max_waiting = 4096
    """Stored records whose turn's output may wait for their commit before the connections
    that store more are paused (``pause_reading``) until half of them are out."""

    write_budget = 1000
    """Connections written per loop turn at most: 1000 writes are about 10 ms of one core, the
    longest any other event waits behind a fan-out (see the header)."""

    def __init__(
        self,
        end_store_turn: Callable[[], object] | None = None,
        caught_up: Callable[[], object] | None = None,
    ) -> None:
        self._end_store_turn = end_store_turn
        self._caught_up = caught_up
        self._dirty: list[Connection] = []
        # Connections past an earlier turn's budget, oldest first: written in the next slices.
        self._backlog: deque[Connection] = deque()
        self._finals: list[_Entry] = []
        self._scheduled: asyncio.Handle | None = None
        self._stored = 0  # rows handed to the store with `committed` as their callback
        self._committed = 0  # of those, how many are committed
        # Each gate: the count of rows stored before it, and the bytes waiting for them.
        self._gates: deque[tuple[int, list[_Entry]]] = deque()
        self._held: set[Client] = set()
        self._warned_at = -60.0

    @property
    def behind(self) -> bool:
        """Whether output of earlier turns still waits for its slice (see the header)."""
        return bool(self._backlog)

    @property
    def waiting(self) -> int:
        """Records stored whose turn's output waits for their commit."""
        return self._stored - self._committed

    def mark_dirty(self, conn: Connection) -> None:
        """Remember that ``conn`` has output; it is written at the end of this loop turn."""
        self._dirty.append(conn)
        if self._scheduled is None:
            self._scheduled = asyncio.get_running_loop().call_soon(self.end_turn)

    def recorded(self, sender: Client) -> None:
        """One row was handed to the store with `committed` as its callback (durable
        delivery): this turn's output waits for it. ``sender`` is paused when too many wait."""
        self._stored += 1
        if self._scheduled is None:
            self._scheduled = asyncio.get_running_loop().call_soon(self.end_turn)
        if self._stored - self._committed > self.max_waiting:
            self._hold(sender)

    def committed(self) -> None:
        """The store committed the oldest row not yet reported (called once per row, in
        order): open the gates that were waiting for it."""
        self._committed += 1
        gates = self._gates
        while gates and gates[0][0] <= self._committed:
            for conn, data, last in gates.popleft()[1]:
                conn.write(data, last=last)
        if self._held and self._stored - self._committed <= self.max_waiting // 2:
            self._release()

    def finish(self, conn: Connection, data: bytes) -> None:
        """Write ``conn``'s last bytes in turn, then close its socket."""
        if self._end_store_turn is not None:
            self._end_store_turn()  # what they show is in the journal before they go
        if self._stored == self._committed and not self._gates:
            conn.write(data, last=True)
            return
        self._finals.append((conn, data, True))
        if self._scheduled is None:
            self._scheduled = asyncio.get_running_loop().call_soon(self.end_turn)

    def end_turn(self) -> None:
        """Write this turn's output, or gate it behind the commit of what was stored."""
        if self._end_store_turn is not None:
            self._end_store_turn()
        self._scheduled = None
        dirty, self._dirty = self._dirty, []
        finals, self._finals = self._finals, []
        stored = self._stored
        if stored == self._committed and not self._gates:  # nothing to wait for: the usual case
            if self._backlog or len(dirty) > self.write_budget:
                self._write_slice(dirty)
            else:
                for conn in dirty:
                    conn.flush()
            for conn, data, last in finals:
                conn.write(data, last=last)
            return
        backlog = self._backlog
        if backlog:  # a gate takes everything: each connection's bytes stay in their order
            dirty = [*backlog, *dirty]
            backlog.clear()
            if self._caught_up is not None:
                self._caught_up()
        entries: list[_Entry] = [(conn, conn.take(), False) for conn in dirty]
        entries.extend(finals)
        gates = self._gates
        if gates and gates[-1][0] == stored:  # nothing new stored: go out with that gate
            gates[-1][1].extend(entries)
        else:
            gates.append((stored, entries))

    def _write_slice(self, fresh: list[Connection]) -> None:
        """Write this turn's share of the output: first the connections that have output for
        the first time, then the oldest of those left over, together at most `write_budget`
        (a quarter of it kept for the leftovers); the rest wait for the next turn's slice."""
        budget = self.write_budget
        backlog = self._backlog
        first = budget - min(len(backlog), max(1, budget // 4))
        for conn in fresh[:first]:
            conn.flush()
        if len(fresh) > first:
            backlog.extend(fresh[first:])
        for _ in range(min(len(backlog), budget - min(len(fresh), first))):
            backlog.popleft().flush()
        if backlog:
            if self._scheduled is None:
                self._scheduled = asyncio.get_running_loop().call_soon(self.end_turn)
        elif self._caught_up is not None:
            self._caught_up()

    def forget(self, client: Client) -> None:
        """A connection ended: stop tracking it for backpressure."""
        self._held.discard(client)

    def _hold(self, sender: Client) -> None:
        """Stop reading from ``sender`` until the store has caught up (backpressure)."""
        transport = sender.conn.transport
        if transport is None or sender in self._held or sender.conn.closing:
            return
        now = time.monotonic()
        if now - self._warned_at > 60.0:
            self._warned_at = now
            log.warning("over %d messages wait for the disk; senders paused", self.waiting)
        self._held.add(sender)
        transport.pause_reading()

    def _release(self) -> None:
        held, self._held = self._held, set()
        for client in held:
            transport = client.conn.transport
            if transport is not None and not client.conn.closing:
                transport.resume_reading()
