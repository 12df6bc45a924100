"""IRC messages: parse one line into a `Message`, format a `Message` back into one line.

Theory of operation
-------------------
An IRC line is ``[@tags ][:source ]COMMAND[ param...][ :trailing]`` (RFC 1459 section 2.3.1,
IRCv3 message-tags). Parsing is deliberately forgiving, as modern.ircdocs.horse asks of servers and
clients alike: runs of spaces between parameters are one separator, a trailing parameter may be
empty, and a tag value may use any escape (unknown escapes drop the backslash). Formatting is
strict: every parameter but the last must be non-empty, free of spaces and must not start with
``:``, so whatever we send is valid for the pickiest reader.

This module knows nothing of sockets or of asyncio; the server and the client both use it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from chinwag.protocol.errors import ProtocolError

__all__ = [
    "Message",
    "escape_tag_value",
    "format_line",
    "format_tags",
    "parse_line",
    "parse_tags",
    "unescape_tag_value",
]

_UNESCAPES = {":": ";", "s": " ", "\\": "\\", "r": "\r", "n": "\n"}
_ESCAPES = str.maketrans({";": "\\:", " ": "\\s", "\\": "\\\\", "\r": "\\r", "\n": "\\n"})
_ASCII_UPPER = str.maketrans("abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ")
_TAG_KEY_FORBIDDEN = frozenset(" ;=\r\n\0")


@dataclass(slots=True)
class Message:
    """One IRC message.

    ``command`` is upper-cased by `parse_line` (numerics stay as their three digits). ``params``
    holds every parameter, the trailing one last and without its colon. ``source`` is the prefix
    without its colon, or None.

    Treat it as a value and never change one: it is not ``frozen`` only because every received
    line builds one, and a frozen dataclass takes six times as long to build (each field goes
    through ``object.__setattr__``), about 1.5 us more per line on the server's hot path.
    """

    command: str
    params: tuple[str, ...] = ()
    source: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, command: str, *params: str, source: str | None = None) -> Message:
        """Build a message from positional parameters: ``Message.of("PRIVMSG", "#c", "hi")``."""
        return cls(command, params, source)

    def param(self, index: int, default: str = "") -> str:
        """Return parameter ``index``, or ``default`` when the message has fewer parameters."""
        return self.params[index] if index < len(self.params) else default

    @property
    def source_nick(self) -> str | None:
        """The nick part of ``nick!user@host`` (or the whole source when it is a server name)."""
        if self.source is None:
            return None
        return self.source.split("!", 1)[0].split("@", 1)[0]

    def __str__(self) -> str:
        return format_line(self)


def unescape_tag_value(value: str) -> str:
    """Undo IRCv3 tag escaping: ``\\:`` is ``;``, ``\\s`` a space, and so on."""
    if "\\" not in value:
        return value
    out: list[str] = []
    chars = iter(value)
    for char in chars:
        if char != "\\":
            out.append(char)
            continue
        nxt = next(chars, "")
        out.append(_UNESCAPES.get(nxt, nxt))
    return "".join(out)


def escape_tag_value(value: str) -> str:
    """Escape a tag value for the wire (the inverse of `unescape_tag_value`)."""
    return value.translate(_ESCAPES)


def parse_tags(raw: str) -> dict[str, str]:
    """Parse the tag section of a line (without its leading ``@``).

    A tag without ``=`` or with an empty value has the value ``""``; when a key repeats, the last
    one wins, as the message-tags specification says.
    """
    tags: dict[str, str] = {}
    for item in raw.split(";"):
        if not item:
            continue
        key, _, value = item.partition("=")
        if key:
            tags[key] = unescape_tag_value(value)
    return tags


def format_tags(tags: Mapping[str, str]) -> str:
    """Format tags as ``@k=v;k2`` (with the ``@``, without the trailing space); ``""`` if none."""
    if not tags:
        return ""
    return "@" + ";".join(
        f"{key}={escape_tag_value(value)}" if value else key for key, value in tags.items()
    )


def parse_line(line: str) -> Message:
    """Parse one IRC line (without CR LF) into a `Message`.

    Args:
        line: the decoded line; a trailing ``\\r`` or ``\\n`` is ignored.

    Returns:
        The parsed message, with the command upper-cased.

    Raises:
        ProtocolError: when the line holds no command (it is empty, or only tags and a source).
    """
    rest = line.rstrip("\r\n").lstrip(" ")
    tags: dict[str, str] = {}
    source: str | None = None
    if rest.startswith("@"):
        raw_tags, _, rest = rest[1:].partition(" ")
        tags = parse_tags(raw_tags)
        rest = rest.lstrip(" ")
    if rest.startswith(":"):
        source, _, rest = rest[1:].partition(" ")
        rest = rest.lstrip(" ")
    trailing: str | None = None
    head, sep, tail = rest.partition(" :")
    if sep:
        rest, trailing = head, tail
    elif rest.startswith(":"):
        rest, trailing = "", rest[1:]
    # Only the ASCII space separates words: a tab, a vertical tab or a Unicode space belongs to
    # the word it is in (ircdocs parser-tests, "tab is not considered <SPACE>").
    words = rest.split(" ")
    if "" in words:  # rare: a run of spaces (filtering always costs twice the split)
        words = [word for word in words if word]
    if not words:
        raise ProtocolError("no command in line")
    command = words[0]
    # ASCII-only upper-casing: str.upper would make "pr\u0131vmsg" (dotless i) "PRIVMSG". An
    # ASCII command (always, in practice) takes str.upper, six times as fast as str.translate.
    command = command.upper() if command.isascii() else command.translate(_ASCII_UPPER)
    params = words[1:]
    if trailing is not None:
        params.append(trailing)
    return Message(command, tuple(params), source or None, tags)


def format_line(msg: Message) -> str:
    """Format a `Message` as one line, without CR LF.

    The last parameter gets a colon when it needs one (it is empty, has a space, or starts with a
    colon). Earlier parameters must not need one.

    Raises:
        ProtocolError: when a middle parameter is empty, has a space or starts with ``:``; when the
            command is empty, has a space or starts with ``:`` or ``@``; when the source has a
            space; when a tag key is empty or holds a space, ``;`` or ``=``; or when any part
            holds CR, LF or NUL. Each of these would be read back as a different message.
    """
    parts: list[str] = []
    if msg.tags:
        for key in msg.tags:
            if not key or not _TAG_KEY_FORBIDDEN.isdisjoint(key):
                raise ProtocolError(f"invalid tag key {key!r}")
        parts.append(format_tags(msg.tags))
    if msg.source:
        if " " in msg.source:
            raise ProtocolError(f"invalid source {msg.source!r}")
        parts.append(":" + msg.source)
    if not msg.command or " " in msg.command or msg.command.startswith((":", "@")):
        raise ProtocolError(f"invalid command {msg.command!r}")
    parts.append(msg.command)
    if msg.params:
        *middle, last = msg.params
        for param in middle:
            if not param or " " in param or param.startswith(":"):
                raise ProtocolError(f"invalid middle parameter {param!r}")
        parts.extend(middle)
        if not last or " " in last or last.startswith(":"):
            last = ":" + last
        parts.append(last)
    line = " ".join(parts)
    if "\r" in line or "\n" in line or "\0" in line:
        raise ProtocolError("CR, LF and NUL cannot be sent")
    return line
