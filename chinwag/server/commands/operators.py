"""Server operators: OPER (name and argon2id hash from the config), KILL, WALLOPS and REHASH."""

from __future__ import annotations

import asyncio
import logging

from chinwag.logs import fields
from chinwag.protocol import Message
from chinwag.protocol.numerics import (
    ERR_CANTKILLSERVER,
    ERR_NOSUCHNICK,
    ERR_PASSWDMISMATCH,
    RPL_REHASHING,
    RPL_YOUREOPER,
)
from chinwag.server.commands.base import CommandSpec, Context
from chinwag.server.commands.services import founder_joined
from chinwag.server.errors import IrcError
from chinwag.server.fanout import Outgoing, send_to_all
from chinwag.server.passwords import verify_password
from chinwag.server.services import ServiceConnection

__all__ = ["COMMANDS"]

log = logging.getLogger("chinwag.operators")


def handle_oper(ctx: Context, msg: Message) -> None:
    """OPER <name> <password>"""
    name, password = msg.params[0], msg.params[1]
    entry = next((o for o in ctx.config.opers if o.name == name), None)
    if entry is None:
        if ctx.accounts.enabled:
            ctx.wait_for(_oper_by_account(ctx, name, password))
            return
        log.warning(
            "failed OPER as %r from %s",
            name,
            ctx.client.ip,
            extra=fields("oper_failed", oper=name, nick=ctx.client.nick, ip=ctx.client.ip),
        )
        raise IrcError(ERR_PASSWDMISMATCH, "Password incorrect")
    ctx.wait_for(_finish_oper(ctx, name, entry.password_hash, password))


async def _oper_by_account(ctx: Context, name: str, password: str) -> None:
    """OPER with the name and password of an admin account (``chinwag admin create``)."""
    client = ctx.client
    result = await ctx.accounts.passwords.check_password(client, name, password)
    if not client.registered:
        return
    if result.account is None or not result.account.admin:
        log.warning(
            "failed OPER as %r from %s",
            name,
            client.ip,
            extra=fields("oper_failed", oper=name, nick=client.nick, ip=client.ip),
        )
        ctx.reply(ERR_PASSWDMISMATCH, "Password incorrect")
        return
    _grant_oper(ctx, result.account.name)


async def _finish_oper(ctx: Context, name: str, password_hash: str, password: str) -> None:
    async def verify() -> bool:
        return await asyncio.to_thread(verify_password, password_hash, password)

    client = ctx.client
    ok, refusal = await ctx.accounts.passwords.throttled(client, f"oper:{name}", verify)
    if not client.registered:
        return
    if not ok:
        log.warning(
            "failed OPER as %r from %s",
            name,
            client.ip,
            extra=fields("oper_failed", oper=name, nick=client.nick, ip=client.ip),
        )
        ctx.reply(ERR_PASSWDMISMATCH, f"Password incorrect{f' ({refusal})' if refusal else ''}")
        return
    _grant_oper(ctx, name)


def _grant_oper(ctx: Context, name: str) -> None:
    client = ctx.client
    ctx.network.set_user_mode(client, "o", True)
    client.oper_name = name
    log.info(
        "%s is now operator %r",
        client.nick,
        name,
        extra=fields("oper", nick=client.nick, oper=name, ip=client.ip),
    )
    ctx.reply(RPL_YOUREOPER, "You are now an IRC operator")
    client.send(
        Outgoing(client.prefix, "MODE", client.nick, "+o", account=client.account).line_for(client)
    )
    for channel in list(client.channels.values()):  # op in the common rooms, from ChanServ
        founder_joined(ctx, channel)


def handle_kill(ctx: Context, msg: Message) -> None:
    """KILL <nick> :<reason>"""
    ctx.require_oper()
    target = ctx.network.find(msg.params[0])
    if target is None:
        raise IrcError(ERR_NOSUCHNICK, msg.params[0], "No such nick/channel")
    if isinstance(target.conn, ServiceConnection):
        raise IrcError(ERR_CANTKILLSERVER, "You cannot kill a service")
    reason = msg.param(1) or "No reason given"
    log.info(
        "%s killed %s: %s",
        ctx.client.nick,
        target.nick,
        reason,
        extra=fields("kill", oper=ctx.client.oper_name, target=target.nick, reason=reason),
    )
    target.conn.close(f"Killed by {ctx.client.nick} ({reason})")


def handle_wallops(ctx: Context, msg: Message) -> None:
    """WALLOPS :<text>"""
    ctx.require_oper()
    outgoing = Outgoing(ctx.client.prefix, "WALLOPS", msg.params[0], account=ctx.client.account)
    send_to_all((c for c in ctx.network.clients.values() if "w" in c.modes), outgoing)


def handle_rehash(ctx: Context, msg: Message) -> None:
    """REHASH: re-read the configuration file, as SIGHUP does."""
    ctx.require_oper()
    if ctx.reload is None:
        ctx.network.notice(ctx.client, "This server was not started from a configuration file")
        return
    ctx.reply(RPL_REHASHING, "chinwag.toml", "Rehashing")
    ctx.network.notice(ctx.client, ctx.reload().summary())


COMMANDS: dict[str, CommandSpec] = {
    "OPER": CommandSpec(handle_oper, min_params=2),
    "KILL": CommandSpec(handle_kill, min_params=2),
    "WALLOPS": CommandSpec(handle_wallops, min_params=1),
    "REHASH": CommandSpec(handle_rehash),
}
