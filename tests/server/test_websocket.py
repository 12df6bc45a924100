"""The WebSocket listener's pure parts: subprotocol choice, listen addresses, origins, files."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st
from websockets.client import ClientProtocol
from websockets.datastructures import Headers
from websockets.exceptions import NegotiationError
from websockets.frames import Frame, Opcode
from websockets.http11 import Request
from websockets.protocol import State
from websockets.server import ServerProtocol
from websockets.typing import Subprotocol
from websockets.uri import parse_uri

from chinwag.server.config import ConfigError, load_config, parse_listen
from chinwag.server.webfiles import StaticSite, origin_allowed
from chinwag.server.websocket import (
    BINARY,
    FIN_BINARY,
    FIN_TEXT,
    TEXT,
    data_frame,
    select_subprotocol,
)


def _offer(*names: str) -> list[Subprotocol]:
    return [Subprotocol(name) for name in names]


@pytest.mark.parametrize(
    ("offered", "chosen"),
    [
        ((TEXT,), TEXT),
        ((BINARY,), BINARY),
        ((TEXT, BINARY), TEXT),
        ((BINARY, TEXT), BINARY),
        (("other.example", BINARY), BINARY),
        ((), None),
    ],
)
def test_subprotocol_is_the_clients_first_known_choice(
    offered: tuple[str, ...], chosen: str | None
) -> None:
    """The client's order of preference decides; no offer at all means no subprotocol (text)."""
    assert select_subprotocol(ServerProtocol(), _offer(*offered)) == chosen


def test_only_unknown_subprotocols_are_refused() -> None:
    """Offering only subprotocols we do not speak is a negotiation error naming ours."""
    with pytest.raises(NegotiationError, match=re.escape(TEXT)):
        select_subprotocol(ServerProtocol(), _offer("chat.example"))


@pytest.mark.parametrize(
    ("value", "address"),
    [
        ("127.0.0.1:8080", ("127.0.0.1", 8080)),
        ("0.0.0.0:0", ("0.0.0.0", 0)),
        ("[::1]:8443", ("::1", 8443)),
        ("chat.example.org:80", ("chat.example.org", 80)),
    ],
)
def test_listen_addresses(value: str, address: tuple[str, int]) -> None:
    """HOST:PORT, with IPv6 hosts in brackets."""
    assert parse_listen(value) == address


@pytest.mark.parametrize(
    "value", ["8080", "localhost", ":8080", "host:http", "host:70000", "[::1]"]
)
def test_bad_listen_addresses_are_refused(value: str) -> None:
    """A listen address without a host or a valid port is a configuration error."""
    with pytest.raises(ConfigError, match=re.escape("websocket.listen")):
        load_config(None, environ={}, overrides={"websocket": {"listen": value}})


def test_websocket_settings_from_the_environment() -> None:
    """[websocket] keys come from CHINWAG__WEBSOCKET__* like every other section."""
    config = load_config(
        None,
        environ={
            "CHINWAG__WEBSOCKET__LISTEN": "127.0.0.1:9000",
            "CHINWAG__WEBSOCKET__ALLOWED_ORIGINS": "https://a.example, https://b.example",
        },
    )
    assert config.websocket.listen == "127.0.0.1:9000"
    assert config.websocket.allowed_origins == ["https://a.example", "https://b.example"]


def _request(**headers: str) -> Request:
    return Request("/irc", Headers(**{k.replace("_", "-"): v for k, v in headers.items()}))


@pytest.mark.parametrize(
    ("headers", "allowed", "ok"),
    [
        ({"Host": "chat:8080"}, [], True),  # no Origin: not a browser
        ({"Host": "chat:8080", "Origin": "http://chat:8080"}, [], True),
        ({"Host": "chat:8080", "Origin": "https://CHAT:8080"}, [], True),
        ({"Host": "chat:8080", "Origin": "http://chat:9090"}, [], False),
        ({"Host": "chat:8080", "Origin": "https://evil.example"}, [], False),
        ({"Host": "chat:8080", "Origin": "null"}, [], False),
        ({"Host": "chat:8080", "Origin": "https://site.example"}, ["https://site.example/"], True),
        ({"Host": "chat:8080", "Origin": "https://evil.example"}, ["*"], True),
    ],
)
def test_origins(headers: dict[str, str], allowed: list[str], ok: bool) -> None:
    """Same-origin pages and non-browsers may connect; other sites only when allowed."""
    assert origin_allowed(_request(**headers), allowed) is ok


def test_static_site_serves_the_client_and_nothing_else() -> None:
    """The page, its script modules and its style are served; other paths are 404."""
    site = StaticSite()
    assert {"/", "/index.html", "/app.js", "/irc.js", "/style.css"} <= set(site.paths)
    assert site.response(_request()).status_code == 404  # /irc is not a file
    page = site.response(Request("/?nick=x", Headers()))
    assert page.status_code == 200
    assert page.headers["Content-Type"] == "text/html; charset=utf-8"
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    assert site.response(Request("/../cli.py", Headers())).status_code == 404


def test_the_client_never_writes_html() -> None:
    """The web client's code never assigns markup: text reaches the page as text only."""
    site = StaticSite()
    for path in ("/app.js", "/irc.js"):
        text = site.response(Request(path, Headers())).body.decode()
        code = [line for line in text.splitlines() if not line.lstrip().startswith(("//", "*"))]
        body = "\n".join(code)
        for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
            assert sink not in body, f"{path} uses {sink}"


def _read_back(wire: bytes) -> list[Frame]:
    """The frames the library's own client parses out of ``wire``."""
    client = ClientProtocol(parse_uri("ws://chinwag.test/irc"), state=State.OPEN, max_size=None)
    client.receive_data(wire)
    assert client.parser_exc is None, client.parser_exc
    return [event for event in client.events_received() if isinstance(event, Frame)]


@given(payload=st.binary(max_size=70000), text=st.booleans())
def test_data_frames_are_read_back_by_the_library(payload: bytes, text: bool) -> None:
    """Every frame we build is one whole message to the websockets client, at every size."""
    (frame,) = _read_back(data_frame(FIN_TEXT if text else FIN_BINARY, payload))
    assert frame.opcode is (Opcode.TEXT if text else Opcode.BINARY)
    assert frame.fin
    assert frame.data == payload


@pytest.mark.parametrize("size", [0, 125, 126, 65535, 65536])
def test_data_frame_length_encodings(size: int) -> None:
    """The three length encodings (7 bits, 16 bits, 64 bits) at their edges."""
    (frame,) = _read_back(data_frame(FIN_BINARY, b"x" * size))
    assert len(frame.data) == size
