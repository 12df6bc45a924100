"""MONITOR (IRCv3 ``monitor``, and ``extended-monitor``): a client's notify list.

``MONITOR + a,b`` watches nicks and answers at once with 730 (online, as ``nick!user@host``)
and 731 (offline); from then on the server sends 730/731 as they come and go
(`server/monitors.py`, called by `Network`). ``-`` unwatches, ``C`` clears, ``L`` lists
(732/733), ``S`` shows the state of every watched nick. A list holds at most `MONITOR_LIMIT`
nicks (ISUPPORT ``MONITOR=``); past it, 734 names the nicks that were not added.
"""

from __future__ import annotations

from chinwag.protocol import Message, is_valid_nick
from chinwag.protocol.numerics import (
    ERR_MONLISTFULL,
    RPL_ENDOFMONLIST,
    RPL_MONLIST,
    RPL_MONOFFLINE,
    RPL_MONONLINE,
)
from chinwag.server.commands.base import CommandSpec, Context
from chinwag.server.monitors import token_lines

__all__ = ["COMMANDS", "MONITOR_LIMIT"]

MONITOR_LIMIT = 100
"""How many nicks one client may watch."""


def _reply_lines(ctx: Context, numeric: str, items: list[str]) -> None:
    overhead = len(f":{ctx.network.name} {numeric} {ctx.client.nick} :\r\n".encode())
    for line in token_lines(items, overhead):
        ctx.reply(numeric, line)


def _status(ctx: Context, nicks: list[str]) -> None:
    """730 for those online, 731 for the others."""
    online, offline = [], []
    for nick in nicks:
        user = ctx.network.find(nick)
        if user is not None:
            online.append(user.prefix)
        else:
            offline.append(nick)
    if online:
        _reply_lines(ctx, RPL_MONONLINE, online)
    if offline:
        _reply_lines(ctx, RPL_MONOFFLINE, offline)


def handle_monitor(ctx: Context, msg: Message) -> None:
    """MONITOR {+|-} <target>{,<target>} | MONITOR {C|L|S}"""
    monitors = ctx.network.monitors
    client = ctx.client
    sub = msg.params[0]
    targets = [t for t in msg.param(1).split(",") if t]
    if sub == "+":
        watched = monitors.watching(client)
        added: list[str] = []
        for index, nick in enumerate(targets):
            if not is_valid_nick(nick, ctx.limits.nick_length):
                continue
            if len(watched) >= MONITOR_LIMIT and nick not in watched:
                rest = ",".join(targets[index:])
                ctx.reply(ERR_MONLISTFULL, str(MONITOR_LIMIT), rest, "Monitor list is full")
                break
            monitors.add(client, nick)
            added.append(nick)
        _status(ctx, added)
    elif sub == "-":
        for nick in targets:
            monitors.remove(client, nick)
    elif sub.upper() == "C":
        monitors.clear(client)
    elif sub.upper() == "L":
        _reply_lines(ctx, RPL_MONLIST, list(monitors.watching(client).values()))
        ctx.reply(RPL_ENDOFMONLIST, "End of MONITOR list")
    elif sub.upper() == "S":
        _status(ctx, list(monitors.watching(client).values()))


COMMANDS: dict[str, CommandSpec] = {
    "MONITOR": CommandSpec(handle_monitor, min_params=1),
}
