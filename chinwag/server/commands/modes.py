"""MODE for users (``+i``, ``+w``, ``+B``, ``-o``) and channels (``+o +v +n +t +m +i +s +k +l``,
the lists ``+b +e +I`` with extended bans, see ``server/extbans.py``).

A channel mode line is read left to right (RFC 2812 section 3.2.3): a sign switches between adding
and removing, and ``o v b e I k l`` take a parameter (``-l`` and a listing do not). Only the
changes that took effect are echoed to the channel, in one MODE line.
"""

from __future__ import annotations

from chinwag.protocol import Message, is_valid_mask_param, parse_count
from chinwag.protocol.numerics import (
    ERR_BANLISTFULL,
    ERR_CHANOPRIVSNEEDED,
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
    RPL_ENDOFEXCEPTLIST,
    RPL_ENDOFINVITELIST,
    RPL_EXCEPTLIST,
    RPL_INVITELIST,
    RPL_UMODEIS,
)
from chinwag.server.commands.base import CommandSpec, Context
from chinwag.server.commands.channels import require_channel, require_op
from chinwag.server.errors import IrcError
from chinwag.server.extbans import normalize_entry
from chinwag.server.fanout import Outgoing
from chinwag.server.state import Channel

__all__ = ["COMMANDS"]

_FLAG_MODES = frozenset("Dimnst")
# List modes: Channel attribute, entry numeric, end numeric, end text.
_LISTS = {
    "b": ("bans", RPL_BANLIST, RPL_ENDOFBANLIST, "End of channel ban list"),
    "e": ("exceptions", RPL_EXCEPTLIST, RPL_ENDOFEXCEPTLIST, "End of channel exception list"),
    "I": ("invex", RPL_INVITELIST, RPL_ENDOFINVITELIST, "End of channel invite list"),
}
_SELF_MODES = frozenset("iwB")  # user modes anyone may set on themselves (B: draft/bot)
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
        elif char in _SELF_MODES:
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
        mode = Outgoing(
            client.prefix, "MODE", client.nick, _mode_text(changes), account=client.account
        )
        client.send(mode.line_for(client))


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
    if modestring.lstrip("+") in _LISTS and not params:
        _send_list(ctx, channel, modestring.lstrip("+"))
        return
    require_op(ctx, channel)
    ctx.network.reveal(client, channel)  # who changes modes is seen
    adding = True
    changes: list[tuple[bool, str]] = []
    change_params: list[str] = []
    param_modes = 0
    for char in modestring:
        if char in "+-":
            adding = char == "+"
            continue
        needs_param = char in "ovbeIk" or (char == "l" and adding)
        if needs_param and param_modes >= _MAX_PARAM_MODES:
            break
        if needs_param and not params:
            if char in _LISTS:
                try:
                    _send_list(ctx, channel, char)
                except IrcError as err:
                    ctx.reply(err.numeric, *err.params)
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
        ctx.network.tell_channel(client, channel, "MODE", _mode_text(changes), *change_params)
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
        if char == "D" and not adding:
            ctx.network.reveal_all(channel)  # delayed join off: everyone's arrival shows now
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
        ctx.network.reveal(target, channel)  # a silent member given a status is seen
        setattr(membership, attr, adding)
        channel.names_changed()
        return target.nick
    if char in _LISTS:
        entries: dict[str, tuple[str, float]] = getattr(channel, _LISTS[char][0])
        entry = normalize_entry(param, mute_allowed=char == "b")
        if entry is None:
            raise IrcError(ERR_INVALIDMODEPARAM, channel.name, char, param, "Invalid mask")
        if adding:
            if entry in entries:
                return None
            if _list_total(channel) >= ctx.limits.max_list_modes:
                raise IrcError(ERR_BANLISTFULL, channel.name, char, "Channel list is full")
            entries[entry] = (ctx.client.prefix, ctx.network.clock())
            return entry
        return entry if entries.pop(entry, None) is not None else None
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


def _list_total(channel: Channel) -> int:
    """Entries in the three lists together (ISUPPORT ``MAXLIST=beI:<n>`` is a shared limit)."""
    return len(channel.bans) + len(channel.exceptions) + len(channel.invex)


def _send_list(ctx: Context, channel: Channel, char: str) -> None:
    """The entries of list ``char`` (b, e or I), then its end numeric."""
    attribute, item, end, text = _LISTS[char]
    entries: dict[str, tuple[str, float]] = getattr(channel, attribute)
    if char != "b" and not channel.is_op(ctx.client) and not ctx.client.is_oper:
        # Exceptions tell who may get round a ban: operators only, as other servers do.
        raise IrcError(ERR_CHANOPRIVSNEEDED, channel.name, "You're not channel operator")
    for entry, (setter, when) in entries.items():
        ctx.reply(item, channel.name, entry, setter, str(int(when)))
    ctx.reply(end, channel.name, text)


COMMANDS: dict[str, CommandSpec] = {
    "MODE": CommandSpec(handle_mode, min_params=1),
}
