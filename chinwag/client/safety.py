"""Text from the network made safe for a terminal: no control character ever reaches it raw.

Anyone in a room chooses the bytes of their messages, nick, topic or quit reason. Written to a
terminal as they are, ``ESC ] 0 ; pwned BEL`` renames the window, ``ESC [ 1 ; 1 H`` moves the
cursor to paint a fake line anywhere, ``ESC [ 2 J`` wipes the screen, ``ESC [ ? 2004 l`` turns off
bracketed paste, and U+202E turns the rest of a line around. `safe` replaces every such character
with a visible marker, so that the text stays readable and the reader sees that something odd was
sent (a character dropped silently would hide it):

- C0 controls (U+0000..U+001F) become their Unicode *control pictures*: ESC is ``␛`` (U+241B),
  NUL ``␀``, a lone CR ``␍``, BEL ``␇``, TAB ``␉``. One cell each, like the character they stand
  for, and in every common monospace font.
- DEL (U+007F) becomes ``␡`` (U+2421).
- Characters that have no picture become ``<U+XXXX>``: C1 controls (U+0080..U+009F, among them
  CSI U+009B and OSC U+009D, which some terminals obey like ``ESC [``), the bidi embeddings and
  overrides U+202A..U+202E, the bidi isolates U+2066..U+2069, and the line and paragraph
  separators U+2028/U+2029 (which Python's ``str.splitlines``, and so widgets, break lines on).

The IRC formatting codes (bold ``\\x02``, colour ``\\x03``, hex colour ``\\x04``, reset ``\\x0f``,
monospace ``\\x11``, reverse ``\\x16``, italic ``\\x1d``, strikethrough ``\\x1e``, underline
``\\x1f``) are C0 characters too. `chinwag.client.formatting` consumes them first and turns them
into styles; ``keep_formatting=True`` leaves them in place for a caller that does that afterwards.
Whatever is left of them is marked like any other control character.
"""

from __future__ import annotations

import re

__all__ = ["FORMATTING_CODES", "is_safe", "marker", "safe"]

FORMATTING_CODES = "\x02\x03\x04\x0f\x11\x16\x1d\x1e\x1f"
"""The mIRC formatting characters, which `chinwag.client.formatting` turns into styles."""

_CONTROL_PICTURES = 0x2400
_DEL_PICTURE = "\u2421"
# Everything but C0 (written as escapes, so the pattern itself stays printable).
_NOT_C0 = r"\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069"
_UNSAFE = re.compile(rf"[\x00-\x1f{_NOT_C0}]")
_UNSAFE_BUT_FORMATTING = re.compile(
    "["
    + "".join(f"\\x{c:02x}" for c in range(0x20) if chr(c) not in FORMATTING_CODES)
    + _NOT_C0
    + "]"
)


def marker(char: str) -> str:
    """The visible stand-in for one unsafe character (see the module docstring)."""
    code = ord(char)
    if code < 0x20:
        return chr(_CONTROL_PICTURES + code)
    if code == 0x7F:
        return _DEL_PICTURE
    return f"<U+{code:04X}>"


def _replace(match: re.Match[str]) -> str:
    return marker(match.group())


def safe(text: str, *, keep_formatting: bool = False) -> str:
    """``text`` with every control, escape and bidi character replaced by a visible marker.

    Args:
        keep_formatting: leave the IRC formatting codes in place (for a formatting parser that
            runs next); every other unsafe character is still replaced.
    """
    pattern = _UNSAFE_BUT_FORMATTING if keep_formatting else _UNSAFE
    if pattern.search(text) is None:
        return text  # the common case: nothing to replace, no copy
    return pattern.sub(_replace, text)


def is_safe(text: str) -> bool:
    """True when ``text`` has no character that `safe` would replace."""
    return _UNSAFE.search(text) is None
