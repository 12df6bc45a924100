"""Who is here: WHOIS, WHOWAS, ISON, USERHOST, and the server queries LUSERS, MOTD,
VERSION and TIME. WHO is in ``who.py``."""

from __future__ import annotations

import time

from chinwag import __version__
from chinwag.protocol import Message, fold, isupport_lines, parse_count
from chinwag.protocol.numerics import (
    ERR_NONICKNAMEGIVEN,
    ERR_NOSUCHNICK,
    ERR_WASNOSUCHNICK,
    RPL_AWAY,
    RPL_ENDOFWHOIS,
    RPL_ENDOFWHOWAS,
    RPL_ISON,
    RPL_ISUPPORT,
    RPL_TIME,
    RPL_USERHOST,
    RPL_VERSION,
    RPL_WHOISACCOUNT,
    RPL_WHOISACTUALLY,
    RPL_WHOISBOT,
    RPL_WHOISCHANNELS,
    RPL_WHOISIDLE,
    RPL_WHOISOPERATOR,
    RPL_WHOISSECURE,
    RPL_WHOISSERVER,
    RPL_WHOISUSER,
    RPL_WHOWASUSER,
)
from chinwag.server.commands.base import CommandSpec, Context
from chinwag.server.commands.welcome import isupport_tokens, send_lusers, send_motd
from chinwag.server.commands.who import BOT_MODE
from chinwag.server.errors import IrcError
from chinwag.server.state import Cap

__all__ = ["COMMANDS"]

_SERVER_INFO = "chinwag"


def handle_whois(ctx: Context, msg: Message) -> None:
    """WHOIS [<server>] <nick>"""
    nick = msg.params[-1] if msg.params else ""
    if not nick:
        raise IrcError(ERR_NONICKNAMEGIVEN, "No nickname given")
    target = ctx.network.find(nick)
    if target is None or not target.registered:
        ctx.reply(ERR_NOSUCHNICK, nick, "No such nick/channel")
        ctx.reply(RPL_ENDOFWHOIS, nick, "End of /WHOIS list")
        return
    multi = ctx.client.has(Cap.MULTI_PREFIX)
    ctx.reply(RPL_WHOISUSER, target.nick, target.user, target.host, "*", target.realname)
    channels = [
        channel.members[target].prefixes(multi) + channel.name
        for channel in ctx.network.visible_channels(ctx.client, target)
    ]
    # Several 319 lines when needed: one would pass 512 bytes with a dozen long channel names.
    line: list[str] = []
    for name in channels:
        if line and len(" ".join([*line, name]).encode()) > 300:
            ctx.reply(RPL_WHOISCHANNELS, target.nick, " ".join(line))
            line = []
        line.append(name)
    if line:
        ctx.reply(RPL_WHOISCHANNELS, target.nick, " ".join(line))
    ctx.reply(RPL_WHOISSERVER, target.nick, target.server or ctx.network.name, _SERVER_INFO)
    if (ctx.client.is_oper or ctx.client is target) and target.host != target.ip:
        actual = f"{target.user}@{target.ip}"
        ctx.reply(RPL_WHOISACTUALLY, target.nick, actual, target.ip, "Actual user@host, Actual IP")
    if target.away is not None:
        ctx.reply(RPL_AWAY, target.nick, target.away)
    if target.is_oper:
        ctx.reply(RPL_WHOISOPERATOR, target.nick, "is an IRC operator")
    if BOT_MODE in target.modes:
        ctx.reply(RPL_WHOISBOT, target.nick, f"is a bot on {ctx.network.name}")
    if target.conn.tls:
        ctx.reply(RPL_WHOISSECURE, target.nick, "is using a secure connection")
    if target.account:
        ctx.reply(RPL_WHOISACCOUNT, target.nick, target.account, "is logged in as")
    idle = str(max(0, int(time.time() - target.last_active)))
    ctx.reply(
        RPL_WHOISIDLE, target.nick, idle, str(int(target.signon)), "seconds idle, signon time"
    )
    ctx.reply(RPL_ENDOFWHOIS, target.nick, "End of /WHOIS list")


def handle_whowas(ctx: Context, msg: Message) -> None:
    """WHOWAS <nick> [<count>]"""
    nick = msg.params[0]
    count = parse_count(msg.param(1)) or 0
    nick_folded = fold(nick)
    found = 0
    for entry in reversed(ctx.network.whowas):
        if fold(entry.nick) != nick_folded:
            continue
        ctx.reply(RPL_WHOWASUSER, entry.nick, entry.user, entry.host, "*", entry.realname)
        ctx.reply(RPL_WHOISSERVER, entry.nick, ctx.network.name, time.ctime(entry.when))
        found += 1
        if count and found >= count:
            break
    if not found:
        ctx.reply(ERR_WASNOSUCHNICK, nick, "There was no such nickname")
    ctx.reply(RPL_ENDOFWHOWAS, nick, "End of WHOWAS")


def handle_ison(ctx: Context, msg: Message) -> None:
    """ISON <nick>{ <nick>}"""
    present = []
    for param in msg.params:
        for nick in param.split():
            target = ctx.network.find(nick)
            if target is not None and target.registered:
                present.append(target.nick)
    ctx.reply(RPL_ISON, " ".join(present))


def handle_userhost(ctx: Context, msg: Message) -> None:
    """USERHOST <nick>{ <nick>} (at most five)"""
    entries = []
    for nick in [n for p in msg.params for n in p.split()][:5]:
        target = ctx.network.find(nick)
        if target is None or not target.registered:
            continue
        oper = "*" if target.is_oper else ""
        away = "-" if target.away is not None else "+"
        entries.append(f"{target.nick}{oper}={away}{target.user}@{target.host}")
    ctx.reply(RPL_USERHOST, " ".join(entries))


def handle_lusers(ctx: Context, msg: Message) -> None:
    """LUSERS"""
    send_lusers(ctx)


def handle_motd(ctx: Context, msg: Message) -> None:
    """MOTD"""
    send_motd(ctx)


def handle_version(ctx: Context, msg: Message) -> None:
    """VERSION"""
    ctx.reply(RPL_VERSION, f"chinwag-{__version__}", ctx.network.name, "Python IRC server")
    for tokens in isupport_lines(isupport_tokens(ctx)):
        ctx.reply(RPL_ISUPPORT, *tokens, "are supported by this server")


def handle_time(ctx: Context, msg: Message) -> None:
    """TIME"""
    now = time.strftime("%A %B %d %Y -- %H:%M:%S +00:00", time.gmtime())
    ctx.reply(RPL_TIME, ctx.network.name, now)


COMMANDS: dict[str, CommandSpec] = {
    "WHOIS": CommandSpec(handle_whois, min_params=1),
    "WHOWAS": CommandSpec(handle_whowas, min_params=1),
    "ISON": CommandSpec(handle_ison, min_params=1),
    "USERHOST": CommandSpec(handle_userhost, min_params=1),
    "LUSERS": CommandSpec(handle_lusers),
    "MOTD": CommandSpec(handle_motd),
    "VERSION": CommandSpec(handle_version),
    "TIME": CommandSpec(handle_time),
}
