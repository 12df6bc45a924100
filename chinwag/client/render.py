"""Lines as Rich text for the conversation view: timestamps, stable nick colours, dim system lines
and dim history, IRC formatting as styles, links, and nothing received left raw.

Every piece of text that came from the network goes through `styled` (message text, topics,
reasons: IRC formatting shown as styles) or `flat` (nicks, room names, titles: formatting taken
out). Both make the text safe first (`chinwag.client.safety`): a control character shows as a
visible marker and never reaches the terminal. Widgets that show a name or a topic themselves call
them too.

Kept apart from the widgets so that it can be tested (and reused for text captures) without an app.
"""

from __future__ import annotations

import re
import time
import zlib

from rich.style import Style
from rich.text import Text

from chinwag.client.events import ActionLine, ChatLine, ErrorLine, Line, SystemLine, is_history
from chinwag.client.formatting import Format, parse, strip
from chinwag.client.safety import safe
from chinwag.protocol import fold

__all__ = ["LINK_STYLE", "NICK_COLOURS", "flat", "nick_colour", "render_line", "styled"]

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


LINK_STYLE = "underline #5fafff"
# A link ends at white space, at a quote or angle bracket, or at a marker for a control character
# (U+2400..U+2421, and the "<" of <U+XXXX>); trailing punctuation is the sentence's, not the URL's.
_LINK = re.compile(r"https?://[^\s<>\"'\u2400-\u2421]+")
_LINK_TRAILER = ".,;:!?)]}"


def flat(text: str) -> str:
    """Network text for a name, a title or a list: formatting taken out, controls made visible."""
    return safe(strip(text))


def _rich_style(fmt: Format) -> Style:
    return Style(
        bold=fmt.bold or None,
        italic=fmt.italic or None,
        underline=fmt.underline or None,
        strike=fmt.strike or None,
        reverse=fmt.reverse or None,
        color=fmt.fg,
        bgcolor=fmt.bg,
    )


def styled(text: str, style: str = "", *, formatting: bool = True) -> Text:
    """Network text as Rich text: IRC formatting as styles (or stripped), links, nothing raw.

    Args:
        style: the base style, under the text's own formatting.
        formatting: False strips the IRC formatting instead of showing it (``--no-colour``).
    """
    out = Text(style=style)
    if formatting:
        for span in parse(text):
            out.append(safe(span.text), style=_rich_style(span.format))
    else:
        out.append(flat(text))
    plain = out.plain
    for match in _LINK.finditer(plain):
        url = match.group().rstrip(_LINK_TRAILER)
        start = match.start()
        out.stylize(Style.parse(LINK_STYLE) + Style(link=url), start, start + len(url))
    return out


def nick_colour(nick: str) -> str:
    """The colour of a nick: the same nick always gets the same colour, whatever its case."""
    return NICK_COLOURS[zlib.crc32(fold(nick).encode("utf-8")) % len(NICK_COLOURS)]


def _stamp(when: float) -> Text:
    # A span, not the Text's base style: that would dim the whole line appended after it.
    stamp = Text()
    stamp.append(time.strftime("%H:%M ", time.localtime(when)), style="dim")
    return stamp


def render_line(line: Line, *, formatting: bool = True) -> Text:
    """One line of a conversation as styled text, every network part made safe.

    Args:
        formatting: show IRC formatting as styles; False strips it (``--no-colour``).
    """
    text = _stamp(line.time)
    match line:
        case ChatLine(_, nick, body, own, highlight, notice):
            style = f"bold {nick_colour(nick)}"
            name = flat(nick)
            text.append(f"-{name}-" if notice else f"<{name}>", style=style)
            text.append(" ")
            text.append(styled(body, "bold" if own else "", formatting=formatting))
            if highlight:
                text.stylize("on #5f0000")
        case ActionLine(_, nick, body, _, highlight):
            text.append("* ", style="italic")
            text.append(flat(nick), style=f"italic bold {nick_colour(nick)}")
            text.append(" ", style="italic")
            text.append(styled(body, "italic", formatting=formatting))
            if highlight:
                text.stylize("on #5f0000")
        case SystemLine(_, body):
            text.append(styled(f"-- {body}", "dim", formatting=formatting))
        case ErrorLine(_, body):
            text.append(styled(f"!! {body}", "bold red", formatting=formatting))
    if is_history(line):
        # Said before this conversation opened: dimmed, so it never passes for something new.
        text.stylize("dim")
    return text
