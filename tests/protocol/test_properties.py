"""Property tests: whatever valid message is formatted, parsing gives it back."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from chinwag.protocol import (
    LineDecoder,
    Message,
    encode_message,
    escape_tag_value,
    format_line,
    format_tags,
    parse_line,
    parse_tags,
    unescape_tag_value,
)

from .strategies import messages, tag_keys, tag_values

# Limits large enough for any generated message: these tests are about the format, not sizes.
BIG = 1 << 20


@given(messages())
def test_format_parse_round_trip(msg: Message) -> None:
    """parse_line(format_line(m)) == m for every valid message."""
    assert parse_line(format_line(msg)) == msg


@given(messages())
def test_encode_decode_round_trip(msg: Message) -> None:
    """LineDecoder reads back exactly the message encode_message wrote."""
    decoder = LineDecoder(max_tags_bytes=BIG, max_body_bytes=BIG)
    assert decoder.feed(encode_message(msg)) == [msg]
    assert decoder.pending == 0


@settings(max_examples=50)
@given(st.lists(messages(), max_size=5), st.integers(min_value=1, max_value=17))
def test_stream_of_messages_in_fixed_chunks(msgs: list[Message], size: int) -> None:
    """A stream of encoded messages cut into equal chunks decodes to the same messages."""
    data = b"".join(encode_message(msg) for msg in msgs)
    decoder = LineDecoder(max_tags_bytes=BIG, max_body_bytes=BIG)
    out: list[object] = []
    for start in range(0, len(data), size):
        out += decoder.feed(data[start : start + size])
    assert out == msgs


@given(messages())
def test_formatted_line_is_one_clean_line(msg: Message) -> None:
    """A formatted line holds no CR, LF or NUL, and never begins with a space."""
    line = format_line(msg)
    assert not {"\r", "\n", "\0"} & set(line)
    assert not line.startswith(" ")


@given(messages())
def test_format_is_stable(msg: Message) -> None:
    """Formatting the parse of a formatted line gives the same line (one canonical spelling)."""
    line = format_line(msg)
    assert format_line(parse_line(line)) == line


@given(st.text())
def test_escape_unescape_round_trip(value: str) -> None:
    """unescape_tag_value(escape_tag_value(v)) == v for any text."""
    assert unescape_tag_value(escape_tag_value(value)) == value


@given(st.text())
def test_escaped_value_has_no_separators(value: str) -> None:
    """An escaped tag value holds no ; space CR or LF, and no backslash but in an escape."""
    escaped = escape_tag_value(value)
    assert not {";", " ", "\r", "\n"} & set(escaped)
    assert escaped.replace("\\\\", "").replace("\\", "").count("\\") == 0


@given(st.text())
def test_unescape_never_fails(wire: str) -> None:
    """unescape_tag_value accepts any text, stray backslashes included."""
    assert len(unescape_tag_value(wire)) <= len(wire)


@given(st.dictionaries(tag_keys, tag_values, max_size=6))
def test_tags_round_trip(tags: dict[str, str]) -> None:
    """parse_tags reads back what format_tags wrote (without its @)."""
    formatted = format_tags(tags)
    assert parse_tags(formatted[1:]) == tags
