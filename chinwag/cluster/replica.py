"""This node's copy of the rest of the network: other nodes' events applied to the local Network.

Every node keeps the whole network in its own `Network`: its own users, with a connection each,
and the users of the other nodes, as `Client`s whose link is a `RemoteLink` (no socket: what the
Network would send them is dropped, since their own node sends it). So WHOIS, NAMES, WHO and
every channel rule work on remote users exactly as on local ones, with no await and no Redis
query, and a line to a channel is delivered by each node to its own members.

The bus hands each node the events that concern it in the network's order (``redis_bus.py``);
`Replica.apply` replays another node's events through the same `Network` methods a handler
uses (`join`, `part`, `rename`, `remove`), so local members are told exactly as if the remote
user were here. A node's own events come back too and are skipped here: its handlers applied them
already. A node declared dead (`Replica.split`) takes its users with it: each QUITs with the
netsplit reason ``"<lost node> <this node>"`` that irssi and weechat recognise.

Events are JSON arrays, ``[kind, node, uid, ...]`` (``uid`` names a user within its node); the
encoders below are the only place that builds them.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Sequence
from typing import Any

from chinwag.server.fanout import Outgoing, send_to_channel
from chinwag.server.network import Network
from chinwag.server.state import ChannelBatch, Client

__all__ = [
    "RemoteLink",
    "Replica",
    "join_event",
    "message_event",
    "nick_event",
    "part_event",
    "quit_event",
    "user_event",
]

_log = logging.getLogger("chinwag.cluster")
_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def _ignore(msgid: str) -> None:
    """No node behind this replica (tests)."""


def _ignore_user(client: Client, party: str) -> None:
    """No history behind this replica (tests)."""


class RemoteLink:
    """The link of a user connected to another node: it sends nothing (their node does)."""

    tls = False
    transport: asyncio.Transport | None = None
    closing = True
    """Always: nothing is written to it, and no timer of this node (ping, registration) applies
    (its node does that)."""
    ping_sent_at: float | None = None

    def __init__(self, node: str, signon: float) -> None:
        """A link to a user of ``node`` who signed on at ``signon``."""
        self.node = node
        self.connected_at = signon
        self.last_read = signon
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
        """Not this node's to close: a KILL of a remote user goes through its node (not yet)."""

    def wait_for(self, task: asyncio.Future[Any]) -> None:
        """No lines of a remote user are read here."""


# -- events -------------------------------------------------------------------------------------


def user_event(node: str, uid: str, client: Client, party: str) -> str:
    """A user of ``node`` finished registration; ``party`` is its name in private history."""
    return _encode(
        [
            "user",
            node,
            uid,
            client.nick,
            client.user,
            client.host,
            client.realname,
            client.account,
            client.signon,
            party,
        ]
    )


def nick_event(node: str, uid: str, new_nick: str) -> str:
    """A user of ``node`` changed nick."""
    return _encode(["nick", node, uid, new_nick])


def join_event(node: str, uid: str, channel: str) -> str:
    """A user of ``node`` joined ``channel``."""
    return _encode(["join", node, uid, channel])


def part_event(node: str, uid: str, channel: str, reason: str | None) -> str:
    """A user of ``node`` left ``channel``."""
    return _encode(["part", node, uid, channel, reason])


def quit_event(node: str, uid: str, reason: str) -> str:
    """A user of ``node`` quit."""
    return _encode(["quit", node, uid, reason])


def message_event(
    node: str, uid: str, command: str, target: str, text: str, *, msgid: str, when: float
) -> str:
    """A user of ``node`` sent a PRIVMSG or NOTICE to a channel or a nick."""
    return _encode(["msg", node, uid, command, target, text, msgid, when])


# -- applying them ---------------------------------------------------------------------------


class Replica:
    """Applies the other nodes' events to this node's `Network` (see the module header).

    Args:
        network: this node's network.
        node: this node's name.
        on_own_message: called with the msgid of each of this node's own messages as it comes
            back (the node delivers it then, in the network's order).
        on_user: called with each new remote user and its name in private history.
    """

    def __init__(
        self,
        network: Network,
        node: str,
        on_own_message: Callable[[str], None] = _ignore,
        on_user: Callable[[Client, str], None] = _ignore_user,
    ) -> None:
        self._network = network
        self._node = node
        self._on_own_message = on_own_message
        self._on_user = on_user
        self._remote: dict[tuple[str, str], Client] = {}

    def remote_users(self, node: str) -> list[Client]:
        """The users of ``node`` this node knows of."""
        return [client for (where, _), client in self._remote.items() if where == node]

    def apply(self, events: Sequence[str]) -> None:
        """Apply events in order; a malformed or unknown one is logged and skipped."""
        for raw in events:
            try:
                event = json.loads(raw)
                kind, node, uid = event[0], event[1], event[2]
                if node == self._node:
                    if kind == "msg":
                        self._on_own_message(str(event[6]))
                    continue  # the rest of our own: applied when it happened
                self._apply(kind, node, uid, event[3:])
            except (ValueError, IndexError, TypeError, KeyError) as exc:
                _log.error("cluster: cannot apply event %r: %s", raw[:200], exc)

    def _apply(self, kind: str, node: str, uid: str, args: list[Any]) -> None:
        network = self._network
        if kind == "user":
            self._add_user(node, uid, args)
            return
        client = self._remote.get((node, uid))
        if client is None:
            _log.warning("cluster: %s event for unknown user %s/%s", kind, node, uid)
            return
        if kind == "nick":
            network.rename(client, str(args[0]))
        elif kind == "join":
            network.join(client, str(args[0]))
        elif kind == "part":
            channel = network.find_channel(str(args[0]))
            if channel is not None and client in channel.members:
                network.part(client, channel, None if args[1] is None else str(args[1]))
        elif kind == "quit":
            del self._remote[(node, uid)]
            network.remove(client, str(args[0]))
        elif kind == "msg":
            self._deliver(client, args)
        else:
            raise KeyError(f"unknown event kind {kind!r}")

    def _add_user(self, node: str, uid: str, args: list[Any]) -> None:
        nick, user, host, realname, account, signon, party = args
        network = self._network
        client = Client(
            conn=RemoteLink(node, signon),
            host=str(host),
            ip=node,  # counted per node, never against a local address's limit
            user=str(user),
            realname=str(realname),
            account=None if account is None else str(account),
            signon=float(signon),
        )
        if network.nick_in_use(str(nick), client):
            # Redis gave the nick to this user: a local holder can only be stale state.
            _log.error("cluster: %s/%s registered as %s, which is in use here", node, uid, nick)
            return
        network.add_connection(client)
        client.host = str(host)  # as its own node shows it (already cloaked there)
        network.claim_nick(client, str(nick))
        if client.account:
            client.account_party = str(party)  # private history's key, the same on every node
        network.mark_registered(client)
        self._remote[(node, uid)] = client
        self._on_user(client, str(party))

    def _deliver(self, client: Client, args: list[Any]) -> None:
        command, target, text, msgid, when = (str(arg) for arg in args)
        outgoing = Outgoing(
            client.prefix,
            command,
            target,
            text,
            msgid=msgid,
            account=client.account,
            when=float(when),
        )
        if target[:1] in "#&":
            channel = self._network.find_channel(target)
            if channel is not None:
                send_to_channel(channel, outgoing, client)
            return
        recipient = self._network.find(target)
        if recipient is not None and not isinstance(recipient.conn, RemoteLink):
            recipient.send(outgoing.line_for(recipient))

    def split(self, lost: str) -> None:
        """Node ``lost`` was declared dead: its users QUIT here with the netsplit reason."""
        reason = f"{lost} {self._node}"
        for key in [key for key in self._remote if key[0] == lost]:
            client = self._remote.pop(key)
            self._network.remove(client, reason)
        if lost == self._node:
            _log.error("cluster: this node (%s) was declared dead", lost)

    @property
    def remote_count(self) -> int:
        """How many remote users this node knows."""
        return len(self._remote)
