"""A server as one node of a network: its users' changes go out on the bus, others' come in.

`ClusterNode` stands between the server's parts and the `RedisBus`:

- as the Network's observer (`NetworkObserver`) it claims nicks network-wide before a user is
  welcomed or renamed (``433`` when any node's user holds it), and sends every change made here
  to every node (``to_all``: any node may later join a room, so every node keeps the whole
  network): registrations, renames, joins, parts, kicks, invites, quits, a user's status and
  modes, a channel's modes and topic (with the channel's whole shared state, so that every node
  ends with the state of the last change), server bans and channel registrations. A change is
  sent by the node where it was made (`_acting`): a change being applied from another node is
  not sent back out;
- as the Network's observer too it routes each PRIVMSG, NOTICE and TAGMSG (`relay`): a line to
  a channel goes to every node with members there, a private line to the recipient's node and
  back to this one (a line between two users of this node too). The local delivery waits until
  the line comes back from Redis (``_pending``), so that every node, this one included,
  delivers a room's lines in the one order Redis gave them, and no line is delivered before it
  is in Redis, with its history record (``network_history.py``);
- its `Replica` applies the other nodes' events, and their netsplits; a remote user's
  `RemoteLink.close` (KILL, a server ban) asks that user's node to close it (`_kill`);
- it answers a joining node's request for the network's state (`_send_snapshot`), and when it
  joins late itself waits for that answer before the server listens (`start`).

While Redis cannot be reached, or refuses its calls, the node refuses new messages, and tells
their senders, as a single server does on a full disk (``server/storage_health.py``); what was
already sent goes through when Redis answers again, within the lease, or the node was declared
dead. What Redis refuses for good (a call, or operations of one, over a corrupt key) is
dropped whole (`_refused`): the senders of its lines are told that they were not delivered.
Any other event or change refused leaves this node out of step with the network (a JOIN the
other nodes never saw, a nick Redis did not release): the node fences itself, and joins again.

A node that the network declared dead (``on_fenced``), or that fenced itself, closes every
local connection with "Lost contact with the network": its users reconnect, through the load
balancer, to a live node. Then it joins the network again as a new incarnation (`_rejoin`),
which reaps the old one everywhere, and takes the network's state from another node, as a node
that starts does: it agrees with Redis again, and serves users again.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Callable

from redis.exceptions import RedisError, ResponseError

from chinwag.cluster import events
from chinwag.cluster.bus import NetworkUnreachableError
from chinwag.cluster.network_history import NetworkHistory
from chinwag.cluster.redis_bus import COMMAND_TIMEOUT, FencedError, RedisBus
from chinwag.cluster.remote_link import RemoteLink
from chinwag.cluster.replica import Replica, SyncLostError
from chinwag.cluster.snapshot import channel_state, encode_network
from chinwag.protocol import fold
from chinwag.server.channel_registry import ChannelRegistry
from chinwag.server.fanout import STATUS_PREFIXES, Outgoing
from chinwag.server.history import History
from chinwag.server.network import Network
from chinwag.server.server_bans import ServerBans
from chinwag.server.state import Channel, Client, RegState, new_identity
from chinwag.store import BanKind, ServerBan, StoreError

__all__ = ["LOST_CONTACT", "REJOIN_INTERVAL", "SYNC_ATTEMPTS", "SYNC_TIMEOUT", "ClusterNode"]

_log = logging.getLogger("chinwag.cluster")

LOST_CONTACT = "Lost contact with the network"
SYNC_TIMEOUT = 10.0
"""Seconds a joining node waits for the network's state from the node it asked."""
SYNC_ATTEMPTS = 3
"""How many times a joining node asks (a new node each time, when one died) before it gives
up starting."""
REJOIN_INTERVAL = 1.0
"""Seconds between two tries of a fenced node to join the network again (Redis may be away)."""


_Pending = tuple[Callable[[], object], Client, str, Callable[[], object] | None]
"""A line of this node's on its way: deliver, sender, target name, and what to run if refused."""


def _local(client: Client) -> bool:
    """Whether ``client`` is connected to this node."""
    return not client.conn.remote


class ClusterNode:
    """This server's membership of a network (see the module header).

    Args:
        network: this server's network.
        history: this server's history (guest names in private history).
        redis_url: the network's Redis.
        node: this node's name.
        kept: the history store of the network, when history is kept: it writes through this
            node's bus.
        bans: the server bans, kept in step with the other nodes'.
        registry: the registered channels, likewise.
    """

    def __init__(
        self,
        network: Network,
        history: History,
        redis_url: str,
        node: str,
        kept: NetworkHistory | None = None,
        *,
        bans: ServerBans | None = None,
        registry: ChannelRegistry | None = None,
    ) -> None:
        self.node = node
        self._network = network
        self._history = history
        self.replica = Replica(
            network,
            node,
            on_own_message=self._delivered,
            on_user=history.adopt_guest,
            on_gone=history.client_gone,
            on_sync=self._send_snapshot,
            on_kill=self._kill,
            bans=bans,
            registry=registry,
        )
        self._redis_url = redis_url
        self._bans = bans
        self._registry = registry
        self.kept = kept
        self.bus = self._new_bus()
        self._claimed: dict[Client, str] = {}  # the folded nick each local user holds
        # Joins counted in by `claim_channel` and not yet made: `joined` does not enter again.
        self._entering: set[tuple[Client, str]] = set()
        # This node's lines on their way through Redis, by msgid: how to deliver each one here,
        # and who to tell if Redis refuses it (its sender, the target it named, and the rest
        # of the command: a labeled reply waiting for it).
        self._pending: dict[str, _Pending] = {}
        self._rejoining: asyncio.Task[None] | None = None  # between a fence and the new join
        self._stopping = False
        network.observer = self

    async def start(self) -> None:
        """Join the network, and learn its state from another node (if any) before any user
        of this one can come; then start moving history.

        Raises:
            NetworkUnreachableError: when Redis cannot be reached, or the network's state could
                not be had.
        """
        await self._join()
        if self.kept is not None:
            try:
                await self.kept.feed.start()
            except RedisError as exc:
                raise NetworkUnreachableError(f"cannot reach the network's Redis: {exc}") from None

    async def _join(self) -> None:
        """Join the network with `bus` (a new one), and take in its state from another node.
        A node asked that does not answer (it died meanwhile) costs a new try, with another
        node (`SYNC_ATTEMPTS`).

        Raises:
            NetworkUnreachableError: as for `start`.
        """
        for _ in range(SYNC_ATTEMPTS):
            try:
                peer = await self.bus.start()
            except RedisError as exc:
                raise NetworkUnreachableError(f"cannot reach the network's Redis: {exc}") from None
            self.replica.incarnation(self.bus.epoch)
            if peer is None:
                return  # the first node: nothing to learn
            # The inbox is read from the next await on: be ready for the snapshot first.
            synced = self.replica.await_snapshot(peer, self.bus.epoch)
            try:
                await asyncio.wait_for(synced, SYNC_TIMEOUT)
            except (TimeoutError, SyncLostError):
                _log.warning("cluster: %s did not send the network's state: joining again", peer)
                await self.bus.stop()
                self.bus = self._new_bus()  # a new incarnation, which reaps this one
                continue
            _log.info(
                "cluster: %s learnt the network from %s: %d users, %d channels",
                self.node,
                peer,
                self.replica.remote_count,
                len(self._network.channels),
            )
            return
        raise NetworkUnreachableError("no node of the network sent its state: start again")

    def _new_bus(self) -> RedisBus:
        bus = RedisBus(
            self._redis_url,
            self.node,
            on_events=self.replica.apply,
            on_split=self.replica.split,
            on_fenced=self._fenced,
            on_unreachable=self._unreachable,
            on_refused=self._refused,
        )
        if self.kept is not None:
            self.kept.attach(bus)
        return bus

    async def stop(self) -> None:
        """Leave: what is buffered is sent (the users' QUITs), then the connections close."""
        self._stopping = True
        if self._rejoining is not None:
            self._rejoining.cancel()
            await asyncio.wait([self._rejoining])
        await self.bus.stop()
        if self.kept is not None:
            await self.kept.feed.stop()

    def _uid(self, client: Client) -> str:
        return self.replica.local_uid(client)

    def _acting(self, source: Client | None) -> bool:
        """Whether a change by ``source`` (None: the server) was made here, and so must be
        sent to the other nodes (not one that is being applied from another node)."""
        return _local(source) if source is not None else not self.replica.applying

    def _send_snapshot(self, joining: str, epoch: str) -> None:
        """Node ``joining`` (its incarnation ``epoch``) asks for the network's state: send it
        this node's."""
        state = encode_network(
            self._network,
            self.replica.key_of,
            self._history.party,
            bans=(events.ban_fields(ban) for ban in (self._bans or {}).values()),
            registrations=(
                [record.name, record.founder, record.registered_at or 0.0]
                for record in (self._registry.registered.values() if self._registry else ())
            ),
        )
        self.bus.to(joining, events.snapshot_event(self.node, state, epoch))

    def _kill(self, node: str, uid: str, reason: str, quit_message: str | None) -> None:
        """Close the connection of user ``uid`` of ``node``: its node does it."""
        self.bus.to(node, events.kill_event(self.node, uid, reason, quit_message))

    # -- the Network's observer ----------------------------------------------------------------

    async def claim(self, client: Client, nick: str) -> bool | None:
        """See `NetworkObserver.claim`."""
        if self._rejoining is not None:
            return None  # not on the network until it has joined again: 437, try again
        wanted = fold(nick)
        held = self._claimed.get(client, "")
        try:
            won = await self.bus.claim_nick(self._uid(client), wanted, held)
        except (RedisError, FencedError) as exc:
            _log.warning("cluster: cannot claim nick %s: %s", nick, exc)
            return None
        if won:
            self._claimed[client] = wanted
        return won

    async def claim_channel(self, client: Client, name: str) -> tuple[bool, str] | None:
        """See `NetworkObserver.claim_channel`: Redis decides (``scripts.CLAIM_CHANNEL``), so
        that of two users of two nodes creating one channel at once exactly one is its
        operator, on every node, and both nodes keep its history under one identity."""
        if self._rejoining is not None:
            return None
        folded = fold(name)
        try:
            # This node's earlier changes first (a PART of the same channel just before: the
            # channel is then new again, as on one server).
            await asyncio.wait_for(self.bus.flush(), COMMAND_TIMEOUT)
            claim = await self.bus.claim_channel(self._uid(client), folded, new_identity(folded))
        except (RedisError, FencedError, TimeoutError) as exc:
            _log.warning("cluster: cannot claim channel %s: %s", name, exc)
            return None
        self._entering.add((client, folded))
        return claim

    def unclaim_channel(self, client: Client, name: str) -> None:
        """See `NetworkObserver.unclaim_channel`."""
        entering = (client, fold(name))
        if entering in self._entering:
            self._entering.discard(entering)
            self.bus.leave(entering[1])

    def registered(self, client: Client) -> None:
        """See `NetworkObserver.registered`."""
        if _local(client):
            party = self._history.party(client)
            self.bus.to_all(events.user_event(self.node, self._uid(client), client, party))

    def renamed(self, client: Client, old_nick: str) -> None:
        """See `NetworkObserver.renamed`.

        A rename of a user here usually follows its claim of the nick (`claim`); one without
        (the services: NickServ RECOVER, a guest nick after nick protection) takes the nick in
        Redis now. A rename here of another node's user (RECOVER of a nick held there) is
        asked of its node, which renames it the same way and tells everyone."""
        if not _local(client):
            key = self.replica.key_of(client)
            if key is not None and not self.replica.applying:
                self.bus.to(key[0], events.rename_event(self.node, key[1], client.nick))
            return
        uid = self._uid(client)
        wanted, held = client.nick_folded, self._claimed.get(client)
        if held != wanted:
            self.bus.take(wanted, uid)
            if held is not None:
                self.bus.release(held)
            self._claimed[client] = wanted
        self.bus.to_all(events.nick_event(self.node, uid, client.nick))

    def joined(self, client: Client, channel: Channel) -> None:
        """See `NetworkObserver.joined`."""
        if _local(client):
            entering = (client, channel.name_folded)
            if entering in self._entering:
                self._entering.discard(entering)  # `claim_channel` counted it in
            else:  # with its identity: the network may have none for it (see `Bus.enter`)
                self.bus.enter(channel.name_folded, channel.identity)
            uid = self._uid(client)
            op = channel.is_op(client)  # the creator: every node makes it the operator
            event = events.join_event(self.node, uid, channel.name, channel.identity, op)
            self.bus.to_all(event)

    def parted(self, client: Client, channel: Channel, reason: str | None) -> None:
        """See `NetworkObserver.parted`."""
        if _local(client):
            self.bus.to_all(events.part_event(self.node, self._uid(client), channel.name, reason))
            self.bus.leave(channel.name_folded)

    def kicked(self, kicker: Client | None, channel: Channel, target: Client, reason: str) -> None:
        """See `NetworkObserver.kicked`: the kicker's node tells every node; the target's
        node (the same or another) takes it out of the channel's routing."""
        key = self.replica.key_of(target)
        if self._acting(kicker) and key is not None:
            uid = self._uid(kicker) if kicker is not None else ""
            self.bus.to_all(events.kick_event(self.node, uid, channel.name, key, reason))
        if _local(target):
            self.bus.leave(channel.name_folded)

    def invited(self, client: Client, target: Client, channel: Channel) -> None:
        """See `NetworkObserver.invited`."""
        key = self.replica.key_of(target)
        if _local(client) and key is not None:
            uid = self._uid(client)
            self.bus.to_all(events.invite_event(self.node, uid, channel.name, key))

    def knocked(self, client: Client, channel: Channel, text: str) -> None:
        """See `NetworkObserver.knocked`: to the nodes with members there (its operators)."""
        if _local(client):
            uid = self._uid(client)
            self.bus.to_channel(
                channel.name_folded, events.knock_event(self.node, uid, channel.name, text)
            )

    def status_changed(self, client: Client, command: str, params: tuple[str, ...]) -> None:
        """See `NetworkObserver.status_changed`."""
        if _local(client) and client.registered:
            uid = self._uid(client)
            self.bus.to_all(events.status_event(self.node, uid, client, command, params))

    def channel_changed(
        self,
        source: Client | None,
        channel: Channel,
        prefix: str,
        command: str,
        params: tuple[str, ...],
    ) -> None:
        """See `NetworkObserver.channel_changed`: the channel's whole shared state goes with
        the change, so every node ends with the state of the last change."""
        if self._acting(source):
            uid = self._uid(source) if source is not None else ""
            state = channel_state(channel, self.replica.key_of)
            event = events.chan_event(
                self.node, uid, state, prefix=prefix, command=command, params=params
            )
            self.bus.to_all(event)
            self.replica.changing(channel.name_folded)

    def banned(self, ban: ServerBan) -> None:
        """See `NetworkObserver.banned`."""
        self.bus.to_all(events.kline_event(self.node, ban))

    def unbanned(self, kind: BanKind, target: str) -> None:
        """See `NetworkObserver.unbanned`."""
        self.bus.to_all(events.unkline_event(self.node, kind.value, target))

    def channel_registered(self, channel: Channel, founder: str, registered_at: float) -> None:
        """See `NetworkObserver.channel_registered`."""
        self.bus.to_all(events.register_event(self.node, channel.name, founder, registered_at))

    def channel_unregistered(self, name_folded: str) -> None:
        """See `NetworkObserver.channel_unregistered`."""
        self.bus.to_all(events.unregister_event(self.node, name_folded))

    def quitting(self, client: Client, reason: str) -> None:
        """See `NetworkObserver.quitting`."""
        if not _local(client):
            return
        uid = self.replica.forget(client)
        if uid is not None and client.registered:
            self.bus.to_all(events.quit_event(self.node, uid, reason))
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
        refused: Callable[[], object] | None = None,
    ) -> bool:
        """See `NetworkObserver.relay`: the line goes out on the bus, delivered here on return."""
        if channel is None and recipient is None:
            return False
        msgid = outgoing.msgid or ""
        uid = self._uid(sender)
        self._pending[msgid] = (deliver, sender, target_name, refused)
        if channel is not None:
            status = target_name[0] if target_name[0] in STATUS_PREFIXES else ""
            name = channel.name_folded
            event = events.room_message(
                self.node, uid, outgoing, command=command, channel_folded=name, status=status
            )
            self.bus.to_channel(name, event)
            if sender not in channel.members:
                self.bus.to(self.node, event)  # no member here: it must come back anyway
            return True
        assert recipient is not None
        link = recipient.conn
        if isinstance(link, RemoteLink):
            event = events.private_message(
                self.node, uid, outgoing, command=command, recipient_uid=link.uid
            )
            self.bus.to(link.node, event)
        else:
            to_uid = self._uid(recipient)
            event = events.private_message(
                self.node, uid, outgoing, command=command, recipient_uid=to_uid
            )
        self.bus.to(self.node, event)  # delivered here once in Redis, even between locals
        return True

    def _delivered(self, msgid: str) -> None:
        """One of this node's lines came back from Redis: deliver it here now."""
        pending = self._pending.pop(msgid, None)
        if pending is not None:
            pending[0]()

    # -- losing Redis ----------------------------------------------------------------------------

    def _unreachable(self, error: BaseException | None) -> None:
        """The bus cannot reach Redis, or Redis refuses its calls (``error``), or calls go
        through again (None)."""
        health = self._history.health
        if error is None:
            health.stored()
        elif isinstance(error, ResponseError):  # details in the log: users are told what, not where
            health.unavailable(StoreError("the network's Redis refuses writes"))
        else:
            health.unavailable(StoreError("the network's Redis cannot be reached"))

    def _refused(self, refused: list[bytes], changes: bool) -> None:
        """Redis refused events of this node's for good (`OnRefused`): the senders of its lines
        are told they were not delivered; any other event or change lost means the network
        and this node no longer agree: it fences itself and joins again (`_rejoin`)."""
        own = f"{self.node}\0".encode()
        lost = changes
        for raw in refused:
            parts = raw.split(b"\0", 3)  # node, kind, a message's msgid (``events.py``)
            if not raw.startswith(own) or len(parts) < 3 or parts[1] not in events.HOT:
                lost = True
                continue
            pending = self._pending.pop(parts[2].decode("utf-8", "replace"), None)
            if pending is None:
                continue  # its line was refused already (another of its destinations)
            _deliver, sender, target_name, gave_up = pending
            if sender.state is not RegState.CLOSED:
                self._tell_refused(sender, target_name)
            if gave_up is not None:
                gave_up()
        if lost and not self.bus.fenced:
            _log.error(
                "cluster: Redis refused a change of %s's: joining the network again", self.node
            )
            self.bus.fence()

    def _tell_refused(self, sender: Client, target_name: str) -> None:
        """Tell ``sender`` that its line to ``target_name`` was refused by Redis."""
        health = self._history.health
        if health.failing:  # the whole call was refused: the episode says why
            health.refuse(sender, target_name)
            return
        health.withheld += 1
        self._network.notice(
            sender,
            f"Your message to {target_name} was not delivered: the network's Redis refused it "
            "(the server's log says why).",
        )

    # -- being declared dead, and joining again -------------------------------------------------

    def _fenced(self) -> None:
        """The network declared this node dead, or it fenced itself: its users go, and it
        joins again (`_rejoin`)."""
        _log.error("cluster: %s is off the network: closing every connection", self.node)
        self._pending.clear()
        for client in list(self._network.connections):
            if _local(client):
                client.conn.close(LOST_CONTACT)
        if not self._stopping and self._rejoining is None:
            self._rejoining = asyncio.get_running_loop().create_task(
                self._rejoin(), name=f"rejoin-{self.node}"
            )

    async def _rejoin(self) -> None:
        """Join the network again as a new incarnation, with its state from another node (as
        `start`), once its users are gone; try again every `REJOIN_INTERVAL` until it works."""
        try:
            await self.bus.stop()  # fenced: it sends nothing more, and does not leave
            # Nobody is left here to tell: the remote users go quietly, and come back with the
            # network's state (this node's own users were closed by `_fenced`).
            self.replica.reset()
            self._claimed.clear()
            self._entering.clear()
            for attempt in itertools.count():
                self.bus = self._new_bus()
                try:
                    await self._join()
                except NetworkUnreachableError as exc:
                    # Said once: Redis may be away for long, and the node tries every second.
                    _log.log(
                        logging.DEBUG if attempt else logging.WARNING,
                        "cluster: %s cannot join the network again yet: %s",
                        self.node,
                        exc,
                    )
                    await self.bus.stop()
                    self.replica.reset()  # what a half-received snapshot brought
                    await asyncio.sleep(REJOIN_INTERVAL)
                    continue
                _log.warning(
                    "cluster: %s joined the network again (epoch %s)", self.node, self.bus.epoch
                )
                return
        finally:
            self._rejoining = None
