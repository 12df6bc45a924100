"""What the server counts about itself: plain ints, read by metrics, STATS and ``admin status``.

Theory of operation
-------------------
Counting must cost nothing on the hot path, so nothing here is a library call or a lock: the
connection adds the size of each read and each write (once per read or write, not per line), the
dispatcher adds one to its verb's count, and connections and disconnections are counted where
they happen. Other parts keep their own plain counts (``History.stored``,
``PasswordChecks.failed_count``), and what is a state rather than an event (users, channels) is
not counted at all: the exporter reads all of it when it is scraped.

`LoopMonitor` is the one timer: every `TICK` seconds it measures how late the event loop woke
it (the event-loop lag, kept as histogram buckets), times a no-op through the store's writer
(the store lag), and keeps a minute of totals for the rates that ``admin status`` shows.
"""

from __future__ import annotations

import asyncio
import bisect
import collections
import time
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["LAG_BUCKETS", "SENT", "LoopMonitor", "SentLines", "Stats", "disconnect_reason"]

TICK = 1.0
RATE_WINDOW = 60
"""Seconds of totals kept for the rates."""

LAG_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
"""Upper bounds of the event-loop lag histogram, in seconds (the last bucket is +Inf)."""


class SentLines:
    """Lines queued for clients, counted where a line is given its recipients: once per message
    for a whole channel (``fanout.send_to_channel``), once per call for a list of people
    (``send_to_all``), once per line for one client (``Client.send``). Never in the per-recipient
    write path, where even an addition is measurable: the write of a channel batch to one
    member costs a few hundred nanoseconds in all."""

    __slots__ = ("count",)

    def __init__(self) -> None:
        self.count = 0


SENT = SentLines()
"""This process's tally of lines queued (module-level: the fan-out functions have no server)."""


def disconnect_reason(reason: str) -> str:
    """The label of a disconnection in ``chinwag_disconnects_total``: a few stable words."""
    for prefix, label in _REASONS:
        if reason.startswith(prefix):
            return label
    return "other"


_REASONS = (
    ("Quit", "quit"),
    ("Client Quit", "quit"),
    ("Connection closed", "closed"),
    ("Read error", "error"),
    ("Ping timeout", "ping_timeout"),
    ("Registration timed out", "registration_timeout"),
    ("SendQ exceeded", "sendq"),
    ("Excess Flood", "flood"),
    ("Killed", "killed"),
    ("K-Lined", "banned"),
    ("Bad password", "bad_password"),
    ("Server shutting down", "shutdown"),
)


@dataclass(slots=True)
class Stats:
    """Counters since the server started."""

    started: float = field(default_factory=time.time)
    accepted: int = 0
    refused: collections.Counter[str] = field(default_factory=collections.Counter)
    disconnects: collections.Counter[str] = field(default_factory=collections.Counter)
    received: dict[str, int] = field(default_factory=dict)
    """Lines received by verb (known verbs only; the rest under ``unknown``)."""
    bytes_received: int = 0
    bytes_sent: int = 0
    store_lag: float = 0.0
    """Seconds the last no-op took to pass through the store's writer."""
    lag_buckets: list[int] = field(default_factory=lambda: [0] * (len(LAG_BUCKETS) + 1))
    lag_sum: float = 0.0
    lag_count: int = 0

    @property
    def lines_sent(self) -> int:
        """Lines queued for clients (`SENT`)."""
        return SENT.count

    @property
    def lines_received(self) -> int:
        """Every line received."""
        return sum(self.received.values())

    def observe_lag(self, seconds: float) -> None:
        """Count one event-loop lag measurement."""
        self.lag_buckets[bisect.bisect_left(LAG_BUCKETS, seconds)] += 1
        self.lag_sum += seconds
        self.lag_count += 1


class LoopMonitor:
    """Measures event-loop lag and store lag, and keeps the totals behind the rates.

    Args:
        stats: where the measurements go.
        probe_store: queues a callback behind everything the store has to write, or None
            without a store that writes behind.
    """

    def __init__(
        self, stats: Stats, probe_store: Callable[[Callable[[], object]], None] | None
    ) -> None:
        self.stats = stats
        self._probe_store = probe_store
        self._timer: asyncio.TimerHandle | None = None
        self._due = 0.0
        self._probing = False
        self._samples: collections.deque[tuple[float, int, int, int, int]] = collections.deque(
            maxlen=RATE_WINDOW + 1
        )

    def start(self) -> None:
        """Start ticking."""
        self._schedule()

    def stop(self) -> None:
        """Stop ticking."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _schedule(self) -> None:
        loop = asyncio.get_running_loop()
        self._due = loop.time() + TICK
        self._timer = loop.call_at(self._due, self._tick)

    def _tick(self) -> None:
        lateness = asyncio.get_running_loop().time() - self._due
        self.stats.observe_lag(max(0.0, lateness))
        stats = self.stats
        self._samples.append(
            (
                time.monotonic(),
                stats.lines_received,
                stats.lines_sent,
                stats.bytes_received,
                stats.bytes_sent,
            )
        )
        if self._probe_store is not None and not self._probing:
            self._probing = True
            sent = time.monotonic()
            try:
                self._probe_store(lambda: self._probed(sent))
            except Exception:  # a closed or broken store: the lag is unknown, not fatal
                self._probing = False
        self._schedule()

    def _probed(self, sent: float) -> None:
        self._probing = False
        self.stats.store_lag = time.monotonic() - sent

    def rates(self) -> dict[str, float]:
        """Per-second rates over the last minute: lines and bytes, in and out."""
        if len(self._samples) < 2:
            return dict.fromkeys(
                ("lines_received", "lines_sent", "bytes_received", "bytes_sent"), 0.0
            )
        first, last = self._samples[0], self._samples[-1]
        span = max(last[0] - first[0], 1e-9)
        names = ("lines_received", "lines_sent", "bytes_received", "bytes_sent")
        return {name: (last[i + 1] - first[i + 1]) / span for i, name in enumerate(names)}
