"""TLS connections are counted from the moment they are accepted: a client that opens the TLS
port and never finishes the handshake holds a connection slot (per IP and in total) for at most
``tls_handshake_timeout`` seconds, and past the limits it is refused at once."""

from __future__ import annotations

import asyncio
from pathlib import Path

from .conftest import Serve
from .harness import Harness


async def _silent_tcp(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", port)


async def _closed_by_server(reader: asyncio.StreamReader, timeout: float) -> bool:
    """Whether the server ends the connection within ``timeout`` seconds."""
    try:
        data = await asyncio.wait_for(reader.read(), timeout)
    except TimeoutError:
        return False
    except ConnectionError:
        return True
    return data == b""


async def _accepted(h: Harness, handshakes: int) -> None:
    """Wait until the server has accepted ``handshakes`` TLS sockets (two listeners: no order)."""
    for _ in range(300):
        if h.server.handshakes.total >= handshakes:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{h.server.handshakes.total} handshakes, expected {handshakes}")


async def test_unfinished_handshakes_count_against_the_per_ip_limit(
    serve: Serve, tmp_path: Path
) -> None:
    """Two silent TCP connections to the TLS port fill a per-IP limit of 2: a third
    connection (TLS or plain) is refused at once, and a real TLS client is not served."""
    h = await serve(
        server={"tls": True, "tls_port": 0, "data_dir": str(tmp_path)},
        limits={
            "max_clients_per_ip": 2,
            "exempt_loopback": False,
            "tls_handshake_timeout": 30.0,
        },
    )
    port = h.server.tls_port
    assert port is not None
    silent = [await _silent_tcp(port) for _ in range(2)]
    third_reader, third_writer = await _silent_tcp(port)
    assert await _closed_by_server(third_reader, 2.0)
    plain = await h.open("plain")
    await plain.expect_error("Too many connections from your IP address")
    for _, writer in silent:
        writer.close()
    third_writer.close()


async def test_a_silent_handshake_is_cut_after_the_timeout(serve: Serve, tmp_path: Path) -> None:
    """A TLS connection that never sends its ClientHello is closed after tls_handshake_timeout,
    and its slot is free again: a real TLS client then registers."""
    h = await serve(
        server={"tls": True, "tls_port": 0, "data_dir": str(tmp_path)},
        limits={"max_clients_per_ip": 1, "exempt_loopback": False, "tls_handshake_timeout": 0.3},
    )
    port = h.server.tls_port
    assert port is not None
    reader, writer = await _silent_tcp(port)
    assert await _closed_by_server(reader, 3.0)
    writer.close()
    secure = await h.open_tls("amy")
    await secure.send("NICK amy", "USER amy 0 * :Amy")
    await secure.expect("001")


async def test_total_limit_counts_handshakes(serve: Serve, tmp_path: Path) -> None:
    """Unfinished handshakes count towards max_clients: past it a plain client is refused."""
    h = await serve(
        server={"tls": True, "tls_port": 0, "data_dir": str(tmp_path)},
        limits={"max_clients": 2, "tls_handshake_timeout": 30.0},
    )
    port = h.server.tls_port
    assert port is not None
    silent = [await _silent_tcp(port) for _ in range(2)]
    await _accepted(h, 2)
    plain = await h.open("plain")
    await plain.expect_error("Too many connections on this server")
    for _, writer in silent:
        writer.close()
