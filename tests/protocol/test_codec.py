"""Tests for framing: `LineDecoder`, `encode_message` and `decode_text`.

Every decoder case is fed whole, one byte at a time and in random chunkings, and must give the
same items each way: framing may not depend on how the network cut the stream.
"""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chinwag.protocol import (
    MAX_BODY_BYTES,
    MAX_TAGS_BYTES,
    DecodeError,
    DecodeErrorKind,
    LineDecoder,
    Message,
    decode_text,
    encode_message,
)

Item = Message | DecodeError
TOO_LONG = DecodeError(DecodeErrorKind.TOO_LONG)
NO_COMMAND = DecodeError(DecodeErrorKind.NO_COMMAND)


def ping(token: str) -> Message:
    """Build the message ``PING <token>``."""
    return Message("PING", (token,))


def body_line(body_len: int, end: bytes = b"\r\n") -> bytes:
    """A PRIVMSG line whose body (without CR LF) is exactly ``body_len`` bytes."""
    head = b"PRIVMSG #c :"
    return head + b"x" * (body_len - len(head)) + end


def tags_line(tags_len: int, body: bytes = b"PING x\r\n") -> bytes:
    """A line whose tag section (``@`` and the space after it included) is ``tags_len`` bytes."""
    return b"@a=" + b"v" * (tags_len - 4) + b" " + body


BODY_OK = body_line(MAX_BODY_BYTES - 2)
BODY_TOO_LONG = body_line(MAX_BODY_BYTES - 1)
TAGS_OK = tags_line(MAX_TAGS_BYTES)
TAGS_TOO_LONG = tags_line(MAX_TAGS_BYTES + 1)
BOTH_AT_LIMIT = tags_line(MAX_TAGS_BYTES, body_line(MAX_BODY_BYTES - 2))

# (bytes on the wire, the items the decoder must return for them)
DECODE_CASES: list[tuple[str, bytes, list[Item]]] = [
    ("crlf", b"PING x\r\n", [ping("x")]),
    ("bare lf", b"PING x\n", [ping("x")]),
    ("mixed endings", b"PING a\r\nPING b\nPING c\r\n", [ping("a"), ping("b"), ping("c")]),
    ("blank lines skipped", b"\r\n\n   \r\n \nPING x\r\n\r\n", [ping("x")]),
    ("unfinished line held", b"PING a\r\nPING b", [ping("a")]),
    ("only a partial line", b"PING", []),
    ("empty input", b"", []),
    (
        "tags and source",
        b"@a=b\\sc;k :s privmsg #c :hi there\r\n",
        [Message("PRIVMSG", ("#c", "hi there"), "s", {"a": "b c", "k": ""})],
    ),
    (
        "utf-8",
        b"PRIVMSG #c :\xc3\xa9t\xc3\xa9 \xe2\x9c\x93\r\n",
        [Message("PRIVMSG", ("#c", "\xe9t\xe9 \u2713"))],
    ),
    (
        "invalid utf-8 falls back to latin-1",
        b"PRIVMSG #c :caf\xe9 \xff\r\n",
        [Message("PRIVMSG", ("#c", "caf\xe9 \xff"))],
    ),
    (
        "fallback is per line",
        b"PRIVMSG #c :\xe9\r\nPRIVMSG #c :\xc3\xa9\r\n",
        [Message("PRIVMSG", ("#c", "\xe9")), Message("PRIVMSG", ("#c", "\xe9"))],
    ),
    ("only tags", b"@a=b\r\n", [NO_COMMAND]),
    ("only tags and source", b"@a=b :src\r\n", [NO_COMMAND]),
    ("only source", b":src\r\n", [NO_COMMAND]),
    ("only source and trailing", b":src :x y\r\n", [NO_COMMAND]),
    ("no command, then a good line", b"@a :s\r\nPING x\r\n", [NO_COMMAND, ping("x")]),
    (
        "a bare cr ends a line",
        b"PRIVMSG #c :a\rPING b\r\n",
        [Message("PRIVMSG", ("#c", "a")), Message("PING", ("b",))],
    ),
    ("nul bytes are dropped", b"PRIVMSG #c :a\0b\r\n", [Message("PRIVMSG", ("#c", "ab"))]),
    ("body at the limit", BODY_OK, [Message("PRIVMSG", ("#c", "x" * (510 - 12)))]),
    ("body one past the limit", BODY_TOO_LONG, [TOO_LONG]),
    ("body at the limit, bare lf", body_line(510, b"\n"), [Message("PRIVMSG", ("#c", "x" * 498))]),
    ("body one past the limit, bare lf", body_line(511, b"\n"), [TOO_LONG]),
    ("tags at the limit", TAGS_OK, [Message("PING", ("x",), None, {"a": "v" * 8187})]),
    ("tags one past the limit", TAGS_TOO_LONG, [TOO_LONG]),
    (
        "tags and body both at the limit",
        BOTH_AT_LIMIT,
        [Message("PRIVMSG", ("#c", "x" * 498), None, {"a": "v" * 8187})],
    ),
    (
        "too long between good lines",
        b"PING a\r\n" + BODY_TOO_LONG + b"PING b\r\n",
        [ping("a"), TOO_LONG, ping("b")],
    ),
    ("huge line then a good one", b"x" * 20_000 + b"\r\nPING b\r\n", [TOO_LONG, ping("b")]),
    ("long run of spaces", b" " * 600 + b"\r\nPING b\r\n", [TOO_LONG, ping("b")]),
    ("tags without end", b"@" + b"a" * 9000 + b"\r\nPING b\r\n", [TOO_LONG, ping("b")]),
]

CASE_IDS = [case[0] for case in DECODE_CASES]


def feed_chunks(chunks: list[bytes], decoder: LineDecoder | None = None) -> list[Item]:
    """Feed each chunk in turn and return every item, checking memory stays bounded."""
    decoder = decoder or LineDecoder()
    out: list[Item] = []
    for chunk in chunks:
        out += decoder.feed(chunk)
        assert decoder.pending <= decoder.max_tags_bytes + decoder.max_body_bytes
    return out


def cut(data: bytes, points: list[int]) -> list[bytes]:
    """Cut ``data`` at the given offsets."""
    bounds = [0, *sorted({p % (len(data) + 1) for p in points}), len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


@pytest.mark.parametrize(("name", "data", "expected"), DECODE_CASES, ids=CASE_IDS)
def test_decode_whole(name: str, data: bytes, expected: list[Item]) -> None:
    """The decoder returns the expected items when the case arrives in one piece."""
    assert feed_chunks([data]) == expected


@pytest.mark.parametrize(("name", "data", "expected"), DECODE_CASES, ids=CASE_IDS)
def test_decode_byte_by_byte(name: str, data: bytes, expected: list[Item]) -> None:
    """The decoder returns the same items when the case arrives one byte at a time."""
    assert feed_chunks([data[i : i + 1] for i in range(len(data))]) == expected


@settings(max_examples=25, deadline=None)
@given(case=st.sampled_from(DECODE_CASES), points=st.lists(st.integers(min_value=0), max_size=12))
def test_decode_random_chunks(case: tuple[str, bytes, list[Item]], points: list[int]) -> None:
    """The decoder returns the same items whatever the chunking of the case."""
    _, data, expected = case
    assert feed_chunks(cut(data, points)) == expected


@settings(max_examples=150, deadline=None)
@given(
    data=st.lists(st.sampled_from([b"@", b" ", b":", b"\r", b"\n", b"A", b"b", b"\xff", b";"])).map(
        b"".join
    ),
    points=st.lists(st.integers(min_value=0), max_size=8),
)
def test_chunking_never_matters(data: bytes, points: list[int]) -> None:
    """With small limits, any byte stream decodes the same whole and in any chunking."""

    def small() -> LineDecoder:
        return LineDecoder(max_tags_bytes=6, max_body_bytes=5)

    whole = feed_chunks([data], small())
    assert feed_chunks(cut(data, points), small()) == whole
    assert feed_chunks([data[i : i + 1] for i in range(len(data))], small()) == whole


def test_pending_counts_the_unfinished_line() -> None:
    """pending is the length of the line held so far, and zero once it ends."""
    decoder = LineDecoder()
    assert decoder.pending == 0
    assert decoder.feed(b"PING a\r\nPRIV") == [ping("a")]
    assert decoder.pending == 4
    decoder.feed(b"MSG")
    assert decoder.pending == 7
    decoder.feed(b" #c x\r\n")
    assert decoder.pending == 0


@pytest.mark.parametrize("chunk_size", [1, 7, 100, 512, 4096, 65536])
@pytest.mark.parametrize(
    ("start", "bound"),
    [
        (b"", MAX_BODY_BYTES - 1),
        (b"@", MAX_TAGS_BYTES + 1),
        (b"@a=b ", 5 + MAX_BODY_BYTES - 1),
        (b"@" + b"t" * 8000 + b" ", 8002 + MAX_BODY_BYTES - 1),
    ],
    ids=["no tags", "tags never end", "short tags", "long tags"],
)
def test_never_ending_line(start: bytes, bound: int, chunk_size: int) -> None:
    """A line that never ends is held up to its limit, reported once, then skipped to its LF."""
    decoder = LineDecoder()
    out: list[Item] = []
    out += decoder.feed(start)
    for _ in range(20_000 // chunk_size + 1):
        out += decoder.feed(b"x" * chunk_size)
        assert decoder.pending <= bound
    assert out == [TOO_LONG]
    assert decoder.feed(b"still the same line\r\nPING after\r\n") == [ping("after")]
    assert decoder.pending == 0


def test_never_ending_line_fed_a_byte_at_a_time_is_fast() -> None:
    """Holding a long unfinished line costs linear time: 100 000 one-byte feeds stay cheap."""
    decoder = LineDecoder()
    decoder.feed(b"@")
    out: list[Item] = []
    for _ in range(100_000):
        out += decoder.feed(b"x")
    assert out == [TOO_LONG]


def test_line_at_limit_is_held_whole() -> None:
    """A valid line at the limits is held whole until its LF arrives, then parsed."""
    decoder = LineDecoder()
    assert decoder.feed(BOTH_AT_LIMIT[:-2]) == []
    assert decoder.pending == len(BOTH_AT_LIMIT) - 2
    [msg] = decoder.feed(b"\r\n")
    assert isinstance(msg, Message)
    assert msg.params == ("#c", "x" * 498)


def test_custom_limits() -> None:
    """The limits given to the constructor replace the defaults, edges included."""
    decoder = LineDecoder(max_tags_bytes=10, max_body_bytes=10)
    assert decoder.feed(b"PING 123\r\n") == [ping("123")]
    assert decoder.feed(b"PING 1234\r\n") == [TOO_LONG]
    assert decoder.feed(b"@a=123456 PING\r\n") == [Message("PING", (), None, {"a": "123456"})]
    assert decoder.feed(b"@a=1234567 PING\r\n") == [TOO_LONG]


def test_limits_are_the_documented_ones() -> None:
    """The default limits are ircdocs': 8191 bytes of tags, 512 bytes of body with CR LF."""
    assert MAX_TAGS_BYTES == 8191
    assert MAX_BODY_BYTES == 512
    decoder = LineDecoder()
    assert (decoder.max_tags_bytes, decoder.max_body_bytes) == (8191, 512)


def test_too_long_then_no_command_then_message() -> None:
    """Errors are reported in stream order and never stop later lines."""
    data = BODY_TOO_LONG + b"@a\r\n" + TAGS_TOO_LONG + b"PING x\r\n"
    assert feed_chunks([data]) == [TOO_LONG, NO_COMMAND, TOO_LONG, ping("x")]


# (message, the exact bytes encode_message must produce)
ENCODE_CASES: list[tuple[Message, bytes]] = [
    (Message.of("PING", "x"), b"PING x\r\n"),
    (
        Message.of("PRIVMSG", "#c", "hello world", source="a!b@c"),
        b":a!b@c PRIVMSG #c :hello world\r\n",
    ),
    (Message.of("PRIVMSG", "#c", "h\xe9llo \u2713"), b"PRIVMSG #c :h\xc3\xa9llo \xe2\x9c\x93\r\n"),
    (Message("TAGMSG", ("#c",), None, {"+r": "a b"}), b"@+r=a\\sb TAGMSG #c\r\n"),
    (Message.of("PRIVMSG", "#c", ""), b"PRIVMSG #c :\r\n"),
]


@pytest.mark.parametrize(("msg", "wire"), ENCODE_CASES, ids=[c[1].decode() for c in ENCODE_CASES])
def test_encode_message(msg: Message, wire: bytes) -> None:
    """encode_message gives the UTF-8 line with CR LF, exactly."""
    assert encode_message(msg) == wire


@pytest.mark.parametrize(("msg", "wire"), ENCODE_CASES, ids=[c[1].decode() for c in ENCODE_CASES])
def test_encoded_message_decodes_back(msg: Message, wire: bytes) -> None:
    """What encode_message writes, the decoder reads back as the same message."""
    assert LineDecoder().feed(encode_message(msg)) == [msg]


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        (b"", ""),
        (b"plain", "plain"),
        (b"\xc3\xa9", "\xe9"),
        (b"\xe9", "\xe9"),
        (b"\xc3", "\xc3"),
        (b"\xf0\x9f\x98\x80", "\U0001f600"),
        (b"\xff\xfe\x00", "\xff\xfe\x00"),
    ],
)
def test_decode_text(raw: bytes, text: str) -> None:
    """decode_text reads UTF-8 when valid and Latin-1 otherwise."""
    assert decode_text(raw) == text


@given(st.binary())
def test_decode_text_never_fails(raw: bytes) -> None:
    """decode_text accepts any bytes and loses none of them."""
    text = decode_text(raw)
    assert text.encode("utf-8") == raw or text.encode("latin-1") == raw


def test_blank_lines_are_counted() -> None:
    """Blank lines yield nothing but are counted in blank_lines (a caller charges them)."""
    decoder = LineDecoder()
    assert decoder.feed(b"\r\n\r\nPING a\r\n  \r\n\n") == [Message("PING", ("a",))]
    assert decoder.blank_lines == 4
    decoder.feed(b"\r\n")
    assert decoder.blank_lines == 5
