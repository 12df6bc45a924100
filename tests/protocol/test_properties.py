"""Property tests: whatever valid message is formatted, parsing gives it back."""

from __future__ import annotations

import re

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


@settings(max_examples=100)
@given(messages())
def test_format_parse_round_trip(msg: Message) -> None:
    """parse_line(format_line(m)) == m, on one clean line that formats again the same way."""
    line = format_line(msg)
    assert not {"\r", "\n", "\0"} & set(line)
    assert not line.startswith(" ")
    parsed = parse_line(line)
    assert parsed == msg
    assert format_line(parsed) == line


@settings(max_examples=30)
@given(st.lists(messages(), min_size=1, max_size=4), st.integers(min_value=1, max_value=17))
def test_encode_decode_round_trip(msgs: list[Message], size: int) -> None:
    """Encoded messages cut into equal chunks decode to the same messages, nothing left over."""
    data = b"".join(encode_message(msg) for msg in msgs)
    decoder = LineDecoder(max_tags_bytes=BIG, max_body_bytes=BIG)
    assert decoder.feed(data) == msgs
    out: list[object] = []
    for start in range(0, len(data), size):
        out += decoder.feed(data[start : start + size])
    assert out == msgs
    assert decoder.pending == 0


@given(tag_values)
def test_escape_unescape_round_trip(value: str) -> None:
    """unescape_tag_value(escape_tag_value(v)) == v for any text."""
    assert unescape_tag_value(escape_tag_value(value)) == value


@given(tag_values)
def test_escaped_value_has_no_separators(value: str) -> None:
    """An escaped tag value holds no ; space CR or LF, and no backslash but in an escape."""
    escaped = escape_tag_value(value)
    assert not {";", " ", "\r", "\n"} & set(escaped)
    assert re.fullmatch(r"(?:[^\\]|\\[:s\\rn])*", escaped, re.DOTALL)


@given(st.text(st.sampled_from("\\:srnx ;")))
def test_unescape_never_fails(wire: str) -> None:
    """unescape_tag_value accepts any text, stray backslashes included."""
    assert len(unescape_tag_value(wire)) <= len(wire)


@given(st.dictionaries(tag_keys, tag_values, max_size=6))
def test_tags_round_trip(tags: dict[str, str]) -> None:
    """parse_tags reads back what format_tags wrote (without its @)."""
    formatted = format_tags(tags)
    assert parse_tags(formatted[1:]) == tags
