"""WHO, with the WHOX extension (``WHO <mask> %<fields>[,<token>]``) that weechat and irssi use
to fill their nick lists with accounts.

A plain WHO answers 352 per user; a WHOX request answers 354 with the fields the client asked
for, always in the order of the specification (``tcuihsnfdlaor``) whatever the order asked in,
with the token (up to three digits) echoed back so the client can match the reply to its query.
An unknown field letter is ignored; ``a`` is ``0`` for a user who is not logged in, ``o`` (op
level, which this server does not have) is ``n/a``, and ``i`` (the IP address) is shown to
server operators and to the user itself only (``255.255.255.255`` to the others, as other
servers do). Flags: ``H``/``G`` (here/gone), ``*`` server operator, ``B`` bot (``draft/bot``),
then the channel prefixes.
"""

from __future__ import annotations

import time

from chinwag.protocol import Message, mask_matches
from chinwag.protocol.numerics import RPL_ENDOFWHO, RPL_WHOREPLY, RPL_WHOSPCRPL
from chinwag.server.commands.base import CommandSpec, Context
from chinwag.server.state import Cap, Channel, Client

__all__ = ["BOT_MODE", "COMMANDS", "WHOX_FIELDS"]

BOT_MODE = "B"
"""The user mode of a bot (``draft/bot``; the ISUPPORT token ``BOT=B``)."""

WHOX_FIELDS = "tcuihsnfdlaor"
"""The WHOX field letters, in the order their values are sent."""

_HIDDEN_IP = "255.255.255.255"
_MAX_TOKEN = 3


def _flags(viewer: Client, target: Client, channel: Channel | None) -> str:
    flags = "G" if target.away is not None else "H"
    if target.is_oper:
        flags += "*"
    if BOT_MODE in target.modes:
        flags += BOT_MODE
    if channel is not None:
        membership = channel.members.get(target)
        if membership is not None:
            flags += membership.prefixes(viewer.has(Cap.MULTI_PREFIX))
    return flags


class _Query:
    """What one WHO asked for: plain (352) or WHOX (354) with its fields and token."""

    __slots__ = ("fields", "only_opers", "token", "whox")

    def __init__(self, options: str) -> None:
        flags, percent, spec = options.partition("%")
        self.only_opers = "o" in flags
        self.whox = bool(percent)
        fields, _, token = spec.partition(",")
        self.fields = frozenset(fields)
        token = token[:_MAX_TOKEN]
        self.token = token if token.isdigit() else "0"


def _reply(ctx: Context, query: _Query, target: Client, channel: Channel | None) -> None:
    viewer = ctx.client
    if channel is None and target.channels:
        shared = ctx.network.visible_channels(viewer, target)
        channel = shared[0] if shared else None
    channel_name = channel.name if channel is not None else "*"
    server = target.server or ctx.network.name
    if not query.whox:
        flags = _flags(viewer, target, channel)
        ctx.reply(
            RPL_WHOREPLY,
            channel_name,
            target.user,
            target.host,
            server,
            target.nick,
            flags,
            f"0 {target.realname}",
        )
        return
    values: dict[str, str] = {
        "t": query.token,
        "c": channel_name,
        "u": target.user,
        "i": target.ip if viewer.is_oper or viewer is target else _HIDDEN_IP,
        "h": target.host,
        "s": server,
        "n": target.nick,
        "f": _flags(viewer, target, channel),
        "d": "0",
        "l": str(max(0, int(time.time() - target.last_active))),
        "a": target.account or "0",
        "o": "n/a",
        "r": target.realname,
    }
    ctx.reply(RPL_WHOSPCRPL, *[values[letter] for letter in WHOX_FIELDS if letter in query.fields])


def _visible(viewer: Client, target: Client) -> bool:
    """Invisible (+i) users are seen only by those who share a channel with them."""
    if "i" not in target.modes or target is viewer or viewer.is_oper:
        return True
    return any(viewer in channel.members for channel in target.channels.values())


def handle_who(ctx: Context, msg: Message) -> None:
    """WHO [<mask> [o][%<fields>[,<token>]]]"""
    mask = msg.param(0, "*") or "*"
    query = _Query(msg.param(1))
    viewer = ctx.client
    replies = 0
    if mask.startswith("#"):
        channel = ctx.network.find_channel(mask)
        if channel is not None and channel.visible_to(viewer):
            inside = viewer in channel.members
            for member in list(channel.members):
                if (inside or "i" not in member.modes) and not (
                    query.only_opers and not member.is_oper
                ):
                    _reply(ctx, query, member, channel)
                    replies += 1
    else:
        exact = ctx.network.find(mask)
        if exact is not None and exact.registered:
            targets = [exact]
        else:
            pattern = mask if mask not in ("0", "") else "*"
            targets = [
                c
                for c in ctx.network.clients.values()
                if c.registered
                and _visible(viewer, c)
                and (mask_matches(pattern, c.nick) or mask_matches(pattern, c.prefix))
            ]
        for target in targets:
            if not (query.only_opers and not target.is_oper):
                _reply(ctx, query, target, None)
                replies += 1
    ctx.reply(RPL_ENDOFWHO, mask, "End of /WHO list")
    viewer.conn.charge(replies)  # a long answer costs flood budget


COMMANDS: dict[str, CommandSpec] = {
    "WHO": CommandSpec(handle_who),
}
