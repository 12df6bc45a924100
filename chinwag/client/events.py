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
]


@dataclass(frozen=True, slots=True)
class ChatLine:
    """A message someone said: ``<alice> hi``. ``notice`` marks a NOTICE."""

    time: float
    nick: str
    text: str
    own: bool = False
    highlight: bool = False
    notice: bool = False


@dataclass(frozen=True, slots=True)
class ActionLine:
    """A ``/me`` action (CTCP ACTION): ``* alice waves``."""

    time: float
    nick: str
    text: str
    own: bool = False
    highlight: bool = False


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
