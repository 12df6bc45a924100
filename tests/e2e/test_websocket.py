"""IRC over WebSocket: the IRCv3 rules, the web client's files, and the same limits as over TCP.

A WebSocket user is an ordinary client, so each limit test here mirrors one over TCP
(test_robustness.py, test_line_limits.py) and expects the same outcome; where the WebSocket layer
itself refuses something (a handshake, a frame), the test says what the peer gets instead.
"""

from __future__ import annotations

import asyncio
import re
import signal
import ssl
import subprocess
import sys
from pathlib import Path

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.frames import CloseCode

from chinwag.server import websocket
from chinwag.server.tls import ensure_self_signed
from chinwag.server.websocket import BINARY, MAX_MESSAGE_BYTES, TEXT

from .conftest import Serve
from .harness import ANY, Harness
from .test_process import ServeProcess
from .ws_harness import ws_connect, ws_open, ws_url

WS = {"listen": "127.0.0.1:0"}


async def _http(h: Harness, request: bytes) -> bytes:
    """Send raw bytes to the WebSocket port; everything the server answers until it closes."""
    assert h.server.websocket is not None
    reader, writer = await asyncio.open_connection("127.0.0.1", h.server.websocket.port)
    writer.write(request)
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(), 3.0)
    writer.close()
    return answer


def _get(path: str, *headers: str) -> bytes:
    lines = [f"GET {path} HTTP/1.1", "Host: 127.0.0.1", *headers, "", ""]
    return "\r\n".join(lines).encode()


@pytest.fixture
async def wsh(serve: Serve) -> Harness:
    """A harness on a server that also listens for WebSocket (flood pacing off)."""
    return await serve(websocket=WS)


# -- chatting ------------------------------------------------------------------------------------


@pytest.mark.parametrize("subprotocol", [TEXT, BINARY])
async def test_websocket_and_tcp_users_chat(wsh: Harness, subprotocol: str) -> None:
    """A WebSocket user and a TCP user share the room and talk privately, both ways."""
    web = await ws_connect(wsh, "web", subprotocols=[subprotocol])
    assert web.ws.subprotocol == subprotocol
    tcp = await wsh.connect("tcp")
    await web.expect("JOIN", ["#lobby"], source="tcp")
    await tcp.send("PRIVMSG #lobby :hello web")
    await web.expect("PRIVMSG", ["#lobby", "hello web"], source="tcp")
    await web.send("PRIVMSG tcp :hello tcp")
    await tcp.expect("PRIVMSG", ["tcp", "hello tcp"], source="web")
    kind = str if subprotocol == TEXT else bytes
    assert web.messages and all(isinstance(m, kind) for m in web.messages)
    await web.send("QUIT :bye")
    await tcp.expect("QUIT", ["Quit: bye"], source="web")


async def test_closing_the_websocket_is_a_quit(wsh: Harness) -> None:
    """A browser tab that closes its WebSocket leaves: the others see QUIT."""
    web = await ws_connect(wsh, "web")
    tcp = await wsh.connect("tcp")
    await web.ws.close()
    await tcp.expect("QUIT", [ANY], source="web")


async def test_history_reaches_a_websocket_user(wsh: Harness) -> None:
    """CHATHISTORY works over WebSocket as over TCP (history is the same for both)."""
    tcp = await wsh.connect("tcp")
    await tcp.send("PRIVMSG #lobby :before")
    await tcp.sync()
    web = await ws_connect(wsh, "web", caps=["draft/chathistory", "batch", "server-time"])
    await web.send("CHATHISTORY LATEST #lobby * 10")
    await web.expect("PRIVMSG", ["#lobby", "before"], source="tcp")


async def test_text_mode_never_sends_invalid_utf8(wsh: Harness) -> None:
    """Latin-1 from a TCP user reaches a text-mode user as valid UTF-8 text."""
    web = await ws_connect(wsh, "web", subprotocols=[TEXT])
    tcp = await wsh.connect("tcp")
    await tcp.send(b"PRIVMSG web :caf\xe9\r\n")
    msg = await web.expect("PRIVMSG", source="tcp")
    assert msg.params[-1] in ("café", "caf\ufffd")


async def test_binary_mode_keeps_the_bytes(wsh: Harness) -> None:
    """A binary-mode user gets exactly the bytes the server would send over TCP."""
    web = await ws_connect(wsh, "web", subprotocols=[BINARY])
    tcp = await wsh.connect("tcp")
    await tcp.send("PRIVMSG web :ünïcode")
    await web.expect("PRIVMSG", ["web", "ünïcode"], source="tcp")
    assert any(b"\xc3\xbcn\xc3\xafcode" in m for m in web.messages if isinstance(m, bytes))


async def test_fragmented_message_is_one_line(wsh: Harness) -> None:
    """A message sent in several frames is put together into one line."""
    web = await ws_connect(wsh, "web")
    tcp = await wsh.connect("tcp")
    await web.ws.send(["PRIVMSG #lobby ", ":in ", "three frames"])
    await tcp.expect("PRIVMSG", ["#lobby", "in three frames"], source="web")


async def test_line_breaks_inside_a_message_are_the_lines_they_hold(wsh: Harness) -> None:
    """A message holding CR LF counts as two lines (as the same bytes over TCP); a trailing CR LF
    is tolerated."""
    web = await ws_connect(wsh, "web")
    tcp = await wsh.connect("tcp")
    await web.send("PRIVMSG #lobby :one\r\nPRIVMSG #lobby :two", "PRIVMSG #lobby :three\r\n")
    for text in ("one", "two", "three"):
        await tcp.expect("PRIVMSG", ["#lobby", text], source="web")


async def test_websocket_with_tls(serve: Serve, tmp_path: Path) -> None:
    """With a certificate the listener speaks TLS (wss), and the user counts as secure."""
    cert, key = ensure_self_signed(tmp_path, "test.chinwag")
    h = await serve(
        server={"tls_cert": str(cert), "tls_key": str(key), "tls_port": 0}, websocket=WS
    )
    context = ssl.create_default_context(cafile=cert)
    # max_queue=None: a client that stops reading at a full queue would not see the close frame.
    url = ws_url(h, scheme="wss")
    async with connect(url, subprotocols=[TEXT], ssl=context, max_queue=None) as ws:
        await ws.send("NICK secure")
        await ws.send("USER s 0 * :S")
        while "001" not in (line := str(await asyncio.wait_for(ws.recv(), 3.0))):
            pass
        await ws.send("WHOIS secure")
        while " 318 " not in (line := str(await asyncio.wait_for(ws.recv(), 3.0))):
            if " 671 " in line:
                break
        assert " 671 " in line, "WHOIS does not say the WebSocket user is on a secure connection"


async def test_serve_with_the_websocket_flag(tmp_path: Path) -> None:
    """`chinwag serve --websocket HOST:PORT` logs the web client's address, serves it, and
    registers a WebSocket user."""
    process = ServeProcess(tmp_path, "--websocket", "127.0.0.1:0")
    try:
        await process.started()
        found = re.search(r"web client at http://127\.0\.0\.1:(\d+)/", "".join(process.log))
        assert found, process.log
        reader, writer = await asyncio.open_connection("127.0.0.1", int(found.group(1)))
        writer.write(_get("/"))
        page = await asyncio.wait_for(reader.read(), 3.0)
        writer.close()
        assert page.startswith(b"HTTP/1.1 200") and b"<title>chinwag</title>" in page
        url = f"ws://127.0.0.1:{found.group(1)}/irc"
        # Under uvloop, as served; max_queue=None so that the unread burst cannot hide the close.
        async with connect(url, subprotocols=[TEXT], max_queue=None) as ws:
            await ws.send("NICK proc")
            await ws.send("USER p 0 * :P")
            while " 001 " not in str(await asyncio.wait_for(ws.recv(), 3.0)):
                pass
        process.proc.send_signal(signal.SIGTERM)
        assert await process.wait(5.0) == 0
    finally:
        process.kill()


def test_serve_help_mentions_the_websocket_flag() -> None:
    """`chinwag serve --help` documents --websocket HOST:PORT."""
    command = [sys.executable, "-m", "chinwag", "serve", "--help"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=30, check=True)
    assert "--websocket HOST:PORT" in result.stdout


# -- the handshake -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("offered", "chosen"),
    [([TEXT, BINARY], TEXT), ([BINARY, TEXT], BINARY), (["x.example", TEXT], TEXT), (None, None)],
    ids=["text-first", "binary-first", "unknown-then-text", "none"],
)
async def test_subprotocol_follows_the_clients_preference(
    wsh: Harness, offered: list[str] | None, chosen: str | None
) -> None:
    """The client's most preferred subprotocol wins; a client that offers none gets text."""
    web = await ws_open(wsh, subprotocols=offered)
    assert web.ws.subprotocol == chosen
    await web.send("NICK plain", "USER p 0 * :P")
    await web.expect("001")
    assert all(isinstance(m, bytes if chosen == BINARY else str) for m in web.messages)


async def test_wrong_subprotocol_is_refused(wsh: Harness) -> None:
    """A client that offers only subprotocols we do not speak gets 400 naming the right ones."""
    with pytest.raises(InvalidStatus) as refused:
        await ws_open(wsh, subprotocols=["chat.example"])
    assert refused.value.response.status_code == 400
    assert TEXT in refused.value.response.body.decode()


async def test_origin_of_the_listener_itself_is_allowed(wsh: Harness) -> None:
    """The web client's own page (Origin equal to Host) may connect."""
    assert wsh.server.websocket is not None
    web = await ws_open(wsh, origin=f"http://{wsh.server.websocket.address}")
    await web.send("NICK same", "USER s 0 * :S")
    await web.expect("001")


async def test_foreign_origin_is_refused(wsh: Harness) -> None:
    """A page of another site gets 403 and no connection."""
    with pytest.raises(InvalidStatus) as refused:
        await ws_open(wsh, origin="https://evil.example")
    assert refused.value.response.status_code == 403
    assert len(wsh.server.network.connections) == 0


@pytest.mark.parametrize("allowed", [["https://chat.example"], ["*"]], ids=["listed", "any"])
async def test_allowed_origins(serve: Serve, allowed: list[str]) -> None:
    """allowed_origins lets the named sites (or, with *, any site) connect."""
    h = await serve(websocket={**WS, "allowed_origins": allowed})
    web = await ws_open(h, origin="https://chat.example")
    await web.send("NICK listed", "USER l 0 * :L")
    await web.expect("001")


async def test_web_client_files_are_served(wsh: Harness) -> None:
    """/ is the web client's page, with a strict Content-Security-Policy; scripts are typed."""
    page = await _http(wsh, _get("/"))
    head, _, body = page.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200")
    assert b"Content-Type: text/html; charset=utf-8" in head
    assert b"script-src 'self'" in head
    assert b'<label for="nick">Nick</label>' in body
    script = await _http(wsh, _get("/app.js"))
    assert script.startswith(b"HTTP/1.1 200") and b"text/javascript" in script


@pytest.mark.parametrize("path", ["/nope", "/../pyproject.toml", "/%2e%2e/app.js", "//etc/passwd"])
async def test_unknown_paths_are_not_found(wsh: Harness, path: str) -> None:
    """Only the web client's own files are served: anything else is 404."""
    answer = await _http(wsh, _get(path))
    assert answer.startswith(b"HTTP/1.1 404")


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"POST /irc HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(64),  # a TLS hello
        b"NICK amy\r\nUSER a 0 * :A\r\n",  # IRC on the wrong port
        b"GET /irc HTTP/1.1\r\n" + b"X-Long: " + b"a" * 9000 + b"\r\n\r\n",
    ],
    ids=["post", "tls-hello", "irc", "huge-header"],
)
async def test_garbage_instead_of_a_handshake_is_closed(
    wsh: Harness, request_bytes: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Bytes that are not a GET request end the socket (at the latest when the handshake time
    is up); nobody becomes a user."""
    monkeypatch.setattr(websocket, "HANDSHAKE_TIMEOUT", 0.5)
    answer = await _http(wsh, request_bytes)
    assert not answer or answer.startswith(b"HTTP/1.1 4")
    assert len(wsh.server.network.connections) == 0


async def test_plain_get_of_the_endpoint_is_told_to_upgrade(wsh: Harness) -> None:
    """A browser opening /irc as a page gets 426 Upgrade Required, not a hang."""
    answer = await _http(wsh, _get("/irc"))
    assert answer.startswith(b"HTTP/1.1 426")


async def test_handshake_must_come_in_time(wsh: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    """A socket that never completes its handshake is closed after HANDSHAKE_TIMEOUT."""
    monkeypatch.setattr(websocket, "HANDSHAKE_TIMEOUT", 0.2)
    answer = await _http(wsh, b"GET / HTTP/1.1\r\n")  # never finished
    assert answer == b""


# -- the same limits as TCP ----------------------------------------------------------------------


async def test_line_too_long_gets_417_and_the_user_stays(wsh: Harness) -> None:
    """A message longer than an IRC line gets 417 ERR_INPUTTOOLONG, like over TCP."""
    web = await ws_connect(wsh, "web")
    await web.send("PRIVMSG #lobby :" + "x" * 600)
    await web.expect_numeric("417")
    await web.alive()


@pytest.mark.parametrize("char", ["x", "😀"], ids=["1byte", "4bytes"])
async def test_relayed_text_fits_one_line_over_websocket(wsh: Harness, char: str) -> None:
    """Full-length text from a long nick reaches a WebSocket user as one message of at most 510
    bytes (the harness checks every message), like over TCP."""
    web = await ws_connect(wsh, "w" * 32)
    tcp = await wsh.connect("t" * 32)
    head = f"PRIVMSG {'w' * 32} :"
    text = char * ((510 - len(head)) // len(char.encode()))
    await tcp.send(head + text)
    msg = await web.expect("PRIVMSG", source="t" * 32)
    assert msg.params[-1] and set(msg.params[-1]) == {char}
    assert all(len(m.encode() if isinstance(m, str) else m) <= 510 for m in web.messages)


async def test_message_far_too_big_is_refused_by_the_websocket_layer(wsh: Harness) -> None:
    """A message past twice the largest line closes with 1009 before it is read; peers see QUIT."""
    web = await ws_connect(wsh, "web")
    tcp = await wsh.connect("tcp")
    await web.send("PRIVMSG #lobby :" + "x" * MAX_MESSAGE_BYTES)
    await web.expect_closed()
    assert web.ws.close_code == CloseCode.MESSAGE_TOO_BIG
    quit_ = await tcp.expect("QUIT", source="web")
    assert "too big" in quit_.params[0] or "exceeds" in quit_.params[0]


async def test_excess_flood_over_websocket(serve: Serve) -> None:
    """Past flood_queue lines waiting, a WebSocket flooder gets ERROR Excess Flood like over TCP."""
    h = await serve(limits={"flood_burst": 5, "flood_rate": 1, "flood_queue": 10}, websocket=WS)
    web = await ws_connect(h, "web")
    tcp = await h.connect("tcp")
    await web.send(*[f"PRIVMSG #lobby :spam {n}" for n in range(40)])
    await web.expect_error("Excess Flood")
    quit_ = await tcp.expect("QUIT", source="web")
    assert "Excess Flood" in quit_.params[0]


async def test_sendq_exceeded_over_websocket(serve: Serve) -> None:
    """A WebSocket user that stops reading is cut with SendQ exceeded; the others go on."""
    h = await serve(limits={"sendq_bytes": 16384}, websocket=WS)
    slow = await ws_connect(h, "slow")
    amy = await h.connect("amy")
    bob = await h.connect("bob")
    await slow.sync()
    slow.stop_reading()
    text = "x" * 400
    for batch in range(400):
        await amy.send(*[f"PRIVMSG #lobby :{batch} {text}" for _ in range(50)])
        await bob.expect("PRIVMSG", [ANY, f"{batch} {text}"])
        if any(m.command == "QUIT" and m.source_nick == "slow" for m in bob.history):
            break
    quit_ = next(m for m in bob.history if m.command == "QUIT")
    assert quit_.params[0] == "SendQ exceeded"
    await bob.alive()


async def test_per_ip_limit_covers_websocket(serve: Serve) -> None:
    """max_clients_per_ip counts TCP and WebSocket users together; one past it gets 503."""
    h = await serve(limits={"max_clients_per_ip": 2, "exempt_loopback": False}, websocket=WS)
    await h.connect("tcp")
    await ws_connect(h, "web")
    with pytest.raises(InvalidStatus) as refused:
        await ws_open(h)
    assert refused.value.response.status_code == 503
    assert b"Too many connections from your IP" in refused.value.response.body


async def test_unfinished_handshakes_per_ip_are_bounded(serve: Serve) -> None:
    """One address cannot hold more than max_clients_per_ip sockets that are not users yet."""
    h = await serve(limits={"max_clients_per_ip": 2, "exempt_loopback": False}, websocket=WS)
    assert h.server.websocket is not None
    port = h.server.websocket.port
    idle = [await asyncio.open_connection("127.0.0.1", port) for _ in range(2)]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    assert await asyncio.wait_for(reader.read(), 3.0) == b""
    for _, idle_writer in [*idle, (reader, writer)]:
        idle_writer.close()


async def test_bad_frames_close_only_that_connection(wsh: Harness) -> None:
    """An unmasked client frame is a protocol error (close 1002); everyone else goes on."""
    web = await ws_connect(wsh, "web")
    tcp = await wsh.connect("tcp")
    assert isinstance(web.ws.transport, asyncio.WriteTransport)
    web.ws.transport.write(b"\x81\x05hello")  # a text frame without the mask a client must set
    await web.expect_closed()
    assert web.ws.close_code == CloseCode.PROTOCOL_ERROR
    await tcp.expect("QUIT", source="web")
    await tcp.alive()


async def test_reading_a_websocket_user_can_be_paused(wsh: Harness) -> None:
    """The history's backpressure pauses a WebSocket sender like a TCP one, then resumes it."""
    web = await ws_connect(wsh, "web")
    tcp = await wsh.connect("tcp")
    (conn,) = [client.conn for client in wsh.server.network.connections if client.nick == "web"]
    transport = conn.transport
    assert transport is not None
    transport.pause_reading()
    assert not transport.is_reading()
    await web.send("PRIVMSG #lobby :held back")
    await tcp.assert_nothing()
    transport.resume_reading()
    await tcp.expect("PRIVMSG", ["#lobby", "held back"], source="web")


async def test_closed_connection_ignores_later_writes(wsh: Harness) -> None:
    """Sending after the server closed is harmless to the server."""
    web = await ws_connect(wsh, "web")
    await web.send("QUIT")
    await web.expect_closed()
    with pytest.raises(ConnectionClosed):
        await web.ws.send("PRIVMSG #lobby :late")
    tcp = await wsh.connect("tcp")
    await tcp.alive()
