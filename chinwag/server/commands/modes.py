"""MODE for users (``+i``, ``+w``, ``-o``) and channels (``+o +v +n +t +m +i +s +k +l +b``).

A channel mode line is read left to right (RFC 2812 section 3.2.3): a sign switches between adding
and removing, and ``o v b k l`` take a parameter (``-l`` and a listing ``b`` do not). Only the
changes that took effect are echoed to the channel, in one MODE line.
"""

from __future__ import annotations

from chinwag.protocol import Message, is_valid_mask_param, normalize_mask, parse_count
from chinwag.protocol.numerics import (
    ERR_INVALIDKEY,
    ERR_INVALIDMODEPARAM,
    ERR_NEEDMOREPARAMS,
    ERR_NOSUCHNICK,
    ERR_NOTONCHANNEL,
    ERR_UMODEUNKNOWNFLAG,
    ERR_UNKNOWNMODE,
    ERR_USERNOTINCHANNEL,
    ERR_USERSDONTMATCH,
    RPL_BANLIST,
    RPL_CHANNELMODEIS,
    RPL_CREATIONTIME,
    RPL_ENDOFBANLIST,
    RPL_UMODEIS,
)
from chinwag.server.commands.base import CommandSpec, Context
from chinwag.server.commands.channels import require_channel, require_op
from chinwag.server.errors import IrcError
from chinwag.server.fanout import Outgoing, send_to_all
from chinwag.server.state import Channel

__all__ = ["COMMANDS"]

_FLAG_MODES = frozenset("imnst")
_MAX_PARAM_MODES = 4


def handle_mode(ctx: Context, msg: Message) -> None:
    """MODE <target> [<modestring> [<mode arguments>...]]"""
    target = msg.params[0]
    if target.startswith("#"):
        _channel_mode(ctx, require_channel(ctx, target), msg.params[1:])
    else:
        _user_mode(ctx, target, msg.params[1:])


def _user_mode(ctx: Context, nick: str, args: tuple[str, ...]) -> None:
    client = ctx.client
    target = ctx.network.find(nick)
    if target is None:
        raise IrcError(ERR_NOSUCHNICK, nick, "No such nick/channel")
    if target is not client:
        raise IrcError(ERR_USERSDONTMATCH, "Can't change mode for other users")
    if not args:
        ctx.reply(RPL_UMODEIS, "+" + "".join(sorted(client.modes)))
        return
    adding = True
    changes: list[tuple[bool, str]] = []
    unknown = False
    for char in args[0]:
        if char in "+-":
            adding = char == "+"
        elif char in "iw":
            if ctx.network.set_user_mode(client, char, adding):
                changes.append((adding, char))
        elif char == "o":
            if not adding and ctx.network.set_user_mode(client, "o", False):
                client.oper_name = None
                changes.append((False, "o"))
        else:
            unknown = True
    if unknown:
        ctx.reply(ERR_UMODEUNKNOWNFLAG, "Unknown MODE flag")
    if changes:
        client.send(Outgoing(client.prefix, "MODE", client.nick, _mode_text(changes)).plain)


def _mode_text(changes: list[tuple[bool, str]]) -> str:
    text = ""
    sign = ""
    for adding, char in changes:
        wanted = "+" if adding else "-"
        if wanted != sign:
            text += wanted
            sign = wanted
        text += char
    return text


def _channel_mode(ctx: Context, channel: Channel, args: tuple[str, ...]) -> None:
    client = ctx.client
    if not channel.visible_to(client):
        raise IrcError(ERR_NOTONCHANNEL, channel.name, "You're not on that channel")
    if not args:
        ctx.reply(RPL_CHANNELMODEIS, channel.name, *channel.mode_string(client in channel.members))
        ctx.reply(RPL_CREATIONTIME, channel.name, str(int(channel.created)))
        return
    modestring, params = args[0], list(args[1:])
    if modestring.lstrip("+") == "b" and not params:
        _send_bans(ctx, channel)
        return
    require_op(ctx, channel)
    adding = True
    changes: list[tuple[bool, str]] = []
    change_params: list[str] = []
    param_modes = 0
    for char in modestring:
        if char in "+-":
            adding = char == "+"
            continue
        needs_param = char in "ovbk" or (char == "l" and adding)
        if needs_param and param_modes >= _MAX_PARAM_MODES:
            break
        if needs_param and not params:
            if char == "b":
                _send_bans(ctx, channel)
                continue
            if char != "k" or adding:
                ctx.reply(ERR_NEEDMOREPARAMS, "MODE", "Not enough parameters")
                continue
            # "-k" without the key: clients send that, and it removes the key all the same.
            needs_param = False
        param = params.pop(0) if needs_param else ""
        param_modes += needs_param
        try:
            applied = _apply_channel_mode(ctx, channel, adding, char, param)
        except IrcError as err:
            ctx.reply(err.numeric, *err.params)
            continue
        if applied is not None:
            changes.append((adding, char))
            if applied:
                change_params.append(applied)
    if changes:
        outgoing = Outgoing(
            client.prefix, "MODE", channel.name, _mode_text(changes), *change_params
        )
        send_to_all(channel.members, outgoing)
        ctx.accounts.channels.channel_changed(channel)


def _apply_channel_mode(
    ctx: Context, channel: Channel, adding: bool, char: str, param: str
) -> str | None:
    """Apply one mode change; return its echoed parameter ("" for none), or None if no change.

    Raises:
        IrcError: for an unknown mode, a missing member or a bad parameter.
    """
    if char in _FLAG_MODES:
        if (char in channel.modes) == adding:
            return None
        (channel.modes.add if adding else channel.modes.discard)(char)
        return ""
    if char in "ov":
        target = ctx.network.find(param)
        if target is None:
            raise IrcError(ERR_NOSUCHNICK, param, "No such nick/channel")
        membership = channel.members.get(target)
        if membership is None:
            raise IrcError(ERR_USERNOTINCHANNEL, param, channel.name, "They aren't on that channel")
        attr = "op" if char == "o" else "voice"
        if getattr(membership, attr) == adding:
            return None
        setattr(membership, attr, adding)
        return target.nick
    if char == "b":
        if not is_valid_mask_param(param):
            raise IrcError(ERR_INVALIDMODEPARAM, channel.name, "b", "*", "Invalid ban mask")
        mask = normalize_mask(param)
        if adding:
            if mask in channel.bans:
                return None
            if len(channel.bans) >= ctx.limits.max_list_modes:
                raise IrcError(ERR_INVALIDMODEPARAM, channel.name, "b", mask, "Ban list is full")
            channel.bans[mask] = (ctx.client.prefix, ctx.network.clock())
            return mask
        return mask if channel.bans.pop(mask, None) is not None else None
    if char == "k":
        if not adding:
            if channel.key is None:
                return None
            channel.key = None
            return "*"
        if not is_valid_mask_param(param) or "," in param or len(param) > 23:
            raise IrcError(ERR_INVALIDKEY, channel.name, "Key is not well-formed")
        channel.key = param
        return param
    if char == "l":
        if not adding:
            if channel.limit is None:
                return None
            channel.limit = None
            return ""
        limit = parse_count(param)
        if not limit:
            raise IrcError(ERR_INVALIDMODEPARAM, channel.name, "l", param, "Invalid limit")
        channel.limit = limit
        return param
    raise IrcError(ERR_UNKNOWNMODE, char, "is unknown mode char to me")


def _send_bans(ctx: Context, channel: Channel) -> None:
    for mask, (setter, when) in channel.bans.items():
        ctx.reply(RPL_BANLIST, channel.name, mask, setter, str(int(when)))
    ctx.reply(RPL_ENDOFBANLIST, channel.name, "End of channel ban list")


COMMANDS: dict[str, CommandSpec] = {
    "MODE": CommandSpec(handle_mode, min_params=1),
}
