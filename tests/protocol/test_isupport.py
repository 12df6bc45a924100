"""Tests for ISUPPORT (005) token splitting and parsing."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chinwag.protocol import Message, format_line, isupport_lines, parse_isupport, parse_line


def numbered(count: int) -> dict[str, str | None]:
    """count tokens K0=0, K1=1, ..."""
    return {f"K{i}": str(i) for i in range(count)}


@pytest.mark.parametrize(
    ("count", "sizes"),
    [(0, []), (1, [1]), (12, [12]), (13, [13]), (14, [13, 1]), (26, [13, 13]), (27, [13, 13, 1])],
)
def test_isupport_lines_split(count: int, sizes: list[int]) -> None:
    """Tokens are split into lines of at most 13, filling each line before the next."""
    assert [len(line) for line in isupport_lines(numbered(count))] == sizes


def test_isupport_lines_keep_order() -> None:
    """Tokens keep the order of the mapping across lines."""
    lines = isupport_lines(numbered(30))
    assert list(itertools.chain.from_iterable(lines)) == [f"K{i}={i}" for i in range(30)]


def test_isupport_tokens() -> None:
    """A None or empty value gives a bare key; others give KEY=value."""
    tokens: dict[str, str | None] = {
        "CASEMAPPING": "rfc1459",
        "CHANTYPES": "#",
        "PREFIX": "(ov)@+",
        "SAFELIST": None,
        "EXCEPTS": "",
        "CHANMODES": "b,k,l,imnst",
    }
    assert isupport_lines(tokens) == [
        [
            "CASEMAPPING=rfc1459",
            "CHANTYPES=#",
            "PREFIX=(ov)@+",
            "SAFELIST",
            "EXCEPTS",
            "CHANMODES=b,k,l,imnst",
        ]
    ]


def test_isupport_value_escapes() -> None:
    """Space, = and backslash in a value are sent as \\xHH escapes."""
    assert isupport_lines({"NETWORK": "My Net", "X": "a=b\\c"}) == [
        ["NETWORK=My\\x20Net", "X=a\\x3Db\\x5Cc"]
    ]


def test_parse_isupport() -> None:
    """KEY=value, bare KEY and KEY= are read; escapes are undone."""
    assert parse_isupport(
        ["CHANTYPES=#", "NICKLEN=30", "SAFELIST", "EXCEPTS=", "NETWORK=My\\x20Net"]
    ) == {
        "CHANTYPES": "#",
        "NICKLEN": "30",
        "SAFELIST": "",
        "EXCEPTS": "",
        "NETWORK": "My Net",
    }


def test_parse_isupport_value_with_equals() -> None:
    """Only the first = splits key from value."""
    assert parse_isupport(["X=a=b"]) == {"X": "a=b"}


def test_parse_isupport_removal() -> None:
    """-KEY removes a key learned earlier; removing an unknown key is harmless."""
    known = parse_isupport(["NICKLEN=30", "EXCEPTS", "SAFELIST"])
    result = parse_isupport(["-EXCEPTS", "-UNKNOWN", "NICKLEN=31"], into=known)
    assert result is known
    assert known == {"NICKLEN": "31", "SAFELIST": ""}


def test_parse_isupport_into_none_makes_a_new_dict() -> None:
    """Without into, every call starts from an empty dict."""
    first = parse_isupport(["A=1"])
    assert parse_isupport(["B=2"]) == {"B": "2"}
    assert first == {"A": "1"}


def test_isupport_lines_make_valid_005_lines() -> None:
    """Each group makes an RPL_ISUPPORT line of nick, ≤13 tokens and the text: ≤15 params."""
    for tokens in isupport_lines(numbered(40)):
        msg = Message.of("005", "amy", *tokens, "are supported by this server", source="srv")
        parsed = parse_line(format_line(msg))
        assert parsed.params[1:-1] == tuple(tokens)
        assert len(parsed.params) <= 15


keys = st.text(st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_"), min_size=1, max_size=10)
values = st.none() | st.text(st.characters(codec="utf-8"), max_size=15)


@settings(max_examples=50)
@given(st.dictionaries(keys, values, max_size=30))
def test_isupport_round_trip(tokens: dict[str, str | None]) -> None:
    """parse_isupport reads back what isupport_lines wrote, through a real 005 line."""
    learned: dict[str, str] = {}
    for group in isupport_lines(tokens):
        line = format_line(Message.of("005", "amy", *group, "are supported by this server"))
        parse_isupport(parse_line(line).params[1:-1], into=learned)
    assert learned == {key: value or "" for key, value in tokens.items()}
