"""What NickServ and ChanServ answer: ``PRIVMSG NickServ :<command>`` and the like.

``PRIVMSG NickServ :...`` is routed here by ``commands/messaging.py`` (and never stored in
history: it carries passwords). Both services share one table, `SERVICE_COMMANDS`, and one
dispatcher, as IRC commands do: the help, the "unknown command" answer and the check that
accounts are enabled are written once.

NickServ: REGISTER, IDENTIFY, LOGOUT, INFO, DROP, SET PASSWORD, HELP.
ChanServ: REGISTER, INFO, DROP, HELP. A registered channel keeps its topic, modes, key, limit
and bans across restarts (see `chinwag.server.channel_registry`), and its founder gets op on
joining.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from chinwag.protocol import fold
from chinwag.server.commands.base import Context
from chinwag.server.password_checks import STORE_DOWN
from chinwag.server.services import SERVICES_HOST, ServiceConnection, service_notice
from chinwag.server.state import Channel, Client
from chinwag.store import STORE_FAILURES, InvalidPasswordError, NoSuchAccountError

__all__ = ["SERVICE_COMMANDS", "ServiceCommand", "deliver_to_service", "founder_joined"]

log = logging.getLogger("chinwag.services")

ServiceHandler = Callable[[Context, list[str]], None]

_HELP_HELP = "HELP [command]: this help."


@dataclass(frozen=True, slots=True)
class ServiceCommand:
    """One command of a service: its handler and its line of help (None: not listed)."""

    handler: ServiceHandler
    help: str | None


@dataclass(frozen=True, slots=True)
class Service:
    """A service's name, what its HELP says first, and its commands in the order of its help
    (HELP itself, which every service has, is answered by `_serve`)."""

    nick: str
    intro: str
    commands: dict[str, ServiceCommand]


def deliver_to_service(ctx: Context, recipient: Client, command: str, text: str | None) -> bool:
    """Hand a message to a service; False when ``recipient`` is not one.

    Only PRIVMSG is answered: replying to a NOTICE could start a loop between two bots.
    """
    if not isinstance(recipient.conn, ServiceConnection):
        return False
    if command == "PRIVMSG" and text:
        service = SERVICE_COMMANDS.get(fold(recipient.nick))
        if service is not None:
            _serve(ctx, service, text)
    return True


def _serve(ctx: Context, service: Service, text: str) -> None:
    """Run one line sent to ``service``: the dispatcher both services share."""
    words = text.split()
    verb = words[0].upper() if words else ""
    args = words[1:]
    say = _speaker(ctx, service.nick)
    if not ctx.accounts.enabled:
        say("Accounts are disabled on this server.")
        return
    if verb == "HELP":
        topic = args[0].upper() if args else ""
        entry = service.commands.get(topic)
        if entry is not None and entry.help is not None:
            say(entry.help)
        elif topic == "HELP":
            say(_HELP_HELP)
        else:
            say(service.intro)
            for listed in service.commands.values():
                if listed.help is not None:
                    say(listed.help)
            say(_HELP_HELP)
        return
    found = service.commands.get(verb)
    if found is None:
        say(f"Unknown command {verb[:32]}. Send /msg {service.nick} HELP for the commands.")
        return
    found.handler(ctx, args)


def _speaker(ctx: Context, service_nick: str) -> Callable[[str], None]:
    return lambda text: service_notice(service_nick, ctx.client, text)


# -- NickServ --------------------------------------------------------------------------------------


def _ns(ctx: Context, text: str) -> None:
    service_notice("NickServ", ctx.client, text)


def _spawn_ns(ctx: Context, work: Coroutine[Any, Any, None]) -> None:
    """Run a NickServ command's store work; a failing store is answered, not left silent."""

    async def guarded() -> None:
        try:
            await work
        except STORE_FAILURES as exc:
            log.error("NickServ: the store failed: %s", exc)
            _ns(ctx, STORE_DOWN)

    ctx.wait_for(guarded())


def _ns_register(ctx: Context, args: list[str]) -> None:
    if not args:
        _ns(ctx, "Syntax: REGISTER <password> [email]")
        return
    password = args[0]
    email = args[1] if len(args) > 1 else None
    logins = ctx.accounts.logins
    refusal = logins.registration_refusal(ctx.client, ctx.client.nick, email, password)
    if refusal is not None:
        _ns(ctx, refusal[1])
        return

    async def run() -> None:
        nick = ctx.client.nick
        created = await logins.register(ctx.client, nick, email, password)
        if isinstance(created, tuple):
            _ns(ctx, created[1])
        elif logins.login(ctx.client, created):
            _ns(ctx, f"The account {nick} is registered; you are logged in.")

    _spawn_ns(ctx, run())


def _ns_identify(ctx: Context, args: list[str]) -> None:
    if not args or len(args) > 2:
        _ns(ctx, "Syntax: IDENTIFY [account] <password>")
        return
    client = ctx.client
    accounts = ctx.accounts
    name, password = (args[0], args[1]) if len(args) == 2 else (client.nick, args[0])
    if client.account is not None:
        _ns(ctx, f"You are already logged in as {client.account}.")
        return
    refusal = accounts.passwords.tls_refusal(client)
    if refusal is not None:
        _ns(ctx, f"Login refused: {refusal}.")
        return

    async def run() -> None:
        result = await accounts.passwords.check_password(client, name, password)
        if result.account is None:
            _ns(ctx, f"Login failed: {result.error}.")
            return
        if client.account is not None:
            return
        if accounts.logins.login(client, result.account):
            _ns(ctx, f"You are now logged in as {result.account.name}.")
            for channel in list(client.channels.values()):  # a founder or owner: op now
                founder_joined(ctx, channel)

    _spawn_ns(ctx, run())


def _ns_logout(ctx: Context, args: list[str]) -> None:
    if ctx.client.account is None:
        _ns(ctx, "You are not logged in.")
        return
    ctx.accounts.logins.logout(ctx.client)
    _ns(ctx, "You are now logged out.")


def _ns_info(ctx: Context, args: list[str]) -> None:
    client = ctx.client
    name = args[0] if args else (client.account or client.nick)

    async def run() -> None:
        account = await ctx.store.accounts.get(fold(name))
        if account is None:
            _ns(ctx, f"{name} is not a registered account.")
            return
        when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(account.created_at))
        _ns(ctx, f"Account {account.name}, registered {when}.")
        online = [c.nick for c in ctx.accounts.logins.logged_in(account.name_folded)]
        _ns(ctx, f"Logged in now: {', '.join(online) if online else 'nobody'}.")
        mine = client.account is not None and fold(client.account) == account.name_folded
        if account.email and (mine or client.is_oper):
            _ns(ctx, f"Email: {account.email}")
        if account.admin and (mine or client.is_oper):
            _ns(ctx, "This account is a server administrator.")

    _spawn_ns(ctx, run())


def _ns_drop(ctx: Context, args: list[str]) -> None:
    client = ctx.client
    if client.account is None:
        _ns(ctx, "Log in to the account you want to drop first.")
        return
    name = client.account
    name_folded = fold(name)
    accounts = ctx.accounts

    async def run() -> None:
        # With its private history: whoever registers the name later must not read it.
        dropped, _ = await ctx.store.forget(name_folded)
        if not dropped:
            _ns(ctx, f"The account {name} does not exist.")
            return
        registry = accounts.channels
        for channel_folded, record in list(registry.registered.items()):
            if record.founder is not None and fold(record.founder) == name_folded:
                registry.unregister(channel_folded)
        for other in accounts.logins.logged_in(name_folded):
            accounts.logins.logout(other)
        _ns(ctx, f"The account {name} is dropped.")

    _spawn_ns(ctx, run())


def _ns_set(ctx: Context, args: list[str]) -> None:
    client = ctx.client
    if len(args) != 2 or args[0].upper() != "PASSWORD":
        _ns(ctx, "Syntax: SET PASSWORD <new password>")
        return
    if client.account is None:
        _ns(ctx, "Log in first.")
        return
    refusal = ctx.accounts.passwords.tls_refusal(client)
    if refusal is not None:
        _ns(ctx, f"Refused: {refusal}.")
        return
    name_folded = fold(client.account)

    async def run() -> None:
        try:
            await ctx.store.accounts.set_password(name_folded, args[1])
        except InvalidPasswordError as exc:
            _ns(ctx, f"Password refused: {exc.problem.value}.")
            return
        except NoSuchAccountError:
            _ns(ctx, "Your account no longer exists.")
            return
        _ns(ctx, "Your password is changed.")

    _spawn_ns(ctx, run())


def _ns_ghost(ctx: Context, args: list[str]) -> None:
    _reclaim(ctx, args, "GHOST")


def _ns_regain(ctx: Context, args: list[str]) -> None:
    _reclaim(ctx, args, "REGAIN")


def _reclaim(ctx: Context, args: list[str], verb: str) -> None:
    """GHOST and REGAIN: the owner of a registered nick (logged in to it, or giving its
    password) disconnects, or renames to a guest nick, whoever holds it."""
    if not args or len(args) > 2:
        _ns(ctx, f"Syntax: {verb} <nick> [password]")
        return
    client = ctx.client
    nick = args[0]
    holder = ctx.network.find(nick)
    if holder is None or isinstance(holder.conn, ServiceConnection):
        _ns(ctx, f"{nick} is not online.")
        return
    if holder is client:
        _ns(ctx, f"You are {holder.nick} already.")
        return
    owner = client.account is not None and fold(client.account) == holder.nick_folded
    if owner:
        _do_reclaim(ctx, holder, verb)
        return
    if len(args) < 2:
        _ns(ctx, f"Log in to {holder.nick} first, or give its password: {verb} {nick} <password>")
        return
    refusal = ctx.accounts.passwords.tls_refusal(client)
    if refusal is not None:
        _ns(ctx, f"{verb} refused: {refusal}.")
        return
    wanted = holder.nick_folded

    async def run() -> None:
        result = await ctx.accounts.passwords.check_password(client, nick, args[1])
        if result.account is None:
            _ns(ctx, f"{verb} refused: {result.error}.")
            return
        now = ctx.network.find(nick)  # the holder may have left or renamed meanwhile
        if now is None or now.nick_folded != wanted or now is client or not client.registered:
            _ns(ctx, f"{nick} is not online any more.")
            return
        _do_reclaim(ctx, now, verb)

    _spawn_ns(ctx, run())


def _do_reclaim(ctx: Context, holder: Client, verb: str) -> None:
    client = ctx.client
    nick = holder.nick
    if verb == "GHOST":
        holder.conn.close(f"Ghosted by {client.nick}")
        _ns(ctx, f"{nick} has been disconnected.")
        return
    guest = ctx.accounts.protection.rename_to_guest(holder)
    service_notice("NickServ", holder, f"{nick} was taken back by its owner; you are {guest}.")
    ctx.network.rename(client, nick)
    ctx.accounts.protection.check_nick(client)  # logged in to another account: protected still


# -- ChanServ --------------------------------------------------------------------------------------


def _cs(ctx: Context, text: str) -> None:
    service_notice("ChanServ", ctx.client, text)


def _one_channel(verb: str, handler: Callable[[Context, str], None]) -> ServiceHandler:
    """A ChanServ command that takes exactly one ``#channel``."""

    def checked(ctx: Context, args: list[str]) -> None:
        if len(args) != 1 or not args[0].startswith("#"):
            _cs(ctx, f"Syntax: {verb} <#channel>")
            return
        handler(ctx, args[0])

    return checked


def _cs_register(ctx: Context, name: str) -> None:
    client = ctx.client
    registry = ctx.accounts.channels
    channel = ctx.network.find_channel(name)
    if client.account is None:
        _cs(ctx, "Log in to your account (NickServ) before registering a channel.")
    elif channel is None:
        _cs(ctx, f"{name} does not exist.")
    elif channel.name_folded in registry.registered:
        _cs(ctx, f"{channel.name} is already registered.")
    elif not channel.is_op(client):
        _cs(ctx, f"You must be an operator of {channel.name} to register it.")
    else:
        registry.register(channel, client.account)
        _cs(ctx, f"{channel.name} is registered to {client.account}.")


def _cs_info(ctx: Context, name: str) -> None:
    record = ctx.accounts.channels.registered.get(fold(name))
    if record is None:
        _cs(ctx, f"{name} is not registered.")
        return
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(record.registered_at or 0))
    _cs(ctx, f"{record.name}: founder {record.founder}, registered {when}.")
    channel = ctx.network.find_channel(name)
    if channel is not None and channel.topic and channel.visible_to(ctx.client):
        _cs(ctx, f"Topic: {channel.topic}")


def _cs_drop(ctx: Context, name: str) -> None:
    client = ctx.client
    registry = ctx.accounts.channels
    record = registry.registered.get(fold(name))
    if record is None:
        _cs(ctx, f"{name} is not registered.")
        return
    founder = record.founder is not None and client.account is not None
    if not (founder and fold(client.account or "") == fold(record.founder or "")) and not (
        client.is_oper
    ):
        _cs(ctx, f"Only the founder of {record.name} may drop it.")
        return
    registry.unregister(record.name_folded)
    _cs(ctx, f"{record.name} is no longer registered.")


def founder_joined(ctx: Context, channel: Channel) -> None:
    """ChanServ gives op to the founder of a registered channel when they join it, and to the
    operators and the owner account in the default channels (on joining, or on OPER)."""
    client = ctx.client
    if not ctx.accounts.channels.may_op(client, channel):
        return
    membership = channel.members.get(client)
    if membership is None or membership.op:
        return
    membership.op = True
    channel.names_changed()
    source = f"ChanServ!ChanServ@{SERVICES_HOST}"
    ctx.network.tell_channel(None, channel, "MODE", "+o", client.nick, prefix=source)


SERVICE_COMMANDS: dict[str, Service] = {
    fold("NickServ"): Service(
        "NickServ",
        "NickServ lets you register your nick as an account and log in to it. Commands:",
        {
            "REGISTER": ServiceCommand(
                _ns_register,
                "REGISTER <password> [email]: register your current nick as an account.",
            ),
            "IDENTIFY": ServiceCommand(
                _ns_identify,
                "IDENTIFY [account] <password>: log in (to the account of your nick by default).",
            ),
            "LOGIN": ServiceCommand(_ns_identify, None),
            "LOGOUT": ServiceCommand(_ns_logout, "LOGOUT: log out of your account."),
            "INFO": ServiceCommand(_ns_info, "INFO [nick]: show an account."),
            "DROP": ServiceCommand(
                _ns_drop,
                "DROP: delete your account, its private history and its registered channels.",
            ),
            "SET": ServiceCommand(
                _ns_set, "SET PASSWORD <new password>: change the password of your account."
            ),
            "GHOST": ServiceCommand(
                _ns_ghost,
                "GHOST <nick> [password]: disconnect whoever uses your registered nick.",
            ),
            "REGAIN": ServiceCommand(
                _ns_regain,
                "REGAIN <nick> [password]: take your registered nick back from whoever uses it.",
            ),
        },
    ),
    fold("ChanServ"): Service(
        "ChanServ",
        "ChanServ keeps a registered channel's topic, modes and bans. Commands:",
        {
            "REGISTER": ServiceCommand(
                _one_channel("REGISTER", _cs_register),
                "REGISTER <#channel>: register a channel you are an operator of.",
            ),
            "INFO": ServiceCommand(
                _one_channel("INFO", _cs_info), "INFO <#channel>: show a registered channel."
            ),
            "DROP": ServiceCommand(
                _one_channel("DROP", _cs_drop), "DROP <#channel>: unregister a channel you founded."
            ),
        },
    ),
}
"""Each service by folded nick, with its commands: the one table of NickServ and ChanServ."""
