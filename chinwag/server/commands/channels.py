"""Channel commands: JOIN, PART, TOPIC, NAMES, LIST, KICK, INVITE.

On a node of a network, a JOIN of a channel nobody on this node is in asks the network first
(`NetworkObserver.claim_channel`): whether the channel exists elsewhere or is created now, and
so whether the joiner is its operator, is Redis's decision, the same on every node. The
client's later lines, and its later channels of the same JOIN, wait for the answer.
"""

from __future__ import annotations

from chinwag.protocol import Message, fold, is_valid_channel, parse_count
from chinwag.protocol.numerics import (
    ERR_BADCHANNELKEY,
    ERR_BANNEDFROMCHAN,
    ERR_CHANNELISFULL,
    ERR_CHANOPRIVSNEEDED,
    ERR_INVITEONLYCHAN,
    ERR_NOSUCHCHANNEL,
    ERR_NOSUCHNICK,
    ERR_NOTONCHANNEL,
    ERR_TOOMANYCHANNELS,
    ERR_UNAVAILRESOURCE,
    ERR_USERNOTINCHANNEL,
    ERR_USERONCHANNEL,
    RPL_AWAY,
    RPL_ENDOFNAMES,
    RPL_INVITING,
    RPL_LIST,
    RPL_LISTEND,
    RPL_LISTSTART,
    RPL_NAMREPLY,
    RPL_NOTOPIC,
    RPL_TOPIC,
    RPL_TOPICWHOTIME,
)
from chinwag.server.commands.base import CommandSpec, Context
from chinwag.server.commands.labels import LateReply, defer_reply
from chinwag.server.commands.services import founder_joined
from chinwag.server.errors import IrcError
from chinwag.server.replies import numeric_line, numeric_lines
from chinwag.server.state import Cap, Channel
from chinwag.server.stats import SENT

__all__ = ["COMMANDS", "join_channel", "require_channel", "send_names"]

CHANNEL_UNAVAILABLE = "Channel is temporarily unavailable"
"""437 to a JOIN of a new channel the network (its Redis) could not be asked about."""


def require_channel(ctx: Context, name: str) -> Channel:
    """The channel called ``name``.

    Raises:
        IrcError: 403 when there is no such channel.
    """
    channel = ctx.network.find_channel(name)
    if channel is None:
        raise IrcError(ERR_NOSUCHCHANNEL, name, "No such channel")
    return channel


def require_membership(ctx: Context, channel: Channel) -> None:
    """Raise 442 unless the client is on ``channel``."""
    if ctx.client not in channel.members:
        raise IrcError(ERR_NOTONCHANNEL, channel.name, "You're not on that channel")


def require_op(ctx: Context, channel: Channel) -> None:
    """Raise 442 or 482 unless the client is an operator of ``channel``."""
    require_membership(ctx, channel)
    if not channel.is_op(ctx.client) and not ctx.client.is_oper:
        raise IrcError(ERR_CHANOPRIVSNEEDED, channel.name, "You're not channel operator")


def _check_name(ctx: Context, name: str) -> None:
    """Raise 403 for a bad channel name."""
    if not is_valid_channel(name, ctx.limits.channel_length):
        raise IrcError(ERR_NOSUCHCHANNEL, name, "No such channel")


def _check_room_for_one_more(ctx: Context, name: str) -> None:
    """Raise 405 when the client is in as many channels as it may be."""
    if len(ctx.client.channels) >= ctx.limits.max_channels_per_user:
        raise IrcError(ERR_TOOMANYCHANNELS, name, "You have joined too many channels")


def join_channel(
    ctx: Context, name: str, key: str | None, claim: tuple[bool, str] | None = None
) -> None:
    """Join one channel after the checks of RFC 2812 section 3.2.1, then send topic and names,
    then (a moment later: it is read from the store) the channel's recent history. ``claim``
    is the network's answer for a channel this node did not know (`_claim_and_join`).

    Raises:
        IrcError: 403 bad name, 405 too many channels, 471 full, 473 invite only, 474 banned,
            475 wrong key.
    """
    client = ctx.client
    _check_name(ctx, name)
    channel = ctx.network.find_channel(name)
    if channel is not None:
        if client in channel.members:
            return
        # The invitation is held by the client, never by its nick: whoever takes the nick of an
        # invited user who quit or renamed must not inherit the invitation.
        # The founder of a registered channel is always invited: nobody could lock them out.
        invited = channel in client.invites or ctx.accounts.channels.is_founder(client, channel)
        if channel.is_banned(client) and not invited:
            raise IrcError(ERR_BANNEDFROMCHAN, channel.name, "Cannot join channel (+b)")
        if "i" in channel.modes and not invited and not channel.is_invite_excepted(client):
            raise IrcError(ERR_INVITEONLYCHAN, channel.name, "Cannot join channel (+i)")
        if channel.key is not None and key != channel.key:
            raise IrcError(ERR_BADCHANNELKEY, channel.name, "Cannot join channel (+k)")
        if channel.limit is not None and len(channel.members) >= channel.limit:
            raise IrcError(ERR_CHANNELISFULL, channel.name, "Cannot join channel (+l)")
    _check_room_for_one_more(ctx, name)
    if claim is None:
        channel = ctx.network.join(client, name)
    else:
        channel = ctx.network.join(client, name, claim[1], op=claim[0])
    founder_joined(ctx, channel)
    if channel.topic:
        send_topic(ctx, channel)
    if not client.caps & Cap.NO_IMPLICIT_NAMES:  # draft/no-implicit-names: it asks if it wants
        send_names(ctx, channel)
    ctx.history.replay_on_join(client, channel)


def send_topic(ctx: Context, channel: Channel) -> None:
    """332 and 333, or 331 when there is no topic."""
    if not channel.topic:
        ctx.reply(RPL_NOTOPIC, channel.name, "No topic is set")
        return
    ctx.reply(RPL_TOPIC, channel.name, channel.topic)
    ctx.reply(RPL_TOPICWHOTIME, channel.name, channel.topic_setter, str(int(channel.topic_time)))


def send_names(ctx: Context, channel: Channel) -> None:
    """353 lines and the closing 366 for one channel, queued as one chunk."""
    network, client = ctx.network, ctx.client
    symbol = "@" if "s" in channel.modes else "="
    lines = network.names_lines(client, channel)
    names = numeric_lines(network.name, client.nick, RPL_NAMREPLY, (symbol, channel.name), lines)
    end = numeric_line(
        network.name, client.nick, RPL_ENDOFNAMES, channel.name, "End of /NAMES list"
    )
    client.send(names + end)
    SENT.count += len(lines)  # one chunk: count its lines as lines


def handle_join(ctx: Context, msg: Message) -> None:
    """JOIN <channel>{,<channel>} [<key>{,<key>}] | JOIN 0"""
    if msg.params[0] == "0":
        for channel in list(ctx.client.channels.values()):
            ctx.network.part(ctx.client, channel, None)
        return
    keys = msg.param(1).split(",") if len(msg.params) > 1 else []
    wanted = [
        (name, keys[index] if index < len(keys) else None)
        for index, name in enumerate(msg.params[0].split(","))
        if name
    ]
    observer = ctx.network.observer
    for index, (name, key) in enumerate(wanted):
        try:
            if observer is not None and ctx.network.find_channel(name) is None:
                late = defer_reply(ctx) if ctx.label else None
                ctx.wait_for(_claim_and_join(ctx, wanted[index:], late))
                return
            join_channel(ctx, name, key)
        except IrcError as err:
            ctx.reply(err.numeric, *err.params)


async def _claim_and_join(
    ctx: Context, wanted: list[tuple[str, str | None]], late: LateReply | None
) -> None:
    """Join ``wanted`` in turn, asking the network about each channel this node does not know
    (see the module header); with ``late``, the replies are the labeled reply."""
    client = ctx.client
    observer = ctx.network.observer
    assert observer is not None
    lines: list[bytes] = []
    for name, key in wanted:
        claim = None
        refusal: IrcError | None = None
        if ctx.network.find_channel(name) is None:
            try:
                _check_name(ctx, name)  # before asking the network (as join_channel will)
                _check_room_for_one_more(ctx, name)
            except IrcError as err:
                refusal = err
            else:
                claim = await observer.claim_channel(client, name)
                if not client.registered:
                    observer.unclaim_channel(client, name)
                    return  # gone meanwhile
                if claim is None and ctx.network.find_channel(name) is None:
                    refusal = IrcError(ERR_UNAVAILRESOURCE, name, CHANNEL_UNAVAILABLE)
        if late is not None:
            client.conn.capture()  # only this command's replies: nothing awaits in here
        try:
            if refusal is not None:
                raise refusal
            join_channel(ctx, name, key, claim)
        except IrcError as err:
            ctx.reply(err.numeric, *err.params)
        finally:
            observer.unclaim_channel(client, name)  # unused if the join did not happen
            if late is not None:
                lines += client.conn.release()
    if late is not None:
        late.finish(lines)


def handle_part(ctx: Context, msg: Message) -> None:
    """PART <channel>{,<channel>} [:<reason>]"""
    reason = msg.param(1) or None
    for name in msg.params[0].split(","):
        if not name:
            continue
        try:
            channel = require_channel(ctx, name)
            require_membership(ctx, channel)
        except IrcError as err:
            ctx.reply(err.numeric, *err.params)
            continue
        ctx.network.part(ctx.client, channel, reason)


def handle_topic(ctx: Context, msg: Message) -> None:
    """TOPIC <channel> [:<topic>]"""
    channel = require_channel(ctx, msg.params[0])
    client = ctx.client
    if len(msg.params) < 2:
        if not channel.visible_to(client):
            raise IrcError(ERR_NOTONCHANNEL, channel.name, "You're not on that channel")
        send_topic(ctx, channel)
        return
    if "t" in channel.modes:
        require_op(ctx, channel)
    else:
        require_membership(ctx, channel)
    ctx.network.reveal(client, channel)  # who sets the topic is seen
    channel.topic = msg.params[1][: ctx.limits.topic_length]
    channel.topic_setter = client.prefix
    channel.topic_time = ctx.network.clock()
    ctx.network.tell_channel(client, channel, "TOPIC", channel.topic)
    ctx.accounts.channels.channel_changed(channel)


def handle_names(ctx: Context, msg: Message) -> None:
    """NAMES [<channel>{,<channel>}]"""
    if not msg.params or not msg.params[0]:
        ctx.reply(RPL_ENDOFNAMES, "*", "End of /NAMES list")
        return
    for name in msg.params[0].split(","):
        channel = ctx.network.find_channel(name)
        if channel is None or not channel.visible_to(ctx.client):
            ctx.reply(RPL_ENDOFNAMES, name, "End of /NAMES list")
            continue
        send_names(ctx, channel)


def handle_list(ctx: Context, msg: Message) -> None:
    """LIST [<channel>{,<channel>}] [<elistcond>]: ``>N`` and ``<N`` filter by user count."""
    client = ctx.client
    wanted: set[str] | None = None
    minimum, maximum = 0, None
    for param in msg.params:
        for cond in param.split(","):
            bound = parse_count(cond[1:])
            if cond.startswith(">") and bound is not None:
                minimum = bound + 1
            elif cond.startswith("<") and bound is not None:
                maximum = bound - 1
            elif cond.startswith("#"):
                wanted = (wanted or set()) | {fold(cond)}
    ctx.reply(RPL_LISTSTART, "Channel", "Users  Name")
    replies = 0
    for channel in list(ctx.network.channels.values()):
        if wanted is not None and channel.name_folded not in wanted:
            continue
        if not channel.visible_to(client):
            continue
        members = channel.members
        # A member counts everyone: no need to look at each.
        inside = client in members
        count = len(members) if inside else sum(1 for m in members if "i" not in m.modes)
        if count < minimum or (maximum is not None and count > maximum):
            continue
        ctx.reply(RPL_LIST, channel.name, str(count), channel.topic)
        replies += 1
    ctx.reply(RPL_LISTEND, "End of /LIST")
    client.conn.charge(replies)  # a long answer costs flood budget


def handle_kick(ctx: Context, msg: Message) -> None:
    """KICK <channel> <user>{,<user>} [:<comment>]"""
    channel = require_channel(ctx, msg.params[0])
    require_op(ctx, channel)
    reason = (msg.param(2) or ctx.client.nick)[: ctx.limits.kick_length]
    for nick in msg.params[1].split(","):
        target = ctx.network.find(nick)
        if target is None:
            ctx.reply(ERR_NOSUCHNICK, nick, "No such nick/channel")
        elif target not in channel.members:
            ctx.reply(ERR_USERNOTINCHANNEL, nick, channel.name, "They aren't on that channel")
        else:
            ctx.network.kick(ctx.client, channel, target, reason)


def handle_invite(ctx: Context, msg: Message) -> None:
    """INVITE <nickname> <channel>"""
    client = ctx.client
    target = ctx.network.find(msg.params[0])
    if target is None:
        raise IrcError(ERR_NOSUCHNICK, msg.params[0], "No such nick/channel")
    channel = require_channel(ctx, msg.params[1])
    require_membership(ctx, channel)
    if "i" in channel.modes:
        require_op(ctx, channel)
    if target in channel.members:
        raise IrcError(ERR_USERONCHANNEL, target.nick, channel.name, "is already on channel")
    ctx.reply(RPL_INVITING, target.nick, channel.name)
    ctx.network.invite(client, target, channel)
    if target.away is not None:
        ctx.reply(RPL_AWAY, target.nick, target.away)


COMMANDS: dict[str, CommandSpec] = {
    "JOIN": CommandSpec(handle_join, min_params=1),
    "PART": CommandSpec(handle_part, min_params=1),
    "TOPIC": CommandSpec(handle_topic, min_params=1),
    "NAMES": CommandSpec(handle_names),
    "LIST": CommandSpec(handle_list),
    "KICK": CommandSpec(handle_kick, min_params=2),
    "INVITE": CommandSpec(handle_invite, min_params=2),
}
