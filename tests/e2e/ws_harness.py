"""A WebSocket twin of the harness `Client`: same ``send``/``expect`` API, over ``/irc``.

``amy = await ws_connect(h, "amy")`` registers over WebSocket; every message received must be one
IRC line without CR or LF (the IRCv3 WebSocket rule), checked like the TCP harness checks its lines.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable, Sequence
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from chinwag.server.websocket import ENDPOINT, TEXT

from .harness import Client, Harness

__all__ = ["WsClient", "ws_connect", "ws_open", "ws_url"]


def ws_url(h: Harness, path: str = ENDPOINT, scheme: str = "ws") -> str:
    """The address of the harness server's WebSocket listener."""
    assert h.server.websocket is not None, "start the server with websocket={'listen': ...}"
    return f"{scheme}://{h.server.websocket.address}{path}"


class WsClient(Client):
    """One IRC connection over WebSocket, read by a background task like the TCP `Client`."""

    def __init__(self, name: str, ws: ClientConnection) -> None:
        self.ws = ws
        self.messages: list[str | bytes] = []
        reader: Any = None  # the WebSocket replaces the stream pair
        super().__init__(name, reader, reader)

    async def _read(self) -> None:
        try:
            async for message in self.ws:
                self.messages.append(message)
                data = message.encode() if isinstance(message, str) else message
                if b"\r" in data or b"\n" in data:
                    self.violations.append(f"line break inside a message: {data!r}")
                self._take(data + b"\r\n")
        except ConnectionClosed:
            pass
        finally:
            self.closed.set()
            self.queue.put_nowait(None)

    async def send(self, *lines: str | bytes) -> None:
        """Send each line as one message (``str`` as text, ``bytes`` as binary)."""
        with contextlib.suppress(ConnectionClosed):
            for line in lines:
                await self.ws.send(line)

    def stop_reading(self) -> None:
        """Stop reading from the socket: the server's frames pile up in the kernel buffers."""
        transport = self.ws.transport
        assert isinstance(transport, asyncio.ReadTransport)
        transport.pause_reading()

    def resume_reading(self) -> None:
        """Read again after `stop_reading`."""
        transport = self.ws.transport
        assert isinstance(transport, asyncio.ReadTransport)
        transport.resume_reading()

    async def close(self) -> None:
        """Close the WebSocket and stop the reader."""
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.ws.close(), 1.0)
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._task


async def ws_open(
    h: Harness,
    name: str = "ws",
    *,
    subprotocols: Sequence[str] | None = (TEXT,),
    origin: str | None = None,
    **options: Any,
) -> WsClient:
    """An open WebSocket to ``/irc`` that has sent nothing; kept in ``h`` for teardown."""
    ws = await connect(
        ws_url(h),
        subprotocols=None if subprotocols is None else [Subprotocol(p) for p in subprotocols],
        origin=None if origin is None else origin,  # type: ignore[arg-type]
        max_size=None,
        ping_interval=None,
        **options,
    )
    client = WsClient(name, ws)
    h.clients.append(client)
    return client


async def ws_connect(
    h: Harness,
    nick: str,
    *,
    caps: Iterable[str] = (),
    subprotocols: Sequence[str] | None = (TEXT,),
) -> WsClient:
    """Register ``nick`` over WebSocket and wait for the whole burst, like `Harness.connect`."""
    client = await ws_open(h, nick, subprotocols=subprotocols)
    return await h.register(client, nick, caps=caps)
