"""What a conversation shows: one typed line per event, the same for the TUI and plain mode.

Lines are frozen dataclasses so that a scrollback is just a bounded deque of them and a renderer is
a ``match`` over their types. ``Posted`` pairs a new line with the conversation it went to; the
session returns a list of them from every ``feed`` so that a frontend only renders what is new.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = [
    "ActionLine",
    "ChatLine",
    "ErrorLine",
    "Line",
    "Posted",
    "SystemKind",
    "SystemLine",
    "is_history",
]


@dataclass(frozen=True, slots=True)
class ChatLine:
    """A message someone said: ``<alice> hi``. ``notice`` marks a NOTICE.

    ``msgid`` is the server's message id (``""`` when it sent none); ``history`` marks a line that
    came in a ``chathistory`` batch (said before, shown dimmed, never unread nor a mention).
    """

    time: float
    nick: str
    text: str
    own: bool = False
    highlight: bool = False
    notice: bool = False
    msgid: str = ""
    history: bool = False


@dataclass(frozen=True, slots=True)
class ActionLine:
    """A ``/me`` action (CTCP ACTION): ``* alice waves``; ``msgid``, ``history`` as in ChatLine."""

    time: float
    nick: str
    text: str
    own: bool = False
    highlight: bool = False
    msgid: str = ""
    history: bool = False


class SystemKind(enum.Enum):
    """What a system line reports; renderers may style each kind differently."""

    JOIN = "join"
    PART = "part"
    QUIT = "quit"
    NICK = "nick"
    TOPIC = "topic"
    KICK = "kick"
    MODE = "mode"
    AWAY = "away"
    INFO = "info"


@dataclass(frozen=True, slots=True)
class SystemLine:
    """Something that happened, shown dimmed: ``bob has joined #lobby``."""

    time: float
    text: str
    kind: SystemKind = SystemKind.INFO


@dataclass(frozen=True, slots=True)
class ErrorLine:
    """A server error numeric or a local mistake, as readable text. ``code`` is the numeric."""

    time: float
    text: str
    code: str = ""


Line = ChatLine | ActionLine | SystemLine | ErrorLine


def is_history(line: Line) -> bool:
    """True for a line the server sent from its history (not said just now)."""
    return isinstance(line, ChatLine | ActionLine) and line.history


@dataclass(frozen=True, slots=True)
class Posted:
    """A new line in a conversation.

    Attributes:
        key: the conversation's casefolded key.
        name: the conversation's display name (``#lobby``, ``carol``, or ``server``).
        private: True when the conversation is with one person.
        line: what was added.
    """

    key: str
    name: str
    private: bool
    line: Line
