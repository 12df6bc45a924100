"""The events nodes send each other: the one place that builds them.

An event is a JSON array ``[kind, node, uid, ...]``: what happened, the node it happened on, and
the user of that node who did it (``uid`` names a user within its node; ``""`` when the node
itself acted, as ChanServ or a server ban does). ``replica.py`` applies them; the kinds are:

==========  ======================================================================================
kind        after ``kind, node, uid``
==========  ======================================================================================
user        nick, user, host, realname, account, signon, party: a user finished registration
nick        new nick
join        channel, identity (the key of its history: the same on every node), op (the user
            created the channel: Redis decided, `scripts.CLAIM_CHANNEL`)
part        channel, reason (None for none)
quit        reason
msg         command, target, text, msgid, time, client tags, status prefix ("" or "@", "+")
status      command, params, away, account, party, realname, user, host, user modes: the
            user's status changed (AWAY, SETNAME, ACCOUNT, CHGHOST) and ``command params``
            tells its followers; or (``MODE``) its user modes changed, which nobody is told
chan        channel state (`snapshot.channel_state`), prefix, command, params: a channel's modes
            or topic changed and ``:prefix command params`` tells its members
kick        channel, target node, target uid, reason
invite      channel, target node, target uid
knock       channel, text: the user asks the channel's operators for an invitation
kill        target uid, reason, quit message (None for none): sent to the target's node only
rename      target uid, new nick: likewise (NickServ RECOVER of a nick held on another node)
kline       kind, target, reason, set by, set at, expires at (None: never); ``unkline``: kind,
            target
register    channel, founder, registered at; ``unregister``: folded channel name
sync        epoch: the node just joined (as that incarnation) and asks for the network's state
snapshot    the network's state (`snapshot.encode_network`), the epoch of the ``sync`` it
            answers
==========  ======================================================================================

Events travel as text (``scripts.EVENT_SEPARATOR`` between them): JSON escapes newlines.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from chinwag.server.state import Client
from chinwag.store import ServerBan

__all__ = [
    "ban_fields",
    "chan_event",
    "encode",
    "invite_event",
    "join_event",
    "kick_event",
    "kill_event",
    "kline_event",
    "knock_event",
    "message_event",
    "nick_event",
    "part_event",
    "quit_event",
    "register_event",
    "rename_event",
    "snapshot_event",
    "status_event",
    "unkline_event",
    "unregister_event",
    "user_event",
]

encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
"""JSON text of an event, as compact as it goes."""


def user_event(node: str, uid: str, client: Client, party: str) -> str:
    """A user of ``node`` finished registration; ``party`` is its name in private history."""
    return encode(
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
    return encode(["nick", node, uid, new_nick])


def join_event(node: str, uid: str, channel: str, identity: str = "", op: bool = False) -> str:
    """A user of ``node`` joined ``channel``, whose history is kept under ``identity``; ``op``:
    it created the channel, and is its operator."""
    return encode(["join", node, uid, channel, identity, op])


def part_event(node: str, uid: str, channel: str, reason: str | None) -> str:
    """A user of ``node`` left ``channel``."""
    return encode(["part", node, uid, channel, reason])


def quit_event(node: str, uid: str, reason: str) -> str:
    """A user of ``node`` quit."""
    return encode(["quit", node, uid, reason])


def message_event(
    node: str,
    uid: str,
    command: str,
    target: str,
    text: str,
    *,
    msgid: str,
    when: float,
    tags: Mapping[str, str] | None = None,
    status: str = "",
) -> str:
    """A user of ``node`` sent a PRIVMSG, NOTICE or TAGMSG (``text`` empty) to a channel or a
    nick; ``status`` is the ``@`` or ``+`` of a message to a channel's operators or voiced."""
    return encode(["msg", node, uid, command, target, text, msgid, when, dict(tags or {}), status])


def status_event(node: str, uid: str, client: Client, command: str, params: Sequence[str]) -> str:
    """The status of a user of ``node`` changed; ``command params`` is how its followers hear."""
    return encode(
        [
            "status",
            node,
            uid,
            command,
            list(params),
            client.away,
            client.account,
            client.account_party,
            client.realname,
            client.user,
            client.host,
            "".join(sorted(client.modes)),
        ]
    )


def chan_event(
    node: str, uid: str, state: list[Any], *, prefix: str, command: str, params: Sequence[str]
) -> str:
    """A channel's modes or topic changed on ``node`` (by ``uid``, or ``""``: the server or a
    service, shown as ``prefix``)."""
    return encode(["chan", node, uid, state, prefix, command, list(params)])


def kick_event(node: str, uid: str, channel: str, target: tuple[str, str], reason: str) -> str:
    """``uid`` of ``node`` (or the server, ``""``) kicked the user ``target`` out of ``channel``."""
    return encode(["kick", node, uid, channel, target[0], target[1], reason])


def invite_event(node: str, uid: str, channel: str, target: tuple[str, str]) -> str:
    """``uid`` of ``node`` invited the user ``target`` to ``channel``."""
    return encode(["invite", node, uid, channel, target[0], target[1]])


def knock_event(node: str, uid: str, channel: str, text: str) -> str:
    """``uid`` of ``node`` knocked on ``channel`` (KNOCK) with ``text``."""
    return encode(["knock", node, uid, channel, text])


def rename_event(node: str, target_uid: str, new_nick: str) -> str:
    """Rename user ``target_uid`` of the node this is sent to (the services of ``node`` gave
    its nick to someone else)."""
    return encode(["rename", node, "", target_uid, new_nick])


def kill_event(node: str, target_uid: str, reason: str, quit_message: str | None) -> str:
    """Close the connection of user ``target_uid`` of the node this is sent to."""
    return encode(["kill", node, "", target_uid, reason, quit_message])


def ban_fields(ban: ServerBan) -> list[Any]:
    """A server ban as its ``kline`` event (and a snapshot) carries it."""
    return [ban.kind.value, ban.target, ban.reason, ban.set_by, ban.set_at, ban.expires_at]


def kline_event(node: str, ban: ServerBan) -> str:
    """A server ban was set on ``node``."""
    return encode(["kline", node, "", *ban_fields(ban)])


def unkline_event(node: str, kind: str, target: str) -> str:
    """A server ban was lifted on ``node``."""
    return encode(["unkline", node, "", kind, target])


def snapshot_event(node: str, state: dict[str, Any], epoch: str) -> str:
    """``node``'s answer to the ``sync`` of incarnation ``epoch`` of a joining node."""
    return encode(["snapshot", node, "", state, epoch])


def register_event(node: str, channel: str, founder: str, registered_at: float) -> str:
    """A channel was registered on ``node``."""
    return encode(["register", node, "", channel, founder, registered_at])


def unregister_event(node: str, name_folded: str) -> str:
    """A channel registration was dropped on ``node``."""
    return encode(["unregister", node, "", name_folded])
