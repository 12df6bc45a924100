"""A row of room lines read from a node's inbox (`events.take_row`): where it ends, and that the
compiled reader (``_rows.pyx``) finds exactly what the pure-Python one does."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chinwag.cluster import events
from chinwag.cluster.events import python_take_row, take_row
from chinwag.protocol._core import PURE_PYTHON_ENV
from chinwag.server.fanout import Outgoing

HERE = "n1.test"
OWN = f"{HERE}\0".encode()

needs_compiled = pytest.mark.skipif(
    take_row is python_take_row,
    reason="the compiled row reader is not in use: nothing to compare",
)


def _line(
    node: str = "n2.test",
    uid: str = "u1",
    room: str = "#room",
    *,
    text: str = "hi",
    status: str = "",
    command: str = "PRIVMSG",
    msgid: str = "m1",
) -> bytes:
    """A room message event as ``node`` sends it."""
    params = (status + room,) if command == "TAGMSG" else (status + room, text)
    outgoing = Outgoing(f"{uid}!~{uid}@h", command, *params, msgid=msgid, when=1.5e9)
    return events.room_message(
        node, uid, outgoing, command=command, channel_folded=room, status=status
    )


def _text(event: bytes) -> bytes:
    """The line an event carries."""
    return event.split(b"\0", 9)[9]


def test_a_row_is_one_sender_s_plain_lines_to_one_room_in_a_row() -> None:
    """A row ends at another sender, another room, a line to the room's operators, a TAGMSG,
    this node's own event, an event of another kind, or a damaged one (a NOTICE among
    PRIVMSGs does not end it); its lines are the events' lines, as their node formatted
    them."""
    row = [_line(text="one"), _line(text="two"), _line(text="three")]
    for ender in (
        _line(uid="u2"),
        _line(room="#other"),
        _line(node="n3.test"),
        _line(status="@"),
        _line(command="TAGMSG"),
        _line(node=HERE),
        events.nick_event("n2.test", "u1", "bob2"),
        b"n2.test\0msg\0m9\0u1\0PRIVMSG\0#room\r\n",  # too few fields
    ):
        end, key, lines = take_row([b"before", *row, ender, _line()], 1, OWN)
        assert (end, key) == (4, (b"n2.test", b"u1", b"#room"))
        assert lines == [_text(event) for event in row]
    assert take_row(row, 0, OWN)[0] == 3  # to the end
    assert take_row([_line(status="+"), *row], 0, OWN) == (0, (b"", b"", b""), [])
    notice = _line(command="NOTICE", text="n")  # a plain line too: its line says NOTICE
    assert take_row([notice, *row], 0, OWN)[0] == 4
    assert take_row(row, 3, OWN) == (3, (b"", b"", b""), [])


_NODES = st.sampled_from([HERE, "n2.test", "n3.test"])
_EVENTS = st.one_of(
    st.builds(
        _line,
        _NODES,
        st.sampled_from(["u1", "u2"]),
        st.sampled_from(["#room", "#other", "#"]),
        text=st.text(st.characters(codec="utf-8", exclude_characters="\r\n\0"), max_size=20),
        status=st.sampled_from(["", "", "@", "+"]),
        command=st.sampled_from(["PRIVMSG", "PRIVMSG", "NOTICE", "TAGMSG"]),
        msgid=st.sampled_from(["m1", "m2", ""]),
    ),
    st.builds(events.quit_event, _NODES, st.just("u1"), st.text(max_size=10)),
    st.binary(max_size=40).map(lambda data: data.replace(b"\r", b"").replace(b"\n", b"") + b"\n"),
    st.lists(st.sampled_from([b"\0", b"msg", b"n2.test", b"TAGMSG", b"x"]), max_size=14).map(
        b"".join
    ),
)


@needs_compiled
@given(st.lists(_EVENTS, max_size=12))
def test_the_compiled_reader_finds_the_rows_the_python_one_does(row: list[bytes]) -> None:
    """From every place of any run of events, messages or not, damaged or not, the compiled
    reader gives the same end, key and lines as the pure-Python one."""
    for start in range(len(row) + 1):
        assert take_row(row, start, OWN) == python_take_row(row, start, OWN)


@needs_compiled
def test_the_compiled_row_reader_is_not_older_than_its_source() -> None:
    """A build older than an edit of ``_rows.pyx`` would run the old code."""
    from chinwag.cluster import _rows

    built = Path(_rows.__file__ or "")
    source = built.with_name("_rows.pyx")
    assert built.stat().st_mtime >= source.stat().st_mtime, (
        f"{built.name} is older than its source: run scripts/test, or "
        ".venv/bin/python setup.py build_ext --inplace"
    )


def test_environment_forces_the_python_row_reader() -> None:
    """CHINWAG_PURE_PYTHON=1 makes a new process read rows with the pure-Python reader."""
    code = "from chinwag.cluster import events as e; print(e.take_row is e.python_take_row)"
    result = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, PURE_PYTHON_ENV: "1"},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert result.stdout.split() == ["True"]
