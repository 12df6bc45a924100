"""Framing: bytes from a socket in, `Message` objects out, with hard size limits.

Theory of operation
-------------------
`LineDecoder` is sans-I/O: the owner calls `LineDecoder.feed` with whatever bytes arrived and gets
back every complete line, parsed. Lines end in LF; a CR before it is dropped, blank lines are
skipped (RFC 2812 section 2.3.1 lets servers ignore them). A bare CR ends a line too (some old
clients send only CR), and NUL bytes are dropped: neither may appear inside an IRC message, so
whatever is parsed can always be formatted and relayed again.

The limits follow modern.ircdocs.horse: the tag section may be up to 8191 bytes (including its
``@`` and the space after it) and the rest of the line at most 512 bytes including CR LF. A line
past either limit is not parsed: it becomes a `DecodeError` of kind ``TOO_LONG``, which the server
answers with 417 ERR_INPUTTOOLONG, and the connection goes on. A line that never ends is cut off as
soon as the bytes held already break a limit (so at most 511 bytes are held for a line without
tags, 8191 + 511 with them), the error is reported then, and everything up to its LF is dropped
without being held, so memory per connection stays bounded whatever the peer sends.

Bytes are decoded as UTF-8; a line that is not valid UTF-8 is decoded as Latin-1 instead (what
HexChat and irssi do with legacy text), so no input is ever undecodable and no text is lost.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from chinwag.protocol.errors import ProtocolError
from chinwag.protocol.message import Message, format_line, parse_line

__all__ = [
    "MAX_BODY_BYTES",
    "MAX_TAGS_BYTES",
    "DecodeError",
    "DecodeErrorKind",
    "LineDecoder",
    "decode_text",
    "encode_message",
    "fit_utf8",
]

MAX_TAGS_BYTES = 8191
MAX_BODY_BYTES = 512

# Byte values, for ``in`` tests: ``13 in data`` is a plain scan, ``b"\r" in data`` costs five
# times as much (a substring search set up for a one-byte needle), once per chunk received.
_CR = ord("\r")
_NUL = ord("\0")


class DecodeErrorKind(enum.Enum):
    """Why a line could not become a `Message`."""

    TOO_LONG = "too long"
    NO_COMMAND = "no command"


@dataclass(frozen=True, slots=True)
class DecodeError:
    """A line that was received but could not be parsed."""

    kind: DecodeErrorKind


def decode_text(raw: bytes) -> str:
    """Decode bytes from the wire: UTF-8 when valid, Latin-1 otherwise (never fails)."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def fit_utf8(data: bytes, budget: int) -> bytes:
    """The longest start of UTF-8 ``data`` that fits ``budget`` bytes and ends between characters.

    Used wherever a relayed text must be cut so that its line stays within 512 bytes: a cut in
    the middle of a character would send bytes no client can decode.
    """
    if len(data) <= budget:
        return data
    return data[: max(0, budget)].decode("utf-8", "ignore").encode("utf-8")


def encode_message(msg: Message) -> bytes:
    """Format a message as wire bytes, CR LF included."""
    return (format_line(msg) + "\r\n").encode("utf-8")


class LineDecoder:
    """Split a byte stream into IRC messages, enforcing the line limits.

    Args:
        max_tags_bytes: the largest tag section accepted, ``@`` and trailing space included.
        max_body_bytes: the largest rest of a line accepted, CR LF included.
    """

    __slots__ = (
        "_buffer",
        "_discarding",
        "_space",
        "blank_lines",
        "max_body_bytes",
        "max_tags_bytes",
    )

    def __init__(
        self, max_tags_bytes: int = MAX_TAGS_BYTES, max_body_bytes: int = MAX_BODY_BYTES
    ) -> None:
        self.max_tags_bytes = max_tags_bytes
        self.max_body_bytes = max_body_bytes
        # The unfinished line, appended to in place: re-joining it on every feed would cost time
        # quadratic in its length when a peer sends it one byte at a time.
        self._buffer = bytearray()
        # Where the first space of the unfinished line is (-1: none yet), so that the tag
        # section's length is known without scanning the buffer again.
        self._space = -1
        self._discarding = False
        self.blank_lines = 0
        """Blank lines skipped so far (the caller may charge them: they cost time too)."""

    @property
    def pending(self) -> int:
        """How many bytes of an unfinished line are held."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[Message | DecodeError]:
        """Take more bytes; return every line they complete, in order.

        The result does not depend on how the stream is cut into chunks.

        Args:
            data: bytes as they came off the socket, in any chunking.

        Returns:
            One item per non-blank complete line: the parsed `Message`, or a `DecodeError`.
        """
        if _CR in data:
            # CR LF is the usual ending: fold it first so it does not make a blank line.
            data = data.replace(b"\r\n", b"\n")
            if _CR in data:
                data = data.replace(b"\r", b"\n")
        if _NUL in data:
            data = data.replace(b"\0", b"")
        *complete, tail = data.split(b"\n")
        out: list[Message | DecodeError] = []
        for piece in complete:
            if self._discarding:
                # The rest of a line already reported as too long.
                self._discarding = False
                continue
            if self._buffer:
                self._buffer += piece
                raw = bytes(self._buffer)
                self._buffer.clear()
                self._space = -1
            else:
                raw = piece
            item = self._decode(raw)
            if item is not None:
                out.append(item)
            else:
                self.blank_lines += 1
        if tail and not self._discarding:
            if self._space < 0:
                space = tail.find(b" ")
                if space >= 0:
                    self._space = len(self._buffer) + space
            self._buffer += tail
            if self._cannot_fit():
                out.append(DecodeError(DecodeErrorKind.TOO_LONG))
                self._discarding = True
                self._buffer.clear()
                self._space = -1
        return out

    def _cannot_fit(self) -> bool:
        """True when the unfinished line is too long whatever bytes complete it.

        A CR may still be dropped from its end, hence the one byte of slack.
        """
        held = len(self._buffer)
        if not self._buffer.startswith(b"@"):
            return held - 1 > self.max_body_bytes - 2
        if self._space < 0:
            return held - 1 > self.max_tags_bytes
        tags_len = self._space + 1
        return tags_len > self.max_tags_bytes or held - tags_len - 1 > self.max_body_bytes - 2

    def _decode(self, raw: bytes) -> Message | DecodeError | None:
        # `feed` turned every CR into LF already, so ``raw`` holds neither. Limits come before
        # the blank-line check, so that an over-long run of spaces is reported the same way
        # whether it arrives whole or cut short by `_cannot_fit`.
        body_len = len(raw)
        if raw.startswith(b"@"):
            space = raw.find(b" ")
            tags_len = len(raw) if space < 0 else space + 1
            if tags_len > self.max_tags_bytes:
                return DecodeError(DecodeErrorKind.TOO_LONG)
            body_len -= tags_len
        if body_len + 2 > self.max_body_bytes:
            return DecodeError(DecodeErrorKind.TOO_LONG)
        if not raw or (raw[0] == 32 and not raw.strip(b" ")):  # blank: ignored
            return None
        try:
            return parse_line(decode_text(raw))
        except ProtocolError:
            return DecodeError(DecodeErrorKind.NO_COMMAND)
