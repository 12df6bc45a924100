"""The ircdocs parser-tests vectors (PyPI ``irc-parser-tests``), read from the installed package.

The data is loaded at test time from the package's ``data/`` folder, never copied here.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

import pytest
import yaml

from chinwag.protocol import LineDecoder, Message, format_line, mask_matches, parse_line


def load_vectors(name: str) -> list[dict[str, Any]]:
    """Return the ``tests`` list of one parser-tests YAML file."""
    path = resources.files("parser_tests").joinpath("data", f"{name}.yaml")
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    tests: list[dict[str, Any]] = data["tests"]
    return tests


MSG_SPLIT = load_vectors("msg-split")
MSG_JOIN = load_vectors("msg-join")
MASK_MATCH = load_vectors("mask-match")
USERHOST_SPLIT = load_vectors("userhost-split")


def expected_message(atoms: dict[str, Any]) -> Message:
    """The message the atoms describe, with the verb upper-cased as parse_line does."""
    return Message(
        str(atoms["verb"]).upper(),
        tuple(str(param) for param in atoms.get("params") or ()),
        atoms.get("source"),
        {str(key): str(value) for key, value in (atoms.get("tags") or {}).items()},
    )


def test_vectors_are_present() -> None:
    """The installed package holds the vector files, each with cases."""
    assert len(MSG_SPLIT) >= 30
    assert len(MSG_JOIN) >= 15
    assert len(MASK_MATCH) >= 5
    assert len(USERHOST_SPLIT) >= 5


@pytest.mark.parametrize("case", MSG_SPLIT, ids=[repr(c["input"]) for c in MSG_SPLIT])
def test_msg_split(case: dict[str, Any]) -> None:
    """parse_line splits each msg-split input into its atoms (verbs compared case-insensitively)."""
    assert parse_line(case["input"]) == expected_message(case["atoms"])


@pytest.mark.parametrize("case", MSG_SPLIT, ids=[repr(c["input"]) for c in MSG_SPLIT])
def test_msg_split_through_the_decoder(case: dict[str, Any]) -> None:
    """Each msg-split input sent as bytes with CR LF comes out of LineDecoder the same way."""
    wire = case["input"].encode("utf-8") + b"\r\n"
    assert LineDecoder().feed(wire) == [expected_message(case["atoms"])]


@pytest.mark.parametrize("case", MSG_JOIN, ids=[c.get("desc", "") for c in MSG_JOIN])
def test_msg_join(case: dict[str, Any]) -> None:
    """format_line writes each msg-join message as a line that means what the valid spellings do."""
    atoms = case["atoms"]
    msg = Message(
        str(atoms["verb"]),
        tuple(atoms.get("params") or ()),
        atoms.get("source"),
        dict(atoms.get("tags") or {}),
    )
    line = format_line(msg)
    assert parse_line(line) == expected_message(atoms)
    for spelling in case["matches"]:
        assert parse_line(spelling) == parse_line(line)


def test_msg_join_exact_when_unambiguous() -> None:
    """Where a msg-join case without tags has one valid spelling, format_line writes exactly it."""
    checked = 0
    for case in MSG_JOIN:
        atoms = case["atoms"]
        if len(case["matches"]) != 1 or atoms.get("tags"):
            continue
        msg = Message(str(atoms["verb"]), tuple(atoms.get("params") or ()), atoms.get("source"))
        assert format_line(msg) == case["matches"][0]
        checked += 1
    assert checked >= 5


MASK_PAIRS = [
    (case["mask"], subject, expected)
    for case in MASK_MATCH
    for key, expected in (("matches", True), ("fails", False))
    for subject in case.get(key) or ()
]


@pytest.mark.parametrize(("mask", "subject", "expected"), MASK_PAIRS)
def test_mask_match(mask: str, subject: str, expected: bool) -> None:
    """mask_matches agrees with every mask-match vector, matches and fails alike."""
    assert mask_matches(mask, subject) is expected


@pytest.mark.parametrize("case", USERHOST_SPLIT, ids=[repr(c["source"]) for c in USERHOST_SPLIT])
def test_userhost_split_nick(case: dict[str, Any]) -> None:
    """Message.source_nick is the nick atom of each userhost-split vector."""
    msg = Message("PRIVMSG", ("#c", "x"), case["source"])
    assert msg.source_nick == case["atoms"].get("nick", "")
