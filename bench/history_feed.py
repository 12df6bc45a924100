"""The history of a network: how fast one node moves lines from Redis into PostgreSQL, and what
the exact read costs a CHATHISTORY query.

``python -m bench.history_feed --store postgresql://user@/db?host=/dir [--lines 20000]`` starts
its own Redis (unix socket, ``appendfsync always``, as the cluster runs it), keeps ``--lines``
history records through one node's bus (64 per script call), then starts one node's history
feed and times how long it takes to empty ``cw:history`` into the (empty) database. Then it
times a ``CHATHISTORY LATEST 50`` on that node (its read stores the conversation's unmoved lines
first) against PostgreSQL alone, with no unmoved line and with ``--tail`` unmoved lines of
another room (as when the feed lags). Numbers are for one machine: run it where nothing else is
busy, on a database you can write to (it adds a ``history`` table's rows).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

import redis.asyncio as aioredis

from bench.redis_server import throwaway_redis
from chinwag.cluster import scripts
from chinwag.cluster.history_feed import HistoryFeed
from chinwag.cluster.network_history import NetworkHistory
from chinwag.cluster.redis_bus import RedisBus
from chinwag.store import ChannelTarget, HistoryEntry
from chinwag.store.journal_records import encode_entry
from chinwag.store.postgres import PostgresStore

__all__ = ["main"]

PER_CALL = 64
QUERIES = 200
ROOM = ChannelTarget("#bench")
OTHER = ChannelTarget("#elsewhere")


def _line(i: int, target: ChannelTarget) -> HistoryEntry:
    return HistoryEntry(
        f"bench-{time.time_ns()}-{i}",
        time.time(),
        target,
        target.channel_folded,
        "amy!a@host",
        None,
        "PRIVMSG",
        f"line {i} " + "x" * 60,
    )


def _ignore(*args: object) -> None:
    """Nothing to do with what the bus hands back."""


async def _keep(bus: RedisBus, lines: int, target: ChannelTarget) -> float:
    """Keep ``lines`` records through ``bus``; returns the seconds it took."""
    start = time.perf_counter()
    for i in range(lines):
        bus.keep(encode_entry(_line(i, target)))
        if i % PER_CALL == PER_CALL - 1:
            await bus.flush()
    await bus.flush()
    return time.perf_counter() - start


async def _query_ms(history: NetworkHistory, store: PostgresStore) -> tuple[float, float]:
    """Median milliseconds per LATEST 50 through the node's history, and on PostgreSQL alone
    (medians: on a busy machine the mean measures the neighbours)."""
    await history.latest(ROOM, None, 50)  # the first opens connections and loads the script
    exact: list[float] = []
    alone: list[float] = []
    for _ in range(QUERIES):
        start = time.perf_counter()
        await history.flush()
        await history.latest(ROOM, None, 50)
        middle = time.perf_counter()
        await store.history.latest(ROOM, None, 50)
        exact.append(middle - start)
        alone.append(time.perf_counter() - middle)
    return statistics.median(exact) * 1000, statistics.median(alone) * 1000


async def _run(url: str, store_url: str, lines: int, tail: int) -> list[str]:
    store = PostgresStore(store_url)
    bus = RedisBus(url, "bench.node", on_events=_ignore, on_split=_ignore, on_fenced=_ignore)
    await bus.start()
    watcher: aioredis.Redis = aioredis.from_url(url)
    report = []
    try:
        kept = await _keep(bus, lines, ROOM)
        report.append(
            f"kept {lines} lines, {PER_CALL} per script call: {lines / kept:,.0f} lines/s"
        )
        feed = HistoryFeed(url, "bench.node", store.history)
        start = time.perf_counter()
        await feed.start()
        while await watcher.xlen(scripts.HISTORY) > 0:
            await asyncio.sleep(0.01)  # the feed's progress is in Redis: nothing to await
        moved = time.perf_counter() - start
        await feed.stop()
        report.append(f"one node's feed moved them into PostgreSQL at {lines / moved:,.0f} lines/s")
        history = NetworkHistory(store.history, HistoryFeed(url, "bench.node", store.history))
        history.attach(bus)
        exact, alone = await _query_ms(history, store)
        report.append(
            f"LATEST 50, nothing unmoved: {exact:.2f} ms (PostgreSQL alone {alone:.2f}), medians"
        )
        await _keep(bus, tail, OTHER)
        exact, alone = await _query_ms(history, store)
        report.append(
            f"LATEST 50, {tail} unmoved lines of another room: {exact:.2f} ms"
            f" (PostgreSQL alone {alone:.2f})"
        )
    finally:
        await watcher.aclose()
        await bus.stop()
        await store.close()
    return report


def main() -> None:
    """Run the measurements and print one line per figure."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--store", required=True, help="a PostgreSQL URL to write to")
    parser.add_argument("--lines", type=int, default=20_000)
    parser.add_argument("--tail", type=int, default=1_000)
    args = parser.parse_args()
    with throwaway_redis() as redis:
        report = asyncio.run(_run(redis.url, args.store, args.lines, args.tail))
    for line in report:
        print(line)


if __name__ == "__main__":
    main()
