"""A bus node in a process of its own, for the tests that kill or stop one.

``python -m tests.cluster.bus_child URL NODE LEASE RENEW``: joins, holds nick ``zed``, is in
``#c``, prints ``ready``, then sends ``NODE:i`` to ``#c`` every 20 ms until it is fenced, when it
prints ``fenced`` (and keeps running, so that a test sees it write nothing more).
"""

from __future__ import annotations

import asyncio
import sys

from chinwag.cluster.redis_bus import RedisBus

SEND_INTERVAL = 0.02


async def main(url: str, node: str, lease: float, renew: float) -> None:
    """Run the node until killed."""
    bus = RedisBus(
        url,
        node,
        on_events=lambda events: None,
        on_split=lambda lost: None,
        on_fenced=lambda: print("fenced", flush=True),
        lease=lease,
        renew_interval=renew,
    )
    await bus.start()
    if not await bus.claim_nick("u1", "zed"):
        raise SystemExit("nick zed is taken")
    bus.enter("#c")
    await bus.flush()
    print("ready", flush=True)
    sent = 0
    while not bus.fenced:
        bus.to_channel("#c", f"{node}:{sent}\n".encode())
        sent += 1
        await asyncio.sleep(SEND_INTERVAL)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])))
