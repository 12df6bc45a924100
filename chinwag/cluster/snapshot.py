"""The network's state as one value: what a node that joins late learns before it serves anyone.

A node that starts while others have users asks one of them for the network's state (the
``sync`` event, sent by the ``JOIN_NODE`` script in the same atomic step that creates the new
node's inbox). The node asked answers with `encode` of its own `Network` (every user, every
channel with its modes, topic, lists and members). What the snapshot holds and what the new
node reads from its inbox fit together without a gap or a double:

- every event any node sent before the ``sync`` was in Redis reached the node asked before the
  ``sync`` did (one script is one instant, and each inbox keeps Redis's order), so the snapshot
  holds it; and the new node's inbox, created in that same instant, holds none of them;
- every event after it is in the new node's inbox. The new node applies those of the other
  nodes after the snapshot, in order; those of the node asked that arrive before its snapshot
  are dropped: that node applied them to its own state before it answered (a node applies its
  own changes when it makes them, and sends them at the end of the loop turn, before the
  snapshot it builds later).

A channel's state on its own (`channel_state`: modes, key, limit, topic, lists, who holds ``@``
and ``+``) also travels with every change of a channel's modes or topic, so that every node ends
with the state of the last change in Redis's order.

Users are named by ``(node, uid)`` keys, as in the events (``events.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from chinwag.cluster.events import user_fields
from chinwag.server.channel_registry import apply_record
from chinwag.server.network import Network
from chinwag.server.state import Channel, Client, Membership
from chinwag.store import ChannelBan, ChannelRecord, Topic

__all__ = [
    "Key",
    "UserState",
    "apply_channel_state",
    "channel_state",
    "encode_network",
    "restore_channel",
]

Key = tuple[str, str]
"""A user of the network: its node and its uid there."""

UserState = list[Any]
"""One user in a snapshot: node, uid, nick, user, host, realname, account, signon, party, away,
user modes."""


def channel_state(channel: Channel, key_of: Callable[[Client], Key | None]) -> list[Any]:
    """The shared state of ``channel``: name, created, identity, permanent, topic, topic setter,
    topic time, modes (with key and limit), list entries, ops, voiced."""
    ops = [key for member, m in channel.members.items() if m.op and (key := key_of(member))]
    voices = [key for member, m in channel.members.items() if m.voice and (key := key_of(member))]
    lists = [
        [mode, mask, setter, when]
        for mode, entries in (("b", channel.bans), ("e", channel.exceptions), ("I", channel.invex))
        for mask, (setter, when) in entries.items()
    ]
    return [
        channel.name,
        channel.created,
        channel.identity,
        channel.permanent,
        channel.topic,
        channel.topic_setter,
        channel.topic_time,
        " ".join(channel.mode_string(True)),
        lists,
        ops,
        voices,
    ]


def apply_channel_state(
    channel: Channel, state: list[Any], user: Callable[[Key], Client | None]
) -> None:
    """Make ``channel``'s shared state ``state`` (from `channel_state`); member statuses are
    set for the members it names and taken from the others."""
    _name, created, identity, permanent, topic, setter, topic_time, modes, lists, ops, voices = (
        state
    )
    channel.key = channel.limit = None
    channel.topic = ""
    apply_record(
        channel,
        ChannelRecord(
            name=channel.name,
            name_folded=channel.name_folded,
            topic=Topic(str(topic), str(setter), float(topic_time)) if topic else None,
            modes=str(modes),
            bans=tuple(ChannelBan(str(m), str(s), float(w), str(mode)) for mode, m, s, w in lists),
            identity=str(identity),
        ),
    )
    channel.created = float(created)
    channel.permanent = channel.permanent or bool(permanent)
    opped = {client for key in ops if (client := user((str(key[0]), str(key[1]))))}
    voiced = {client for key in voices if (client := user((str(key[0]), str(key[1]))))}
    for member, membership in channel.members.items():
        membership.op = member in opped
        membership.voice = member in voiced
    channel.names_changed()  # statuses (and, restoring, members) changed behind its back


def encode_network(
    network: Network,
    key_of: Callable[[Client], Key | None],
    party: Callable[[Client], str],
    *,
    bans: Iterable[list[Any]] = (),
    registrations: Iterable[list[Any]] = (),
) -> dict[str, Any]:
    """Every registered user and every channel (state and members) of ``network``, and the
    server bans and channel registrations (as their events carry them: a node that joins has
    read them from the database, but one set meanwhile could be in neither)."""
    users: list[UserState] = []
    for client in network.clients.values():
        key = key_of(client)
        if key is None or not client.registered:
            continue  # services, and users still registering: not the network's yet
        fields = user_fields(client, party(client))
        users.append([*key, *fields, client.away, "".join(sorted(client.modes))])
    channels = []
    for channel in network.channels.values():
        members = [
            [*key, member in channel.hidden]
            for member in channel.members
            if (key := key_of(member)) is not None
        ]
        channels.append([channel_state(channel, key_of), members])
    return {
        "users": users,
        "channels": channels,
        "bans": list(bans),
        "registrations": list(registrations),
    }


def restore_channel(
    network: Network,
    state: list[Any],
    members: list[list[Any]],
    user: Callable[[Key], Client | None],
) -> None:
    """Recreate one channel of a snapshot (state, and members as ``[node, uid, hidden]``).

    It fills the registries directly, not through `Network.join`: the node has no users yet,
    so there is nobody to tell, and a join would make the first member an operator."""
    channel = network.find_channel(str(state[0]))
    if channel is None:
        channel = Channel(str(state[0]), created=float(state[1]))
        network.channels[channel.name_folded] = channel
    for node, uid, hidden in members:
        client = user((str(node), str(uid)))
        if client is None:
            continue
        channel.members[client] = Membership()  # statuses: from the state, below
        client.channels[channel.name_folded] = channel
        if hidden:
            channel.hidden.add(client)
    apply_channel_state(channel, state, user)
