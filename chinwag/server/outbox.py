"""The outbox: each loop turn's output is written at the end of the turn, once what it shows is
on disk.

Theory of operation
-------------------
Handlers queue output synchronously, in the order things happen (`Connection.enqueue`), and
the first output of a turn for a connection registers it here (`mark_dirty`). At the end of the
turn `end_turn` writes every dirty connection's output with one ``transport.write`` each.

Durable delivery (``[history] durable_delivery``, the default) adds one rule: no client may see
a stored message before it is committed, or a crash could take back what somebody read. Delaying
each message until its commit would let everything that is not stored (a JOIN, a NICK, a KICK,
a PONG) overtake it. So the whole turn waits instead: when the turn stored anything
(`recorded`), its output is taken out of the connections as bytes and kept in a *gate*, and one
barrier is put in the store's write stream (``after_writes``) behind the turn's rows. When the
store reaches the barrier, the gate opens and its bytes are written. Gates open in the order
they were made, and a turn that stored nothing but follows a closed gate joins that gate, so
every connection receives its bytes in the order they were queued, and every observer sees one
client's events in the order they happened, exactly as without durable delivery: the only
difference is when the bytes leave. The cost is per turn (one barrier, one list of pairs), not
per message: nothing is built per message to wait for the commit.

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

from chinwag.store import StoreError

if TYPE_CHECKING:
    from chinwag.server.connection import Connection
    from chinwag.server.state import Client

__all__ = ["Barrier", "Outbox"]

log = logging.getLogger("chinwag.outbox")

Barrier = Callable[[Callable[[], object]], None]
"""Runs a callback once every record stored before is committed (``HistoryStore.after_writes``)."""

# One connection's bytes in a gate; ``last``: close the socket after writing them.
_Entry = tuple["Connection", bytes, bool]


class Outbox:
    """Writes the output of each loop turn, behind the commit of what the turn stored.

    Args:
        barrier: how to wait for the store's commits; None when nothing waits for them
            (history off, or ``durable_delivery = false``).
    """

    max_waiting = 4096
    """Stored records whose turn's output may wait for their commit before the connections
    that store more are paused (``pause_reading``) until half of them are out."""

    def __init__(self, barrier: Barrier | None = None) -> None:
        self.barrier = barrier
        self._dirty: list[Connection] = []
        self._finals: list[_Entry] = []
        self._scheduled: asyncio.Handle | None = None
        self._recorded = 0  # records stored this turn
        self._waiting = 0  # records stored whose turn's output is not written yet
        self._gates: deque[list[_Entry]] = deque()
        self._gate_sizes: deque[int] = deque()
        self._held: set[Client] = set()
        self._warned_at = -60.0
        # Bound once: every barrier passes this same object as its callback.
        self._on_commit = self._open_gate

    @property
    def waiting(self) -> int:
        """Records stored whose turn's output waits for their commit."""
        return self._waiting

    def mark_dirty(self, conn: Connection) -> None:
        """Remember that ``conn`` has output; it is written at the end of this loop turn."""
        self._dirty.append(conn)
        if self._scheduled is None:
            self._scheduled = asyncio.get_running_loop().call_soon(self.end_turn)

    def recorded(self, sender: Client) -> None:
        """One record was handed to the store this turn (durable delivery): this turn's output
        waits for its commit. ``sender`` is paused when too many records wait."""
        self._recorded += 1
        self._waiting += 1
        if self._scheduled is None:
            self._scheduled = asyncio.get_running_loop().call_soon(self.end_turn)
        if self._waiting > self.max_waiting:
            self._hold(sender)

    def finish(self, conn: Connection, data: bytes) -> None:
        """Write ``conn``'s last bytes in turn, then close its socket."""
        if not self._recorded and not self._gates:
            conn.write(data, last=True)
            return
        self._finals.append((conn, data, True))
        if self._scheduled is None:
            self._scheduled = asyncio.get_running_loop().call_soon(self.end_turn)

    def end_turn(self) -> None:
        """Write this turn's output, or gate it behind the commit of what the turn stored."""
        self._scheduled = None
        dirty, self._dirty = self._dirty, []
        finals, self._finals = self._finals, []
        recorded = self._recorded
        if not recorded and not self._gates:  # nothing to wait for: the usual case
            for conn in dirty:
                conn.flush()
            for conn, data, last in finals:
                conn.write(data, last=last)
            return
        entries: list[_Entry] = [(conn, conn.take(), False) for conn in dirty]
        entries.extend(finals)
        if not recorded:  # nothing new to commit: go out with the gate it follows
            self._gates[-1].extend(entries)
            return
        self._recorded = 0
        self._gates.append(entries)
        self._gate_sizes.append(recorded)
        barrier = self.barrier
        try:
            if barrier is None:
                raise StoreError("no store to wait for")
            barrier(self._on_commit)
        except StoreError as exc:  # closed during shutdown, or broken: the chat goes on
            log.warning("output not gated on the store: %s", exc)
            self._open_gate()

    def _open_gate(self) -> None:
        """The oldest gate's records are committed: write its bytes (barriers run in order)."""
        entries = self._gates.popleft()
        self._waiting -= self._gate_sizes.popleft()
        for conn, data, last in entries:
            conn.write(data, last=last)
        if self._held and self._waiting <= self.max_waiting // 2:
            self._release()

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
            log.warning("over %d messages wait for the disk; senders paused", self._waiting)
        self._held.add(sender)
        transport.pause_reading()

    def _release(self) -> None:
        held, self._held = self._held, set()
        for client in held:
            transport = client.conn.transport
            if transport is not None and not client.conn.closing:
                transport.resume_reading()
