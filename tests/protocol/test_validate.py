"""Tests for nick, channel and user-name validation."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chinwag.protocol import (
    is_valid_channel,
    is_valid_mask_param,
    is_valid_nick,
    parse_count,
    sanitize_username,
)

NICKLEN = 30
CHANNELLEN = 50

VALID_NICKS = [
    "a",
    "amy",
    "Amy",
    "amy2",
    "a-b",
    "a--",
    "[bot]",
    "{x}",
    "\\o",
    "`tick",
    "_under",
    "^caret",
    "|pipe",
    "x" * NICKLEN,
]

INVALID_NICKS = [
    ("", "empty"),
    ("1amy", "leading digit"),
    ("-amy", "leading dash"),
    ("0", "only a digit"),
    ("a b", "space"),
    ("a,b", "comma"),
    ("a!b", "bang"),
    ("a@b", "at"),
    ("a.b", "dot"),
    ("a*", "star"),
    ("a?", "question mark"),
    ("a:b", "colon"),
    (":amy", "leading colon"),
    ("#amy", "channel prefix"),
    ("&amy", "ampersand"),
    ("~amy", "tilde"),
    ("a/b", "slash"),
    ("am\xe9", "latin-1 letter"),
    ("\u0430my", "cyrillic look-alike"),
    ("amy\U0001f600", "emoji"),
    ("amy\0", "NUL"),
    ("amy\n", "LF at the end"),
    ("amy\r", "CR"),
    ("a\tb", "tab"),
    ("x" * (NICKLEN + 1), "one past the length limit"),
]

VALID_CHANNELS = [
    "#a",
    "#lobby",
    "#Lobby",
    "##",
    "#a-b_c.d",
    "#[x]",
    "#caf\xe9",
    "#\U0001f600",
    "#a!b@c",
    "#" + "x" * (CHANNELLEN - 1),
]

INVALID_CHANNELS = [
    ("", "empty"),
    ("#", "only the prefix"),
    ("lobby", "no prefix"),
    ("&lobby", "& prefix (not in CHANTYPES)"),
    ("+lobby", "+ prefix"),
    ("!lobby", "! prefix"),
    ("#a,b", "comma"),
    ("#a b", "space"),
    ("#a\x07b", "BEL"),
    ("#a:b", "colon"),
    ("#a\0", "NUL"),
    ("#a\r", "CR"),
    ("#a\n", "LF"),
    ("#a\tb", "tab"),
    ("#a\x7f", "DEL"),
    (" #a", "leading space"),
    ("#" + "x" * CHANNELLEN, "one past the length limit"),
]


@pytest.mark.parametrize("nick", VALID_NICKS)
def test_valid_nick(nick: str) -> None:
    """Nicks made of RFC 2812 characters, not starting with a digit or dash, are valid."""
    assert is_valid_nick(nick, NICKLEN)


@pytest.mark.parametrize(("nick", "why"), INVALID_NICKS, ids=[c[1] for c in INVALID_NICKS])
def test_invalid_nick(nick: str, why: str) -> None:
    """Nicks breaking RFC 2812 section 2.3.1 or the length limit are refused."""
    assert not is_valid_nick(nick, NICKLEN)


@pytest.mark.parametrize(
    ("length", "max_length", "valid"), [(9, 9, True), (10, 9, False), (1, 1, True), (1, 0, False)]
)
def test_nick_length_limit(length: int, max_length: int, valid: bool) -> None:
    """The nick length limit is inclusive."""
    assert is_valid_nick("n" * length, max_length) is valid


@pytest.mark.parametrize("name", VALID_CHANNELS)
def test_valid_channel(name: str) -> None:
    """Names starting with # and free of space, comma, colon and control characters are valid."""
    assert is_valid_channel(name, CHANNELLEN)


@pytest.mark.parametrize(("name", "why"), INVALID_CHANNELS, ids=[c[1] for c in INVALID_CHANNELS])
def test_invalid_channel(name: str, why: str) -> None:
    """Channel names with a forbidden character, prefix or length are refused."""
    assert not is_valid_channel(name, CHANNELLEN)


@pytest.mark.parametrize(
    ("length", "max_length", "valid"), [(5, 5, True), (6, 5, False), (2, 2, True), (2, 1, False)]
)
def test_channel_length_limit(length: int, max_length: int, valid: bool) -> None:
    """The channel length limit is inclusive and counts the #."""
    assert is_valid_channel("#" + "c" * (length - 1), max_length) is valid


@given(st.text(max_size=40))
def test_valid_nick_is_safe_on_the_wire(nick: str) -> None:
    """A valid nick is a single non-empty middle parameter that cannot be mistaken for a channel."""
    if is_valid_nick(nick, NICKLEN):
        assert nick and nick.isascii()
        assert not set(nick) & set(" ,!@*?:#&\r\n\0")
        assert not nick[0].isdigit() and nick[0] != "-"


@given(st.text(max_size=60))
def test_valid_channel_is_safe_on_the_wire(name: str) -> None:
    """A valid channel starts with #, and holds no separator or control character."""
    if is_valid_channel(name, CHANNELLEN):
        assert name.startswith("#") and 1 < len(name) <= CHANNELLEN
        assert not set(name) & set(" ,:\x07\r\n\0")
        assert all(ord(c) > 0x20 and c != "\x7f" for c in name)


@pytest.mark.parametrize(
    ("user", "ident"),
    [
        ("amy", "~amy"),
        ("~amy", "~amy"),
        ("Amy_B-2.x", "~Amy_B-2.x"),
        ("a!b@c", "~abc"),
        ("a b*c?d", "~abcd"),
        ("", "~user"),
        ("!!!", "~user"),
        ("j\xf6hn", "~jhn"),
        ("abcdefghijklmnop", "~abcdefghi"),
    ],
)
def test_sanitize_username(user: str, ident: str) -> None:
    """sanitize_username keeps safe characters, marks the ident with ~ and caps it at 10."""
    assert sanitize_username(user) == ident


def test_sanitize_username_length() -> None:
    """The max_length argument caps the whole ident, ~ included."""
    assert sanitize_username("abcdefgh", max_length=5) == "~abcd"


@given(st.text(max_size=30), st.integers(min_value=5, max_value=20))
def test_sanitized_username_is_safe(user: str, max_length: int) -> None:
    """A sanitized ident starts with ~, fits max_length and holds no mask or wire separator."""
    ident = sanitize_username(user, max_length)
    assert ident.startswith("~")
    assert len(ident) <= max_length
    assert ident.isascii()
    assert not set(ident[1:]) & set(" !@*?~:,\r\n\0")


def test_parse_count_takes_ascii_digits_only() -> None:
    """parse_count reads ASCII digits and refuses what int() would refuse (²) or misread."""
    assert parse_count("0") == 0
    assert parse_count("42") == 42
    for text in ("", "²", "٣", "-1", "+1", " 1", "1.5", "x"):
        assert parse_count(text) is None, text


def test_mask_param_must_survive_as_a_middle_parameter() -> None:
    """A ban mask or key may not be empty, hold a space or start with a colon."""
    assert is_valid_mask_param("*!*@host")
    for text in ("", "a b", ":x"):
        assert not is_valid_mask_param(text)
