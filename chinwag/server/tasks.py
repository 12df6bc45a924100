"""Background work started from the event loop: password hashing, store queries, timers' jobs.

A task that nobody holds a reference to can be garbage-collected while it runs, and its
exception is then lost; `Tasks` keeps every task until it ends and logs the ones that fail.
Parts that start background work receive `Tasks.spawn` (a `Spawn`), not the server.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

__all__ = ["Spawn", "Tasks"]

log = logging.getLogger("chinwag.server")

Spawn = Callable[[Coroutine[Any, Any, Any]], "asyncio.Task[Any]"]
"""How a part starts background work: `Tasks.spawn`."""


class Tasks:
    """The background tasks of one server."""

    def __init__(self) -> None:
        self.running: set[asyncio.Task[Any]] = set()

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """Run background work (password hashing, store queries) and keep a reference to it."""
        task = asyncio.get_running_loop().create_task(coro)
        self.running.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self.running.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background task failed", exc_info=task.exception())

    async def cancel_all(self, timeout: float) -> None:
        """Cancel every task and wait at most ``timeout`` seconds for them to end."""
        for task in list(self.running):
            task.cancel()
        if self.running:
            await asyncio.wait(self.running, timeout=timeout)
