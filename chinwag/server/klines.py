"""Server bans (K-lines) as operations: add, remove, list, and the durations they take.

The IRC verbs (KLINE, UNKLINE, STATS k in `commands/bans.py`) and ``chinwag admin ban`` both come
here, so that a ban set either way is stored, enforced and listed the same way. The bans in force
are `ServerBans` (``server_bans.py``), checked at registration and login.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable

from chinwag.logs import fields
from chinwag.protocol import fold, normalize_mask
from chinwag.server.network import Network
from chinwag.server.server_bans import ServerBans
from chinwag.server.state import Client
from chinwag.server.tasks import Spawn
from chinwag.store import BanKind, BanStore, ServerBan

__all__ = [
    "MAX_SECONDS",
    "KLines",
    "duration_text",
    "parse_ban_target",
    "parse_duration",
    "shown",
    "time_left",
]

log = logging.getLogger("chinwag.bans")

ACCOUNT_PREFIX = "account:"
MAX_SECONDS = 10 * 366 * 86400
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DURATION = re.compile(r"(\d+)([smhdw]?)")


def parse_duration(text: str) -> int | None:
    """``90`` (minutes, as KLINE always took), ``30m``, ``12h``, ``7d``, ``2w`` or ``1d12h``,
    in seconds; None when ``text`` is not a duration. ``0`` means permanent."""
    text = text.strip().lower()
    if not text or _DURATION.sub("", text):
        return None
    seconds = 0
    for number, unit in _DURATION.findall(text):
        seconds += int(number) * (_UNITS[unit] if unit else 60)
    return min(seconds, MAX_SECONDS)


def parse_ban_target(target: str) -> tuple[BanKind, str]:
    """``account:NAME`` is an account ban (folded name); anything else a completed glob mask."""
    if target.lower().startswith(ACCOUNT_PREFIX):
        return BanKind.ACCOUNT, fold(target[len(ACCOUNT_PREFIX) :])
    return BanKind.MASK, normalize_mask(target)


def shown(kind: BanKind, target: str) -> str:
    """How a ban's target is written back: ``account:amy`` or the mask."""
    return ACCOUNT_PREFIX + target if kind is BanKind.ACCOUNT else target


def duration_text(seconds: int) -> str:
    """``30 minutes``, ``12 hours``, ``1 day``: a duration in its largest whole unit."""
    for unit, size in (("week", 7 * 86400), ("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{seconds} second{'s' if seconds != 1 else ''}"


def time_left(ban: ServerBan, now: float) -> str:
    """``permanent`` or the time left, rounded up to the minute (``2h05m``)."""
    if ban.expires_at is None:
        return "permanent"
    minutes = int(ban.expires_at - now) // 60 + 1
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    return (f"{days}d" if days else "") + (f"{hours}h" if hours else "") + f"{minutes:02d}m"


async def _unstoppable(write: Awaitable[object]) -> None:
    """Await a store write that the cancellation of tasks at shutdown must not undo: the
    write stays queued and the store commits it when it closes."""
    await asyncio.shield(write)


class KLines:
    """Adding and lifting server bans: in memory, in the store, and on whoever they match.

    Args:
        bans: the bans in force (checked at registration and login).
        store: where bans are kept across restarts.
        network: whose users a new ban may disconnect.
        spawn: runs the store writes.
    """

    def __init__(self, bans: ServerBans, store: BanStore, network: Network, spawn: Spawn) -> None:
        self.bans = bans
        self.store = store
        self.network = network
        self.spawn = spawn

    def add(
        self,
        kind: BanKind,
        target: str,
        *,
        reason: str,
        seconds: int,
        set_by: str,
        spare: Client | None = None,
    ) -> ServerBan:
        """Ban ``target`` for ``seconds`` (0: for good), store it, and disconnect who it matches.

        Args:
            kind: a mask or an account ban.
            target: the completed mask, or the folded account name.
            reason: shown to the banned (cut to 200 characters).
            seconds: how long; 0 for a permanent ban.
            set_by: the operator's name, for STATS k and ``ban list``.
            spare: the operator who set it, who stays connected even if it matches.
        """
        now = time.time()
        ban = ServerBan(
            kind=kind,
            target=target,
            reason=(reason or "No reason given")[:200],
            set_by=set_by,
            set_at=now,
            expires_at=now + seconds if seconds else None,
        )
        log.info(
            "%s banned %s: %s",
            set_by,
            shown(kind, target),
            ban.reason,
            extra=fields("ban", oper=set_by, mask=shown(kind, target), reason=ban.reason),
        )
        self.bans[kind, target] = ban
        self.spawn(_unstoppable(self.store.add(ban)))
        if self.network.observer is not None:
            self.network.observer.banned(ban)
        for client in list(self.network.connections):
            if client.registered and client is not spare:
                self.bans.refuse_banned(client)
        return ban

    def remove(self, kind: BanKind, target: str) -> ServerBan | None:
        """Lift a ban; returns it, or None when there was none."""
        ban = self.bans.pop((kind, target), None)
        self.spawn(_unstoppable(self.store.remove(kind, target)))
        if self.network.observer is not None:
            self.network.observer.unbanned(kind, target)
        log.info(
            "unbanned %s", shown(kind, target), extra=fields("unban", mask=shown(kind, target))
        )
        return ban

    def active(self) -> list[ServerBan]:
        """The bans in force, oldest first."""
        now = time.time()
        return sorted(
            (ban for ban in self.bans.values() if not ban.expired(now)), key=lambda b: b.set_at
        )
