"""A user's own status: AWAY and SETNAME, told to those who share a channel or MONITOR the user
(``extended-monitor``) and asked for it."""

from __future__ import annotations

from chinwag.protocol import Message
from chinwag.protocol.numerics import RPL_NOWAWAY, RPL_UNAWAY
from chinwag.server.commands.base import CommandSpec, Context

__all__ = ["COMMANDS"]


def handle_away(ctx: Context, msg: Message) -> None:
    """AWAY [:<message>]"""
    client = ctx.client
    text = msg.param(0)[: ctx.limits.away_length]
    client.away = text or None
    if text:
        ctx.reply(RPL_NOWAWAY, "You have been marked as being away")
        ctx.network.tell_status(client, "AWAY", text)
    else:
        ctx.reply(RPL_UNAWAY, "You are no longer marked as being away")
        ctx.network.tell_status(client, "AWAY")


def handle_setname(ctx: Context, msg: Message) -> None:
    """SETNAME :<realname> (IRCv3 setname)"""
    client = ctx.client
    client.realname = msg.params[0][: ctx.limits.realname_length]
    ctx.network.tell_status(client, "SETNAME", client.realname)


COMMANDS: dict[str, CommandSpec] = {
    "AWAY": CommandSpec(handle_away),
    "SETNAME": CommandSpec(handle_setname, min_params=1),
}
