"""Conversations (a room, a private partner, or the server) and the members of a room.

A conversation holds a bounded scrollback: a ``deque`` with ``maxlen`` drops the oldest line in
O(1), so a busy room never grows memory past the configured limit. Keys are casefolded names
(`chinwag.protocol.fold`), and the display name keeps the case the server last used.
"""

from __future__ import annotations

import enum
import heapq
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from chinwag.client.lines import Line

__all__ = [
    "DEFAULT_SCROLLBACK",
    "SERVER_KEY",
    "Conversation",
    "ConversationKind",
    "Member",
    "PrefixMap",
    "parse_prefix_token",
    "rekey",
]

DEFAULT_SCROLLBACK = 10_000
SERVER_KEY = "*"


class ConversationKind(enum.Enum):
    """What a conversation is with."""

    SERVER = "server"
    CHANNEL = "channel"
    PRIVATE = "private"


@dataclass(slots=True)
class Member:
    """One user in a room, with the prefixes (``@``, ``+``) their channel modes give them."""

    nick: str
    prefixes: str = ""
    away: bool = False

    @property
    def display(self) -> str:
        """The nick with its highest prefix, as IRC clients show it: ``@alice``."""
        return self.prefixes[:1] + self.nick


@dataclass(frozen=True, slots=True)
class PrefixMap:
    """ISUPPORT ``PREFIX``: which channel modes give which nick prefixes, highest rank first."""

    modes: str = "ov"
    symbols: str = "@+"

    @classmethod
    def parse(cls, value: str) -> PrefixMap:
        """Read ``(qaohv)~&@%+``; an empty or malformed value gives the RFC default ``(ov)@+``."""
        if not value.startswith("(") or ")" not in value:
            return cls()
        modes, _, symbols = value[1:].partition(")")
        if len(modes) != len(symbols):
            return cls()
        return cls(modes, symbols)

    def symbol_for(self, mode: str) -> str:
        """The prefix symbol of channel mode ``mode``, or ``""`` when it gives none."""
        index = self.modes.find(mode)
        return self.symbols[index] if index >= 0 else ""

    def sort(self, prefixes: str) -> str:
        """Order prefix symbols highest rank first and drop duplicates."""
        return "".join(symbol for symbol in self.symbols if symbol in prefixes)

    def rank(self, member: Member) -> int:
        """A sort key: 0 for the highest prefix, ``len(symbols)`` for none."""
        if not member.prefixes:
            return len(self.symbols)
        index = self.symbols.find(member.prefixes[0])
        return index if index >= 0 else len(self.symbols)


def parse_prefix_token(token: str, prefix_map: PrefixMap) -> tuple[str, str]:
    """Split a NAMES entry into ``(prefixes, nick)``.

    Handles multi-prefix (``@+alice``) and userhost-in-names (``@alice!a@host``).
    """
    index = 0
    while index < len(token) and token[index] in prefix_map.symbols:
        index += 1
    nick = token[index:].split("!", 1)[0].split("@", 1)[0]
    return prefix_map.sort(token[:index]), nick


@dataclass(slots=True)
class Conversation:
    """One conversation: a room I am (or was) in, a private partner, or the server itself.

    Attributes:
        name: display name.
        kind: room, private or server.
        lines: bounded scrollback, oldest first.
        members: room members by casefolded nick (empty for private and server conversations).
        topic: the room topic, ``""`` when none.
        joined: for rooms, whether I am in it right now.
        unread: chat lines added while this conversation was not the active one.
        mentions: of those, how many mention me (every private line counts as one).
        total: how many lines were ever added (a view compares it with what it has shown).
        rewrites: bumped when history is merged anywhere but at the end (a view redraws all).
        prepended: how many lines the last rewrite put before every line there was.
        history_loading: a CHATHISTORY request for this conversation is unanswered.
        history_done: the server has nothing older (an empty page came back).
    """

    name: str
    kind: ConversationKind
    scrollback: int = DEFAULT_SCROLLBACK
    lines: deque[Line] = field(init=False)
    members: dict[str, Member] = field(default_factory=dict)
    topic: str = ""
    joined: bool = False
    unread: int = 0
    mentions: int = 0
    total: int = 0
    rewrites: int = 0
    prepended: int = 0
    history_loading: bool = False
    history_done: bool = False

    def __post_init__(self) -> None:
        self.lines = deque(maxlen=self.scrollback)

    @property
    def is_channel(self) -> bool:
        """True for a room."""
        return self.kind is ConversationKind.CHANNEL

    @property
    def is_private(self) -> bool:
        """True for a conversation with one person."""
        return self.kind is ConversationKind.PRIVATE

    def oldest_msgid(self) -> str:
        """The message id of the oldest line that has one, or ``""``."""
        for line in self.lines:
            msgid = getattr(line, "msgid", "")
            if msgid:
                return str(msgid)
        return ""

    def merge_history(self, lines: list[Line]) -> None:
        """Put history lines (oldest first) among the lines there are, in time order.

        Lines newer than everything shown are simply appended; otherwise the scrollback is
        rebuilt and `rewrites` tells views to draw it again. On equal times the history line
        goes first: it was said before whatever is shown at that second.
        """
        if not lines:
            return
        self.total += len(lines)
        if not self.lines or lines[0].time >= self.lines[-1].time:
            self.lines.extend(lines)
            return
        self.prepended = len(lines) if lines[-1].time <= self.lines[0].time else 0
        merged = list(heapq.merge(lines, self.lines, key=lambda line: line.time))
        self.lines.clear()
        self.lines.extend(merged)
        self.rewrites += 1

    def sorted_members(self, prefix_map: PrefixMap) -> list[Member]:
        """Members by rank (ops first), then by nick, case-insensitively."""
        return sorted(self.members.values(), key=lambda m: (prefix_map.rank(m), m.nick.casefold()))


def rekey(
    conversations: dict[str, Conversation], fold: Callable[[str], str]
) -> tuple[dict[str, Conversation], dict[str, str]]:
    """Key conversations (and their members) by another fold: the server's CASEMAPPING.

    Returns:
        The conversations by new key (the server one keeps `SERVER_KEY`; of two that fold the
        same, the first wins), and each old key's new key.
    """
    rekeyed: dict[str, Conversation] = {}
    renamed: dict[str, str] = {}
    for key, conv in conversations.items():
        new_key = key if key == SERVER_KEY else fold(conv.name)
        renamed[key] = new_key
        rekeyed.setdefault(new_key, conv)
        conv.members = {fold(member.nick): member for member in conv.members.values()}
    return rekeyed, renamed
