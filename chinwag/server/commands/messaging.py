"""PRIVMSG, NOTICE and TAGMSG: to a channel (every member but the sender) or to one nick.

The private-message path is the heart of the seed chat: a message to a nick reaches that one
client and nobody else. Each message gets a ``msgid`` and a server time once; every recipient's
line is built from one `Outgoing`.

A PRIVMSG or NOTICE is stored (``server/history.py``) and then delivered at once (queued:
nothing is written before the end of the loop turn); one the store refuses (a full disk) is not
delivered. With durable delivery the turn's output is written once the store has committed it
(``server/outbox.py``). TAGMSG and ``@#channel`` messages are not stored. The echo of a
labeled command is its labeled reply.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Mapping

from chinwag.protocol import MAX_BODY_BYTES, Message, fit_utf8
from chinwag.protocol.numerics import (
    ERR_CANNOTSENDTOCHAN,
    ERR_NORECIPIENT,
    ERR_NOSUCHCHANNEL,
    ERR_NOSUCHNICK,
    ERR_NOTEXTTOSEND,
    ERR_TOOMANYTARGETS,
    RPL_AWAY,
)
from chinwag.server.commands.base import CommandSpec, Context
from chinwag.server.commands.labels import LateReply, defer_reply
from chinwag.server.commands.services import deliver_to_service
from chinwag.server.commands.who import BOT_MODE
from chinwag.server.errors import IrcError
from chinwag.server.fanout import STATUS_PREFIXES, Outgoing, deliver_to_channel, new_msgid
from chinwag.server.state import Cap, Channel, Client

__all__ = ["COMMANDS", "fit_relayed", "fit_text"]

BOT_TAG = "bot"


def fit_text(text: str, overhead: int) -> str:
    """Cut ``text`` so that a line with ``overhead`` other bytes stays within 512 bytes."""
    budget = MAX_BODY_BYTES - overhead
    if len(text) * 4 <= budget:  # no need to encode: even four bytes a character fit
        return text
    data = text.encode("utf-8")
    return text if len(data) <= budget else fit_utf8(data, budget).decode("utf-8")


def _client_tags(msg: Message) -> dict[str, str]:
    return {key: value for key, value in msg.tags.items() if key.startswith("+")}


def _send_message(
    ctx: Context,
    command: str,
    target: str,
    text: str | None,
    tags: Mapping[str, str],
) -> None:
    client = ctx.client
    status = None
    name = target
    if target[:1] in STATUS_PREFIXES and target[1:2] == "#":
        status = STATUS_PREFIXES[target[0]]
        name = target[1:]
    channel: Channel | None = None
    recipient: Client | None = None
    if name.startswith("#"):
        channel = ctx.network.find_channel(name)
        if channel is None:
            raise IrcError(ERR_NOSUCHCHANNEL, name, "No such channel")
        if not channel.can_speak(client):
            raise IrcError(ERR_CANNOTSENDTOCHAN, channel.name, "Cannot send to channel")
        shown = channel.name if status is None else target[0] + channel.name
    else:
        recipient = ctx.network.find(name)
        if recipient is None or not recipient.registered:
            raise IrcError(ERR_NOSUCHNICK, name, "No such nick/channel")
        if deliver_to_service(ctx, recipient, command, text):
            return  # neither relayed nor stored: it may hold a password
        shown = recipient.nick
    stored = text is not None and status is None
    if stored and ctx.history.health.failing:
        # It could not be stored: not delivered either (nothing seen may be missing from
        # history), and the sender is told. Storing is retried in the background.
        ctx.history.health.refuse(client, shown)
        return
    relayed = "" if text is None else fit_relayed(client, command, shown, text)
    params = (shown,) if text is None else (shown, relayed)
    outgoing = Outgoing(
        client.prefix,
        command,
        *params,
        msgid=new_msgid(),
        account=client.account,
        client_tags=tags,
    )
    # Stored before it is delivered: one that cannot be stored (a full disk) is not delivered,
    # and its sender is told (``server/history.py``).
    if stored and not ctx.history.record(
        client, channel, recipient, outgoing, target_name=shown, command=command, text=relayed
    ):
        return
    if channel is not None and channel.hidden and client in channel.hidden:
        ctx.network.reveal(client, channel)  # a silent member speaks: its JOIN first
    tags_only = command == "TAGMSG"
    labeled = bool(ctx.label)
    deliver = functools.partial(
        _deliver,
        client,
        channel,
        recipient,
        outgoing,
        status=status,
        tags_only=tags_only,
        labeled=labeled,
    )
    observer = ctx.network.observer
    # On a node of a network the line may go to other nodes first (`relay` is true): it is
    # delivered here when the network hands it back.
    if observer is None or not observer.relay(
        client,
        channel,
        recipient,
        outgoing,
        deliver,
        target_name=shown,
        command=command,
        text=relayed,
        refused=functools.partial(_not_delivered, deliver),
    ):
        deliver()  # nothing to route: delivered at once
    elif labeled and client.caps & Cap.ECHO_MESSAGE:
        # Delivered after this handler returned: its echo is then (a part of, one per target)
        # the labeled reply.
        late = deliver.keywords["late"] = defer_reply(ctx)
        late.expect()
    if recipient is not None and command == "PRIVMSG" and recipient.away is not None:
        ctx.reply(RPL_AWAY, recipient.nick, recipient.away)


def _not_delivered(deliver: functools.partial[None]) -> None:
    """The network refused the line ``deliver`` would have delivered (its sender is told): a
    labeled reply waits for its echo no more."""
    late = deliver.keywords.get("late")
    if late is not None:
        late.arrive([])


def _deliver(
    client: Client,
    channel: Channel | None,
    recipient: Client | None,
    outgoing: Outgoing,
    *,
    status: str | None = None,
    tags_only: bool = False,
    labeled: bool = False,
    late: LateReply | None = None,
) -> None:
    """Give ``outgoing`` to the channel's members or to the recipient, and echo it (as a part
    of ``late``, when the echoes are the labeled reply of a command that already returned)."""
    echo = bool(client.caps & Cap.ECHO_MESSAGE)
    echoed = False
    if channel is not None:
        # A labeled command's echo is its labeled reply: never in the channel's batch.
        echoed = deliver_to_channel(
            client, channel, outgoing, status, tags_only, echo=echo and not labeled
        )
    elif (
        recipient is not None
        and not (echo and recipient is client)  # a note to self comes once, as the echo
        and (not tags_only or recipient.caps & Cap.MESSAGE_TAGS)
    ):
        recipient.send(outgoing.line_for(recipient))
    if echo and not echoed:
        if late is not None and not late.finished:
            late.arrive([outgoing.line_for(client)])
        else:
            client.send(outgoing.line_for(client))


def fit_relayed(client: Client, command: str, target: str, text: str) -> str:
    """``text`` cut so that ``client``'s ``command`` to ``target`` fits 512 bytes as relayed."""
    prefix = client.prefix
    if (len(prefix) + len(target) + len(text)) * 4 + len(command) + 8 <= MAX_BODY_BYTES:
        return text  # fits even if every character takes four bytes: nothing to encode
    overhead = len(prefix.encode()) + len(command) + len(target.encode()) + 8
    return fit_text(text, overhead)


def _handle(ctx: Context, msg: Message, command: str) -> None:
    if not msg.params or not msg.params[0]:
        raise IrcError(ERR_NORECIPIENT, f"No recipient given ({command})")
    text: str | None = None
    if command != "TAGMSG":
        if len(msg.params) < 2 or not msg.params[1]:
            raise IrcError(ERR_NOTEXTTOSEND, "No text to send")
        text = msg.params[1]
    first = msg.params[0]
    # One target is the common case: no split, no de-duplication.
    targets = list(dict.fromkeys(t for t in first.split(",") if t)) if "," in first else [first]
    limit = 1 if command == "TAGMSG" else ctx.limits.max_targets
    if len(targets) > limit:
        raise IrcError(ERR_TOOMANYTARGETS, msg.params[0], f"Too many targets (max {limit})")
    client = ctx.client
    tags = _client_tags(msg) if client.caps & Cap.MESSAGE_TAGS else {}
    if BOT_MODE in client.modes:  # draft/bot: message-tags clients see who is a bot
        tags = {**tags, BOT_TAG: ""}
    client.last_active = time.time()
    for target in targets:
        try:
            _send_message(ctx, command, target, text, tags)
        except IrcError as err:
            # RFC 1459 4.4.2: no automatic reply to a NOTICE, "this rule applies to servers too".
            if command != "NOTICE":
                ctx.reply(err.numeric, *err.params)


def handle_privmsg(ctx: Context, msg: Message) -> None:
    """PRIVMSG <target>{,<target>} :<text>"""
    _handle(ctx, msg, "PRIVMSG")


def handle_notice(ctx: Context, msg: Message) -> None:
    """NOTICE <target>{,<target>} :<text>"""
    _handle(ctx, msg, "NOTICE")


def handle_tagmsg(ctx: Context, msg: Message) -> None:
    """TAGMSG <target>: a message of tags only (typing notifications, reactions)."""
    _handle(ctx, msg, "TAGMSG")


COMMANDS: dict[str, CommandSpec] = {
    "PRIVMSG": CommandSpec(handle_privmsg),
    "NOTICE": CommandSpec(handle_notice),
    "TAGMSG": CommandSpec(handle_tagmsg),
}
