"""Crash-test child: append history as fast as it can and report what is committed.

Usage: ``python crash_child.py DB_PATH FIRST_ID``. Prints ``C <msgid>`` from each entry's commit
callback and ``F <n>`` after each flush (every id below ``n`` is committed). Runs until killed.
"""

from __future__ import annotations

import asyncio
import functools
import sys
from pathlib import Path

from chinwag.store import (
    ChannelRecord,
    ChannelTarget,
    DirectTarget,
    HistoryEntry,
    SqliteStore,
    Target,
)

T0 = 1_700_000_000.0


def report(line: str) -> None:
    """Write one line and push it out at once."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


async def main(path: Path, first: int) -> None:
    """Append forever in bursts, with a flush point every tenth burst."""
    store = SqliteStore(path)
    targets: list[Target] = [
        ChannelTarget("#lobby"),
        ChannelTarget("#dev"),
        DirectTarget("amy", "bob"),
    ]
    n = first
    burst = 0
    while True:
        for _ in range(100):
            msgid = f"id{n}"
            store.history.append(
                HistoryEntry(
                    msgid=msgid,
                    time=T0 + n / 1000,
                    target=targets[n % len(targets)],
                    target_name="#lobby",
                    sender="amy!a@host",
                    account=None,
                    command="PRIVMSG",
                    text=f"message {n} " + "x" * (n % 200),
                    tags={"+n": str(n)},
                ),
                then=functools.partial(report, f"C {msgid}"),
            )
            n += 1
        store.channels.save(ChannelRecord("#lobby", "#lobby", modes=f"+l {n}"))
        burst += 1
        if burst % 10 == 0:
            await store.flush()
            report(f"F {n}")
        else:
            await asyncio.sleep(0)


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), int(sys.argv[2])))
