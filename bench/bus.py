"""The cost of the Redis bus per event, on one node: node CPU, Redis CPU, and the ceiling.

``python -m bench.bus [--events 200000] [--per-turn 64]`` starts its own Redis (unix socket,
``appendfsync always``, as the cluster runs it), joins one node, and sends ``--events`` channel
events in loop turns of ``--per-turn``, each coming back to the node (as a channel line to its own
members does). It reports events/s end to end, this process's CPU per event (sending, packing,
reading back), Redis's CPU per event (``/proc/PID/stat``) and the events/s one Redis core could
carry at that cost. Numbers are for one machine: run it where nothing else is busy.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from collections.abc import Sequence
from pathlib import Path

from bench.redis_server import throwaway_redis
from chinwag.cluster.events import room_message
from chinwag.cluster.redis_bus import RedisBus
from chinwag.server.fanout import Outgoing

__all__ = ["main"]

_TICKS = os.sysconf("SC_CLK_TCK")


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


async def _run(url: str, redis_pid: int, events: int, per_turn: int) -> dict[str, float]:
    received = 0
    done = asyncio.Event()

    def on_events(batch: Sequence[bytes]) -> None:
        nonlocal received
        received += len(batch)
        if received >= events:
            done.set()

    bus = RedisBus(url, "bench.node", on_events=on_events, on_split=print, on_fenced=done.set)
    await bus.start()
    bus.enter("#bench")
    await bus.flush()
    said = Outgoing("nick!~user@host", "PRIVMSG", "#bench", "x" * 60, msgid="0123456789abcdef")
    payload = room_message("bench.node", "1", said, command="PRIVMSG", channel_folded="#bench")
    redis_before, cpu_before, start = _cpu_seconds(redis_pid), time.process_time(), time.time()
    sent = 0
    while sent < events:
        for _ in range(min(per_turn, events - sent)):
            bus.to_channel("#bench", payload)
            sent += 1
        await asyncio.sleep(0)  # end of the loop turn: one script call carries this turn
    await done.wait()
    elapsed = time.time() - start
    node_cpu = time.process_time() - cpu_before
    redis_cpu = _cpu_seconds(redis_pid) - redis_before
    turns = bus.turns
    await bus.stop()
    return {
        "events_per_s": events / elapsed,
        "node_us_per_event": node_cpu / events * 1e6,
        "redis_us_per_event": redis_cpu / events * 1e6,
        "redis_ceiling_per_s": events / redis_cpu if redis_cpu else float("inf"),
        "script_calls": float(turns),
    }


def main() -> None:
    """Run the measurement and print one line per figure."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--per-turn", type=int, default=64)
    args = parser.parse_args()
    with throwaway_redis() as redis:
        figures = asyncio.run(_run(redis.url, redis.pid, args.events, args.per_turn))
    print(f"events: {args.events}, {args.per_turn} per loop turn")
    for name, value in figures.items():
        print(f"{name}: {value:,.2f}")


if __name__ == "__main__":
    main()
