"""A user of another node, as this node holds it: a `Client` whose link sends nothing.

Every node keeps the whole network (``replica.py``): the users of the other nodes are `Client`s
here too, so that WHOIS, NAMES, WHO and every channel rule work on them as on local users. Their
link is a `RemoteLink`: what this node's `Network` would send them is dropped (their own node
sends it), no timer of this node applies to them, and closing one (KILL, a server ban) asks
their node to close it, whose QUIT then comes back as an event.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from chinwag.server.state import ChannelBatch

__all__ = ["OnKill", "RemoteLink"]

OnKill = Callable[[str, str, str, str | None], None]
"""Called with a remote user's node and uid, a reason and a quit message: close it there."""


def _ignore(*args: object) -> None:
    """No node behind this link (tests)."""


class RemoteLink:
    """The link of a user connected to another node: it sends nothing (their node does)."""

    tls = False
    transport: asyncio.Transport | None = None
    closing = True
    """Always: nothing is written to it, and no timer of this node (ping, registration) applies
    (its node does that)."""
    remote = True
    """A user of another node (`Link.remote`): its node closes it, and quits it here."""
    ping_sent_at: float | None = None

    def __init__(self, node: str, uid: str, signon: float, on_kill: OnKill = _ignore) -> None:
        """A link to user ``uid`` of ``node``, who signed on at ``signon``."""
        self.node = node
        self.uid = uid
        self.connected_at = signon
        self.last_read = signon
        self._on_kill = on_kill
        self.lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.lost.set_result(None)  # nothing for this node to wait for at shutdown

    def enqueue(self, data: bytes) -> None:
        """Dropped: the user's own node delivers to them."""

    def enqueue_lazy(self, data: bytes) -> None:
        """Dropped, like :meth:`enqueue`."""

    def charge(self, replies: int) -> None:
        """No flood budget here: the user's own node keeps it."""

    def can_hold(self) -> bool:
        """Yes: holding a batch costs nothing here."""
        return True

    def hold(self, batch: ChannelBatch) -> None:
        """Dropped, like :meth:`enqueue`."""

    def hold_lazily(self, batch: ChannelBatch) -> None:
        """Dropped, like :meth:`enqueue`."""

    def capture(self) -> None:
        """Nothing to capture: no command of a remote user is handled here."""

    def release(self) -> list[bytes]:
        """Nothing was captured."""
        return []

    def flush(self) -> None:
        """Nothing to write."""

    def close(self, reason: str, *, abort: bool = False, quit_message: str | None = None) -> None:
        """Ask the user's own node to close its connection (KILL, a server ban): its QUIT
        comes back from there."""
        self._on_kill(self.node, self.uid, reason, quit_message)

    def wait_for(self, task: asyncio.Future[Any]) -> None:
        """No lines of a remote user are read here."""
