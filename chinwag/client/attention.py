"""Getting the user's attention when someone mentions them or writes privately elsewhere.

The terminal does the work: a bell (BEL), or a desktop notification that some terminals show for
an OSC 9 (iTerm2, Windows Terminal, kitty, WezTerm, Ghostty) or OSC 777 (urxvt, foot, WezTerm,
Ghostty) sequence; terminals that know neither ignore it. The title and text come from the
network, so everything that could end the sequence early or start another one (every control
character, C1 included) is replaced before they go in, and they are kept short.
"""

from __future__ import annotations

__all__ = ["NOTIFICATION_TEXT_MAX", "NOTIFY_MODES", "osc_notification"]

NOTIFY_MODES = ("bell", "osc9", "osc777", "off")
"""bell: the terminal bell; osc9 / osc777: a desktop notification through the terminal
(iTerm2, Windows Terminal, kitty / foot, urxvt, WezTerm, Ghostty); off: nothing."""

NOTIFICATION_TEXT_MAX = 200
_BEL = "\x07"
_OSC = "\x1b]"


def _printable(text: str, *, semicolons: bool = True) -> str:
    """``text`` without control characters (C0, DEL, C1), cut to `NOTIFICATION_TEXT_MAX`."""
    out = "".join(" " if ord(char) < 0x20 or 0x7F <= ord(char) <= 0x9F else char for char in text)
    if not semicolons:
        out = out.replace(";", ",")  # a field separator in OSC 777
    return out[:NOTIFICATION_TEXT_MAX]


def osc_notification(mode: str, title: str, body: str) -> str:
    """The escape sequence of a desktop notification: ``mode`` is ``osc9`` or ``osc777``."""
    if mode == "osc777":
        return f"{_OSC}777;notify;{_printable(title, semicolons=False)};{_printable(body)}{_BEL}"
    return f"{_OSC}9;{_printable(f'{title}: {body}')}{_BEL}"
