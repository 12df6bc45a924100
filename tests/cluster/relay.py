"""A relay between a client and Redis that makes one answer late: a call Redis applied whose
answer is lost or slow, as a stalled network makes it."""

from __future__ import annotations

import asyncio
from pathlib import Path

LATE = 1.0
"""Seconds the relay holds back the answer it delays (past the bus tests' command timeout)."""


class LateAnswerRelay:
    """A unix-socket relay to Redis that, once asked (`delay_next`), holds back the answer to
    the next command of a kind by `LATE` seconds; everything else passes at once."""

    def __init__(self, redis_path: Path, path: Path) -> None:
        self.redis_path = redis_path
        self.path = path
        self._delaying: tuple[bytes, ...] = ()
        self._dropping = b""
        self.holding = asyncio.Event()
        """Set once the command to delay has gone through to Redis (its answer is held)."""
        self._pipes: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> LateAnswerRelay:
        self._server = await asyncio.start_unix_server(self._relay, str(self.path))
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._server.close()
        for pipe in self._pipes:
            pipe.cancel()
        await asyncio.gather(*self._pipes, return_exceptions=True)

    @property
    def url(self) -> str:
        """What the bus takes."""
        return f"unix://{self.path}"

    def drop(self, command: bytes = b"EVALSHA") -> None:
        """Lose every ``command`` (a script call by default) on the way to Redis, as a cut
        network would, while the others pass."""
        self._dropping = command

    def heal(self) -> None:
        """Let every command through again (after `drop`)."""
        self._dropping = b""

    def delay_next(self, *commands: bytes) -> None:
        """Hold back the answer to the next of ``commands`` (a script call when none is
        named) that comes through."""
        self._delaying = commands or (b"EVALSHA",)
        self.holding.clear()

    async def _relay(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        redis_r, redis_w = await asyncio.open_unix_connection(str(self.redis_path))
        late = asyncio.Event()  # set while this connection's next answer must come late

        async def up() -> None:
            while data := await client_r.read(65536):
                if any(command in data for command in self._delaying):
                    self._delaying = ()
                    late.set()
                    self.holding.set()
                if self._dropping and self._dropping in data:
                    continue
                redis_w.write(data)
            redis_w.close()

        async def down() -> None:
            while data := await redis_r.read(65536):
                if late.is_set():
                    late.clear()
                    await asyncio.sleep(LATE)
                client_w.write(data)
            client_w.close()

        for pipe in (up(), down()):
            task = asyncio.create_task(pipe)
            self._pipes.add(task)
            task.add_done_callback(self._pipes.discard)
