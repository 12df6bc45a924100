"""Password checks within a budget: every check (SASL, NickServ IDENTIFY, OPER by account or by
the configuration's operators, the server password) is paid for from the `PasswordBudget` per
name *and* per IP before it spends any argon2 time; a right password gets its tokens back.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from chinwag.logs import fields
from chinwag.protocol import fold
from chinwag.server.config import AccountsConfig
from chinwag.server.password_budget import PasswordBudget
from chinwag.server.state import Client
from chinwag.store import STORE_FAILURES, Account, AccountStore

__all__ = ["STORE_DOWN", "LoginResult", "PasswordChecks"]

T = TypeVar("T")
log = logging.getLogger("chinwag.accounts")

MAX_ACCOUNT_NAME = 200
"""Longer names are refused without asking the store (no account can have one)."""

STORE_DOWN = "The server cannot store or read accounts right now; try again later."
"""The answer to an account command when the store fails (a full disk, say)."""


@dataclass(frozen=True, slots=True)
class LoginResult:
    """The outcome of a password check: the account, or why there is none."""

    account: Account | None
    error: str = ""


class PasswordChecks:
    """Where passwords may be sent, and checking them within the failed-login budget.

    Args:
        settings: the ``[accounts]`` configuration.
        accounts: the account store.
        tls_port: the port of the TLS listener, when there is one (named in refusals).
    """

    def __init__(
        self,
        settings: AccountsConfig,
        accounts: AccountStore,
        tls_port: Callable[[], int | None],
    ) -> None:
        self.settings = settings
        self.accounts = accounts
        self._tls_port = tls_port
        self.budget = PasswordBudget(settings)
        self.failed_count = 0
        """Wrong passwords since the start (read by the metrics)."""
        self.throttled_count = 0
        """Checks refused unchecked (budget spent, or one already running) since the start."""

    def tls_port(self) -> int | None:
        """The port of the TLS listener, when there is one."""
        return self._tls_port()

    def tls_refusal(self, client: Client) -> str | None:
        """Why a password may not be sent on this connection, or None when it may."""
        if self.settings.require_tls_for_auth and not client.conn.tls:
            port = self._tls_port()
            where = f" (port {port})" if port else ""
            return f"this server accepts passwords only over TLS: reconnect with TLS{where}"
        return None

    async def check_password(self, client: Client, name: str, password: str | bytes) -> LoginResult:
        """Verify ``password`` for account ``name``, within the failed-login budget.

        Args:
            client: who tries (its IP is throttled).
            name: the account name, any case.
            password: the password as given.

        Returns:
            The account, or an error text fit for the user.
        """
        name_folded = fold(name)

        async def verify() -> Account | None:
            if not name_folded or len(name_folded) > MAX_ACCOUNT_NAME:
                return None
            return await self.accounts.verify(name_folded, password)

        try:
            account, refusal = await self.throttled(client, f"account:{name_folded}", verify)
        except STORE_FAILURES as exc:
            log.error("cannot check the password of %s: %s", name, exc)
            return LoginResult(None, STORE_DOWN[:1].lower() + STORE_DOWN[1:].rstrip("."))
        if account is None:
            return LoginResult(None, refusal or "invalid account name or password")
        return LoginResult(account)

    async def throttled(
        self, client: Client, key: str, attempt: Callable[[], Awaitable[T | None]]
    ) -> tuple[T | None, str | None]:
        """Run one password check within the failed-login budget of ``key`` and the client's IP.

        Args:
            client: who tries.
            key: what is being guessed (``account:NAME``, ``oper:NAME``).
            attempt: the check; None (or a falsy result) means a wrong password.

        Returns:
            The attempt's result, or (None, why) when refused unchecked (the budget is spent,
            or another check of this client is running); (None, None) for a wrong password.
        """
        result, refusal = await self.budget.check(client, (key, f"ip:{client.ip}"), attempt)
        if refusal is not None:
            self.throttled_count += 1
            log.warning(
                "password check for %s from %s refused: %s",
                key,
                client.ip,
                refusal,
                extra=fields(
                    "login_throttled", target=key, nick=client.nick, ip=client.ip, reason=refusal
                ),
            )
        elif not result:
            self.failed_count += 1
            log.warning(
                "failed password check for %s from %s",
                key,
                client.ip,
                extra=fields("login_failed", target=key, nick=client.nick, ip=client.ip),
            )
        return result, refusal
