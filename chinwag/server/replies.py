"""The server's own lines as wire bytes: numeric replies and server commands cut to fit 512
bytes whatever they echo, and list replies (NAMES) packed into as few lines as fit.

Everything here is a pure function of its arguments (the server name, the nick, the parameters):
no network state, no I/O. `network.Network` sends what these make (`Network.numeric`,
`Network.notice`); the welcome burst and NAMES build their templates from them.

Theory of operation: a reply's parameters often echo what a client sent (a nick, a channel, a
mask, a command name), so no input may make a reply unformattable or longer than the protocol
allows. A middle parameter that cannot be one (empty, with a space, starting with ``:``) is made
sendable; a head that echoes a long input is cut, its longest parameters first, keeping
`MAX_HEAD_BYTES` for the text; the text is cut last, at a UTF-8 boundary.
"""

from __future__ import annotations

from chinwag.protocol import MAX_BODY_BYTES, Message, encode_message, fit_utf8

__all__ = [
    "MAX_HEAD_BYTES",
    "PackedNames",
    "numeric_line",
    "numeric_lines",
    "pack_words",
    "server_line",
]

MAX_HEAD_BYTES = MAX_BODY_BYTES - 2 - 64
"""The most a numeric's head (source, numeric, middle parameters) may take: 64 bytes stay for
its text."""


def numeric_line(server: str, nick: str, numeric: str, *params: str) -> bytes:
    """A numeric reply from ``server`` to ``nick`` as wire bytes.

    Middle parameters often echo what a client sent (a nick, a channel, a mask, a key); one
    that cannot be a middle parameter (empty, with a space, starting with ``:``) is made
    sendable, so that no input can make a reply unformattable.

    Args:
        server: the server's name, the line's source.
        nick: the recipient's nick, the first parameter.
        numeric: the three-digit reply (``RPL_WELCOME``...).
        params: the other parameters; the last one is sent in the trailing form.

    Returns:
        One line of at most 512 bytes, CR LF included.
    """
    *middle, last = (nick, *params)
    middle = [p if p and " " not in p and p[0] != ":" else _middle(p) for p in middle]
    # Put together directly (numerics are sent for every command; format_line's checks are
    # for untrusted layouts): the middle parameters were just made safe, and the last one
    # always goes in the trailing form. CR, LF and NUL never get this far (see the codec).
    head = f":{server} {numeric} {' '.join(middle)} :".encode()
    if len(head) > MAX_HEAD_BYTES:  # a middle parameter echoes a long input (421 <command>)
        head = _fit_head(f":{server} {numeric} ", middle)
    text = last.encode("utf-8")
    # Full-length free text (a topic) under a long server name: cut the text to fit.
    text = fit_utf8(text, MAX_BODY_BYTES - 2 - len(head))
    return head + text + b"\r\n"


def numeric_lines(
    server: str, nick: str, numeric: str, middle: tuple[str, ...], texts: list[bytes]
) -> bytes:
    """The numerics ``numeric_line(server, nick, numeric, *middle, text)`` for each of
    ``texts`` (UTF-8).

    A list reply (NAMES) repeats one head: it is formatted once and the lines are joined
    with it in one call (measured: 0.3 us a line where `numeric_line` took 1.9), but when a
    text is too long to fit, which `numeric_line` cuts as always.
    """
    if not texts:
        return b""
    head = numeric_line(server, nick, numeric, *middle, "")[:-2]
    if max(map(len, texts)) <= MAX_BODY_BYTES - 2 - len(head):
        return head + (b"\r\n" + head).join(texts) + b"\r\n"
    return b"".join(
        numeric_line(server, nick, numeric, *middle, text.decode("utf-8")) for text in texts
    )


def server_line(server: str, command: str, *params: str) -> bytes:
    """A non-numeric line from ``server`` (``CAP``, ``NOTICE``, ``ERROR``...) as wire bytes; a
    last parameter that would make it longer than 512 bytes is cut to fit."""
    line = encode_message(Message(command, params, server))
    if len(line) > MAX_BODY_BYTES and params:
        *middle, last = params
        head = (" ".join([f":{server}", command, *middle]) + " :").encode()
        text = fit_utf8(last.encode("utf-8"), max(0, MAX_BODY_BYTES - 2 - len(head)))
        line = head + text + b"\r\n"
    return line


def _middle(param: str) -> str:
    """``param`` as a valid middle parameter: spaces become ``_``, a leading ``:`` goes."""
    return param.replace(" ", "_").lstrip(":") or "*"


def _fit_head(start: str, middle: list[str]) -> bytes:
    """A numeric's head with its longest middle parameters cut until it fits `MAX_HEAD_BYTES`."""
    params = [p.encode("utf-8") for p in middle]
    fixed = len(start.encode()) + len(params) + 1  # a space after each parameter, then ":"
    while fixed + sum(map(len, params)) > MAX_HEAD_BYTES:
        longest = max(range(len(params)), key=lambda i: len(params[i]))
        if len(params[longest]) <= 1:
            break  # only the server name is too long (some 430 bytes): nothing left to cut
        params[longest] = fit_utf8(params[longest], len(params[longest]) // 2) or b"*"
    return start.encode() + b" ".join(params) + b" :"


# -- list replies ------------------------------------------------------------------------------


def pack_words(words: list[str], limit: int) -> list[str]:
    """``words`` joined by spaces into lines of at most ``limit`` bytes each, in order.

    NAMES of a big channel is the case: joining everything once and cutting at spaces costs a
    few string operations per line, where adding word by word costs several per word.
    """
    if not words:
        return []
    text = " ".join(words)
    if not text.isascii():  # characters and bytes differ: count bytes word by word
        lines: list[str] = []
        line: list[str] = []
        size = -1
        for word in words:
            cost = len(word.encode()) + 1
            if line and size + cost > limit:
                lines.append(" ".join(line))
                line, size = [], -1
            line.append(word)
            size += cost
        lines.append(" ".join(line))
        return lines
    lines = []
    start, end = 0, len(text)
    while end - start > limit:
        cut = text.rfind(" ", start, start + limit + 1)
        if cut <= start:  # one word longer than a line: it goes alone, whole
            cut = text.find(" ", start + 1)
            if cut < 0:
                break
        lines.append(text[start:cut])
        start = cut + 1
    lines.append(text[start:])
    return lines


class PackedNames:
    """A channel's NAMES entries packed into lines of at most ``limit`` bytes (a longer entry
    goes alone), each word as far up as it fits: what `pack_words` makes of them.

    Made for one list of entries (`Channel.names`), which only ever grows until it is dropped;
    each `lines` call packs only the entries added since the last. A joiner of a big room then
    costs one entry here, where packing the whole list again cost 16 us per arrival of a 5k join
    storm (``bench.profile``, every JOIN shown), growing with the room.

    Args:
        entries: the entries (``@nick``...), in order.
        limit: the most bytes a line may have.
    """

    __slots__ = ("_lines", "_packed", "entries", "limit")

    def __init__(self, entries: list[str], limit: int) -> None:
        self.entries = entries
        self.limit = limit
        self._lines: list[bytes] = []
        self._packed = 0

    def lines(self, extra: str | None = None) -> list[bytes]:
        """The lines, and ``extra`` as one more entry at the end (not kept) if given."""
        entries, lines = self.entries, self._lines
        if self._packed < len(entries):
            added = entries[self._packed :]
            self._packed = len(entries)
            last = lines.pop() if lines else b""
            lines += _pack(last, [entry.encode("utf-8") for entry in added], self.limit)
        if extra is None:
            return lines
        last = lines[-1] if lines else b""
        return lines[:-1] + _pack(last, [extra.encode("utf-8")], self.limit)


def _pack(line: bytes, words: list[bytes], limit: int) -> list[bytes]:
    """``words`` added after ``line`` (b"": none), a new line when the next would not fit."""
    lines = []
    for word in words:
        if not line:
            line = word
        elif len(line) + 1 + len(word) <= limit:
            line += b" " + word
        else:
            lines.append(line)
            line = word
    lines.append(line)
    return lines
