"""What a `Network` tells of every change it makes: the seam where a node of a network hooks in.

A single server has no observer (`Network.observer` is None, one test per change). A node of a
network has one (``chinwag/cluster/node.py``), which sends each change of its own users to the
other nodes and routes messages through the network. Every method is called after the change
was made and its lines were sent here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from chinwag.server.fanout import Outgoing
from chinwag.server.state import Channel, Client

if TYPE_CHECKING:
    from chinwag.store import BanKind, ServerBan

__all__ = ["NetworkObserver"]


class NetworkObserver(Protocol):
    """Told of every change of who is where, after it happened: the node of a network
    (``chinwag/cluster/node.py``) tells the other nodes. None on a single server."""

    async def claim(self, client: Client, nick: str) -> bool | None:
        """Claim ``nick`` for ``client`` network-wide: False when someone holds it, None when
        the network cannot be asked."""
        ...

    def relay(
        self,
        sender: Client,
        channel: Channel | None,
        recipient: Client | None,
        outgoing: Outgoing,
        deliver: Callable[[], object],
        *,
        target_name: str,
        command: str,
        text: str,
        refused: Callable[[], object] | None = None,
    ) -> bool:
        """Route a PRIVMSG or NOTICE through the network; True when it did, and will run
        ``deliver`` when the line comes back, or ``refused`` when the network refused it (its
        sender is told; False: deliver it now, nothing to route)."""
        ...

    async def claim_channel(self, client: Client, name: str) -> tuple[bool, str] | None:
        """``client`` joins channel ``name``, which nobody on this node is in: ask the network
        whether it creates the channel (and is its operator). Returns whether it does, and the
        identity of the channel's history (drawn by its creator); None when the network cannot
        be asked. A claim no join uses must be given back (`unclaim_channel`)."""
        ...

    def unclaim_channel(self, client: Client, name: str) -> None:
        """The join `claim_channel` claimed did not happen: give the claim back (nothing to do
        when the join happened)."""

    def registered(self, client: Client) -> None:
        """``client`` finished registration."""

    def renamed(self, client: Client, old_nick: str) -> None:
        """``client`` was ``old_nick`` until now."""

    def joined(self, client: Client, channel: Channel) -> None:
        """``client`` joined ``channel``."""

    def parted(self, client: Client, channel: Channel, reason: str | None) -> None:
        """``client`` left ``channel`` (PART or KICK)."""

    def quitting(self, client: Client, reason: str) -> None:
        """``client`` is going away (still in its channels)."""

    def kicked(self, kicker: Client | None, channel: Channel, target: Client, reason: str) -> None:
        """``target`` was kicked out of ``channel`` by ``kicker`` (None: the server)."""

    def invited(self, client: Client, target: Client, channel: Channel) -> None:
        """``client`` invited ``target`` to ``channel``."""

    def knocked(self, client: Client, channel: Channel, text: str) -> None:
        """``client`` knocked on ``channel`` (KNOCK) with ``text``: its operators were told."""

    def status_changed(self, client: Client, command: str, params: tuple[str, ...]) -> None:
        """``client``'s status changed (AWAY, SETNAME, ACCOUNT, CHGHOST): ``command params``
        told its followers; or its user modes (``MODE``, told nobody else)."""

    def channel_changed(
        self,
        source: Client | None,
        channel: Channel,
        prefix: str,
        command: str,
        params: tuple[str, ...],
    ) -> None:
        """``channel``'s modes or topic changed: ``:prefix command params`` told its members
        (``source`` did it; None: the server or a service)."""

    def banned(self, ban: ServerBan) -> None:
        """A server ban was set (and stored)."""

    def unbanned(self, kind: BanKind, target: str) -> None:
        """A server ban was lifted."""

    def channel_registered(self, channel: Channel, founder: str, registered_at: float) -> None:
        """``channel`` was registered (and stored)."""

    def channel_unregistered(self, name_folded: str) -> None:
        """A channel's registration was dropped."""
