"""Micro-measure of the SQLite writer: ``python tests/store/measure_append.py [COUNT]``.

Prints committed entries per second for a burst of appends, the enqueue cost seen by the
event loop, and the append-to-commit-callback latency at a few steady rates. Not a test: the
numbers depend on the machine and its load.
"""

from __future__ import annotations

import asyncio
import functools
import sys
import tempfile
import time
from pathlib import Path

from chinwag.store import ChannelTarget, DirectTarget, HistoryEntry, SqliteStore, Target

T0 = 1_700_000_000.0
TARGETS: list[Target] = [ChannelTarget(f"#c{i}") for i in range(10)] + [
    DirectTarget("amy", f"u{i}") for i in range(10)
]


def make(i: int) -> HistoryEntry:
    """A typical chat line."""
    return HistoryEntry(
        msgid=f"msgid-{i:012d}",
        time=T0 + i / 1000,
        target=TARGETS[i % len(TARGETS)],
        target_name="#c",
        sender="amy!a@host.example",
        account=None,
        command="PRIVMSG",
        text="hello world, this is a typical chat line of moderate length",
    )


async def burst(directory: Path, count: int) -> None:
    """Append ``count`` prepared entries as fast as possible, then flush."""
    store = SqliteStore(directory / "burst.sqlite3")
    entries = [make(i) for i in range(count)]
    start = time.perf_counter()
    for e in entries:
        store.history.append(e)
    queued = time.perf_counter() - start
    await store.flush()
    total = time.perf_counter() - start
    print(
        f"burst of {count}: {count / total:,.0f} entries/s committed,"
        f" {queued / count * 1e6:.1f} us per append on the loop, {store.writer.groups} groups"
    )
    await store.close()


async def paced(directory: Path, rate: int, seconds: float = 2.0) -> None:
    """Append at a steady ``rate`` and time each append until its commit callback."""
    store = SqliteStore(directory / f"paced{rate}.sqlite3")
    latencies: list[float] = []

    def record(sent: float) -> None:
        latencies.append(time.perf_counter() - sent)

    count = int(rate * seconds)
    start = time.perf_counter()
    i = 0
    while i < count:
        now = time.perf_counter()
        while i < count and start + i / rate <= now:
            store.history.append(make(i), then=functools.partial(record, time.perf_counter()))
            i += 1
        await asyncio.sleep(max(0.0, start + i / rate - time.perf_counter()))
    await store.flush()
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000

    print(
        f"steady {rate}/s: append-to-commit p50 {pct(0.5):.2f} ms, p99 {pct(0.99):.2f} ms,"
        f" max {latencies[-1] * 1000:.2f} ms, {store.writer.groups} groups"
    )
    await store.close()


async def main(count: int) -> None:
    """Run every measurement in a temporary directory."""
    with tempfile.TemporaryDirectory() as name:
        directory = Path(name)
        await burst(directory, count)
        for rate in (1_000, 5_000, 20_000):
            await paced(directory, rate)


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000))
