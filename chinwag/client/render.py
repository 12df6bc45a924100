"""Lines as Rich text for the conversation view: timestamps, stable nick colours, dim system lines
and dim history.

Kept apart from the widgets so that it can be tested (and reused for text captures) without an app.
"""

from __future__ import annotations

import time
import zlib

from rich.text import Text

from chinwag.client.lines import ActionLine, ChatLine, ErrorLine, Line, SystemLine, is_history
from chinwag.protocol import fold

__all__ = ["NICK_COLOURS", "nick_colour", "render_line"]

# Readable on dark and light backgrounds; red is kept for errors and mentions.
NICK_COLOURS = (
    "#5fafff",
    "#5fd787",
    "#d7af5f",
    "#af87ff",
    "#5fd7d7",
    "#ff87d7",
    "#87d75f",
    "#ffaf5f",
    "#87afd7",
    "#d787af",
    "#afd700",
    "#00afaf",
)


def nick_colour(nick: str) -> str:
    """The colour of a nick: the same nick always gets the same colour, whatever its case."""
    return NICK_COLOURS[zlib.crc32(fold(nick).encode("utf-8")) % len(NICK_COLOURS)]


def _stamp(when: float) -> Text:
    return Text(time.strftime("%H:%M ", time.localtime(when)), style="dim")


def render_line(line: Line) -> Text:
    """One line of a conversation as styled text."""
    text = _stamp(line.time)
    match line:
        case ChatLine(_, nick, body, own, highlight, notice):
            style = f"bold {nick_colour(nick)}"
            text.append(f"-{nick}-" if notice else f"<{nick}>", style=style)
            text.append(" ")
            text.append(body, style="bold" if own else "")
            if highlight:
                text.stylize("on #5f0000")
        case ActionLine(_, nick, body, _, highlight):
            text.append("* ", style="italic")
            text.append(nick, style=f"italic bold {nick_colour(nick)}")
            text.append(f" {body}", style="italic")
            if highlight:
                text.stylize("on #5f0000")
        case SystemLine(_, body):
            text.append(f"-- {body}", style="dim")
        case ErrorLine(_, body):
            text.append(f"!! {body}", style="bold red")
    if is_history(line):
        # Said before this conversation opened: dimmed, so it never passes for something new.
        text.stylize("dim")
    return text
