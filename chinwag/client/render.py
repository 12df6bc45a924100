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

import functools
import re
import time
import zlib

from rich.style import Style
from rich.text import Text

from chinwag.client.formatting import Format, parse, strip
from chinwag.client.lines import ActionLine, ChatLine, ErrorLine, Line, SystemLine, is_history
from chinwag.client.safety import safe
from chinwag.protocol import fold

__all__ = [
    "LINK_STYLE",
    "NICK_COLOURS",
    "append_styled",
    "flat",
    "nick_colour",
    "render_line",
    "styled",
]

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


# A handful of formats are in use at any time, and a Style is costly to build; bounded, as hex
# colours let a sender make millions of formats.
@functools.lru_cache(maxsize=256)
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
    out = Text()
    append_styled(out, text, style, formatting=formatting)
    return out


def append_styled(out: Text, text: str, style: str = "", *, formatting: bool = True) -> None:
    """Append network text to ``out`` as `styled` makes it (without building another Text)."""
    start = len(out)
    plain = strip(text)
    if plain is text or not formatting:
        out.append(safe(plain), style=style or None)  # no formatting (the usual), or not shown
    else:
        for span in parse(text):
            out.append(safe(span.text), style=_rich_style(span.format))
        if style:
            out.stylize_before(style, start, len(out))  # under the text's own styles
    if "://" not in plain:
        return
    for match in _LINK.finditer(out.plain, start):
        url = match.group().rstrip(_LINK_TRAILER)
        begin = match.start()
        out.stylize(Style.parse(LINK_STYLE) + Style(link=url), begin, begin + len(url))


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
            append_styled(text, body, "bold" if own else "", formatting=formatting)
            if highlight:
                text.stylize("on #5f0000")
        case ActionLine(_, nick, body, _, highlight):
            text.append("* ", style="italic")
            text.append(flat(nick), style=f"italic bold {nick_colour(nick)}")
            text.append(" ", style="italic")
            append_styled(text, body, "italic", formatting=formatting)
            if highlight:
                text.stylize("on #5f0000")
        case SystemLine(_, body):
            append_styled(text, f"-- {body}", "dim", formatting=formatting)
        case ErrorLine(_, body):
            append_styled(text, f"!! {body}", "bold red", formatting=formatting)
    if is_history(line):
        # Said before this conversation opened: dimmed, so it never passes for something new.
        text.stylize("dim")
    return text
