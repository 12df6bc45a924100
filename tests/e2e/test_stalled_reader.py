"""What a reader that stops reading costs the server: at most ``sendq_bytes`` in the server's
own buffer plus a small kernel send buffer (``socket_send_buffer``), not the megabytes the
kernel would otherwise grow the socket's buffer to; and not a connection left open past the
server's stop."""

from __future__ import annotations

import fcntl
import socket
import struct
import termios

from .conftest import Serve
from .harness import ANY, cheap_hash


def _kernel_unsent(sock: socket.socket) -> int:
    """Bytes written to ``sock`` that the kernel has not sent yet (Linux TIOCOUTQ)."""
    raw = fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, struct.pack("I", 0))
    return int(struct.unpack("I", raw)[0])


async def test_the_kernel_holds_little_for_a_stalled_reader(serve: Serve) -> None:
    """A stalled reader's socket keeps at most twice socket_send_buffer (Linux doubles it) in
    the kernel, however much is sent to it; the rest waits in the SendQ."""
    h = await serve(limits={"sendq_bytes": 4 * 1024 * 1024, "socket_send_buffer": 32768})
    slow = await h.connect("slow", rcvbuf=4096)
    amy = await h.connect("amy")
    slow.may_be_cut = True
    slow.stop_reading()
    text = "x" * 400
    for batch in range(60):  # about 1.2 MB for slow
        await amy.send(*[f"PRIVMSG #lobby :{batch} {text}" for _ in range(50)])
        await amy.sync()
    client = h.server.network.find("slow")
    assert client is not None and client.conn.transport is not None
    sock = client.conn.transport.get_extra_info("socket")
    assert _kernel_unsent(sock) <= 2 * 32768
    assert client.conn.transport.get_write_buffer_size() > 0  # the rest waits in the SendQ


async def test_a_killed_stalled_reader_is_cut_by_the_stop(serve: Serve) -> None:
    """A stalled reader KILLed by an operator: its ERROR waits behind its full socket, and it
    is no longer a user of the server; the server's stop cuts that connection all the same,
    within its grace, as it does every other (not only the process's exit)."""
    h = await serve(
        limits={"sendq_bytes": 4 * 1024 * 1024, "socket_send_buffer": 32768},
        opers=[("root", cheap_hash("hunter2"))],
    )
    slow = await h.connect("slow", rcvbuf=4096)
    amy = await h.connect("amy")
    slow.may_be_cut = True
    slow.stop_reading()
    client = h.server.network.find("slow")
    assert client is not None and client.conn.transport is not None
    conn, transport = client.conn, client.conn.transport
    text = "x" * 400
    while transport.get_write_buffer_size() == 0:  # the kernel's buffers are full
        await amy.send(*[f"PRIVMSG #lobby :{text}" for _ in range(50)])
        await amy.sync()
    await amy.send("OPER root hunter2")
    await amy.expect_numeric("381", ANY)
    await amy.send("KILL slow :go away")
    await amy.expect("QUIT", source="slow")
    assert h.server.network.find("slow") is None and not conn.lost.done()
    await h.server.stop()
    assert conn.lost.done()


async def test_every_accepted_socket_has_the_configured_send_buffer(serve: Serve) -> None:
    """Each connection's kernel send buffer is socket_send_buffer (set once on the listening
    socket, which accepted sockets inherit), and a size changed since start applies to the
    connections that come after the change."""
    h = await serve(limits={"socket_send_buffer": 32768})
    await h.connect("amy")
    h.server.config.limits.socket_send_buffer = 49152  # what a reload does
    await h.connect("bob")

    def send_buffer(nick: str) -> int:
        client = h.server.network.find(nick)
        assert client is not None and client.conn.transport is not None
        sock = client.conn.transport.get_extra_info("socket")
        return int(sock.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF))

    assert send_buffer("amy") == 2 * 32768  # Linux doubles it
    assert send_buffer("bob") == 2 * 49152
