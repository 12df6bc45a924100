"""Answers to what the user asked (/who, /whois, /list, an away reply), as readable lines.

These are handlers like those of `chinwag.client.handlers` (which adds `QUERY_REPLIES` to its
table); they only post lines, in the conversation the user is looking at.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from chinwag.client.lines import Posted, SystemKind, SystemLine
from chinwag.protocol import Message
from chinwag.protocol import numerics as n

if TYPE_CHECKING:
    from chinwag.client.session import Session

__all__ = ["QUERY_REPLIES"]

Handler = Callable[["Session", Message], list[Posted]]
QUERY_REPLIES: dict[str, Handler] = {}


def replies(*commands: str) -> Callable[[Handler], Handler]:
    """Register a handler for the numerics ``commands``."""

    def register(func: Handler) -> Handler:
        for command in commands:
            QUERY_REPLIES[command] = func
        return func

    return register


@replies(n.RPL_AWAY)
def handle_rpl_away(s: Session, msg: Message) -> list[Posted]:
    """301 <nick> <target> :<away message>"""
    nick = msg.param(1)
    key = s.fold(nick) if s.fold(nick) in s.conversations else s.active
    text = f"{nick} is away: {msg.param(2)}"
    return [s.post(key, SystemLine(s.time_of(msg), text, SystemKind.AWAY))]


@replies(n.RPL_WHOREPLY)
def handle_who_reply(s: Session, msg: Message) -> list[Posted]:
    """352 <me> <channel> <user> <host> <server> <nick> <H|G>[*][@+] :<hops> <realname>"""
    _, channel, user, host, _, nick, flags = (msg.param(i) for i in range(7))
    realname = msg.param(7).partition(" ")[2]
    away = " (away)" if flags.startswith("G") else ""
    where = f" in {channel}" if channel != "*" else ""
    text = f"{nick} ({user}@{host}){where}: {realname}{away}"
    return [s.post(s.active, SystemLine(s.time_of(msg), text, SystemKind.INFO))]


@replies(n.RPL_LIST)
def handle_list_entry(s: Session, msg: Message) -> list[Posted]:
    """322 <me> <channel> <count> :<topic> (one room of a /list)"""
    channel, count, topic = msg.param(1), msg.param(2), msg.param(3)
    text = f"{channel} ({count}): {topic}" if topic else f"{channel} ({count})"
    return [s.post(s.active, SystemLine(s.time_of(msg), text, SystemKind.INFO))]


_WHOIS_FORMATS = {
    n.RPL_WHOISUSER: "{1} is {1}!{2}@{3} ({5})",
    n.RPL_WHOISSERVER: "{1} is connected to {2} ({3})",
    n.RPL_WHOISIDLE: "{1} has been idle for {2} seconds",
    n.RPL_WHOISCHANNELS: "{1} is in {2}",
    n.RPL_WHOISACCOUNT: "{1} is logged in as {2}",
}


@replies(*_WHOIS_FORMATS)
def handle_whois(s: Session, msg: Message) -> list[Posted]:
    """311/312/317/319/330: WHOIS replies, one readable line each."""
    params = [*msg.params, "", "", "", "", "", ""]
    text = _WHOIS_FORMATS[msg.command].format(*params)
    return [s.post(s.active, SystemLine(s.time_of(msg), text, SystemKind.INFO))]
