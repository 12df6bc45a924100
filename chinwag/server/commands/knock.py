"""KNOCK: ask the operators of an invite-only channel for an invitation.

The operators get 710 (``<channel> <nick!user@host> :<message>``), the knocker 711. A user may
knock on one channel once a minute (712 meanwhile), so KNOCK cannot be used to flood the
operators; a channel that is not ``+i`` needs no knock (713), nor does one you are on (714), and
a banned user is refused as JOIN would refuse them (474). On a network the operators on every
node are told (`Network.knock`); the once-a-minute rule is kept by the knocker's node.
"""

from __future__ import annotations

import time

from chinwag.protocol import Message
from chinwag.protocol.numerics import (
    ERR_BANNEDFROMCHAN,
    ERR_CHANOPEN,
    ERR_KNOCKONCHAN,
    ERR_TOOMANYKNOCK,
    RPL_KNOCKDLVR,
)
from chinwag.server.commands.base import CommandSpec, Context
from chinwag.server.commands.channels import require_channel
from chinwag.server.errors import IrcError
from chinwag.server.state import Channel

__all__ = ["COMMANDS", "KNOCK_INTERVAL"]

KNOCK_INTERVAL = 60.0
"""Seconds between two knocks of one user on one channel."""


def _forget_old(channel: Channel, now: float) -> None:
    for knocker, when in list(channel.knocks.items()):
        if now - when >= KNOCK_INTERVAL:
            del channel.knocks[knocker]


def handle_knock(ctx: Context, msg: Message) -> None:
    """KNOCK <channel> [:<message>]"""
    client = ctx.client
    channel = require_channel(ctx, msg.params[0])
    if client in channel.members:
        raise IrcError(ERR_KNOCKONCHAN, channel.name, "You're already on that channel")
    if "i" not in channel.modes:
        raise IrcError(ERR_CHANOPEN, channel.name, "Channel is open")
    if channel.is_banned(client):
        raise IrcError(ERR_BANNEDFROMCHAN, channel.name, "Cannot knock on channel (+b)")
    now = time.monotonic()
    _forget_old(channel, now)
    if client in channel.knocks:
        raise IrcError(ERR_TOOMANYKNOCK, channel.name, "Too many KNOCKs (one a minute)")
    channel.knocks[client] = now
    ctx.network.knock(client, channel, msg.param(1) or "has asked for an invite")
    ctx.reply(RPL_KNOCKDLVR, channel.name, "Your KNOCK has been delivered")


COMMANDS: dict[str, CommandSpec] = {
    "KNOCK": CommandSpec(handle_knock, min_params=1),
}
