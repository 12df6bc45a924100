"""The compiled core and its pure-Python source behave the same, byte for byte.

Each property feeds the same input to the modules in use (compiled when built) and to fresh
copies loaded from the ``.py`` sources (`twins.python_twin`), and compares what comes out:
messages field by field, formatted bytes, and errors by type and text. Where the compiled core
was not built (or ``CHINWAG_PURE_PYTHON=1``), both sides are the source and these are skipped.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import chinwag.protocol
from chinwag.protocol import Message, core_name
from chinwag.protocol._core import COMPILED_MODULES, PURE_PYTHON_ENV

from .hostile import command_lines, hostile_items
from .strategies import commands, messages
from .twins import Twins, in_use, python_twin

COMPILED = in_use()
PYTHON = python_twin()
needs_compiled = pytest.mark.skipif(
    core_name() != "compiled", reason="the compiled core is not in use: nothing to compare"
)
# Where a byte stream is cut into chunks (taken modulo its length).
CUTS = st.lists(st.integers(min_value=0), max_size=12)
# The server fuzz test's corpus; the codec does not know verbs, so any command-like word will do.
HOSTILE = hostile_items(commands | st.sampled_from(["PRIVMSG", "NOTICE", "JOIN", "PING", "CAP"]))
# Text with what the wire format cares about offered often: spaces, colons, @, CR, LF, NUL, tabs.
WIRE_TEXT = st.text(st.characters(codec="utf-8") | st.sampled_from(" :@;=\\\r\n\0\t!"), max_size=60)


def _item(item: object) -> tuple[Any, ...]:
    """A comparable form of a decoder item (the twins' classes are distinct objects)."""
    if type(item).__name__ == "DecodeError":
        return ("error", item.kind.value)  # type: ignore[attr-defined]
    assert type(item).__name__ == "Message", item
    msg: Message = item  # type: ignore[assignment]
    return ("message", msg.command, msg.params, msg.source, dict(msg.tags))


def _outcome(func: Any, *args: Any) -> tuple[Any, ...]:
    """What ``func(*args)`` does: its (comparable) result, or its exception's type and text."""
    try:
        result = func(*args)
    except Exception as exc:  # the comparison is the test: any exception must match
        return ("raised", type(exc).__name__, str(exc))
    return ("returned", _item(result) if type(result).__name__ == "Message" else result)


def _decode(twins: Twins, chunks: list[bytes]) -> tuple[list[tuple[Any, ...]], int]:
    decoder = twins.codec.LineDecoder(max_tags_bytes=4096)
    items = [_item(item) for chunk in chunks for item in decoder.feed(chunk)]
    return items, decoder.pending


def _chunks(data: bytes, points: list[int]) -> list[bytes]:
    cuts = sorted({p % (len(data) + 1) for p in points})
    return [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)]


def test_twins_are_the_two_builds() -> None:
    """The modules in use are the extension modules when compiled, and the twin is the source."""
    for module in (PYTHON.message, PYTHON.codec):
        assert (module.__file__ or "").endswith(".py")
    expected = ".py" if core_name() == "python" else ".so"
    for module in (COMPILED.message, COMPILED.codec):
        assert (module.__file__ or "").endswith(expected)
    assert chinwag.protocol.LineDecoder is COMPILED.codec.LineDecoder


def test_compiled_core_is_not_older_than_its_sources() -> None:
    """A build older than an edit of its source would run the old code: rebuild it first."""
    package = Path(chinwag.protocol.__file__).parent
    sources = [package / "codec.py", package / "codec.pxd", package / "message.py"]
    newest = max(path.stat().st_mtime for path in sources)
    for module in (COMPILED.message, COMPILED.codec):
        path = Path(module.__file__ or "")
        if path.suffix == ".py":
            continue
        assert path.stat().st_mtime >= newest, (
            f"{path.name} is older than its sources: run scripts/test, or "
            ".venv/bin/python setup.py build_ext --inplace"
        )


def test_environment_forces_pure_python() -> None:
    """CHINWAG_PURE_PYTHON=1 makes a new process run the sources; core_name says so."""
    code = (
        "import sys, chinwag.protocol as p; "
        f"print(p.core_name(), *(sys.modules[n].__file__ for n in {COMPILED_MODULES!r}))"
    )
    env = dict(os.environ, **{PURE_PYTHON_ENV: "1"})
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    ).stdout.split()
    assert out[0] == "python"
    assert all(path.endswith(".py") for path in out[1:])


@needs_compiled
@settings(max_examples=300)
@given(st.lists(command_lines(commands) | st.binary(max_size=80), max_size=8), CUTS)
def test_decoder_twins_agree(lines: list[bytes], points: list[int]) -> None:
    """Random lines in random chunks decode to the same items and leave the same bytes held."""
    chunks = _chunks(b"".join(lines), points)
    assert _decode(COMPILED, chunks) == _decode(PYTHON, chunks)


@needs_compiled
@settings(max_examples=50)
@given(st.binary(min_size=500, max_size=9000), CUTS)
def test_decoder_twins_agree_on_limits(data: bytes, points: list[int]) -> None:
    """Over-long lines, with or without tags, are cut at the same places by both."""
    data = data.replace(b"\n", b"") + b"\r\n@" + data[:5000].replace(b" ", b"") + b" PING x\r\n"
    chunks = _chunks(data, points)
    assert _decode(COMPILED, chunks) == _decode(PYTHON, chunks)


@needs_compiled
@settings(max_examples=300)
@given(WIRE_TEXT)
def test_parse_line_twins_agree(line: str) -> None:
    """Any text parses to the same message, or fails with the same error, in both."""
    assert _outcome(COMPILED.message.parse_line, line) == _outcome(PYTHON.message.parse_line, line)


@needs_compiled
@settings(max_examples=200)
@given(messages())
def test_format_twins_agree(msg: Message) -> None:
    """A valid message formats and encodes to the same bytes in both."""
    assert COMPILED.message.format_line(msg) == PYTHON.message.format_line(msg)
    assert COMPILED.codec.encode_message(msg) == PYTHON.codec.encode_message(msg)


@needs_compiled
@settings(max_examples=200)
@given(
    st.text(max_size=8) | commands,
    st.lists(WIRE_TEXT, max_size=4),
    st.none() | WIRE_TEXT,
    st.dictionaries(WIRE_TEXT, WIRE_TEXT, max_size=2),
)
def test_format_twins_refuse_alike(
    command: str, params: list[str], source: str | None, tags: dict[str, str]
) -> None:
    """A message that cannot be sent is refused by both, with the same error."""
    msg = Message(command, tuple(params), source, tags)
    assert _outcome(COMPILED.message.format_line, msg) == _outcome(PYTHON.message.format_line, msg)


@needs_compiled
@settings(max_examples=100)
@given(st.binary(max_size=40), st.integers(min_value=0, max_value=50))
def test_text_helpers_twins_agree(raw: bytes, budget: int) -> None:
    """decode_text and fit_utf8 give the same text and bytes in both."""
    assert COMPILED.codec.decode_text(raw) == PYTHON.codec.decode_text(raw)
    text = PYTHON.codec.decode_text(raw).encode()
    assert COMPILED.codec.fit_utf8(text, budget) == PYTHON.codec.fit_utf8(text, budget)


@settings(max_examples=100)
@given(HOSTILE, CUTS)
def test_hostile_input_never_breaks_the_decoder(items: list[bytes], points: list[int]) -> None:
    """The server fuzz test's corpus, in random chunks, only ever yields items (compiled too)."""
    chunks = _chunks(b"".join(items), points)
    assert _decode(COMPILED, chunks) == _decode(PYTHON, chunks)
    decoder = COMPILED.codec.LineDecoder(max_tags_bytes=4096)
    for chunk in chunks:
        decoder.feed(chunk)
    # Whatever came before, the next line is read as it should be.
    assert decoder.feed(b"\r\nPING :after\r\n")[-1] == COMPILED.message.parse_line("PING :after")
