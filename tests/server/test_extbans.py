"""List entries: normalisation and matching of masks, ~a: and ~m: extended bans."""

from __future__ import annotations

import pytest

from chinwag.server.extbans import entry_matches, is_mute, normalize_entry


@pytest.mark.parametrize(
    ("param", "entry"),
    [
        ("bob", "bob!*@*"),
        ("*@host", "*!*@host"),
        ("~a:Bob", "~a:Bob"),
        ("~a:*", "~a:*"),
        ("~m:bob", "~m:bob!*@*"),
        ("~m:~a:bob", "~m:~a:bob"),
        ("~m:~m:bob", None),
        ("~z:bob", None),
        ("~a:", None),
        ("~a", None),
        ("has space", None),
    ],
)
def test_normalize_entry(param: str, entry: str | None) -> None:
    """Masks are completed, extbans keep their form, unknown or empty ones are refused."""
    assert normalize_entry(param) == entry


def test_a_mute_is_refused_where_mutes_make_no_sense() -> None:
    """With mute_allowed=False (+e, +I, inside ~m:) a ~m: entry is invalid."""
    assert normalize_entry("~m:bob", mute_allowed=False) is None


@pytest.mark.parametrize(
    ("entry", "prefix", "account", "matches"),
    [
        ("bob!*@*", "BOB!u@h", None, True),
        ("bob!*@*", "amy!u@h", None, False),
        ("~a:bob", "x!u@h", "Bob", True),
        ("~a:bob", "bob!u@h", None, False),
        ("~a:*", "x!u@h", "anyone", True),
        ("~m:~a:b*", "x!u@h", "bert", True),
        ("~m:amy!*@*", "amy!u@h", None, True),
    ],
)
def test_entry_matches(entry: str, prefix: str, account: str | None, matches: bool) -> None:
    """Masks match the prefix (any case), ~a: the account (a glob), ~m: what its inner one does."""
    assert entry_matches(entry, prefix, account) is matches


def test_is_mute() -> None:
    """Only ~m: entries are mutes."""
    assert is_mute("~m:bob!*@*") and not is_mute("~a:bob") and not is_mute("bob!*@*")
