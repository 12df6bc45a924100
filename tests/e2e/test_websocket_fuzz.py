"""Property: whatever one WebSocket connection sends, the server keeps serving everyone else.

The WebSocket twin of test_fuzz.py, on the same kind of live server thread: each example opens a
WebSocket (maybe registers), sends random command lines and random bytes as text or binary
messages, maybe ends with raw bytes that break the framing itself, then closes. After every
example two TCP users must still get PING answered and a channel message delivered, and no
handler may have logged an unhandled exception.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from protocol.hostile import command_lines  # tests/protocol/hostile.py (tests/ is on the path)
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect
from websockets.typing import Subprotocol

from chinwag.server.commands import COMMANDS
from chinwag.server.websocket import SUBPROTOCOLS

from .harness import make_server
from .test_fuzz import LineSocket, ServerThread, assert_still_serving

WAIT = 3.0

Live = tuple[ServerThread, LineSocket, LineSocket, str]


@pytest.fixture(scope="module")
def live_ws() -> Iterator[Live]:
    """The server thread (with WebSocket) plus a watcher and a speaker on TCP in #lobby."""
    with ServerThread(make_server(websocket={"listen": "127.0.0.1:0"})) as running:
        listener = running.server.websocket
        assert listener is not None
        watcher = LineSocket(running.port)
        watcher.register("watcher")
        speaker = LineSocket(running.port)
        speaker.register("speaker")
        yield running, watcher, speaker, f"ws://{listener.address}/irc"
        watcher.close()
        speaker.close()


_LINES = command_lines(st.sampled_from(sorted(COMMANDS)))
_MESSAGE = st.one_of(
    _LINES.map(lambda line: line.rstrip(b"\r\n").decode("utf-8", "surrogatepass")),
    _LINES.map(lambda line: line.rstrip(b"\r\n")),
    st.binary(max_size=600),
    st.text(max_size=200),
)
_SENDABLE = _MESSAGE.filter(lambda m: not isinstance(m, str) or m.isprintable() or m == "")


def _send(ws: ClientConnection, message: str | bytes) -> None:
    with contextlib.suppress(ConnectionClosed, UnicodeEncodeError):
        ws.send(message)


def _finish(ws: ClientConnection) -> None:
    """PING and wait for its PONG (or the close), so that all earlier input was handled."""
    _send(ws, "PING :fuzz-done")
    deadline = time.monotonic() + WAIT
    with contextlib.suppress(ConnectionClosed, TimeoutError):
        while time.monotonic() < deadline:
            message = ws.recv(timeout=WAIT)
            text = message if isinstance(message, str) else message.decode("utf-8", "replace")
            if text.startswith(":") and " PONG " in text and text.endswith("fuzz-done"):
                return


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    messages=st.lists(_SENDABLE, min_size=1, max_size=20),
    register=st.booleans(),
    subprotocol=st.sampled_from([*SUBPROTOCOLS, None]),
    trailer=st.one_of(st.none(), st.binary(min_size=1, max_size=64)),
)
def test_random_websocket_input_never_hurts_other_clients(
    live_ws: Live,
    caplog: pytest.LogCaptureFixture,
    *,
    messages: list[str | bytes],
    register: bool,
    subprotocol: str | None,
    trailer: bytes | None,
) -> None:
    """Random messages (and broken framing) on one WebSocket leave the others served."""
    _, watcher, speaker, url = live_ws
    caplog.set_level(logging.WARNING)
    caplog.clear()
    offered = None if subprotocol is None else [Subprotocol(subprotocol)]
    # max_queue=None: read everything (a full queue would stop the client reading, and so from
    # seeing the server's close frame); a short close_timeout for the examples whose broken
    # framing leaves the server waiting for the rest of a frame.
    with connect(url, subprotocols=offered, max_size=None, max_queue=None, close_timeout=0.1) as ws:
        if register:
            _send(ws, "NICK fz")
            _send(ws, "USER fz 0 * :fz")
        for message in messages:
            _send(ws, message)
        if trailer is not None:
            with contextlib.suppress(OSError):  # the server may have closed already (QUIT)
                ws.socket.sendall(trailer)  # bytes that are not a frame: the framing breaks
        _finish(ws)
    # The server's own errors only: the test's client library may log its side of a framing
    # the fuzz broke on purpose ("stream ended"), which says nothing about the server.
    assert_still_serving(watcher, speaker, caplog, logger="chinwag")
