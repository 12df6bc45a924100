"""A server as one node of a network: its users' changes go out on the bus, others' come in.

`ClusterNode` stands between the server's parts and the `RedisBus`:

- as the Network's observer (`NetworkObserver`) it claims nicks network-wide before a user is
  welcomed or renamed (``433`` when any node's user holds it), and sends every registration,
  rename, join, part and quit of a local user to every node (``to_all``: any node may later
  join a room, so every node keeps the whole membership);
- as the Network's observer too it routes each PRIVMSG and NOTICE (`relay`): a line to a
  channel goes to every node with members there, a private line to the recipient's node and
  back to this one (a line between two users of this node too). The local delivery waits until
  the line comes back from Redis (``_pending``), so that every node, this one included,
  delivers a room's lines in the one order Redis gave them, and no line is delivered before it
  is in Redis, with its history record (``network_history.py``);
- its `Replica` applies the other nodes' events, and their netsplits.

While Redis cannot be reached the node refuses new messages, and tells their senders, as a
single server does on a full disk (``server/storage_health.py``); what was already sent goes
through when Redis answers again, within the lease, or the node was declared dead.

A node that the network declared dead (``on_fenced``) closes every local connection with
"Lost contact with the network": its users reconnect, through the load balancer, to a live node.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable

from redis.exceptions import RedisError

from chinwag.cluster.bus import NetworkUnreachableError
from chinwag.cluster.network_history import NetworkHistory
from chinwag.cluster.redis_bus import RedisBus
from chinwag.cluster.replica import (
    RemoteLink,
    Replica,
    join_event,
    message_event,
    nick_event,
    part_event,
    quit_event,
    user_event,
)
from chinwag.protocol import fold
from chinwag.server.fanout import Outgoing
from chinwag.server.history import History
from chinwag.server.network import Network
from chinwag.server.state import Channel, Client
from chinwag.store import StoreError

__all__ = ["LOST_CONTACT", "ClusterNode"]

_log = logging.getLogger("chinwag.cluster")

LOST_CONTACT = "Lost contact with the network"


def _local(client: Client) -> bool:
    return not isinstance(client.conn, RemoteLink)


class ClusterNode:
    """This server's membership of a network (see the module header).

    Args:
        network: this server's network.
        history: this server's history (guest names in private history).
        redis_url: the network's Redis.
        node: this node's name.
        kept: the history store of the network, when history is kept: it writes through this
            node's bus.
    """

    def __init__(
        self,
        network: Network,
        history: History,
        redis_url: str,
        node: str,
        kept: NetworkHistory | None = None,
    ) -> None:
        self.node = node
        self._network = network
        self._history = history
        self.replica = Replica(
            network, node, on_own_message=self._delivered, on_user=history.adopt_guest
        )
        self.bus = RedisBus(
            redis_url,
            node,
            on_events=self.replica.apply,
            on_split=self.replica.split,
            on_fenced=self._fenced,
            on_unreachable=self._unreachable,
        )
        self.kept = kept
        if kept is not None:
            kept.attach(self.bus)
        self._uids: dict[Client, str] = {}
        self._claimed: dict[Client, str] = {}  # the folded nick each local user holds
        self._counter = itertools.count(1)
        self._pending: dict[str, Callable[[], object]] = {}
        network.observer = self

    async def start(self) -> None:
        """Join the network.

        Raises:
            NetworkUnreachableError: when Redis cannot be reached.
        """
        try:
            await self.bus.start()
            if self.kept is not None:
                await self.kept.feed.start()
        except RedisError as exc:
            raise NetworkUnreachableError(f"cannot reach the network's Redis: {exc}") from None

    async def stop(self) -> None:
        """Leave: what is buffered is sent (the users' QUITs), then the connections close."""
        await self.bus.stop()
        if self.kept is not None:
            await self.kept.feed.stop()

    def _uid(self, client: Client) -> str:
        uid = self._uids.get(client)
        if uid is None:
            uid = self._uids[client] = str(next(self._counter))
        return uid

    # -- the Network's observer ----------------------------------------------------------------

    async def claim(self, client: Client, nick: str) -> bool:
        """See `NetworkObserver.claim`."""
        wanted = fold(nick)
        held = self._claimed.get(client, "")
        won = await self.bus.claim_nick(self._uid(client), wanted, held)
        if won:
            self._claimed[client] = wanted
        return won

    def registered(self, client: Client) -> None:
        """See `NetworkObserver.registered`."""
        if _local(client):
            party = self._history.party(client)
            self.bus.to_all(user_event(self.node, self._uid(client), client, party))

    def renamed(self, client: Client, old_nick: str) -> None:
        """See `NetworkObserver.renamed`."""
        if _local(client):
            self.bus.to_all(nick_event(self.node, self._uid(client), client.nick))

    def joined(self, client: Client, channel: Channel) -> None:
        """See `NetworkObserver.joined`."""
        if _local(client):
            self.bus.enter(channel.name_folded)
            self.bus.to_all(join_event(self.node, self._uid(client), channel.name))

    def parted(self, client: Client, channel: Channel, reason: str | None) -> None:
        """See `NetworkObserver.parted`."""
        if _local(client):
            self.bus.to_all(part_event(self.node, self._uid(client), channel.name, reason))
            self.bus.leave(channel.name_folded)

    def quitting(self, client: Client, reason: str) -> None:
        """See `NetworkObserver.quitting`."""
        if not _local(client):
            return
        uid = self._uids.pop(client, None)
        if uid is not None and client.registered:
            self.bus.to_all(quit_event(self.node, uid, reason))
        if client.registered:
            for name_folded in client.channels:
                self.bus.leave(name_folded)
        held = self._claimed.pop(client, None)
        if held is not None:
            self.bus.release(held)

    # -- routing messages ----------------------------------------------------------------------

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
    ) -> bool:
        """See `NetworkObserver.relay`: the line goes out on the bus, delivered here on return."""
        if channel is None and recipient is None:
            return False
        msgid = outgoing.msgid or ""
        event = message_event(
            self.node,
            self._uid(sender),
            command,
            target_name,
            text,
            msgid=msgid,
            when=outgoing.time,
        )
        self._pending[msgid] = deliver
        if channel is not None:
            self.bus.to_channel(channel.name_folded, event)
            if sender not in channel.members:
                self.bus.to(self.node, event)  # no member here: it must come back anyway
        else:
            assert recipient is not None
            if isinstance(recipient.conn, RemoteLink):
                self.bus.to(recipient.conn.node, event)
            self.bus.to(self.node, event)  # delivered here once in Redis, even between locals
        return True

    def _delivered(self, msgid: str) -> None:
        """One of this node's lines came back from Redis: deliver it here now."""
        deliver = self._pending.pop(msgid, None)
        if deliver is not None:
            deliver()

    # -- losing Redis ----------------------------------------------------------------------------

    def _unreachable(self, error: BaseException | None) -> None:
        """The bus cannot reach Redis (``error``), or can again (None)."""
        health = self._history.health
        if error is not None:  # its details are in the log: users are told what, not where
            health.unavailable(StoreError("the network's Redis cannot be reached"))
        else:
            health.stored()

    # -- being declared dead --------------------------------------------------------------------

    def _fenced(self) -> None:
        _log.error("cluster: %s lost its lease: closing every connection", self.node)
        self._pending.clear()
        for client in list(self._network.connections):
            if _local(client):
                client.conn.close(LOST_CONTACT)
