"""The server's own lines (`chinwag.server.replies`): exact bytes for the ordinary cases, and
every line fits the protocol's 512 bytes whatever the parameters echo (property tests over the
two formatters every reply goes through); NAMES packing keeps every entry, in order."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chinwag.protocol import MAX_BODY_BYTES, decode_text, parse_line
from chinwag.server.replies import (
    MAX_HEAD_BYTES,
    PackedNames,
    numeric_line,
    numeric_lines,
    pack_words,
    server_line,
)

# Any text a client could make the server echo: no CR, LF or NUL (the codec drops those).
TEXT = st.text(st.characters(blacklist_characters="\r\n\0", codec="utf-8"), max_size=600)
WORD = st.text(
    st.characters(blacklist_characters="\r\n\0 ", codec="utf-8"),
    min_size=1,
    max_size=600,
)
NAMES = st.sampled_from(["test.chinwag", "irc." + "x" * 60 + ".example"])

NUMERIC_CASES: list[tuple[tuple[str, ...], bytes]] = [
    (("amy", "001", "Welcome"), b":srv 001 amy :Welcome\r\n"),
    (("amy", "403", "#nope", "No such channel"), b":srv 403 amy #nope :No such channel\r\n"),
    (("amy", "401", "a b", "No such nick"), b":srv 401 amy a_b :No such nick\r\n"),
    (("amy", "401", ":x", "No such nick"), b":srv 401 amy x :No such nick\r\n"),
    (("amy", "401", "", "No such nick"), b":srv 401 amy * :No such nick\r\n"),
    (("*", "451", ""), b":srv 451 * :\r\n"),
]
"""A numeric's parameters and its exact bytes from server ``srv``: a middle parameter that
cannot be one (space, leading colon, empty) is made sendable; the last is always trailing."""


@pytest.mark.parametrize(("params", "expected"), NUMERIC_CASES)
def test_numeric_line_exact_bytes(params: tuple[str, ...], expected: bytes) -> None:
    """A numeric is the server, the numeric, the nick, safe middles and a trailing text."""
    assert numeric_line("srv", *params) == expected


def test_numeric_line_cuts_a_long_echoed_middle_before_the_text() -> None:
    """421 echoing a 600-byte command keeps the head within `MAX_HEAD_BYTES` and its text."""
    line = numeric_line("srv", "amy", "421", "X" * 600, "Unknown command")
    assert len(line) <= MAX_BODY_BYTES
    assert line.endswith(b" :Unknown command\r\n")
    assert len(line) - len(b"Unknown command\r\n") <= MAX_HEAD_BYTES


def test_a_server_name_too_long_for_any_head_still_gives_its_numerics() -> None:
    """A server name of 440 bytes leaves no room for 004's head however its parameters are
    cut: they are cut to one character each and the line is made (the cutting used to go on
    for ever), within 512 bytes, with all its parameters."""
    name = "x" * 440
    line = numeric_line(name, "amy", "004", name, "chinwag-1.0", "Biow", "Ibeiklmnostv", "Ibe")
    assert len(line) <= MAX_BODY_BYTES
    msg = parse_line(decode_text(line[:-2]))
    assert msg.source == name and msg.command == "004"
    assert [len(param) for param in msg.params[:-1]] == [1, 1, 1, 1, 1]
    assert msg.params[-1] == "Ibe"


def test_server_line_exact_bytes_and_cut_text() -> None:
    """A server line is formatted as IRC; an over-long last parameter is cut, the rest kept."""
    assert server_line("srv", "CAP", "*", "LS", "sasl") == b":srv CAP * LS sasl\r\n"
    long = server_line("srv", "NOTICE", "amy", "y" * 600)
    assert len(long) == MAX_BODY_BYTES
    assert long.startswith(b":srv NOTICE amy :yyy")


def test_numeric_lines_of_nothing_is_nothing() -> None:
    """An empty list reply formats to no bytes (the closing numeric is the caller's)."""
    assert numeric_lines("srv", "amy", "353", ("=", "#c"), []) == b""


def test_pack_words_exact_lines() -> None:
    """Words fill a line up to the limit; a word longer than a line goes alone, whole."""
    assert pack_words([], 10) == []
    assert pack_words(["ab", "cd", "ef"], 5) == ["ab cd", "ef"]
    assert pack_words(["ab", "abcdefghijk", "cd"], 5) == ["ab", "abcdefghijk", "cd"]
    assert pack_words(["é", "é", "é"], 5) == ["é é", "é"]  # bytes, not characters


@settings(max_examples=300, deadline=None)
@given(
    name=NAMES,
    nick=st.from_regex(r"[a-z]{1,32}", fullmatch=True),
    middle=st.lists(WORD, max_size=3),
    last=TEXT,
)
def test_numeric_lines_fit(name: str, nick: str, middle: list[str], last: str) -> None:
    """A numeric with any echoed parameters is at most 512 bytes and parses back to the same
    numeric for the same nick."""
    line = numeric_line(name, nick, "421", *middle, last)
    assert len(line) <= MAX_BODY_BYTES
    msg = parse_line(decode_text(line[:-2]))
    assert msg.command == "421" and msg.params[0] == nick
    assert len(msg.params) == len(middle) + 2


@settings(max_examples=300, deadline=None)
@given(
    name=NAMES, middle=st.lists(WORD.filter(lambda w: not w.startswith(":")), max_size=2), last=TEXT
)
def test_server_lines_fit(name: str, middle: list[str], last: str) -> None:
    """A server line (CAP, NOTICE, ERROR...) is at most 512 bytes; only its last parameter is
    cut, so the command and the middle parameters arrive whole."""
    short = [m[:40] for m in middle]
    line = server_line(name, "NOTICE", *short, last)
    assert len(line) <= MAX_BODY_BYTES
    msg = parse_line(decode_text(line[:-2]))
    assert msg.command == "NOTICE" and list(msg.params[:-1]) == short


@settings(max_examples=300, deadline=None)
@given(
    words=st.lists(
        st.text(
            st.characters(blacklist_characters=" \r\n\0", codec="utf-8"),
            min_size=1,
            max_size=10,  # at most 40 bytes: a word longer than a line cannot fit
        ),
        max_size=200,
    ),
    limit=st.integers(min_value=40, max_value=500),
)
def test_pack_words_keeps_every_word_within_the_limit(words: list[str], limit: int) -> None:
    """NAMES packing: lines of at most ``limit`` bytes, every word once, in order, none cut."""
    lines = pack_words(words, limit)
    assert all(len(line.encode()) <= limit for line in lines)
    assert [w for line in lines for w in line.split(" ")] == words


@settings(max_examples=200, deadline=None)
@given(
    name=st.one_of(NAMES, st.just("irc." + "y" * 420 + ".example")),
    nick=st.from_regex(r"[a-z]{1,32}", fullmatch=True),
    middle=st.lists(WORD, min_size=1, max_size=2),
    texts=st.lists(TEXT, max_size=5),
)
def test_numeric_lines_are_numeric_line_for_each_text(
    name: str, nick: str, middle: list[str], texts: list[str]
) -> None:
    """A list reply formatted with one head (NAMES) is byte for byte the numerics formatted one
    by one, a text too long to fit, a head too long and a very long server name included."""
    expected = b"".join(numeric_line(name, nick, "353", *middle, text) for text in texts)
    encoded = [text.encode("utf-8") for text in texts]
    assert numeric_lines(name, nick, "353", tuple(middle), encoded) == expected


@settings(max_examples=300, deadline=None)
@given(
    words=st.lists(WORD.filter(lambda w: len(w.encode()) < 200), max_size=60),
    cuts=st.lists(st.integers(0, 60), max_size=4),
    limit=st.integers(1, 500),
    extra=st.one_of(st.none(), WORD),
)
def test_packed_names_grown_piece_by_piece_are_pack_words_of_all(
    words: list[str], cuts: list[int], limit: int, extra: str | None
) -> None:
    """NAMES lines packed as the entries arrive (a few at a time, asked for in between) are
    what packing all of them at once gives, a silent member's own entry at the end too."""
    entries: list[str] = []
    packed = PackedNames(entries, limit)
    start = 0
    for cut in sorted(min(c, len(words)) for c in cuts):
        entries.extend(words[start:cut])
        start = cut
        assert packed.lines() == [line.encode() for line in pack_words(entries, limit)]
    entries.extend(words[start:])
    everyone = entries if extra is None else [*entries, extra]
    assert packed.lines(extra) == [line.encode() for line in pack_words(everyone, limit)]
    assert packed.lines() == [line.encode() for line in pack_words(entries, limit)]
