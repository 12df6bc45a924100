"""Tests for rfc1459 case mapping."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chinwag.protocol import CASEMAPPING, fold


def reference_fold_char(char: str) -> str:
    """rfc1459 folding of one character, written independently of casemap.py."""
    if "A" <= char <= "Z":
        return chr(ord(char) + 32)
    return {"[": "{", "]": "}", "\\": "|", "~": "^"}.get(char, char)


def same_name(a: str, b: str) -> bool:
    """True when a and b are the same name under rfc1459, character by character."""
    return len(a) == len(b) and all(
        reference_fold_char(x) == reference_fold_char(y) for x, y in zip(a, b, strict=True)
    )


# a small alphabet of look-alikes, so that equal and different names both come up often
names = st.text(st.sampled_from("aAbB[]{}\\|~^zZ-_\xe9\xc9"), max_size=6)


def test_casemapping_is_rfc1459() -> None:
    """The announced CASEMAPPING is rfc1459."""
    assert CASEMAPPING == "rfc1459"


@pytest.mark.parametrize(
    ("name", "folded"),
    [
        ("", ""),
        ("amy", "amy"),
        ("AMY", "amy"),
        ("Nick[m]", "nick{m}"),
        ("[]\\~", "{}|^"),
        ("{}|^", "{}|^"),
        ("#Lobby", "#lobby"),
        ("A-Z_0-9`", "a-z_0-9`"),
        ("\xc9T\xc9", "\xc9t\xc9"),
        ("STRASSE Stra\xdfe", "strasse stra\xdfe"),
        ("\u0130I", "\u0130i"),
    ],
)
def test_fold(name: str, folded: str) -> None:
    """fold maps ASCII upper case and []\\~ to lower case and {}|^, and nothing else."""
    assert fold(name) == folded


@given(st.text())
def test_fold_is_idempotent(name: str) -> None:
    """fold(fold(x)) == fold(x)."""
    assert fold(fold(name)) == fold(name)


@given(st.text())
def test_fold_keeps_length(name: str) -> None:
    """fold changes characters one for one."""
    assert len(fold(name)) == len(name)


@given(names, names)
def test_fold_equal_iff_same_name(a: str, b: str) -> None:
    """fold(a) == fold(b) exactly when a and b match case-insensitively under rfc1459."""
    assert (fold(a) == fold(b)) is same_name(a, b)


@given(names)
def test_fold_matches_reference(name: str) -> None:
    """fold agrees with the independent per-character reference."""
    assert fold(name) == "".join(reference_fold_char(c) for c in name)


@given(st.text())
def test_fold_matches_reference_on_any_text(name: str) -> None:
    """fold agrees with the reference on any text, ASCII (the fast path) or not."""
    assert fold(name) == "".join(reference_fold_char(c) for c in name)
