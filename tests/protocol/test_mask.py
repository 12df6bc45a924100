"""Tests for glob masks: matching and completion of partial ban masks."""

from __future__ import annotations

import re
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chinwag.protocol import fold, mask_matches, normalize_mask


def reference_match(mask: str, subject: str) -> bool:
    """A slow but obviously right matcher: the mask as one regular expression."""
    pattern = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in fold(mask))
    return re.fullmatch(pattern, fold(subject), re.DOTALL) is not None


literals = st.text(st.characters(codec="utf-8", exclude_characters="*?"), max_size=12)
_ASCII_UPPER = str.maketrans("abcdefghijklmnopqrstuvwxyz{}|^", "ABCDEFGHIJKLMNOPQRSTUVWXYZ[]\\~")
small_masks = st.text(st.sampled_from("aAb[{*?"), max_size=8)
small_subjects = st.text(st.sampled_from("aAb[{"), max_size=8)


@pytest.mark.parametrize(
    ("mask", "subject", "expected"),
    [
        ("*", "", True),
        ("*", "anything!at@all", True),
        ("", "", True),
        ("", "a", False),
        ("?", "", False),
        ("?", "x", True),
        ("??", "x", False),
        ("*!*@*", "amy!~amy@host", True),
        ("*!*@*", "amy", False),
        ("amy!*@*", "AMY!~amy@host", True),
        ("Nick[m]!*@*", "nick{M}!u@h", True),
        ("*!*@10.0.*", "amy!u@10.0.0.1", True),
        ("*!*@10.0.*", "amy!u@10.1.0.1", False),
        ("a*b*c", "abc", True),
        ("a*b*c", "aXbYc", True),
        ("a*b*c", "acb", False),
        ("a*a", "a", False),
        ("a*a", "aa", True),
        ("*a", "ba", True),
        ("*a", "ab", False),
        ("a*", "ab", True),
        ("**", "x", True),
        ("*?*", "", False),
        ("*?*", "x", True),
        ("a?c", "abc", True),
        ("a?c", "a\nc", True),
        ("a.c", "abc", False),
        ("a+", "aa", False),
        ("(x)", "(x)", True),
        ("[ab]", "a", False),
        ("[ab]", "{AB}", True),
        ("*\\*", "a|", True),
        ("caf\xe9", "CAF\xe9", True),
        ("caf\xe9", "CAF\xc9", False),
    ],
)
def test_mask_matches(mask: str, subject: str, expected: bool) -> None:
    """mask_matches handles * and ? as globs, everything else literally, ignoring rfc1459 case."""
    assert mask_matches(mask, subject) is expected


def test_pathological_mask_is_fast() -> None:
    """A mask built to make a backtracking matcher explode is decided in well under a second."""
    start = time.perf_counter()
    assert not mask_matches("*a" * 40 + "!", "a" * 5000)
    assert mask_matches("*a" * 40 + "*", "a" * 5000)
    assert time.perf_counter() - start < 1.0


@given(st.text())
def test_star_matches_everything(subject: str) -> None:
    """The mask * matches every subject."""
    assert mask_matches("*", subject)


@given(literals)
def test_literal_mask_matches_itself(mask: str) -> None:
    """A mask without wildcards matches itself, and its upper- and lower-case forms."""
    assert mask_matches(mask, mask)
    assert mask_matches(mask, mask.translate(_ASCII_UPPER))
    assert mask_matches(mask.translate(_ASCII_UPPER), fold(mask))


@given(literals, literals)
def test_literal_mask_matches_only_itself(mask: str, subject: str) -> None:
    """A mask without wildcards matches a subject exactly when they fold to the same name."""
    assert mask_matches(mask, subject) is (fold(mask) == fold(subject))


@given(small_masks, small_subjects)
def test_agrees_with_reference(mask: str, subject: str) -> None:
    """mask_matches agrees with a regular-expression matcher on small masks and subjects."""
    assert mask_matches(mask, subject) is reference_match(mask, subject)


@given(small_masks, small_subjects)
def test_extra_star_never_loses_a_match(mask: str, subject: str) -> None:
    """Appending * to a mask that matches keeps it matching."""
    if mask_matches(mask, subject):
        assert mask_matches(mask + "*", subject)
        assert mask_matches("*" + mask, subject)


@pytest.mark.parametrize(
    ("mask", "normalized"),
    [
        ("amy", "amy!*@*"),
        ("~amy@host", "*!~amy@host"),
        ("amy!user", "amy!user@*"),
        ("amy!user@host", "amy!user@host"),
        ("*", "*!*@*"),
        ("*!*@*", "*!*@*"),
        ("", "*!*@*"),
        ("amy!@host", "amy!*@host"),
        ("!user@host", "*!user@host"),
        ("amy!user@", "amy!user@*"),
        ("@host", "*!*@host"),
        ("amy!", "amy!*@*"),
        ("*!*@10.0.*", "*!*@10.0.*"),
        ("a!b@c@d", "a!b@c@d"),
    ],
)
def test_normalize_mask(mask: str, normalized: str) -> None:
    """normalize_mask completes partial masks to nick!user@host, empty parts becoming *."""
    assert normalize_mask(mask) == normalized


@given(st.text(max_size=20))
def test_normalize_mask_is_idempotent_and_complete(mask: str) -> None:
    """A normalized mask has a ! before an @, and normalizing it again changes nothing."""
    normalized = normalize_mask(mask)
    assert normalize_mask(normalized) == normalized
    bang = normalized.index("!")
    assert "@" in normalized[bang:]
