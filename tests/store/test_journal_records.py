"""Journal records: what the server writes, the indexer (and a cluster's history feed) reads back
exactly; records of the first format still read; a malformed record is skipped and counted,
never fatal."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from chinwag.protocol._core import PURE_PYTHON_ENV
from chinwag.store import ChannelTarget, DirectTarget, HistoryEntry, journal_records
from chinwag.store._query import time_key
from chinwag.store.history_rows import NO_VALUE, ROW_WIDTH
from chinwag.store.journal import JournalError
from chinwag.store.journal_records import (
    PythonTurnRecords,
    TurnRecords,
    decode_entry,
    decode_rows,
    encode_entry,
    encode_record,
    python_encode_record,
    record_fields,
)

from .factories import T0

# What the line codec lets through into a message: no NUL, CR or LF.
_TEXT = st.text(st.characters(blacklist_characters="\0\r\n", blacklist_categories=["Cs"]))
_NAME = st.text("abcxyz~0123456789[]^-_|", min_size=1, max_size=20)
_TARGETS = st.one_of(
    st.builds(lambda n: ChannelTarget("#" + n), _NAME),
    st.builds(DirectTarget, _NAME, _NAME),
)
_ENTRIES = st.builds(
    HistoryEntry,
    msgid=st.text("0123456789abcdef", min_size=1, max_size=24),
    time=st.floats(0, 4e9),
    target=_TARGETS,
    target_name=_NAME,
    sender=st.sampled_from(["amy!a@127.0.0.1", "bob!~b@::1", "c!c@x.example"]),
    account=st.one_of(st.none(), _NAME),
    command=st.sampled_from(["PRIVMSG", "NOTICE"]),
    text=_TEXT,
    tags=st.dictionaries(st.sampled_from(["+draft/reply", "+a"]), _TEXT, max_size=2),
)


def _decoded(payload: bytes) -> tuple[list[list[object]], dict[str, tuple[str, str]], int]:
    rows: list[object] = []
    convs: dict[str, tuple[str, str]] = {}
    bad = decode_rows(payload, rows, convs)
    return [rows[i : i + ROW_WIDTH] for i in range(0, len(rows), ROW_WIDTH)], convs, bad


@given(st.lists(_ENTRIES, min_size=1, max_size=5))
def test_every_entry_reads_back_as_written(entries: list[HistoryEntry]) -> None:
    """A frame of encoded entries decodes to one row per entry with every field intact."""
    rows, convs, bad = _decoded("".join(encode_entry(e) for e in entries).encode())
    assert bad == 0
    assert len(rows) == len(entries)
    for e, row in zip(entries, rows, strict=True):
        direct = e.target if isinstance(e.target, DirectTarget) else None
        parties = [direct.party_a, direct.party_b] if direct else [NO_VALUE, NO_VALUE]
        tags = row[11]
        assert row[:11] == [
            e.msgid,
            e.target.key,
            time_key(e.time),
            e.time,
            *parties,
            e.target_name,
            e.sender,
            e.account or NO_VALUE,
            e.command,
            e.text,
        ]
        assert tags == ("{}" if not e.tags else encode_entry(e).split("\0")[4])
        if direct:
            assert convs[direct.key] == (direct.party_a, direct.party_b)
        assert decode_entry(encode_entry(e).rstrip("\n")) == e  # as the cluster reads it back


def test_records_of_the_first_format_still_read() -> None:
    """An 11-field record (float.hex time, fields apart) from an older journal is indexed."""
    old = f"m1\0{T0.hex()}\0amy bob\0amy\0bob\0bob\0amy!a@h\0\0PRIVMSG\0hi : there\0\n"
    rows, convs, bad = _decoded(old.encode())
    assert bad == 0
    head = ["m1", "amy bob", time_key(T0), T0, "amy", "bob", "bob", "amy!a@h", NO_VALUE]
    assert rows == [[*head, "PRIVMSG", "hi : there", "{}"]]
    assert convs == {"amy bob": ("amy", "bob")}


def test_a_malformed_record_is_skipped_and_counted() -> None:
    """Records with a wrong field count, a bad time or no text are skipped; the rest is read."""
    lobby = ChannelTarget("#a")
    good = encode_entry(HistoryEntry("ok", T0, lobby, "#a", "s!u@h", None, "PRIVMSG", "t")).encode()
    two_fields = b"x\0y\n"
    short_time = b"m\0zz\0#a\0\0\0:s!u@h PRIVMSG #a :t\r\n"
    not_hex = b"m\0" + b"z" * 16 + b"\0#a\0\0\0:s!u@h PRIVMSG #a :t\r\n"
    no_text = b"m\0" + b"0" * 16 + b"\0#a\0\0\0:s\r\n"
    rows, _convs, bad = _decoded(two_fields + short_time + not_hex + no_text + good)
    assert bad == 4
    assert [row[0] for row in rows] == ["ok"]


# Any str a caller could pass, lone surrogates (which neither encoder can write) included.
_ANY_TEXT = st.text(st.characters(exclude_categories=()), max_size=30)
_LINES = st.builds(
    lambda source, target, text: f":{source} PRIVMSG {target} :{text}\r\n".encode(),
    _NAME,
    _NAME,
    _TEXT,
)
needs_compiled = pytest.mark.skipif(
    encode_record is python_encode_record,
    reason="the compiled record encoder is not in use: nothing to compare",
)


def _outcome(encode: Any, *args: Any) -> tuple[Any, ...]:
    """What ``encode(*args)`` does: the bytes, or its exception's type."""
    try:
        return ("returned", encode(*args))
    except Exception as exc:  # the comparison is the test: any exception must match
        return ("raised", type(exc).__name__)


@needs_compiled
@given(
    msgid=_ANY_TEXT,
    when=st.floats(allow_nan=False) | st.integers(-(2**53), 2**53),
    conversation=_ANY_TEXT,
    account=_ANY_TEXT,
    tags=_ANY_TEXT,
    line=_LINES | st.binary(max_size=40),
)
@example(msgid="m", when=0.0, conversation="\udc80 x", account="", tags="", line=b"")
@example(msgid="é", when=-0.0, conversation="a b", account="Zoë", tags='{"+a":"b"}', line=b"\0")
def test_the_compiled_encoder_writes_what_the_python_one_writes(
    *, msgid: str, when: float, conversation: str, account: str, tags: str, line: bytes
) -> None:
    """Both encoders give the same bytes for any fields (and the same error for a surrogate)."""
    args = (msgid, when, conversation, account, tags, line)
    assert _outcome(encode_record, *args) == _outcome(python_encode_record, *args)


@given(
    msgid=st.text("0123456789abcdef", min_size=1, max_size=24),
    when=st.floats(0, 4e9),
    parties=st.tuples(_NAME, _NAME),
    account=st.one_of(st.just(""), _NAME),
    line=_LINES,
)
def test_a_record_from_its_parts_reads_back(
    msgid: str, when: float, parties: tuple[str, str], account: str, line: bytes
) -> None:
    """A record built from a message's parts (the server's hot path) reads back field by
    field, its time exact."""
    conversation = " ".join(parties)
    record = encode_record(msgid, when, conversation, account, "", line)
    fields = record_fields(record.decode().removesuffix("\n"))
    source, _, rest = line.decode()[1:].partition(" PRIVMSG ")
    target, _, text = rest.partition(" :")
    assert fields == (
        msgid,
        when,
        conversation,
        *parties,
        target,
        source,
        account,
        "PRIVMSG",
        text.removesuffix("\r\n"),
        "",
    )


_ADDS = st.lists(
    st.tuples(_NAME, st.floats(0, 4e9), st.sampled_from(["#a", "amy bob", "~x1 ~y2"]), _LINES),
    max_size=8,
)


def _turn_run(
    make: Any, adds: list[tuple[str, float, str, bytes]], grants: list[int | None]
) -> list[object]:
    """Everything a turn's records do for ``adds``: the calls to its two callables, errors,
    the frame, count, room and senders after each add, and the frame once cleared; ``grants``
    is what each reservation gives (None: the disk is full)."""
    seen: list[object] = []
    grant = iter(grants)

    def opening() -> None:
        seen.append("opening")

    def reserve(size: int) -> int:
        granted = next(grant, None)
        seen.append(("reserve", size, granted))
        if granted is None:
            raise JournalError(28, "no space")
        return granted

    turn = make(opening, reserve)
    for msgid, when, conversation, line in adds:
        try:
            turn.add(msgid, when, conversation, "", "", line, msgid, conversation)
        except JournalError as exc:
            seen.append(("refused", str(exc)))
        with turn.frame() as frame:
            seen.append((bytes(frame), turn.count, turn.room, list(turn.senders)))
    turn.clear()
    with turn.frame() as frame:
        seen.append(("cleared", bytes(frame), turn.count, turn.senders))
    return seen


def _python_turn(room: int) -> Any:
    def make(opening: Any, reserve: Any) -> PythonTurnRecords:
        turn = PythonTurnRecords(opening, reserve)
        turn.room = room
        return turn

    return make


def _compiled_turn(room: int) -> Any:
    def make(opening: Any, reserve: Any) -> Any:
        turn = TurnRecords(opening, reserve)
        turn.room = room
        return turn

    return make


@needs_compiled
@given(
    adds=_ADDS,
    grants=st.lists(st.one_of(st.none(), st.integers(0, 4096)), max_size=8),
    room=st.integers(-100, 1000),
)
def test_the_compiled_turn_of_records_does_what_the_python_one_does(
    adds: list[tuple[str, float, str, bytes]], grants: list[int | None], room: int
) -> None:
    """Both twins call back, refuse, keep records and count room the same for any adds."""
    assert _turn_run(_compiled_turn(room), adds, grants) == _turn_run(
        _python_turn(room), adds, grants
    )


@pytest.mark.parametrize("make", [_python_turn, _compiled_turn], ids=["python", "in use"])
def test_a_turn_keeps_what_fits_and_asks_for_the_rest(make: Any) -> None:
    """The turn opens at its first record; a record that fits in the room costs its size (its
    sender and target kept beside it); one past it asks for more room, and without any it is
    refused, nothing changed."""
    line = b":amy!a@h PRIVMSG bob :hi\r\n"
    record = python_encode_record("m", T0, "amy bob", "", "", line)
    size = len(record)
    adds = [("m", T0, "amy bob", line)] * 3
    seen = _turn_run(make(size + 1), adds, [None, 3 * size])
    assert seen == [
        "opening",
        (record, 1, 1, ["m"]),  # fitted
        ("reserve", size, None),
        ("refused", "[Errno 28] no space"),
        (record, 1, 1, ["m"]),  # refused: unchanged
        ("reserve", size, 3 * size),
        (record * 2, 2, 2 * size, ["m", "m"]),
        ("cleared", b"", 0, ["m", "m"]),  # the store takes the senders itself
    ]


@needs_compiled
def test_the_compiled_encoder_is_not_older_than_its_source() -> None:
    """A build older than an edit of ``_journal_record.pyx`` would run the old code."""
    from chinwag.store import _journal_record

    built = Path(_journal_record.__file__ or "")
    source = Path(journal_records.__file__ or "").with_name("_journal_record.pyx")
    assert built.stat().st_mtime >= source.stat().st_mtime, (
        f"{built.name} is older than its source: run scripts/test, or "
        ".venv/bin/python setup.py build_ext --inplace"
    )


def test_environment_forces_the_python_encoder() -> None:
    """CHINWAG_PURE_PYTHON=1 makes a new process store with the pure-Python twins."""
    code = (
        "from chinwag.store import journal_records as j; "
        "print(j.encode_record is j.python_encode_record, j.TurnRecords is j.PythonTurnRecords)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, PURE_PYTHON_ENV: "1"},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert result.stdout.split() == ["True", "True"]


@needs_compiled
def test_the_compiled_frame_grows_and_is_reused_across_turns() -> None:
    """Turns larger than the compiled buffer's first size (and records added by `extend`)
    give the same frames as the Python twin, turn after turn."""
    turns: list[Any] = [
        PythonTurnRecords(lambda: None, lambda size: 1 << 30),
        TurnRecords(lambda: None, lambda size: 1 << 30),
    ]
    line = b":amy!a@h PRIVMSG bob :" + b"x" * 200 + b"\r\n"
    frames: list[list[bytes]] = [[], []]
    for size in (2000, 10, 3000):  # about 500 KB, then little, then more again
        for turn, seen in zip(turns, frames, strict=True):
            for i in range(size):
                turn.add(f"m{i}", T0 + i, "amy bob", "", "", line, None, "bob")
            turn.extend(b"an appended record\n")
            with turn.frame() as frame:
                seen.append(bytes(frame))
            turn.clear()
    assert frames[0] == frames[1]
    assert len(frames[0][0]) > 400_000
