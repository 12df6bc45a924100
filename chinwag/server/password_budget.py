"""What password work costs a client: the failed-login budget, one hash in flight per connection,
and the account-creation budget.

Theory of operation
-------------------
An argon2 check costs tens of milliseconds of a core, and each one is a guess. Three rules bound
both the guessing and the CPU, whatever the client sends at once:

* **Pay first.** `PasswordBudget.check` takes a token from every key of the attempt (the account
  or operator name, and the address) *before* the check starts, and gives it back only when the
  password was right. Guesses sent together find the tokens already spent by those before them;
  checking first and charging after let 60 concurrent guesses through a budget of 5.
* **One at a time.** A connection (its `Client`) has at most one password hash in flight: SASL,
  NickServ IDENTIFY or REGISTER, REGISTER, OPER, PASS. A second one while the first runs is
  refused at once, with a reason, and costs nothing.
* **Accounts cost too.** Creating an account hashes a password and adds a row for good, so each
  creation takes a token of its address's creation budget (``register_burst``, then
  ``register_per_hour``), spent before the hash, never given back.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from chinwag.server.config import AccountsConfig
from chinwag.server.state import Client
from chinwag.store import LoginThrottle

__all__ = ["BUSY", "PasswordBudget"]

T = TypeVar("T")

BUSY = "a password check is already running on this connection: wait for its answer"
"""Why a second password attempt on one connection is refused while the first runs."""

_SECONDS_PER_HOUR = 3600.0
_NEVER = 0.001  # a rate of 0 in the config means "no refill"; the throttle needs a positive one


def _wait_text(what: str, wait: float) -> str:
    return f"{what}, try again in {int(wait) + 1} s"


class PasswordBudget:
    """The budgets of password work for one server.

    Args:
        settings: the ``[accounts]`` section (login and creation budgets).
    """

    def __init__(self, settings: AccountsConfig) -> None:
        self.logins = LoginThrottle(
            burst=max(1, settings.login_burst),
            per_second=max(settings.login_per_minute, _NEVER) / 60.0,
        )
        self.creations = LoginThrottle(
            burst=max(1, settings.register_burst),
            per_second=max(settings.register_per_hour, _NEVER) / _SECONDS_PER_HOUR,
        )
        self._busy: set[Client] = set()

    def busy(self, client: Client) -> bool:
        """Whether ``client`` has a password hash in flight."""
        return client in self._busy

    async def check(
        self, client: Client, keys: tuple[str, ...], attempt: Callable[[], Awaitable[T | None]]
    ) -> tuple[T | None, str | None]:
        """Run one password check, paid for beforehand from every key in ``keys``.

        Args:
            client: who tries (one check in flight per client).
            keys: the budgets the attempt draws on, the guessed name's first
                (``account:NAME``, ``oper:NAME``) and ``ip:ADDRESS``.
            attempt: the check; None (or a falsy result) means a wrong password.

        Returns:
            The attempt's result, or (None, why) when refused without a check; (None, None)
            for a wrong password.
        """
        if client in self._busy:
            return None, BUSY
        wait = self.logins.spend(*keys)
        if wait > 0:
            return None, _wait_text("too many failed attempts", wait)
        self._busy.add(client)
        try:
            result = await attempt()
        finally:
            self._busy.discard(client)
        if not result:
            return None, None
        # Right password: the name's failures are forgotten, the address gets its token back
        # (never more: an attacker logging into their own account must not earn guesses).
        self.logins.success(keys[0])
        self.logins.refund(*keys[1:])
        return result, None

    async def create(
        self, client: Client, attempt: Callable[[], Awaitable[T]]
    ) -> tuple[T | None, str | None]:
        """Run one account creation, paid for beforehand from the address's creation budget.

        Returns:
            The attempt's result, or (None, why) when refused without hashing anything.
        """
        if client in self._busy:
            return None, BUSY
        wait = self.creations.spend(f"ip:{client.ip}")
        if wait > 0:
            return None, _wait_text("too many accounts created from your address", wait)
        self._busy.add(client)
        try:
            return await attempt(), None
        finally:
            self._busy.discard(client)
