"""NickServ and ChanServ: pseudo-users that classic clients talk to with ``/msg``.

They are `Client` objects with a connection that discards everything sent to it, registered in
the nick index, so that nobody can take their nicks and WHOIS, ISON and WHO show them like
anyone else. ``PRIVMSG NickServ :...`` is routed here by ``commands/messaging.py`` (and never
stored in history: it carries passwords). Every answer is a NOTICE from
``NickServ!NickServ@services.`` to the asker.

NickServ: REGISTER, IDENTIFY, LOGOUT, INFO, DROP, SET PASSWORD, HELP.
ChanServ: REGISTER, INFO, DROP, HELP. A registered channel keeps its topic, modes, key, limit
and bans across restarts (see `chinwag.server.accounts`), and its founder gets op on joining.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from chinwag.protocol import fold
from chinwag.server.accounts import channel_record
from chinwag.server.connection import Connection
from chinwag.server.fanout import Outgoing, send_to_all
from chinwag.server.state import Channel, Client, RegState

if TYPE_CHECKING:
    from chinwag.server.app import Server
    from chinwag.server.commands.base import Context

__all__ = [
    "SERVICE_NICKS",
    "ServiceConnection",
    "create_services",
    "deliver_to_service",
    "founder_joined",
    "is_founder",
    "is_service_nick",
    "nickserv_notice",
]

SERVICES_HOST = "services."
SERVICE_NICKS = ("NickServ", "ChanServ")
_RESERVED_FOLDED = frozenset(fold(nick) for nick in SERVICE_NICKS)

_NICKSERV_HELP = {
    "REGISTER": "REGISTER <password> [email]: register your current nick as an account.",
    "IDENTIFY": "IDENTIFY [account] <password>: log in (to the account of your nick by default).",
    "LOGOUT": "LOGOUT: log out of your account.",
    "INFO": "INFO [nick]: show an account.",
    "DROP": "DROP: delete your account, its private history and its registered channels.",
    "SET": "SET PASSWORD <new password>: change the password of your account.",
    "HELP": "HELP [command]: this help.",
}
_CHANSERV_HELP = {
    "REGISTER": "REGISTER <#channel>: register a channel you are an operator of.",
    "INFO": "INFO <#channel>: show a registered channel.",
    "DROP": "DROP <#channel>: unregister a channel you founded.",
    "HELP": "HELP [command]: this help.",
}


def is_service_nick(nick: str) -> bool:
    """True for the nicks of the services, which nobody may take or register."""
    return fold(nick) in _RESERVED_FOLDED


class ServiceConnection(Connection):
    """The connection of a service: it has no socket and discards what it is sent."""

    def enqueue(self, data: bytes) -> None:
        """Lines sent to a service are dropped (PRIVMSG is routed before it gets here)."""

    def flush(self) -> None:
        """Nothing to write."""

    def close(self, reason: str, *, abort: bool = False, quit_message: str | None = None) -> None:
        """A service cannot be disconnected (KILL NickServ does nothing)."""


def create_services(server: Server) -> None:
    """Put NickServ and ChanServ in the nick index of ``server``'s network."""
    network = server.network
    for nick in SERVICE_NICKS:
        if network.find(nick) is not None:
            continue
        service = Client(
            conn=ServiceConnection(server),
            host=SERVICES_HOST,
            ip=SERVICES_HOST,
            user=nick,
            realname=f"{nick[:-4]} services",
            modes={"i"},  # out of WHO listings; WHOIS still shows them
        )
        service.conn.client = service
        network.claim_nick(service, nick)
        service.state = RegState.REGISTERED


def _notice(server: Server, service_nick: str, client: Client, text: str) -> None:
    if client.state is RegState.CLOSED:
        return
    source = f"{service_nick}!{service_nick}@{SERVICES_HOST}"
    outgoing = Outgoing(source, "NOTICE", client.nick, text)
    client.send(outgoing.line_for(client))


def nickserv_notice(server: Server, client: Client, text: str) -> None:
    """Send ``text`` to ``client`` as a NOTICE from NickServ."""
    _notice(server, "NickServ", client, text)


def deliver_to_service(ctx: Context, recipient: Client, command: str, text: str | None) -> bool:
    """Hand a message to a service; False when ``recipient`` is not one.

    Only PRIVMSG is answered: replying to a NOTICE could start a loop between two bots.
    """
    if not isinstance(recipient.conn, ServiceConnection):
        return False
    if command == "PRIVMSG" and text:
        handler = _HANDLERS.get(fold(recipient.nick))
        if handler is not None:
            handler(ctx, text)
    return True


# -- NickServ --------------------------------------------------------------------------------------


def _ns(ctx: Context, text: str) -> None:
    nickserv_notice(ctx.server, ctx.client, text)


def _nickserv(ctx: Context, text: str) -> None:
    words = text.split()
    verb = words[0].upper() if words else ""
    args = words[1:]
    if not ctx.server.accounts.enabled:
        _ns(ctx, "Accounts are disabled on this server.")
        return
    handler = _NICKSERV_COMMANDS.get(verb)
    if handler is None:
        _ns(ctx, f"Unknown command {verb[:32]}. Send /msg NickServ HELP for the commands.")
        return
    handler(ctx, args)


def _ns_help(ctx: Context, args: list[str]) -> None:
    if args and args[0].upper() in _NICKSERV_HELP:
        _ns(ctx, _NICKSERV_HELP[args[0].upper()])
        return
    _ns(ctx, "NickServ lets you register your nick as an account and log in to it. Commands:")
    for line in _NICKSERV_HELP.values():
        _ns(ctx, line)


def _ns_register(ctx: Context, args: list[str]) -> None:
    if not args:
        _ns(ctx, "Syntax: REGISTER <password> [email]")
        return
    password = args[0]
    email = args[1] if len(args) > 1 else None
    accounts = ctx.server.accounts
    refusal = accounts.registration_refusal(ctx.client, ctx.client.nick, email, password)
    if refusal is not None:
        _ns(ctx, refusal[1])
        return

    async def run() -> None:
        nick = ctx.client.nick
        created = await accounts.register(ctx.client, nick, email, password)
        if isinstance(created, tuple):
            _ns(ctx, created[1])
        elif accounts.login(ctx.client, created):
            _ns(ctx, f"The account {nick} is registered; you are logged in.")

    ctx.wait_for(run())


def _ns_identify(ctx: Context, args: list[str]) -> None:
    if not args or len(args) > 2:
        _ns(ctx, "Syntax: IDENTIFY [account] <password>")
        return
    client = ctx.client
    accounts = ctx.server.accounts
    name, password = (args[0], args[1]) if len(args) == 2 else (client.nick, args[0])
    if client.account is not None:
        _ns(ctx, f"You are already logged in as {client.account}.")
        return
    refusal = accounts.tls_refusal(client)
    if refusal is not None:
        _ns(ctx, f"Login refused: {refusal}.")
        return

    async def run() -> None:
        result = await accounts.check_password(client, name, password)
        if result.account is None:
            _ns(ctx, f"Login failed: {result.error}.")
            return
        if client.account is not None:
            return
        if accounts.login(client, result.account):
            _ns(ctx, f"You are now logged in as {result.account.name}.")

    ctx.wait_for(run())


def _ns_logout(ctx: Context, args: list[str]) -> None:
    if ctx.client.account is None:
        _ns(ctx, "You are not logged in.")
        return
    ctx.server.accounts.logout(ctx.client)
    _ns(ctx, "You are now logged out.")


def _ns_info(ctx: Context, args: list[str]) -> None:
    client = ctx.client
    name = args[0] if args else (client.account or client.nick)

    async def run() -> None:
        account = await ctx.server.store.accounts.get(fold(name))
        if account is None:
            _ns(ctx, f"{name} is not a registered account.")
            return
        when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(account.created_at))
        _ns(ctx, f"Account {account.name}, registered {when}.")
        online = [c.nick for c in ctx.server.accounts.logged_in(account.name_folded)]
        _ns(ctx, f"Logged in now: {', '.join(online) if online else 'nobody'}.")
        mine = client.account is not None and fold(client.account) == account.name_folded
        if account.email and (mine or client.is_oper):
            _ns(ctx, f"Email: {account.email}")
        if account.admin and (mine or client.is_oper):
            _ns(ctx, "This account is a server administrator.")

    ctx.wait_for(run())


def _ns_drop(ctx: Context, args: list[str]) -> None:
    client = ctx.client
    if client.account is None:
        _ns(ctx, "Log in to the account you want to drop first.")
        return
    name = client.account
    name_folded = fold(name)
    accounts = ctx.server.accounts

    async def run() -> None:
        # With its private history: whoever registers the name later must not read it.
        dropped, _ = await ctx.server.store.forget(name_folded)
        if not dropped:
            _ns(ctx, f"The account {name} does not exist.")
            return
        for channel_folded, record in list(accounts.registered.items()):
            if record.founder is not None and fold(record.founder) == name_folded:
                _unregister_channel(ctx.server, channel_folded)
        for other in accounts.logged_in(name_folded):
            accounts.logout(other)
        _ns(ctx, f"The account {name} is dropped.")

    ctx.wait_for(run())


def _ns_set(ctx: Context, args: list[str]) -> None:
    client = ctx.client
    if len(args) != 2 or args[0].upper() != "PASSWORD":
        _ns(ctx, "Syntax: SET PASSWORD <new password>")
        return
    if client.account is None:
        _ns(ctx, "Log in first.")
        return
    refusal = ctx.server.accounts.tls_refusal(client)
    if refusal is not None:
        _ns(ctx, f"Refused: {refusal}.")
        return
    from chinwag.store import InvalidPasswordError, NoSuchAccountError

    name_folded = fold(client.account)

    async def run() -> None:
        try:
            await ctx.server.store.accounts.set_password(name_folded, args[1])
        except InvalidPasswordError as exc:
            _ns(ctx, f"Password refused: {exc.problem.value}.")
            return
        except NoSuchAccountError:
            _ns(ctx, "Your account no longer exists.")
            return
        _ns(ctx, "Your password is changed.")

    ctx.wait_for(run())


_NICKSERV_COMMANDS: dict[str, Callable[[Context, list[str]], None]] = {
    "HELP": _ns_help,
    "REGISTER": _ns_register,
    "IDENTIFY": _ns_identify,
    "LOGIN": _ns_identify,
    "LOGOUT": _ns_logout,
    "INFO": _ns_info,
    "DROP": _ns_drop,
    "SET": _ns_set,
}


# -- ChanServ --------------------------------------------------------------------------------------


def _cs(ctx: Context, text: str) -> None:
    _notice(ctx.server, "ChanServ", ctx.client, text)


def _chanserv(ctx: Context, text: str) -> None:
    words = text.split()
    verb = words[0].upper() if words else ""
    args = words[1:]
    if not ctx.server.accounts.enabled:
        _cs(ctx, "Accounts are disabled on this server.")
        return
    if verb == "HELP":
        if args and args[0].upper() in _CHANSERV_HELP:
            _cs(ctx, _CHANSERV_HELP[args[0].upper()])
            return
        _cs(ctx, "ChanServ keeps a registered channel's topic, modes and bans. Commands:")
        for line in _CHANSERV_HELP.values():
            _cs(ctx, line)
        return
    handler = _CHANSERV_COMMANDS.get(verb)
    if handler is None:
        _cs(ctx, f"Unknown command {verb[:32]}. Send /msg ChanServ HELP for the commands.")
        return
    if len(args) != 1 or not args[0].startswith("#"):
        _cs(ctx, f"Syntax: {verb} <#channel>")
        return
    handler(ctx, args[0])


def _cs_register(ctx: Context, name: str) -> None:
    client = ctx.client
    accounts = ctx.server.accounts
    channel = ctx.network.find_channel(name)
    if client.account is None:
        _cs(ctx, "Log in to your account (NickServ) before registering a channel.")
    elif channel is None:
        _cs(ctx, f"{name} does not exist.")
    elif channel.name_folded in accounts.registered:
        _cs(ctx, f"{channel.name} is already registered.")
    elif not channel.is_op(client):
        _cs(ctx, f"You must be an operator of {channel.name} to register it.")
    else:
        record = channel_record(channel, client.account, time.time())
        accounts.registered[channel.name_folded] = record
        channel.permanent = True
        ctx.server.store.channels.save(record)
        _cs(ctx, f"{channel.name} is registered to {client.account}.")


def _cs_info(ctx: Context, name: str) -> None:
    record = ctx.server.accounts.registered.get(fold(name))
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
    record = ctx.server.accounts.registered.get(fold(name))
    if record is None:
        _cs(ctx, f"{name} is not registered.")
        return
    founder = record.founder is not None and client.account is not None
    if not (founder and fold(client.account or "") == fold(record.founder or "")) and not (
        client.is_oper
    ):
        _cs(ctx, f"Only the founder of {record.name} may drop it.")
        return
    _unregister_channel(ctx.server, record.name_folded)
    _cs(ctx, f"{record.name} is no longer registered.")


def _unregister_channel(server: Server, name_folded: str) -> None:
    record = server.accounts.registered.pop(name_folded, None)
    if record is None:
        return
    server.store.channels.delete(name_folded)
    channel = server.network.channels.get(name_folded)
    if channel is None:
        return
    default = {fold(n) for n in server.config.server.default_channels}
    if name_folded not in default:
        channel.permanent = False
        if not channel.members:
            server.network.channels.pop(name_folded, None)


_CHANSERV_COMMANDS: dict[str, Callable[[Context, str], None]] = {
    "REGISTER": _cs_register,
    "INFO": _cs_info,
    "DROP": _cs_drop,
}


def is_founder(ctx: Context, channel: Channel) -> bool:
    """True when the client is logged in to the founder account of registered ``channel``."""
    record = ctx.server.accounts.registered.get(channel.name_folded)
    account = ctx.client.account
    if record is None or record.founder is None or account is None:
        return False
    return fold(record.founder) == fold(account)


def founder_joined(ctx: Context, channel: Channel) -> None:
    """ChanServ gives op to the founder of a registered channel when they join it."""
    client = ctx.client
    if not is_founder(ctx, channel):
        return
    membership = channel.members.get(client)
    if membership is None or membership.op:
        return
    membership.op = True
    source = f"ChanServ!ChanServ@{SERVICES_HOST}"
    send_to_all(channel.members, Outgoing(source, "MODE", channel.name, "+o", client.nick))


_HANDLERS: dict[str, Callable[[Context, str], None]] = {
    fold("NickServ"): _nickserv,
    fold("ChanServ"): _chanserv,
}
