"""Connection registration: PASS, NICK, USER, and completing it.

Registration completes when the client has a nick, has sent USER, and is not in the middle of
capability negotiation (``CAP LS``/``REQ`` suspend it until ``CAP END``, IRCv3 capability
negotiation, ``commands/capabilities.py``) or of a SASL password check. If the server has a
password, PASS is checked then, off the event loop, because argon2 is slow on purpose. Then the
welcome burst (``commands/welcome.py``) and the default channels.
"""

from __future__ import annotations

import asyncio
import logging

from chinwag.logs import fields
from chinwag.protocol import Message, is_valid_nick
from chinwag.protocol.numerics import (
    ERR_ALREADYREGISTERED,
    ERR_ERRONEUSNICKNAME,
    ERR_NEEDMOREPARAMS,
    ERR_NICKNAMEINUSE,
    ERR_NONICKNAMEGIVEN,
    ERR_PASSWDMISMATCH,
    ERR_UNAVAILRESOURCE,
)
from chinwag.protocol.validate import sanitize_username
from chinwag.server.commands.base import CommandSpec, Context
from chinwag.server.commands.channels import join_channel
from chinwag.server.commands.welcome import send_welcome
from chinwag.server.errors import IrcError
from chinwag.server.passwords import verify_password
from chinwag.server.state import RegState

__all__ = ["COMMANDS", "complete_registration", "try_register"]

log = logging.getLogger("chinwag.registration")

UNAVAILABLE = "Nick is temporarily unavailable"
"""437 to a nick claim the network (its Redis) could not answer: the client may try again."""


# -- PASS, NICK, USER ------------------------------------------------------------------------------


def handle_pass(ctx: Context, msg: Message) -> None:
    """PASS <password>"""
    if ctx.client.state is not RegState.CONNECTED:
        raise IrcError(ERR_ALREADYREGISTERED, "You may not reregister")
    ctx.client.password = msg.params[0]


def handle_nick(ctx: Context, msg: Message) -> None:
    """NICK <nickname>"""
    client = ctx.client
    nick = msg.param(0)
    if not nick:
        raise IrcError(ERR_NONICKNAMEGIVEN, "No nickname given")
    if not is_valid_nick(nick, ctx.limits.nick_length):
        raise IrcError(ERR_ERRONEUSNICKNAME, nick, "Erroneous nickname")
    if nick == client.nick:
        return
    if ctx.network.nick_in_use(nick, client):
        raise IrcError(ERR_NICKNAMEINUSE, nick, "Nickname is already in use")
    if client.registered and ctx.network.observer is not None:
        ctx.wait_for(_claim_and_rename(ctx, nick))  # one network: free everywhere first
        return
    if client.registered:
        ctx.network.rename(client, nick)
        ctx.accounts.protection.check_nick(client)
        return
    ctx.network.claim_nick(client, nick)


def handle_user(ctx: Context, msg: Message) -> None:
    """USER <user> <mode> <unused> :<realname>"""
    client = ctx.client
    if client.user or client.state is not RegState.CONNECTED:
        raise IrcError(ERR_ALREADYREGISTERED, "You may not reregister")
    if not msg.params[0] or not msg.params[3]:
        # modern.ircdocs.horse: an empty username or realname is "not enough parameters".
        raise IrcError(ERR_NEEDMOREPARAMS, "USER", "Not enough parameters")
    client.user = sanitize_username(msg.params[0])
    client.realname = msg.params[3][: ctx.limits.realname_length]


def try_register(ctx: Context) -> None:
    """Finish registration when NICK, USER, CAP negotiation and SASL are all done.

    `dispatch` calls this after every command of an unregistered client (as ergo does), and
    the SASL check calls it when it ends: no handler needs to know what completes registration.
    """
    client = ctx.client
    if (
        client.state is not RegState.CONNECTED
        or client.nick == "*"
        or not client.user
        or client.cap_negotiating
        or ctx.accounts.logins.sasl_holds_registration(client)
    ):
        return
    password_hash = ctx.config.server.password_hash
    if ctx.network.observer is not None:
        client.state = RegState.VERIFYING
        ctx.wait_for(_claim_then_register(ctx, password_hash))
        return
    if not password_hash:
        complete_registration(ctx)
        return
    client.state = RegState.VERIFYING
    ctx.wait_for(_check_password(ctx, password_hash))


async def _claim_then_register(ctx: Context, password_hash: str) -> None:
    """One network of nodes: the nick must be claimed network-wide before the welcome."""
    client = ctx.client
    observer = ctx.network.observer
    assert observer is not None
    nick = client.nick
    won = await observer.claim(client, nick)
    if client.state is not RegState.VERIFYING:
        return  # gone meanwhile
    client.state = RegState.CONNECTED
    if won is None:  # the network cannot be asked now: the client may try again
        ctx.reply(ERR_UNAVAILRESOURCE, nick, UNAVAILABLE)
        ctx.network.release_nick(client)
        return
    if not won or client.nick != nick:
        ctx.reply(ERR_NICKNAMEINUSE, nick, "Nickname is already in use")
        ctx.network.release_nick(client)
        return
    if password_hash:
        client.state = RegState.VERIFYING
        await _check_password(ctx, password_hash)
        return
    complete_registration(ctx)


async def _claim_and_rename(ctx: Context, nick: str) -> None:
    client = ctx.client
    observer = ctx.network.observer
    assert observer is not None
    won = await observer.claim(client, nick)
    if not client.registered:
        return
    if won is None:
        ctx.reply(ERR_UNAVAILRESOURCE, nick, UNAVAILABLE)
        return
    if not won or ctx.network.nick_in_use(nick, client):
        ctx.reply(ERR_NICKNAMEINUSE, nick, "Nickname is already in use")
        return
    ctx.network.rename(client, nick)
    ctx.accounts.protection.check_nick(client)


async def _check_password(ctx: Context, password_hash: str) -> None:
    client = ctx.client
    given = client.password or ""
    client.password = None

    async def verify() -> bool:
        return bool(given) and await asyncio.to_thread(verify_password, password_hash, given)

    # Paid for per address, like a login: the server password is a password to guess too.
    ok, refusal = await ctx.accounts.passwords.throttled(client, f"pass:{client.ip}", verify)
    if client.state is not RegState.VERIFYING:
        return
    if not ok:
        ctx.reply(ERR_PASSWDMISMATCH, f"Password incorrect{f' ({refusal})' if refusal else ''}")
        client.conn.close("Bad password")
        return
    client.state = RegState.CONNECTED
    complete_registration(ctx)


def complete_registration(ctx: Context) -> None:
    """Send the welcome burst, then put the user in the common rooms."""
    client = ctx.client
    network = ctx.network
    if ctx.accounts.bans.refuse_banned(client):
        return
    network.mark_registered(client)
    if log.isEnabledFor(logging.INFO):  # its fields cost more than the check, at every arrival
        log.info(
            "registered %s (%s) from %s",
            client.nick,
            client.prefix,
            client.ip,
            extra=fields("registered", nick=client.nick, account=client.account, ip=client.ip),
        )
    send_welcome(ctx)
    for name in ctx.config.server.default_channels:
        try:
            join_channel(ctx, name, None)
        except IrcError as err:
            ctx.reply(err.numeric, *err.params)
    ctx.accounts.protection.check_nick(client)


COMMANDS: dict[str, CommandSpec] = {
    "PASS": CommandSpec(handle_pass, min_params=1, before_registration=True),
    "NICK": CommandSpec(handle_nick, before_registration=True),
    "USER": CommandSpec(handle_user, min_params=4, before_registration=True),
}
