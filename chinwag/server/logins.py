"""Logins at run time: logging in and out, SASL exchanges in progress, and creating accounts.

The store keeps what survives a restart (accounts with argon2id hashes); this is the event-loop
side of it. `Logins.login` sets ``client.account``, sends 900 and tells ``account-notify``
peers. Everything that waits for the store runs in a task, and re-checks the client's state
when it resumes: the client may have quit, renamed or logged in meanwhile.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from chinwag.logs import fields
from chinwag.protocol import fold, is_valid_nick
from chinwag.protocol.numerics import ERR_SASLABORTED, RPL_LOGGEDIN, RPL_LOGGEDOUT
from chinwag.protocol.scram import ServerExchange
from chinwag.server.config import Config
from chinwag.server.network import Network
from chinwag.server.nick_protection import NickProtection
from chinwag.server.password_checks import STORE_DOWN, PasswordChecks
from chinwag.server.server_bans import ServerBans
from chinwag.server.services import is_service_nick
from chinwag.server.state import Client, RegState
from chinwag.store import (
    STORE_FAILURES,
    Account,
    AccountExistsError,
    AccountStore,
    InvalidNameError,
    InvalidPasswordError,
    PasswordProblem,
    check_password,
)

__all__ = ["MECHANISMS", "SCRAM", "Logins", "SaslSession"]

log = logging.getLogger("chinwag.accounts")

SCRAM = "SCRAM-SHA-256"
MECHANISMS = f"PLAIN,{SCRAM}"
"""The SASL mechanisms offered (``CAP LS 302`` shows them as the value of ``sasl``)."""

MAX_EMAIL = 200


@dataclass(slots=True)
class SaslSession:
    """One SASL exchange in progress: the mechanism, the base64 received so far, whether the
    password check is running (registration waits for it), and a SCRAM exchange's state."""

    mechanism: str
    buffer: str = ""
    verifying: bool = False
    scram: ServerExchange | None = None
    """The SCRAM-SHA-256 exchange, after its first message (``commands/sasl_scram.py``)."""
    account: Account | None = None
    """The account a SCRAM exchange logs in to, when it exists."""


class Logins:
    """Who is logged in to what, and how they got there.

    Args:
        config: the configuration (``[accounts]`` and the nick length).
        network: where the replies and ``ACCOUNT`` notices go.
        accounts: the account store.
        passwords: where passwords may be sent.
        bans: server bans by account, checked at login.
        protection: nick protection, which a login may end and a logout start.
    """

    def __init__(
        self,
        config: Config,
        network: Network,
        *,
        accounts: AccountStore,
        passwords: PasswordChecks,
        bans: ServerBans,
        protection: NickProtection,
    ) -> None:
        self.settings = config.accounts
        self.nick_length = config.limits.nick_length
        self.network = network
        self.accounts = accounts
        self.passwords = passwords
        self.bans = bans
        self.protection = protection
        self.sasl: dict[Client, SaslSession] = {}
        """The SASL exchange each client has in progress."""

    def client_gone(self, client: Client) -> None:
        """Forget the SASL exchange of a client that quit."""
        self.sasl.pop(client, None)

    def sasl_holds_registration(self, client: Client) -> bool:
        """Whether registration must wait for a SASL password check; aborts an idle exchange
        (906), as the SASL specification asks."""
        session = self.sasl.get(client)
        if session is None:
            return False
        if session.verifying:
            return True
        del self.sasl[client]
        self.network.numeric(client, ERR_SASLABORTED, "SASL authentication aborted")
        return False

    def login(self, client: Client, account: Account) -> bool:
        """Log ``client`` in to ``account``: 900, ACCOUNT to account-notify peers.

        Returns:
            False when the account is banned from the server (the client is then disconnected).
        """
        if client.state is RegState.CLOSED:
            return False
        client.account = account.name
        client.account_party = account.party
        if not client.registered:  # nobody has seen its host yet: it may still change
            client.host = self.network.cloaks.host_for_account(account.name) or client.host
        user = client.user or "*"
        self.network.numeric(
            client,
            RPL_LOGGEDIN,
            f"{client.nick}!{user}@{client.host}",
            account.name,
            f"You are now logged in as {account.name}",
        )
        log.info(
            "%s (%s) logged in as %s",
            client.nick,
            client.ip,
            account.name,
            extra=fields("login", nick=client.nick, account=account.name, ip=client.ip),
        )
        if client.registered:
            if self.bans.refuse_banned(client):
                return False
            self._notify_account(client)
        if fold(account.name) == client.nick_folded:
            self.protection.cancel_protection(client)
        self.protection.owner_logged_in(account.name_folded)
        return True

    def logout(self, client: Client) -> None:
        """Log ``client`` out: 901, ``ACCOUNT *`` to peers; its nick may become protected."""
        if client.account is None:
            return
        client.account = None
        client.account_party = None
        user = client.user or "*"
        self.network.numeric(
            client, RPL_LOGGEDOUT, f"{client.nick}!{user}@{client.host}", "You are now logged out"
        )
        if client.registered:
            self._notify_account(client)
            self.protection.check_nick(client)

    def _notify_account(self, client: Client) -> None:
        self.network.tell_status(client, "ACCOUNT", client.account or "*")

    def logged_in(self, account_folded: str) -> list[Client]:
        """Every connected client logged in to the account."""
        return [
            c
            for c in self.network.connections
            if c.account is not None and fold(c.account) == account_folded
        ]

    # -- creating accounts ---------------------------------------------------------------------

    def registration_refusal(
        self, client: Client, name: str, email: str | None, password: str | bytes
    ) -> tuple[str, str] | None:
        """Why ``client`` may not register account ``name`` now, as (FAIL code, text), or None.

        The codes are those of IRCv3 ``draft/account-registration``; NickServ shows the text.
        """
        settings = self.settings
        if not settings.enabled or not settings.registration_open:
            return "TEMPORARILY_UNAVAILABLE", "Account registration is closed on this server"
        if client.account is not None:
            return "ALREADY_AUTHENTICATED", f"You are already logged in as {client.account}"
        refusal = self.passwords.tls_refusal(client)
        if refusal is not None:
            return "TLS_REQUIRED", refusal[:1].upper() + refusal[1:]
        if not is_valid_nick(name, self.nick_length) or is_service_nick(name):
            return "BAD_ACCOUNT_NAME", f"{name} cannot be an account name"
        if email is not None and ("@" not in email.strip("@") or len(email) > MAX_EMAIL):
            return "INVALID_EMAIL", f"{email} is not an email address"
        try:
            check_password(password)
        except InvalidPasswordError as exc:
            code = (
                "WEAK_PASSWORD" if exc.problem is PasswordProblem.EMPTY else "UNACCEPTABLE_PASSWORD"
            )
            return code, f"Password refused: {exc.problem.value}"
        return None

    async def register(
        self, client: Client, name: str, email: str | None, password: str | bytes
    ) -> Account | tuple[str, str]:
        """Create account ``name`` for ``client``; (FAIL code, text) when refused.

        Call `registration_refusal` first: this only adds what the store decides. The caller
        logs the client in (`login`), in the same turn as its reply.
        """

        async def create() -> Account:
            return await self.accounts.register(name, fold(name), password, email=email)

        try:
            account, refusal = await self.passwords.budget.create(client, create)
        except AccountExistsError:
            return "ACCOUNT_EXISTS", f"The account {name} already exists"
        except InvalidNameError:
            return "BAD_ACCOUNT_NAME", f"{name} cannot be an account name"
        except InvalidPasswordError as exc:
            return "UNACCEPTABLE_PASSWORD", f"Password refused: {exc.problem.value}"
        except STORE_FAILURES as exc:
            log.error("cannot register account %s: %s", name, exc)
            return "TEMPORARILY_UNAVAILABLE", STORE_DOWN
        if account is None:  # refused before hashing: busy, or too many accounts from here
            text = refusal or ""
            return "TEMPORARILY_UNAVAILABLE", text[:1].upper() + text[1:]
        log.info("%s (%s) registered account %s", client.nick, client.ip, account.name)
        return account
