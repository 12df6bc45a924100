"""The welcome burst: 001-005 with ISUPPORT, LUSERS and the MOTD (LUSERS and MOTD also answer
their own commands, in ``commands/queries.py``).
"""

from __future__ import annotations

import functools
import time

from chinwag import __version__
from chinwag.protocol import CASEMAPPING, isupport_lines
from chinwag.protocol.numerics import (
    ERR_NOMOTD,
    RPL_CREATED,
    RPL_ENDOFMOTD,
    RPL_GLOBALUSERS,
    RPL_ISUPPORT,
    RPL_LOCALUSERS,
    RPL_LUSERCHANNELS,
    RPL_LUSERCLIENT,
    RPL_LUSERME,
    RPL_LUSEROP,
    RPL_LUSERUNKNOWN,
    RPL_MOTD,
    RPL_MOTDSTART,
    RPL_MYINFO,
    RPL_WELCOME,
    RPL_YOURHOST,
)
from chinwag.server.commands.base import Context
from chinwag.server.commands.monitor import MONITOR_LIMIT
from chinwag.server.commands.who import BOT_MODE
from chinwag.server.extbans import EXTBAN_PREFIX, EXTBAN_TYPES
from chinwag.server.network import Network

__all__ = ["isupport_tokens", "send_lusers", "send_motd", "send_welcome"]

USER_MODES = "Biow"
CHANNEL_MODES = "Ibeiklmnostv"
CHANNEL_MODES_WITH_PARAM = "Ibeklov"


def isupport_tokens(ctx: Context) -> dict[str, str | None]:
    """The ISUPPORT tokens, honest about this server's configured limits."""
    limits = ctx.limits
    targets = limits.max_targets
    return {
        "AWAYLEN": str(limits.away_length),
        "BOT": BOT_MODE,
        "CASEMAPPING": CASEMAPPING,
        "CHANLIMIT": f"#:{limits.max_channels_per_user}",
        "CHANMODES": "Ibe,k,l,Dimnst",
        "CHANNELLEN": str(limits.channel_length),
        "CHANTYPES": "#",
        "CHATHISTORY": str(ctx.config.history.chathistory_max),
        "ELIST": "U",
        "EXCEPTS": "e",
        "EXTBAN": f"{EXTBAN_PREFIX},{EXTBAN_TYPES}",
        "HOSTLEN": "64",
        "INVEX": "I",
        "KICKLEN": str(limits.kick_length),
        "KNOCK": None,
        "MAXLIST": f"beI:{limits.max_list_modes}",
        "MAXTARGETS": str(targets),
        "MODES": "4",
        "MONITOR": str(MONITOR_LIMIT),
        "MSGREFTYPES": "msgid,timestamp",
        "NETWORK": ctx.config.server.network,
        "NICKLEN": str(limits.nick_length),
        "PREFIX": "(ov)@+",
        "SAFELIST": None,
        "STATUSMSG": "@+",
        "TARGMAX": (
            f"JOIN:,KICK:1,LIST:,NAMES:1,NOTICE:{targets},PART:,PRIVMSG:{targets},"
            "TAGMSG:1,WHOIS:1,ISON:,USERHOST:5"
        ),
        "TOPICLEN": str(limits.topic_length),
        "USERLEN": "10",
        # Only UTF-8 is ever relayed: a line that is not UTF-8 is read as Latin-1 (the codec).
        "UTF8ONLY": None,
        "WHOX": None,
    }


def send_welcome(ctx: Context) -> None:
    """001-005, LUSERS and the MOTD, for a client that just registered."""
    client = ctx.client
    network = ctx.network
    network_name = ctx.config.server.network
    ctx.reply(RPL_WELCOME, f"Welcome to the {network_name} IRC Network {client.prefix}")
    nick = client.nick.encode("utf-8")
    slot = _NICK_SLOT * ctx.limits.nick_length
    isupport = tuple(tuple(tokens) for tokens in isupport_lines(isupport_tokens(ctx)))
    client.send(_greeting_template(network, slot, isupport).replace(slot.encode(), nick))
    send_lusers(ctx)
    client.send(_motd_template(network, slot, ctx.motd.text).replace(slot.encode(), nick))


# The greeting and the MOTD are the same for everyone but the nick: they are formatted once, with
# a placeholder as long as the longest nick (so that no line can grow past 512 bytes when the
# real nick goes in), and each registration only substitutes its nick.
_NICK_SLOT = "\x01"


@functools.lru_cache(maxsize=8)
def _greeting_template(network: Network, slot: str, isupport: tuple[tuple[str, ...], ...]) -> bytes:
    """002-005 for the nick ``slot``."""
    created = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(network.created))
    version = f"chinwag-{__version__}"
    lines = [
        network.numeric_line(
            slot, RPL_YOURHOST, f"Your host is {network.name}, running version {version}"
        ),
        network.numeric_line(slot, RPL_CREATED, f"This server was created {created}"),
        network.numeric_line(
            slot,
            RPL_MYINFO,
            network.name,
            version,
            USER_MODES,
            CHANNEL_MODES,
            CHANNEL_MODES_WITH_PARAM,
        ),
    ]
    lines.extend(
        network.numeric_line(slot, RPL_ISUPPORT, *tokens, "are supported by this server")
        for tokens in isupport
    )
    return b"".join(lines)


@functools.lru_cache(maxsize=8)
def _motd_template(network: Network, slot: str, text: str) -> bytes:
    """375, 372..., 376 for the nick ``slot``, or 422 when there is no MOTD."""
    if not text:
        return network.numeric_line(slot, ERR_NOMOTD, "MOTD File is missing")
    lines = [network.numeric_line(slot, RPL_MOTDSTART, f"- {network.name} Message of the day - ")]
    lines.extend(
        network.numeric_line(slot, RPL_MOTD, f"- {line}") for line in text.splitlines() or [""]
    )
    lines.append(network.numeric_line(slot, RPL_ENDOFMOTD, "End of /MOTD command."))
    return b"".join(lines)


def send_lusers(ctx: Context) -> None:
    """The LUSERS numerics (251-255, 265, 266)."""
    network = ctx.network
    total = network.user_count
    invisible = network.mode_counts["i"]
    opers = network.mode_counts["o"]
    unknown = len(network.connections) - total
    ctx.reply(
        RPL_LUSERCLIENT,
        f"There are {total - invisible} users and {invisible} invisible on 1 servers",
    )
    ctx.reply(RPL_LUSEROP, str(opers), "operator(s) online")
    ctx.reply(RPL_LUSERUNKNOWN, str(max(0, unknown)), "unknown connection(s)")
    ctx.reply(RPL_LUSERCHANNELS, str(len(network.channels)), "channels formed")
    ctx.reply(RPL_LUSERME, f"I have {total} clients and 0 servers")
    most = str(network.max_seen)
    ctx.reply(RPL_LOCALUSERS, str(total), most, f"Current local users {total}, max {most}")
    ctx.reply(RPL_GLOBALUSERS, str(total), most, f"Current global users {total}, max {most}")


def send_motd(ctx: Context) -> None:
    """The message of the day (375, 372..., 376), or 422 when there is none."""
    slot = _NICK_SLOT * ctx.limits.nick_length
    template = _motd_template(ctx.network, slot, ctx.motd.text)
    ctx.client.send(template.replace(slot.encode(), ctx.client.nick.encode("utf-8")))
