"""CHATHISTORY (IRCv3 ``draft/chathistory``): LATEST, BEFORE, AFTER, AROUND, BETWEEN, TARGETS.

The query runs off the event loop (the store reads in a thread); its answer is the command's
reply, labeled when the command was (`labels.defer_reply`). Every error is a standard reply,
``FAIL CHATHISTORY <code> <subcommand> ...``: ``UNKNOWN_COMMAND`` for a subcommand we do not
know, ``INVALID_PARAMS`` for a missing or malformed parameter, ``INVALID_TARGET`` for a target
the user may not read, ``MESSAGE_ERROR`` when the store fails.

Who may read what: a channel's history only by its members (the spec allows either choice; a
member-only rule cannot leak a secret, invite-only or keyed channel, and it is what a client
needs for the channel it shows). Private history only "between me and X"
(``server/history.py`` says who "me" is), so another user's conversations are out of reach
whatever the target names. The limit is capped at ``[history] chathistory_max``.
"""

from __future__ import annotations

import logging
from typing import NamedTuple

from chinwag.protocol import Message, fold, format_server_time, is_valid_nick, parse_count
from chinwag.protocol.timestamps import parse_server_time
from chinwag.server.commands.base import CommandSpec, Context
from chinwag.server.commands.labels import defer_reply
from chinwag.server.fanout import add_tag
from chinwag.server.history import history_lines, new_batch_ref
from chinwag.server.state import Cap
from chinwag.store import (
    Bound,
    ChannelTarget,
    DirectTarget,
    HistoryEntry,
    MsgidBound,
    StoreError,
    Target,
    TimeBound,
)

__all__ = ["COMMANDS", "handle_chathistory"]

log = logging.getLogger("chinwag.chathistory")

_ONE_BOUND = frozenset({"BEFORE", "AFTER", "AROUND"})
_SUBCOMMANDS = frozenset({"LATEST", "BETWEEN", "TARGETS"}) | _ONE_BOUND
_MAX_MSGID = 200


class _Fail(Exception):
    """A standard reply: ``FAIL CHATHISTORY <code> <params...> :<text>``."""

    def __init__(self, code: str, *params: str) -> None:
        super().__init__(code)
        self.code = code
        self.params = params


def _fail(ctx: Context, code: str, *params: str) -> None:
    texts = {
        "UNKNOWN_COMMAND": "Unknown command",
        "INVALID_PARAMS": "Invalid parameters",
        "INVALID_TARGET": "Messages could not be retrieved",
        "MESSAGE_ERROR": "Messages could not be retrieved",
    }
    safe = [p if p and " " not in p and not p.startswith(":") else "*" for p in params]
    ctx.send("FAIL", "CHATHISTORY", code, *safe, texts[code])


def _bound(sub: str, text: str) -> Bound:
    """A ``msgid=`` or ``timestamp=`` selector."""
    kind, sep, value = text.partition("=")
    if sep and kind == "msgid" and 0 < len(value) <= _MAX_MSGID:
        return MsgidBound(value)
    if sep and kind == "timestamp" and value:
        try:
            return TimeBound(parse_server_time(value))
        except (ValueError, OverflowError):
            pass
    raise _Fail("INVALID_PARAMS", sub, text)


def _limit(ctx: Context, sub: str, text: str) -> int:
    limit = parse_count(text)
    if limit is None or not 0 < limit < 2**31:
        raise _Fail("INVALID_PARAMS", sub, text)
    cap = ctx.config.history.chathistory_max
    return min(limit, cap) if cap > 0 else limit


class _Peer(NamedTuple):
    """A private conversation whose other party is found when the query runs: an offline
    account's identity is in the store."""

    me: str
    nick: str


def _target(ctx: Context, sub: str, name: str) -> tuple[Target | _Peer, str]:
    """The conversation ``name`` means for this user, and its name for the batch.

    Raises:
        _Fail: INVALID_TARGET when the user may not read it.
    """
    client = ctx.client
    if name.startswith("#"):
        channel = ctx.network.find_channel(name)
        if channel is None or client not in channel.members:
            raise _Fail("INVALID_TARGET", sub, name)
        return ChannelTarget(channel.identity), channel.name
    if not is_valid_nick(name, ctx.limits.nick_length):
        raise _Fail("INVALID_TARGET", sub, name)
    history = ctx.history
    other = ctx.network.find(name)
    return _Peer(history.party(client), name), other.nick if other else name


def handle_chathistory(ctx: Context, msg: Message) -> None:
    """CHATHISTORY <LATEST|BEFORE|AFTER|AROUND> <target> <selector> <limit>
    | BETWEEN <target> <selector> <selector> <limit>
    | TARGETS <timestamp> <timestamp> <limit>"""
    params = msg.params
    sub = params[0].upper() if params else "*"
    try:
        if not params:
            raise _Fail("INVALID_PARAMS", "*")
        if sub not in _SUBCOMMANDS:
            raise _Fail("UNKNOWN_COMMAND", sub)
        if not ctx.history.enabled:
            raise _Fail("MESSAGE_ERROR", sub, params[1] if len(params) > 1 else "*")
        wanted = 5 if sub == "BETWEEN" else 4
        if len(params) != wanted:
            raise _Fail("INVALID_PARAMS", sub)
        limit = _limit(ctx, sub, params[-1])
        if sub == "TARGETS":
            start, end = _bound(sub, params[1]), _bound(sub, params[2])
            if not isinstance(start, TimeBound) or not isinstance(end, TimeBound):
                raise _Fail("INVALID_PARAMS", sub, params[1])
            defer_reply(ctx)
            ctx.wait_for(_targets(ctx, start.time, end.time, limit))
            return
        if sub == "LATEST":
            after = None if params[2] == "*" else _bound(sub, params[2])
            bounds: tuple[Bound, ...] = () if after is None else (after,)
        elif sub == "BETWEEN":
            bounds = (_bound(sub, params[2]), _bound(sub, params[3]))
        else:
            bounds = (_bound(sub, params[2]),)
        target, shown = _target(ctx, sub, params[1])
    except _Fail as fail:
        _fail(ctx, fail.code, *fail.params)
        return
    defer_reply(ctx)
    ctx.wait_for(_query(ctx, sub, target, shown, bounds, limit=limit))


async def _query(
    ctx: Context,
    sub: str,
    wanted: Target | _Peer,
    shown: str,
    bounds: tuple[Bound, ...],
    *,
    limit: int,
) -> None:
    late = defer_reply(ctx)
    history = ctx.history
    store = history.store
    entries: list[HistoryEntry]
    try:
        await store.flush()  # the answer holds every message delivered before the question
        if isinstance(wanted, _Peer):
            target: Target = DirectTarget(wanted.me, await history.peer_party(wanted.nick))
        else:
            target = wanted
        if sub == "LATEST":
            entries = await store.latest(target, bounds[0] if bounds else None, limit)
        elif sub == "BEFORE":
            entries = await store.before(target, bounds[0], limit)
        elif sub == "AFTER":
            entries = await store.after(target, bounds[0], limit)
        elif sub == "AROUND":
            entries = await store.around(target, bounds[0], limit)
        else:
            entries = await store.between(target, bounds[0], bounds[1], limit)
    except StoreError as exc:
        log.warning("CHATHISTORY %s failed: %s", sub, exc)
        _fail_late(ctx, "MESSAGE_ERROR", sub, shown)
        return
    # The batch always comes, empty or not, so the client knows the answer is complete.
    late.finish(history_lines(ctx.client, entries, ctx.network.name, shown))


def _fail_late(ctx: Context, code: str, *params: str) -> None:
    late = defer_reply(ctx)
    conn = ctx.client.conn
    conn.capture()
    _fail(ctx, code, *params)
    late.finish(conn.release())


async def _targets(ctx: Context, start: float, end: float, limit: int) -> None:
    """TARGETS: the conversations with a message between two times, each with its latest time."""
    late = defer_reply(ctx)
    client = ctx.client
    history = ctx.history
    me = history.party(client)
    channels = {channel.identity: channel.name for channel in client.channels.values()}
    try:
        await history.store.flush()
        entries = await history.store.targets(me, channels, start, end, limit)
    except StoreError as exc:
        log.warning("CHATHISTORY TARGETS failed: %s", exc)
        _fail_late(ctx, "MESSAGE_ERROR", "TARGETS", "*")
        return
    server = ctx.network.name
    batched = bool(client.caps & Cap.BATCH)
    ref = new_batch_ref()
    lines: list[bytes] = []
    if batched:
        lines.append(f":{server} BATCH +{ref} draft/chathistory-targets\r\n".encode())
    for entry in entries:
        if isinstance(entry.target, ChannelTarget):
            name = channels.get(entry.target.channel_folded, entry.target_name)
        else:
            name = _peer_name(ctx, entry, entry.target.peer_of(me))
        stamp = format_server_time(entry.time)
        line = f":{server} CHATHISTORY TARGETS {name} {stamp}\r\n".encode()
        lines.append(add_tag(line, b"batch=" + ref.encode()) if batched else line)
    if batched:
        lines.append(f":{server} BATCH -{ref}\r\n".encode())
    late.finish(lines)


def _peer_name(ctx: Context, entry: HistoryEntry, peer: str) -> str:
    """A nick the user can give CHATHISTORY to reach the conversation with ``peer``."""
    if not peer.startswith("~"):
        return peer.split("!", 1)[0]  # an account's name: `History.peer_party` maps it back
    other = ctx.history.guest(peer)
    if other is not None and other.registered:
        return other.nick
    # The guest has left: the name it had in the newest message.
    sender_nick = entry.sender.split("!", 1)[0]
    return entry.target_name if fold(sender_nick) == ctx.client.nick_folded else sender_nick


COMMANDS: dict[str, CommandSpec] = {
    "CHATHISTORY": CommandSpec(handle_chathistory),
}
