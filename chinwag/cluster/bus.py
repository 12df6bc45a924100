"""The bus: how a node's events reach the nodes that must see them, in one order for all.

A node never applies a change of shared state (a message to a room with members elsewhere, a
join, a quit) directly: it *sends* the event on the bus, with how to route it, and applies it
when the bus hands it back, in the bus's order. On one node that order is simply the order of
sending (`LocalBus`: handing back is a function call); on several nodes Redis makes it
(``redis_bus.py``): every node receives the events it must see in the same relative order.

Events are lines of bytes to the bus (``events.py`` builds and reads them; the bus only relies
on each ending with a line end and holding no other); routes say who gets them:

- ``to(node)``: one node; ``to_channel(chan)``: every node with members in the channel;
  ``to_all()``: every node.
- ``enter(chan)`` / ``leave(chan)``: this node gains or loses a member of a channel (so that
  channel routing knows where its members are); ``release(nick)``: a nick this node held is free;
  ``take(nick, uid)``: it is this user's now, whoever held it.

Everything sent during one event-loop turn travels together (one Redis call per turn).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

__all__ = ["Bus", "LocalBus", "NetworkUnreachableError", "OnEvents", "OnSplit"]

OnEvents = Callable[[Sequence[bytes]], None]
"""Called with events, in the network's order, as the bus hands them back to this node."""
OnSplit = Callable[[str], None]
"""Called with the name of a node that was declared dead: its users are gone."""


class NetworkUnreachableError(Exception):
    """A node cannot join its network (Redis cannot be reached); the message says why."""


class Bus(Protocol):
    """What a node sends on; see the module header."""

    @property
    def node(self) -> str:
        """This node's name."""
        ...

    def to(self, node: str, event: bytes) -> None:
        """Send ``event`` to ``node``."""
        ...

    def to_channel(self, channel_folded: str, event: bytes) -> None:
        """Send ``event`` to every node with members in the channel."""
        ...

    def to_all(self, event: bytes) -> None:
        """Send ``event`` to every node."""
        ...

    def enter(self, channel_folded: str, identity: str = "") -> None:
        """One more member of the channel is on this node; ``identity`` is the channel's
        history identity as this node knows it, which the network keeps when it has none."""
        ...

    def leave(self, channel_folded: str) -> None:
        """One fewer member of the channel is on this node."""
        ...

    def release(self, nick_folded: str) -> None:
        """A nick held by a user of this node is free."""
        ...

    def take(self, nick_folded: str, uid: str) -> None:
        """User ``uid`` of this node holds the nick now, whoever held it (the services gave
        it: NickServ RECOVER, a guest nick)."""
        ...


class LocalBus:
    """The bus of a single node: every event comes straight back, with nothing to route.

    Its cost is a function call per event, so the single-node server pays nothing for the seam.
    """

    def __init__(self, node: str, on_events: OnEvents) -> None:
        """Hand every event sent to ``on_events`` at once."""
        self._node = node
        self._on_events = on_events

    @property
    def node(self) -> str:
        """This node's name."""
        return self._node

    def to(self, node: str, event: bytes) -> None:
        """See :meth:`Bus.to`; only this node exists."""
        if node == self._node:
            self._on_events((event,))

    def to_channel(self, channel_folded: str, event: bytes) -> None:
        """See :meth:`Bus.to_channel`."""
        self._on_events((event,))

    def to_all(self, event: bytes) -> None:
        """See :meth:`Bus.to_all`."""
        self._on_events((event,))

    def enter(self, channel_folded: str, identity: str = "") -> None:
        """Nothing to record: there is no other node to route to."""

    def leave(self, channel_folded: str) -> None:
        """Nothing to record."""

    def release(self, nick_folded: str) -> None:
        """Nothing to record: the local nick index is the only one."""

    def take(self, nick_folded: str, uid: str) -> None:
        """Nothing to record, likewise."""
