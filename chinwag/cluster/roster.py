"""The nodes of a network as Redis knows them, for the people who run it.

``chinwag admin nodes`` and the metrics show, for every node that holds a place in the network
(``cw:nodes``, see ``scripts.py``): its name, its epoch (which incarnation it is: a node that
restarted has a new one), how long ago it renewed its lease, and how many users it has (the
nicks its users hold in ``cw:nicks``). A node whose lease expired is still listed until the next
reaper run (within a second) removes it: its lease age is then past the lease.

Reading the roster costs a few Redis commands and runs only when someone asks (an admin
command, a metrics scrape); nothing here is on a message's path.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis

__all__ = ["NodeInfo", "read_roster"]


@dataclass(frozen=True)
class NodeInfo:
    """One node of the network, as of one reading of Redis."""

    name: str
    epoch: int
    lease_left: float
    """Seconds until its lease expires; 0 when it has expired (it is about to be reaped)."""
    users: int

    def lease_age(self, lease: float) -> float:
        """Seconds since the node last renewed its lease of ``lease`` seconds."""
        return max(0.0, lease - self.lease_left)


async def read_roster(redis: aioredis.Redis) -> list[NodeInfo]:
    """The nodes of the network on ``redis``, by name.

    Raises:
        RedisError: Redis cannot be reached.
    """
    held: Any = await redis.hgetall("cw:nodes")  # bytes -> bytes (no decode_responses)
    nodes = {name.decode(): int(epoch) for name, epoch in held.items()}
    names = sorted(nodes)
    async with redis.pipeline(transaction=True) as pipe:
        for name in names:
            pipe.pttl(f"cw:lease:{name}")
            pipe.scard(f"cw:owned:{name}")
        answers = await pipe.execute()
    roster: list[NodeInfo] = []
    for i, name in enumerate(names):
        left_ms, users = int(answers[2 * i]), int(answers[2 * i + 1])
        # PTTL: -2 when the lease key is gone (expired).
        roster.append(NodeInfo(name, nodes[name], max(0, left_ms) / 1000, users))
    return roster
