"""mIRC formatting codes parsed into styled spans, so that ``\\x034RED`` shows red, not ``4RED``.

People on irssi, HexChat or WeeChat send these codes (modern.ircdocs.horse/formatting):

=========  ======================================================================
``\\x02``   bold (each code toggles)
``\\x1d``   italic
``\\x1f``   underline
``\\x1e``   strikethrough
``\\x11``   monospace
``\\x16``   reverse (swap foreground and background)
``\\x0f``   reset every style
``\\x03``   colour: ``\\x03FG`` or ``\\x03FG,BG``, one or two digits each, 0-15 the standard
           colours, 16-98 the extended ones, 99 the terminal's default; ``\\x03`` alone (or
           followed by something else than a digit) resets both colours
``\\x04``   hex colour: ``\\x04RRGGBB`` or ``\\x04RRGGBB,RRGGBB``; ``\\x04`` alone resets
=========  ======================================================================

`parse` never raises and never loses text: the spans' text is exactly the input with the codes
taken out (`strip`), whatever the input. The spans still hold any *other* control character:
frontends pass each span through `chinwag.client.safety.safe` (as `to_ansi` does here) before it
reaches a terminal. The Rich styles for the full-screen client are made in `chinwag.client.render`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from chinwag.client.safety import safe

__all__ = ["COLOURS", "PLAIN", "Code", "Format", "Span", "parse", "strip", "to_ansi"]

# 0-15: the standard mIRC colours; 16-98: the extended palette (ircdocs); 99 is "default".
_PALETTE = (
    "ffffff 000000 00007f 009300 ff0000 7f0000 9c009c fc7f00 "
    "ffff00 00fc00 009393 00ffff 0000fc ff00ff 7f7f7f d2d2d2 "
    "470000 472100 474700 324700 004700 00472c 004747 002747 000047 2e0047 470047 47002a "
    "740000 743a00 747400 517400 007400 007449 007474 004074 000074 4b0074 740074 740045 "
    "b50000 b56300 b5b500 7db500 00b500 00b571 00b5b5 0063b5 0000b5 7500b5 b500b5 b5006b "
    "ff0000 ff8c00 ffff00 b2ff00 00ff00 00ffa0 00ffff 008cff 0000ff a500ff ff00ff ff0098 "
    "ff5959 ffb459 ffff71 cfff60 6fff6f 65ffc9 6dffff 59b4ff 5959ff c459ff ff66ff ff59bc "
    "ff9c9c ffd39c ffff9c e2ff9c 9cff9c 9cffdb 9cffff 9cd3ff 9c9cff dc9cff ff9cff ff94d3 "
    "000000 131313 282828 363636 4d4d4d 656565 818181 9f9f9f bcbcbc e2e2e2 ffffff"
)
COLOURS: tuple[str, ...] = tuple(f"#{code}" for code in _PALETTE.split(" "))
_DEFAULT_COLOUR = 99


class Code:
    """The formatting characters (`chinwag.client.safety.FORMATTING_CODES` lists them too)."""

    BOLD = "\x02"
    COLOUR = "\x03"
    HEX_COLOUR = "\x04"
    RESET = "\x0f"
    MONOSPACE = "\x11"
    REVERSE = "\x16"
    ITALIC = "\x1d"
    STRIKE = "\x1e"
    UNDERLINE = "\x1f"


# [0-9], not \d: \d also matches other scripts' digits, which no client sends as a colour.
_CODE = re.compile(
    r"[\x02\x0f\x11\x16\x1d\x1e\x1f]"
    r"|\x03(?:([0-9]{1,2})(?:,([0-9]{1,2}))?)?"
    r"|\x04(?:([0-9a-fA-F]{6})(?:,([0-9a-fA-F]{6}))?)?"
)


@dataclass(frozen=True, slots=True)
class Format:
    """The style in force at one point of a line; colours are ``#rrggbb`` or None (default)."""

    bold: bool = False
    italic: bool = False
    underline: bool = False
    strike: bool = False
    monospace: bool = False
    reverse: bool = False
    fg: str | None = None
    bg: str | None = None


PLAIN = Format()


@dataclass(frozen=True, slots=True)
class Span:
    """A run of text in one format (never empty)."""

    text: str
    format: Format


def _colour(number: str | None) -> str | None:
    index = int(number) if number else _DEFAULT_COLOUR
    return COLOURS[index] if index < len(COLOURS) else None


def _apply(fmt: Format, match: re.Match[str]) -> Format:
    """The format after one code."""
    first = match.group()[0]
    match first:
        case Code.BOLD:
            return replace(fmt, bold=not fmt.bold)
        case Code.ITALIC:
            return replace(fmt, italic=not fmt.italic)
        case Code.UNDERLINE:
            return replace(fmt, underline=not fmt.underline)
        case Code.STRIKE:
            return replace(fmt, strike=not fmt.strike)
        case Code.MONOSPACE:
            return replace(fmt, monospace=not fmt.monospace)
        case Code.REVERSE:
            return replace(fmt, reverse=not fmt.reverse)
        case Code.RESET:
            return PLAIN
    fg_number, bg_number, fg_hex, bg_hex = match.groups()
    if first == Code.COLOUR:
        if fg_number is None:
            return replace(fmt, fg=None, bg=None)
        bg = fmt.bg if bg_number is None else _colour(bg_number)
        return replace(fmt, fg=_colour(fg_number), bg=bg)
    if fg_hex is None:
        return replace(fmt, fg=None, bg=None)
    bg = fmt.bg if bg_hex is None else "#" + bg_hex.lower()
    return replace(fmt, fg="#" + fg_hex.lower(), bg=bg)


def parse(text: str) -> list[Span]:
    """Split ``text`` into styled spans, the formatting codes taken out. Never raises."""
    spans: list[Span] = []
    fmt = PLAIN
    start = 0
    for match in _CODE.finditer(text):
        if match.start() > start:
            _add(spans, text[start : match.start()], fmt)
        fmt = _apply(fmt, match)
        start = match.end()
    if start < len(text):
        _add(spans, text[start:], fmt)
    return spans


def _add(spans: list[Span], text: str, fmt: Format) -> None:
    if spans and spans[-1].format == fmt:
        spans[-1] = Span(spans[-1].text + text, fmt)
    else:
        spans.append(Span(text, fmt))


def strip(text: str) -> str:
    """``text`` without its formatting codes (and their colour numbers): what `parse` shows."""
    if _CODE.search(text) is None:
        return text
    return _CODE.sub("", text)


def _sgr(fmt: Format) -> str:
    """The ANSI SGR parameters for a format (24-bit colours)."""
    codes = ["0"]
    for flag, code in (
        (fmt.bold, "1"),
        (fmt.italic, "3"),
        (fmt.underline, "4"),
        (fmt.reverse, "7"),
        (fmt.strike, "9"),
    ):
        if flag:
            codes.append(code)
    for colour, prefix in ((fmt.fg, "38;2"), (fmt.bg, "48;2")):
        if colour is not None:
            red, green, blue = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
            codes.append(f"{prefix};{red};{green};{blue}")
    return ";".join(codes)


def to_ansi(text: str) -> str:
    """``text`` safe for a terminal, its IRC formatting turned into ANSI SGR sequences we write.

    Only our own ``ESC [ ... m`` sequences are in the result; every control character of the
    text itself is replaced by its visible marker. The line ends with all attributes reset.
    """
    out: list[str] = []
    styled = False
    for span in parse(text):
        if span.format != PLAIN:
            out.append(f"\x1b[{_sgr(span.format)}m")
            styled = True
        elif styled:
            out.append("\x1b[0m")
            styled = False
        out.append(safe(span.text))
    if styled:
        out.append("\x1b[0m")
    return "".join(out)
