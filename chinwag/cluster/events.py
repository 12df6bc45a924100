"""The events nodes send each other: the one place that builds and reads them.

An event is one line of bytes: ``node NUL kind NUL body`` and a line end. ``node`` is the node
it happened on, so that a node skips its own events (applied when they happened) without
reading further; ``kind`` says what happened. Two kinds are the hot path, a PRIVMSG, NOTICE or
TAGMSG to a room (``msg``) or to a user (``pm``), and carry their fields NUL-separated, the last
being the line itself, formatted once by the sender's node: the exact bytes a recipient without
tags gets, CR LF included (`room_message`, `private_message`, `read_message`). Every other kind
has a JSON array as its body, ``[uid, ...]``: the user of that node who did it (``uid`` names a
user within its node, and no later incarnation of the node gives it again; ``""`` when the node
itself acted, as ChanServ or a server ban does), then the fields:

==========  ======================================================================================
kind        JSON fields after ``uid``
==========  ======================================================================================
user        nick, user, host, realname, account, signon, party: a user finished registration
nick        new nick
join        channel, identity (the key of its history: the same on every node), op (the user
            created the channel: Redis decided, `scripts.CLAIM_CHANNEL`)
part        channel, reason (None for none)
quit        reason
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

The line end is what separates events in an inbox entry (one ``splitlines`` reads them all), so
an event holds no other CR or LF: JSON escapes them, and a message line has none but its end
(the decoder lets none in, and tags travel as JSON). Nor does a message's head hold a NUL.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Sequence
from typing import Any

from chinwag.protocol._core import PURE_PYTHON_ENV
from chinwag.server.fanout import Outgoing
from chinwag.server.state import Client
from chinwag.store import ServerBan

__all__ = [
    "COMMAND",
    "HOT",
    "LINE",
    "MESSAGE_PARTS",
    "PM",
    "ROOM",
    "STATUS",
    "TARGET",
    "UID",
    "MessageFields",
    "Row",
    "ban_fields",
    "chan_event",
    "encode",
    "invite_event",
    "join_event",
    "kick_event",
    "kill_event",
    "kline_event",
    "knock_event",
    "nick_event",
    "part_event",
    "private_message",
    "python_take_row",
    "quit_event",
    "read_message",
    "register_event",
    "rename_event",
    "room_message",
    "snapshot_event",
    "split_event",
    "status_event",
    "take_row",
    "unkline_event",
    "unregister_event",
    "user_event",
]

encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
"""JSON text, as compact as it goes."""

ROOM = b"msg"
"""The kind of a message to a room: its target is the room's folded name."""
PM = b"pm"
"""The kind of a message to a user: its target is the recipient's uid on the node it goes to."""
HOT = (ROOM, PM)
"""The kinds read without JSON (`read_message`); their first field is the msgid."""
_MESSAGE_FIELDS = 8
"""msgid, uid, command, target, status, time, client tags, line."""
MESSAGE_PARTS = _MESSAGE_FIELDS + 2
"""What `split_event` gives for a message: node, kind, then its fields; the ones a node reads
before deciding whether it needs the rest are at these places:"""
UID, COMMAND, TARGET, STATUS, LINE = 3, 4, 5, 6, 9


def _event(kind: str, node: str, uid: str, *fields: Any) -> bytes:
    """An event of a kind that is not a message: its fields as JSON."""
    return f"{node}\0{kind}\0{encode([uid, *fields])}\n".encode()


def user_fields(client: Client, party: str) -> list[Any]:
    """What a `user_event` carries of ``client`` after its uid, and a snapshot's user row after
    its key (``party``: its name in private history)."""
    return [
        client.nick,
        client.user,
        client.host,
        client.realname,
        client.account,
        client.signon,
        party,
    ]


def user_event(node: str, uid: str, client: Client, party: str) -> bytes:
    """A user of ``node`` finished registration; ``party`` is its name in private history."""
    return _event("user", node, uid, *user_fields(client, party))


def nick_event(node: str, uid: str, new_nick: str) -> bytes:
    """A user of ``node`` changed nick."""
    return _event("nick", node, uid, new_nick)


def join_event(node: str, uid: str, channel: str, identity: str = "", op: bool = False) -> bytes:
    """A user of ``node`` joined ``channel``, whose history is kept under ``identity``; ``op``:
    it created the channel, and is its operator."""
    return _event("join", node, uid, channel, identity, op)


def part_event(node: str, uid: str, channel: str, reason: str | None) -> bytes:
    """A user of ``node`` left ``channel``."""
    return _event("part", node, uid, channel, reason)


def quit_event(node: str, uid: str, reason: str) -> bytes:
    """A user of ``node`` quit."""
    return _event("quit", node, uid, reason)


def _message(
    kind: str, node: str, uid: str, outgoing: Outgoing, *, command: str, target: str, status: str
) -> bytes:
    # Measured on a node of a 2-node network (py-spy, 100-member room): building the JSON of
    # a room message took 4.4% of the node's CPU and reading it back 5.8%. This head is one
    # f-string, its reading one split; the line goes as its node formatted it.
    tags = encode(outgoing.client_tags) if outgoing.client_tags else ""
    head = (
        f"{node}\0{kind}\0{outgoing.msgid}\0{uid}\0{command}\0{target}\0{status}"
        f"\0{outgoing.time!r}\0{tags}\0"
    )
    return head.encode() + outgoing.plain


def room_message(
    node: str, uid: str, outgoing: Outgoing, *, command: str, channel_folded: str, status: str = ""
) -> bytes:
    """User ``uid`` of ``node`` sent ``outgoing`` (a PRIVMSG, NOTICE or TAGMSG) to a room;
    ``status`` is the ``@`` or ``+`` of a message to its operators or voiced."""
    return _message(
        "msg", node, uid, outgoing, command=command, target=channel_folded, status=status
    )


def private_message(
    node: str, uid: str, outgoing: Outgoing, *, command: str, recipient_uid: str
) -> bytes:
    """User ``uid`` of ``node`` sent ``outgoing`` to user ``recipient_uid`` of the node this
    goes to (by uid, not nick: a rename on the way changes nothing)."""
    return _message("pm", node, uid, outgoing, command=command, target=recipient_uid, status="")


MessageFields = tuple[str, str, str, str, str, float, dict[str, str] | None, bytes]
"""A message event's msgid, sender uid, command, target, status prefix, time, client tags
(None: none) and line (`read_message`)."""


def split_event(event: bytes) -> list[bytes]:
    """An event cut at its NULs: node, kind, then the JSON body, or a message's 8 fields.

    One cut for every kind (JSON holds no raw NUL): a node reads a message once, where a cut
    of the head and then of the body copied the line twice."""
    return event.split(b"\0", _MESSAGE_FIELDS + 1)


Row = tuple[int, tuple[bytes, bytes, bytes], list[bytes]]
"""What `take_row` finds: the index after the row, the row's node, sender uid and target (as
their bytes), and its lines."""


def python_take_row(events: Sequence[bytes], start: int, own: bytes) -> Row:
    """The row of room lines that begins at ``events[start]``: the plain lines (no status
    prefix, not a TAGMSG) of one sender to one room, in a row, none of them of the node whose
    events begin with ``own`` (``node NUL``). The index after it is ``start`` when
    ``events[start]`` begins none (the key is then empty).

    A node hands a row to the room's batch at once (``replica.py``): its members get the lines
    as their sender's node formatted them, and nothing else of the events is read. The
    reference of the compiled `take_row` (``_rows.pyx``), and the fallback.
    """
    lines: list[bytes] = []
    key = (b"", b"", b"")
    end = start
    while end < len(events):
        raw = events[end]
        if raw.startswith(own):
            break
        fields = raw.split(b"\0", _MESSAGE_FIELDS + 1)
        if (
            len(fields) != MESSAGE_PARTS
            or fields[1] != ROOM
            or fields[STATUS]
            or fields[COMMAND] == b"TAGMSG"
        ):
            break
        this = (fields[0], fields[UID], fields[TARGET])
        if not lines:
            key = this
        elif this != key:
            break
        lines.append(fields[LINE])
        end += 1
    return end, key, lines


def read_message(fields: list[bytes]) -> MessageFields:
    """The fields of a ``msg`` or ``pm`` event, from its `split_event`.

    Raises:
        ValueError: the event is not one (too few fields, a time that is not a number).
    """
    if len(fields) != MESSAGE_PARTS:
        raise ValueError("not a message event")
    _, _, msgid, uid, command, target, status, when, tags, line = fields
    return (
        msgid.decode(),
        uid.decode(),
        command.decode(),
        target.decode(),
        status.decode() if status else "",
        float(when),
        json.loads(tags) if tags else None,
        line,
    )


take_row: Callable[[Sequence[bytes], int, bytes], Row] = python_take_row
"""`python_take_row`, compiled when it was built (``_rows.pyx``)."""
if os.environ.get(PURE_PYTHON_ENV, "") in ("", "0"):
    with contextlib.suppress(ImportError):
        from chinwag.cluster import _rows

        take_row = _rows.take_row


def status_event(node: str, uid: str, client: Client, command: str, params: Sequence[str]) -> bytes:
    """The status of a user of ``node`` changed; ``command params`` is how its followers hear."""
    return _event(
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
    )


def chan_event(
    node: str, uid: str, state: list[Any], *, prefix: str, command: str, params: Sequence[str]
) -> bytes:
    """A channel's modes or topic changed on ``node`` (by ``uid``, or ``""``: the server or a
    service, shown as ``prefix``)."""
    return _event("chan", node, uid, state, prefix, command, list(params))


def kick_event(node: str, uid: str, channel: str, target: tuple[str, str], reason: str) -> bytes:
    """``uid`` of ``node`` (or the server, ``""``) kicked the user ``target`` out of ``channel``."""
    return _event("kick", node, uid, channel, target[0], target[1], reason)


def invite_event(node: str, uid: str, channel: str, target: tuple[str, str]) -> bytes:
    """``uid`` of ``node`` invited the user ``target`` to ``channel``."""
    return _event("invite", node, uid, channel, target[0], target[1])


def knock_event(node: str, uid: str, channel: str, text: str) -> bytes:
    """``uid`` of ``node`` knocked on ``channel`` (KNOCK) with ``text``."""
    return _event("knock", node, uid, channel, text)


def rename_event(node: str, target_uid: str, new_nick: str) -> bytes:
    """Rename user ``target_uid`` of the node this is sent to (the services of ``node`` gave
    its nick to someone else)."""
    return _event("rename", node, "", target_uid, new_nick)


def kill_event(node: str, target_uid: str, reason: str, quit_message: str | None) -> bytes:
    """Close the connection of user ``target_uid`` of the node this is sent to."""
    return _event("kill", node, "", target_uid, reason, quit_message)


def ban_fields(ban: ServerBan) -> list[Any]:
    """A server ban as its ``kline`` event (and a snapshot) carries it."""
    return [ban.kind.value, ban.target, ban.reason, ban.set_by, ban.set_at, ban.expires_at]


def kline_event(node: str, ban: ServerBan) -> bytes:
    """A server ban was set on ``node``."""
    return _event("kline", node, "", *ban_fields(ban))


def unkline_event(node: str, kind: str, target: str) -> bytes:
    """A server ban was lifted on ``node``."""
    return _event("unkline", node, "", kind, target)


def snapshot_event(node: str, state: dict[str, Any], epoch: str) -> bytes:
    """``node``'s answer to the ``sync`` of incarnation ``epoch`` of a joining node."""
    return _event("snapshot", node, "", state, epoch)


def register_event(node: str, channel: str, founder: str, registered_at: float) -> bytes:
    """A channel was registered on ``node``."""
    return _event("register", node, "", channel, founder, registered_at)


def unregister_event(node: str, name_folded: str) -> bytes:
    """A channel registration was dropped on ``node``."""
    return _event("unregister", node, "", name_folded)
