"""Whether history is being stored, and who is told when it is not.

Theory of operation
-------------------
A message that cannot be stored is not delivered: "Nothing seen is lost" would be broken by a
message some saw and history does not have. On the journal, a message that finds no disk space
reserved for it is refused before delivery (`full`); with a store whose commits come later, the
store tells the commit callback whether the commit failed (``HistoryStore.commit_error``). A
write that fails after its turn went out (an I/O error) can only be reported (`not_stored`).
`StorageHealth` tells the sender (a NOTICE naming the target, so a client shows it where the
message was typed), and the server's operators once per *episode*: the first failure opens it,
the first probe write that works again closes it, with a count of what was not delivered.
Nothing has to be restarted: storing resumes by itself as soon as the disk has room.
"""

from __future__ import annotations

import asyncio
import logging

from chinwag.server.network import Network
from chinwag.server.state import Client, RegState
from chinwag.server.tasks import Spawn
from chinwag.store import STORE_FAILURES, HistoryStore

__all__ = ["StorageHealth"]

log = logging.getLogger("chinwag.history")


PROBE_INTERVAL = 1.0
"""Seconds between two tries of a tiny write while storing fails."""


def _reason(error: BaseException) -> str:
    text = str(error) or type(error).__name__
    return text[:100]


class StorageHealth:
    """The state of history storage as the commit callbacks see it.

    Args:
        network: where the senders and the operators are.
        store: the history store (probed while storing fails).
        spawn: starts the probe.
    """

    def __init__(self, network: Network, store: HistoryStore, spawn: Spawn) -> None:
        self.network = network
        self.store = store
        self.spawn = spawn
        self.failing = False
        """True from a failed commit until the next one that works."""
        self.withheld = 0
        """Messages not delivered in the current (or last) episode."""
        self._why = ""

    def not_stored(self, sender: Client, target_name: str, error: BaseException) -> None:
        """A message of ``sender`` to ``target_name`` was delivered with its loop turn but its
        commit failed: the sender is told, and from now on messages are refused (`refuse`)."""
        if sender.state is not RegState.CLOSED:
            self.network.notice(
                sender,
                f"Your message to {target_name} could not be stored ({_reason(error)}): "
                "it may be missing from history.",
            )
        self._fail(error)

    def full(self, sender: Client, target_name: str, error: BaseException) -> None:
        """A message of ``sender`` to ``target_name`` was refused before delivery because the
        disk has no room for it: the episode opens (`refuse` from now on) and the sender is
        told, as for every message refused after it."""
        self._fail(error)
        self.refuse(sender, target_name)

    def unavailable(self, error: BaseException) -> None:
        """Nothing can be stored for now (a cluster node lost Redis): messages are refused
        (`refuse`) until a probe write works again."""
        self._fail(error)

    def refuse(self, sender: Client, target_name: str) -> None:
        """While storing fails: a message is neither stored nor delivered; its sender is told."""
        self.withheld += 1
        self.network.notice(
            sender,
            f"Your message to {target_name} was not delivered: the server cannot store "
            f"messages right now ({self._why}). Try again later.",
        )

    def _fail(self, error: BaseException) -> None:
        if self.failing:
            return
        self.failing = True
        self._why = _reason(error)
        log.error("history: cannot store messages (%s); not delivering them", error)
        self._tell_operators(
            f"*** The server cannot store messages ({self._why}): they are not "
            "delivered, and their senders are told, until it can again."
        )
        self.spawn(self._probe())

    async def _probe(self) -> None:
        """Try a tiny write every `PROBE_INTERVAL` until one commits: then storing is back."""
        while self.failing:
            await asyncio.sleep(PROBE_INTERVAL)
            try:
                await self.store.probe_write()
            except STORE_FAILURES as exc:
                self._why = _reason(exc)
                continue
            self.stored()

    def stored(self) -> None:
        """A commit worked: close the episode, if one is open."""
        if not self.failing:
            return
        self.failing = False
        log.warning("history: storing again; %d messages were not delivered", self.withheld)
        self._tell_operators(
            f"*** The server stores messages again ({self.withheld} were not delivered)."
        )
        self.withheld = 0

    def _tell_operators(self, text: str) -> None:
        network = self.network
        for client in network.connections:
            if client.registered and client.is_oper:
                network.notice(client, text)
