"""The administration socket: ``admin.sock`` in the data directory, for ``chinwag admin``.

Theory of operation
-------------------
A unix socket, mode 0600, in the data directory (itself 0700): only the user the server runs as
can open it. The server checks that again on each connection with the peer's credentials
(``SO_PEERCRED``), so that a socket made reachable by mistake (a ``chmod``, a bind mount) still
refuses everyone else.

One request per connection: the client writes one JSON line ``{"argv": ["kick", "#room",
"bob"]}`` and reads one JSON line back, ``{"ok": true, "output": "..."}`` or ``{"ok": false,
"error": "..."}``. The commands themselves are in `admin_commands`; they run on the event loop
like any IRC command, so they see and change the network state between two loop turns.

A socket file left by a server that died is removed at start; one that still answers belongs
to another server on the same data directory, and this server then does without a socket.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import struct
from pathlib import Path
from typing import Any

from chinwag.logs import fields
from chinwag.server.admin_commands import AdminCommands, AdminError

__all__ = ["SOCKET_NAME", "AdminSocket", "bindable_path", "peer_uid"]

log = logging.getLogger("chinwag.admin")

SOCKET_NAME = "admin.sock"
MAX_REQUEST_BYTES = 65536
REQUEST_TIMEOUT = 10.0
COMMAND_TIMEOUT = 60.0
_UNIX_PATH_MAX = 100  # sun_path holds 108 bytes on Linux, 104 on the BSDs


def bindable_path(path: Path) -> tuple[str, int | None]:
    """A name for ``path`` that fits in a socket address, and a directory fd to close after.

    A deep data directory makes a path longer than a unix socket address can hold; then the
    socket is reached through ``/proc/self/fd/N/admin.sock`` (Linux) with N an open descriptor
    of the directory.
    """
    text = str(path)
    if len(text.encode()) <= _UNIX_PATH_MAX or not Path("/proc/self/fd").is_dir():
        return text, None
    fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    return f"/proc/self/fd/{fd}/{path.name}", fd


def peer_uid(sock: socket.socket) -> int | None:
    """The user id of the process at the other end of a unix socket, where the OS says it."""
    option = getattr(socket, "SO_PEERCRED", None)
    if option is None:
        return None
    raw = sock.getsockopt(socket.SOL_SOCKET, option, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", raw)
    return int(uid)


class AdminSocket:
    """The listener on ``admin.sock``.

    Args:
        commands: what it can be asked.
        path: where the socket lives (``DATA_DIR/admin.sock``).
    """

    def __init__(self, commands: AdminCommands, path: Path) -> None:
        self.commands = commands
        self.path = path
        self._listener: asyncio.AbstractServer | None = None

    async def start(self) -> bool:
        """Listen; False (and a warning in the log) when another server owns the socket."""
        if self.path.exists() or self.path.is_symlink():
            if await _answers(self.path):
                log.warning(
                    "%s answers: another server uses this data directory; no admin socket",
                    self.path,
                )
                return False
            self.path.unlink()  # left by a server that did not stop cleanly
        name, fd = bindable_path(self.path)
        old_umask = os.umask(0o177)  # created 0600: never a moment when others could connect
        try:
            self._listener = await asyncio.start_unix_server(self._serve, name)
        finally:
            os.umask(old_umask)
            if fd is not None:
                os.close(fd)
        os.chmod(self.path, 0o600)
        return True

    def close(self) -> None:
        """Stop listening and remove the socket file."""
        if self._listener is None:
            return
        self._listener.close()
        self._listener = None
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            sock = writer.get_extra_info("socket")
            uid = peer_uid(sock) if sock is not None else None
            if uid is not None and uid != os.geteuid():
                log.warning(
                    "admin socket: refused a connection from uid %d",
                    uid,
                    extra=fields("admin_refused", peer_uid=uid),
                )
                await _answer(writer, {"ok": False, "error": "only the server's user may do that"})
                return
            async with asyncio.timeout(REQUEST_TIMEOUT):
                line = await reader.readline()
            reply = await self._run(line)
            await _answer(writer, reply)
        except (TimeoutError, ConnectionError, ValueError):
            pass  # the client went away or spoke nonsense: nothing more to say
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def _run(self, line: bytes) -> dict[str, Any]:
        if len(line) > MAX_REQUEST_BYTES:
            return {"ok": False, "error": "request too large"}
        try:
            request = json.loads(line)
            argv = request["argv"]
            if not isinstance(argv, list) or not all(isinstance(a, str) for a in argv) or not argv:
                raise TypeError
        except (ValueError, KeyError, TypeError):
            return {"ok": False, "error": 'expected one JSON line: {"argv": ["status"]}'}
        log.info("admin: %s", argv[0], extra=fields("admin", command=argv[0]))
        try:
            async with asyncio.timeout(COMMAND_TIMEOUT):
                output = await self.commands.run(argv)
        except AdminError as exc:
            return {"ok": False, "error": str(exc)}
        except TimeoutError:
            return {"ok": False, "error": f"{argv[0]} did not finish in {COMMAND_TIMEOUT:g} s"}
        return {"ok": True, "output": output}


async def _answers(path: Path) -> bool:
    """Whether a server listens on the socket at ``path``."""
    name, fd = bindable_path(path)
    try:
        _reader, writer = await asyncio.open_unix_connection(name)
    except OSError:
        return False
    finally:
        if fd is not None:
            os.close(fd)
    writer.close()
    with contextlib.suppress(ConnectionError):
        await writer.wait_closed()
    return True


async def _answer(writer: asyncio.StreamWriter, reply: dict[str, Any]) -> None:
    writer.write(json.dumps(reply).encode() + b"\n")
    await writer.drain()
