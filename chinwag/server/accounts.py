"""Accounts at run time: logins and logouts, failed-login throttling, nick protection, server
bans and registered channels.

Theory of operation
-------------------
The store keeps what survives a restart (accounts with argon2id hashes, channel records, server
bans); this module is the event-loop side of it. Everything that waits for the store or for
argon2 runs in a task started with `Server.spawn`, and re-checks the client's state when it
resumes: the client may have quit, renamed or logged in meanwhile.

* Password checks (SASL, NickServ IDENTIFY, OPER by account or by the config's operators) all
  go through `Accounts.throttled`, which consults the `LoginThrottle` per name *and* per IP
  before spending any argon2 time; logins then go through `Accounts.login`, which sets
  ``client.account``, sends 900 and tells ``account-notify`` peers.
* Nick protection: when a client takes a nick that is a registered account it is not logged in
  to, it is warned by NickServ and a ``call_later`` timer renames it to a guest nick after
  ``nick_protection_grace`` seconds. Logging in, changing nick or quitting cancels the timer.
* Server bans are cached in memory (loaded at start, kept in step with KLINE/UNKLINE), so that
  the check at registration and login is synchronous and cheap.
* Registered channels (ChanServ) are loaded at start as permanent channels; every change of
  their topic, modes or bans is saved through the store's write-behind queue.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from chinwag.logs import fields
from chinwag.protocol import fold, mask_matches, parse_count
from chinwag.protocol.numerics import (
    ERR_YOUREBANNEDCREEP,
    RPL_LOGGEDIN,
    RPL_LOGGEDOUT,
)
from chinwag.server.fanout import Outgoing, send_to_all
from chinwag.server.state import Cap, Channel, Client, RegState
from chinwag.store import (
    Account,
    BanKind,
    ChannelBan,
    ChannelRecord,
    LoginThrottle,
    ServerBan,
    Topic,
)

if TYPE_CHECKING:
    from chinwag.server.app import Server

__all__ = ["Accounts", "LoginResult", "SaslSession", "apply_record", "channel_record"]

T = TypeVar("T")
log = logging.getLogger("chinwag.accounts")

_GUEST_DIGITS = 5


@dataclass(slots=True)
class SaslSession:
    """One SASL exchange in progress: the mechanism, the base64 received so far, and whether
    the password check is running (registration waits for it)."""

    mechanism: str
    buffer: str = ""
    verifying: bool = False


@dataclass(frozen=True, slots=True)
class LoginResult:
    """The outcome of a password check: the account, or why there is none."""

    account: Account | None
    error: str = ""


def channel_record(
    channel: Channel, founder: str | None, registered_at: float | None
) -> ChannelRecord:
    """What the store keeps of a registered channel: topic, modes with key and limit, bans."""
    topic = (
        Topic(channel.topic, channel.topic_setter, channel.topic_time) if channel.topic else None
    )
    bans = tuple(ChannelBan(mask, setter, when) for mask, (setter, when) in channel.bans.items())
    return ChannelRecord(
        name=channel.name,
        name_folded=channel.name_folded,
        founder=founder,
        registered_at=registered_at,
        topic=topic,
        modes=" ".join(channel.mode_string(True)),
        bans=bans,
    )


def apply_record(channel: Channel, record: ChannelRecord) -> None:
    """Restore a channel's topic, modes, key, limit and bans from its stored record."""
    if record.topic is not None:
        channel.topic = record.topic.text
        channel.topic_setter = record.topic.set_by
        channel.topic_time = record.topic.set_at
    flags, *params = record.modes.split(" ") if record.modes else ["+nt"]
    channel.modes = set()
    for char in flags.lstrip("+"):
        if char == "k" and params:
            channel.key = params.pop(0)
        elif char == "l" and params:
            value = params.pop(0)
            channel.limit = parse_count(value) or None
        elif char in "imnst":
            channel.modes.add(char)
    channel.bans = {ban.mask: (ban.set_by, ban.set_at) for ban in record.bans}


class Accounts:
    """The run-time account services of one server.

    Args:
        server: the server they belong to (its store is open once `start` runs).
    """

    def __init__(self, server: Server) -> None:
        self.server = server
        settings = server.config.accounts
        self.throttle = LoginThrottle(
            burst=max(1, settings.login_burst),
            per_second=max(settings.login_per_minute, 0.001) / 60.0,
        )
        self.bans: dict[tuple[BanKind, str], ServerBan] = {}
        self.registered: dict[str, ChannelRecord] = {}
        self._protect: dict[Client, asyncio.TimerHandle] = {}
        self.sasl: dict[Client, SaslSession] = {}

    @property
    def enabled(self) -> bool:
        """Whether accounts are enabled in the configuration."""
        return self.server.config.accounts.enabled

    # -- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        """Load server bans and registered channels from the store; create the services."""
        from chinwag.server.services import create_services

        store = self.server.store
        for ban in await store.bans.list_active(time.time()):
            self.bans[ban.kind, ban.target] = ban
        network = self.server.network
        for record in await store.channels.load_all():
            if record.founder is None:
                continue
            channel = network.find_channel(record.name)
            if channel is None:
                channel = Channel(record.name, created=record.registered_at or time.time())
                network.channels[channel.name_folded] = channel
            channel.permanent = True
            apply_record(channel, record)
            self.registered[record.name_folded] = record
        if self.enabled:
            create_services(self.server)
        log.info(
            "loaded %d server bans, %d registered channels", len(self.bans), len(self.registered)
        )

    def client_gone(self, client: Client) -> None:
        """Forget a client that quit: its protection timer and its SASL exchange."""
        timer = self._protect.pop(client, None)
        if timer is not None:
            timer.cancel()
        self.sasl.pop(client, None)

    def stop(self) -> None:
        """Cancel every timer."""
        for timer in self._protect.values():
            timer.cancel()
        self._protect.clear()

    # -- passwords and logins ------------------------------------------------------------------

    def tls_refusal(self, client: Client) -> str | None:
        """Why a password may not be sent on this connection, or None when it may."""
        if self.server.config.accounts.require_tls_for_auth and not client.conn.tls:
            port = self.server.tls_port
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
            if not name_folded or len(name_folded) > 200:
                return None
            return await self.server.store.accounts.verify(name_folded, password)

        account, refusal = await self.throttled(client, f"account:{name_folded}", verify)
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
            The attempt's result, or (None, why) when the budget is spent; (None, None) for a
            plain failure.
        """
        keys = (key, f"ip:{client.ip}")
        wait = self.throttle.retry_after(*keys)
        if wait > 0:
            self.server.stats.login_throttled += 1
            log.warning(
                "password check for %s from %s throttled",
                key,
                client.ip,
                extra=fields("login_throttled", target=key, nick=client.nick, ip=client.ip),
            )
            return None, f"too many failed attempts, try again in {int(wait) + 1} s"
        result = await attempt()
        if not result:
            self.throttle.failure(*keys)
            self.server.stats.login_failures += 1
            log.warning(
                "failed password check for %s from %s",
                key,
                client.ip,
                extra=fields("login_failed", target=key, nick=client.nick, ip=client.ip),
            )
            return None, None
        self.throttle.success(key)
        return result, None

    def login(self, client: Client, account: Account) -> bool:
        """Log ``client`` in to ``account``: 900, ACCOUNT to account-notify peers.

        Returns:
            False when the account is banned from the server (the client is then disconnected).
        """
        if client.state is RegState.CLOSED:
            return False
        client.account = account.name
        if not client.registered:  # nobody has seen its host yet: it may still change
            client.host = self.server.cloaks.host_for_account(account.name) or client.host
        network = self.server.network
        user = client.user or "*"
        network.numeric(
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
            if self.refuse_banned(client):
                return False
            self._notify_account(client)
        if fold(account.name) == client.nick_folded:
            self.cancel_protection(client)
        return True

    def logout(self, client: Client) -> None:
        """Log ``client`` out: 901, ``ACCOUNT *`` to peers; its nick may become protected."""
        if client.account is None:
            return
        client.account = None
        network = self.server.network
        user = client.user or "*"
        network.numeric(
            client, RPL_LOGGEDOUT, f"{client.nick}!{user}@{client.host}", "You are now logged out"
        )
        if client.registered:
            self._notify_account(client)
            self.check_nick(client)

    def _notify_account(self, client: Client) -> None:
        outgoing = Outgoing(client.prefix, "ACCOUNT", client.account or "*", account=client.account)
        peers = self.server.network.peers(client)
        if client.caps & Cap.ACCOUNT_NOTIFY:
            peers.add(client)
        send_to_all((p for p in peers if p.caps & Cap.ACCOUNT_NOTIFY), outgoing)

    def logged_in(self, account_folded: str) -> list[Client]:
        """Every connected client logged in to the account."""
        return [
            c
            for c in self.server.network.connections
            if c.account is not None and fold(c.account) == account_folded
        ]

    # -- nick protection -----------------------------------------------------------------------

    def check_nick(self, client: Client) -> None:
        """After registration or a nick change: protect the nick if someone else registered it."""
        self.cancel_protection(client)
        grace = self.server.config.accounts.nick_protection_grace
        if not self.enabled or grace <= 0 or not client.registered:
            return
        if client.account is not None and fold(client.account) == client.nick_folded:
            return
        self.server.spawn(self._protect_nick(client, client.nick_folded, grace))

    async def _protect_nick(self, client: Client, nick_folded: str, grace: float) -> None:
        account = await self.server.store.accounts.get(nick_folded)
        if account is None or client.nick_folded != nick_folded or not client.registered:
            return
        if client.account is not None and fold(client.account) == nick_folded:
            return
        from chinwag.server.services import nickserv_notice

        seconds = f"{grace:g}"
        nickserv_notice(
            self.server,
            client,
            f"The nick {client.nick} is registered. Log in with /msg NickServ IDENTIFY "
            f"<password> within {seconds} seconds, or you will be renamed.",
        )
        self.cancel_protection(client)
        loop = asyncio.get_running_loop()
        self._protect[client] = loop.call_later(grace, self._rename_guest, client, nick_folded)

    def cancel_protection(self, client: Client) -> None:
        """Stop the rename timer of ``client``, if any."""
        timer = self._protect.pop(client, None)
        if timer is not None:
            timer.cancel()

    def _rename_guest(self, client: Client, nick_folded: str) -> None:
        self._protect.pop(client, None)
        if not client.registered or client.nick_folded != nick_folded:
            return
        if client.account is not None and fold(client.account) == nick_folded:
            return
        network = self.server.network
        prefix = self.server.config.accounts.guest_prefix or "Guest"
        limit = self.server.config.limits.nick_length
        while True:
            digits = "".join(random.choices("0123456789", k=_GUEST_DIGITS))
            guest = (prefix[: max(1, limit - _GUEST_DIGITS)] + digits)[:limit]
            if not network.nick_in_use(guest, client):
                break
        from chinwag.server.services import nickserv_notice

        old = client.nick
        network.rename(client, guest)
        log.info("renamed %s to %s (did not log in)", old, guest)
        nickserv_notice(
            self.server, client, f"You did not log in to {old} in time; your nick is now {guest}."
        )

    # -- server bans ---------------------------------------------------------------------------

    def ban_for(self, client: Client) -> ServerBan | None:
        """The active server ban matching ``client`` (by mask or by account), if any."""
        now = time.time()
        for key, ban in list(self.bans.items()):
            if ban.expired(now):
                del self.bans[key]
                continue
            if ban.kind is BanKind.ACCOUNT:
                if client.account is not None and fold(client.account) == ban.target:
                    return ban
            elif mask_matches(ban.target, client.prefix) or mask_matches(
                ban.target, f"{client.nick}!{client.user}@{client.ip}"
            ):
                return ban
        return None

    def refuse_banned(self, client: Client) -> bool:
        """Disconnect ``client`` with 465 and ERROR if a server ban matches; True if it did."""
        ban = self.ban_for(client)
        if ban is None:
            return False
        log.info("banned client %s (%s): %s", client.prefix, client.account, ban.reason)
        self.server.network.numeric(
            client, ERR_YOUREBANNEDCREEP, f"You are banned from this server: {ban.reason}"
        )
        client.conn.close(f"K-Lined: {ban.reason}")
        return True

    # -- registered channels -------------------------------------------------------------------

    def channel_changed(self, channel: Channel) -> None:
        """Save a registered channel after its topic, modes or bans changed."""
        record = self.registered.get(channel.name_folded)
        if record is None:
            return
        record = channel_record(channel, record.founder, record.registered_at)
        self.registered[channel.name_folded] = record
        self.server.store.channels.save(record)

    # -- registration --------------------------------------------------------------------------

    def registration_refusal(
        self, client: Client, name: str, email: str | None, password: str | bytes
    ) -> tuple[str, str] | None:
        """Why ``client`` may not register account ``name`` now, as (FAIL code, text), or None.

        The codes are those of IRCv3 ``draft/account-registration``; NickServ shows the text.
        """
        from chinwag.protocol import is_valid_nick
        from chinwag.server.services import is_service_nick
        from chinwag.store import InvalidPasswordError, PasswordProblem, check_password

        settings = self.server.config.accounts
        if not self.enabled or not settings.registration_open:
            return "TEMPORARILY_UNAVAILABLE", "Account registration is closed on this server"
        if client.account is not None:
            return "ALREADY_AUTHENTICATED", f"You are already logged in as {client.account}"
        refusal = self.tls_refusal(client)
        if refusal is not None:
            return "TLS_REQUIRED", refusal[:1].upper() + refusal[1:]
        limit = self.server.config.limits.nick_length
        if not is_valid_nick(name, limit) or is_service_nick(name):
            return "BAD_ACCOUNT_NAME", f"{name} cannot be an account name"
        if email is not None and ("@" not in email.strip("@") or len(email) > 200):
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
        from chinwag.store import AccountExistsError, InvalidNameError, InvalidPasswordError

        try:
            account = await self.server.store.accounts.register(
                name, fold(name), password, email=email
            )
        except AccountExistsError:
            return "ACCOUNT_EXISTS", f"The account {name} already exists"
        except InvalidNameError:
            return "BAD_ACCOUNT_NAME", f"{name} cannot be an account name"
        except InvalidPasswordError as exc:
            return "UNACCEPTABLE_PASSWORD", f"Password refused: {exc.problem.value}"
        log.info("%s (%s) registered account %s", client.nick, client.ip, account.name)
        return account
