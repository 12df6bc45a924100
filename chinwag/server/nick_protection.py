"""Nick protection: a registered nick is for its account.

When a client takes a nick that is a registered account it is not logged in to, NickServ warns
it and a ``call_later`` timer renames it to a guest nick after ``nick_protection_grace`` seconds.
Logging in, changing nick or quitting cancels the timer. The account look-up runs in a task and
re-checks the client when it resumes: it may have quit, renamed or logged in meanwhile.

Every arriving client's nick is looked up, so the look-ups are shared: one task at a time asks
the store about every nick that arrived since it last asked (one query, one thread hop), and
nicks arriving meanwhile wait for its next round, which starts `LOOKUP_INTERVAL` after the last
one did. A quiet server asks at once; a storm of a thousand arrivals a second makes twenty
queries a second instead of a thousand (a thread hop each: on the server's one core, the
worker thread and the event loop then took turns at the GIL for a third of the server's time).

The grace period belongs to the nick, not to one use of it: its deadline is set when somebody
first takes the nick without logging in, and whoever takes it again before the deadline gets
only what is left; after the deadline, taking it is renamed at once. The nick's slate is clean
again one grace period after the deadline, or when its owner logs in. So hopping away and back
every few seconds (or from several connections) cannot keep a registered nick.
"""

from __future__ import annotations

import asyncio
import logging
import random

from chinwag.protocol import fold
from chinwag.server.config import Config
from chinwag.server.network import Network
from chinwag.server.services import nickserv_notice
from chinwag.server.state import Client
from chinwag.server.tasks import Spawn
from chinwag.store import AccountStore, StoreError

__all__ = ["NickProtection"]

log = logging.getLogger("chinwag.accounts")

_GUEST_DIGITS = 5
LOOKUP_INTERVAL = 0.05
"""Seconds between the starts of two account look-ups: the most a warning waits for others'."""
_MAX_DEADLINES = 10_000  # past this many nicks remembered, the expired ones are forgotten


class NickProtection:
    """The rename timers of one server.

    Args:
        config: the configuration (``[accounts]`` and the nick length).
        network: where nicks change.
        accounts: the account store (is a nick registered?).
        spawn: starts the account look-up.
    """

    def __init__(
        self, config: Config, network: Network, accounts: AccountStore, spawn: Spawn
    ) -> None:
        self.settings = config.accounts
        self.nick_length = config.limits.nick_length
        self.network = network
        self.accounts = accounts
        self.spawn = spawn
        self._timers: dict[Client, asyncio.TimerHandle] = {}
        self._deadlines: dict[str, float] = {}
        """Per folded nick: when its grace ends (loop time)."""
        self._unchecked: dict[Client, str] = {}
        """Clients whose nick (folded, as it was) the next look-up asks about."""
        self._looking_up = False

    def check_nick(self, client: Client) -> None:
        """After registration or a nick change: protect the nick if someone else registered it."""
        self.cancel_protection(client)
        grace = self.settings.nick_protection_grace
        if not self.settings.enabled or grace <= 0 or not client.registered:
            return
        if client.account is not None and fold(client.account) == client.nick_folded:
            return
        self._unchecked[client] = client.nick_folded
        if not self._looking_up:
            self._looking_up = True
            self.spawn(self._look_up())

    async def _look_up(self) -> None:
        """Ask the store about the waiting nicks, round after round until none wait."""
        loop = asyncio.get_running_loop()
        try:
            while self._unchecked:
                started = loop.time()
                batch, self._unchecked = self._unchecked, {}
                try:
                    registered = await self.accounts.registered_among(set(batch.values()))
                except StoreError as exc:
                    log.warning("nick protection: cannot look up %d nicks: %s", len(batch), exc)
                    registered = set()
                grace = self.settings.nick_protection_grace
                for client, nick_folded in batch.items():
                    if nick_folded in registered:
                        self._protect_nick(client, nick_folded, grace)
                pause = started + LOOKUP_INTERVAL - loop.time()
                if self._unchecked and pause > 0:
                    await asyncio.sleep(pause)  # the nicks that arrive meanwhile come along
        finally:
            self._looking_up = False

    def _protect_nick(self, client: Client, nick_folded: str, grace: float) -> None:
        if client.nick_folded != nick_folded or not client.registered:
            return
        if client.account is not None and fold(client.account) == nick_folded:
            return
        self.cancel_protection(client)
        loop = asyncio.get_running_loop()
        left = self._grace_left(nick_folded, grace, loop.time())
        if left <= 0:
            self._rename_guest(client, nick_folded)
            return
        seconds = f"{grace:g}" if left == grace else f"{left:.1f}"
        nickserv_notice(
            client,
            f"The nick {client.nick} is registered. Log in with /msg NickServ IDENTIFY "
            f"<password> within {seconds} seconds, or you will be renamed.",
        )
        self._timers[client] = loop.call_later(left, self._rename_guest, client, nick_folded)

    def _grace_left(self, nick_folded: str, grace: float, now: float) -> float:
        """Seconds left of the nick's grace period, starting one when it has none running."""
        deadline = self._deadlines.get(nick_folded)
        if deadline is None or now > deadline + grace:  # none yet, or long over: a new one
            if len(self._deadlines) > _MAX_DEADLINES:
                self._forget_old(now, grace)
            self._deadlines[nick_folded] = now + grace
            return grace
        return deadline - now

    def _forget_old(self, now: float, grace: float) -> None:
        for nick, deadline in list(self._deadlines.items()):
            if now > deadline + grace:
                del self._deadlines[nick]

    def owner_logged_in(self, nick_folded: str) -> None:
        """The owner of ``nick_folded`` logged in: its grace starts afresh next time."""
        self._deadlines.pop(nick_folded, None)

    def cancel_protection(self, client: Client) -> None:
        """Stop the rename timer of ``client``, if any (and forget its nick's look-up)."""
        self._unchecked.pop(client, None)
        timer = self._timers.pop(client, None)
        if timer is not None:
            timer.cancel()

    def stop(self) -> None:
        """Cancel every timer."""
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()

    def _rename_guest(self, client: Client, nick_folded: str) -> None:
        self._timers.pop(client, None)
        if not client.registered or client.nick_folded != nick_folded:
            return
        if client.account is not None and fold(client.account) == nick_folded:
            return
        old = client.nick
        guest = self.rename_to_guest(client)
        log.info("renamed %s to %s (did not log in)", old, guest)
        nickserv_notice(client, f"You did not log in to {old} in time; your nick is now {guest}.")

    def rename_to_guest(self, client: Client) -> str:
        """Give ``client`` a free guest nick (``Guest12345``); returns it."""
        self.cancel_protection(client)
        network = self.network
        prefix = self.settings.guest_prefix or "Guest"
        limit = self.nick_length
        while True:
            digits = "".join(random.choices("0123456789", k=_GUEST_DIGITS))
            guest = (prefix[: max(1, limit - _GUEST_DIGITS)] + digits)[:limit]
            if not network.nick_in_use(guest, client):
                break
        network.rename(client, guest)
        return guest
