"""The people list of a delayed-join room (``+D``), filled from WHO.

In a large room the server stops announcing members who have not spoken: their JOIN and PART
reach nobody, and the NAMES sent on joining lists only the visible members. WHO still lists
everyone, so when I join a room on a server whose ISUPPORT ``CHANMODES`` has ``D``, the client
asks ``MODE <room>``; when the answer (324) says ``+D``, it asks ``WHO <room>`` (WHOX
``%tcnf`` with `WHO_TOKEN` when the server offers it, plain WHO otherwise) and, at the end of
the list (315), replaces the room's members with everyone it named. From then on the JOINs I
see keep the list current: a silent member who speaks is revealed by a JOIN, and a newcomer
who never speaks stays unknown until the next join, as in any client on a ``+D`` network.

These automatic queries are answered silently; a ``/mode`` or ``/who`` that the user typed is
shown as before. The server charges a WHO by the size of its answer, so a room of thousands
costs this client flood budget, not the server unbounded work.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from chinwag.client.conversation import Member
from chinwag.client.lines import Posted, SystemKind, SystemLine
from chinwag.client.query_replies import handle_who_reply
from chinwag.protocol import Message
from chinwag.protocol import numerics as n

if TYPE_CHECKING:
    from chinwag.client.session import Session

__all__ = ["DELAYED_JOIN_MODE", "ROSTER_REPLIES", "WHO_TOKEN", "Roster", "ask_room_modes"]

DELAYED_JOIN_MODE = "D"
"""The channel mode of a delayed-join room (InspIRCd, UnrealIRCd and chinwag spell it ``D``)."""
WHO_TOKEN = "73"
"""The WHOX token of the client's own member-list queries, so their replies are told apart."""
_WHOX_FIELDS = "%tcnf"  # token, channel, nick, flags: all a people list needs

Handler = Callable[["Session", Message], list[Posted]]
ROSTER_REPLIES: dict[str, Handler] = {}


@dataclass(slots=True)
class Roster:
    """The automatic queries in flight on this connection, by casefolded room name.

    Attributes:
        modes_asked: rooms whose ``MODE`` answer is for the client, not the user.
        listing: rooms whose WHO answer is being collected, with the members so far.
    """

    modes_asked: set[str] = field(default_factory=set)
    listing: dict[str, dict[str, Member]] = field(default_factory=dict)

    def clear(self) -> None:
        """Forget every query (the connection they were sent on is gone)."""
        self.modes_asked.clear()
        self.listing.clear()


def _replies(*commands: str) -> Callable[[Handler], Handler]:
    def register(func: Handler) -> Handler:
        for command in commands:
            ROSTER_REPLIES[command] = func
        return func

    return register


def ask_room_modes(s: Session, channel: str) -> None:
    """I just joined ``channel``: ask its modes, when the server has delayed-join rooms."""
    if DELAYED_JOIN_MODE not in "".join(s.chanmodes):
        return
    s.roster.modes_asked.add(s.fold(channel))
    s.send(Message.of("MODE", channel))


def _ask_members(s: Session, channel: str) -> None:
    s.roster.listing[s.fold(channel)] = {}
    if "WHOX" in s.isupport:
        s.send(Message.of("WHO", channel, f"{_WHOX_FIELDS},{WHO_TOKEN}"))
    else:
        s.send(Message.of("WHO", channel))


@_replies(n.RPL_CHANNELMODEIS)
def handle_channel_modes(s: Session, msg: Message) -> list[Posted]:
    """324 <me> <channel> <modes> [args...]: a delayed-join room's members come from WHO."""
    channel, modes = msg.param(1), msg.param(2)
    key = s.fold(channel)
    conv = s.conversations.get(key)
    if key in s.roster.modes_asked:
        s.roster.modes_asked.discard(key)
        if DELAYED_JOIN_MODE in modes and conv is not None and conv.joined:
            _ask_members(s, channel)
        return []
    text = f"Modes of {channel}: {' '.join(msg.params[2:])}"
    target = key if conv is not None else s.active
    return [s.post(target, SystemLine(s.time_of(msg), text, SystemKind.MODE))]


def _add_member(s: Session, members: dict[str, Member], nick: str, flags: str) -> None:
    symbols = s.prefix_map.symbols
    prefixes = s.prefix_map.sort("".join(c for c in flags[1:] if c in symbols))
    members[s.fold(nick)] = Member(nick, prefixes, away=flags.startswith("G"))


@_replies(n.RPL_WHOSPCRPL)
def handle_whox_reply(s: Session, msg: Message) -> list[Posted]:
    """354 <me> <token> <channel> <nick> <flags> (our ``%tcnf`` query; others are dropped)."""
    token, channel, nick, flags = (msg.param(i) for i in range(1, 5))
    members = s.roster.listing.get(s.fold(channel))
    if token == WHO_TOKEN and members is not None and nick:
        _add_member(s, members, nick, flags)
    return []


@_replies(n.RPL_WHOREPLY)
def handle_who_line(s: Session, msg: Message) -> list[Posted]:
    """352 <me> <channel> <user> <host> <server> <nick> <flags> :<hops> <realname>"""
    members = s.roster.listing.get(s.fold(msg.param(1)))
    if members is None:
        return handle_who_reply(s, msg)  # the user's own /who
    if msg.param(5):
        _add_member(s, members, msg.param(5), msg.param(6))
    return []


@_replies(n.RPL_ENDOFWHO)
def handle_end_of_who(s: Session, msg: Message) -> list[Posted]:
    """315 <me> <mask> :End of /WHO list: the room's members are everyone the list named."""
    key = s.fold(msg.param(1))
    members = s.roster.listing.pop(key, None)
    conv = s.conversations.get(key)
    if members is not None and conv is not None and conv.joined:
        members.setdefault(s.fold(s.nick), conv.members.get(s.fold(s.nick), Member(s.nick)))
        conv.members = members
        s.changed = True
    return []
