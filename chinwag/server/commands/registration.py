"""Connection registration: CAP, PASS, NICK, USER, the welcome burst, PING/PONG and QUIT.

Registration completes when the client has a nick, has sent USER, and is not in the middle of
capability negotiation (``CAP LS``/``REQ`` suspend it until ``CAP END``, IRCv3 capability
negotiation). If the server has a password, PASS is checked then, off the event loop, because
argon2 is slow on purpose.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time

from chinwag import __version__
from chinwag.logs import fields
from chinwag.protocol import CASEMAPPING, Message, is_valid_nick, isupport_lines, parse_count
from chinwag.protocol.numerics import (
    ERR_ALREADYREGISTERED,
    ERR_ERRONEUSNICKNAME,
    ERR_INVALIDCAPCMD,
    ERR_NEEDMOREPARAMS,
    ERR_NICKNAMEINUSE,
    ERR_NOMOTD,
    ERR_NONICKNAMEGIVEN,
    ERR_NOORIGIN,
    ERR_PASSWDMISMATCH,
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
from chinwag.protocol.validate import sanitize_username
from chinwag.server.commands.accounts import MECHANISMS, sasl_holds_registration
from chinwag.server.commands.base import CommandSpec, Context
from chinwag.server.errors import IrcError
from chinwag.server.network import Network
from chinwag.server.passwords import verify_password
from chinwag.server.state import Cap, RegState

__all__ = ["CAPABILITIES", "COMMANDS", "send_lusers", "send_motd"]

log = logging.getLogger("chinwag.registration")

USER_MODES = "iow"
CHANNEL_MODES = "biklmnostv"
CHANNEL_MODES_WITH_PARAM = "bklov"

# Capability name -> flag. Order is the order of CAP LS.
CAPABILITIES: dict[str, int] = {
    "account-notify": Cap.ACCOUNT_NOTIFY,
    "account-tag": Cap.ACCOUNT_TAG,
    "away-notify": Cap.AWAY_NOTIFY,
    "batch": Cap.BATCH,
    "cap-notify": Cap.CAP_NOTIFY,
    "draft/chathistory": Cap.CHATHISTORY,
    "draft/account-registration": Cap.ACCOUNT_REGISTRATION,
    "echo-message": Cap.ECHO_MESSAGE,
    "extended-join": Cap.EXTENDED_JOIN,
    "invite-notify": Cap.INVITE_NOTIFY,
    "labeled-response": Cap.LABELED_RESPONSE,
    "message-tags": Cap.MESSAGE_TAGS,
    "multi-prefix": Cap.MULTI_PREFIX,
    "sasl": Cap.SASL,
    "server-time": Cap.SERVER_TIME,
    "setname": Cap.SETNAME,
    "userhost-in-names": Cap.USERHOST_IN_NAMES,
}
_CAP_LS_CHUNK = 400
# Offered only while accounts are enabled; values are shown to CAP LS 302 clients.
_ACCOUNT_CAPS = frozenset({"sasl", "draft/account-registration"})
_CAP_VALUES = {"sasl": MECHANISMS}


def _capabilities(ctx: Context) -> dict[str, int]:
    """The capabilities this server offers now (account ones only with accounts enabled)."""
    if ctx.server.accounts.enabled:
        return CAPABILITIES
    return {name: flag for name, flag in CAPABILITIES.items() if name not in _ACCOUNT_CAPS}


def isupport_tokens(ctx: Context) -> dict[str, str | None]:
    """The ISUPPORT tokens, honest about this server's configured limits."""
    limits = ctx.limits
    targets = limits.max_targets
    return {
        "AWAYLEN": str(limits.away_length),
        "CASEMAPPING": CASEMAPPING,
        "CHANLIMIT": f"#:{limits.max_channels_per_user}",
        "CHANMODES": "b,k,l,imnst",
        "CHANNELLEN": str(limits.channel_length),
        "CHANTYPES": "#",
        "CHATHISTORY": str(ctx.server.config.history.chathistory_max),
        "ELIST": "U",
        "HOSTLEN": "64",
        "KICKLEN": str(limits.kick_length),
        "MAXLIST": f"b:{limits.max_list_modes}",
        "MAXTARGETS": str(targets),
        "MODES": "4",
        "MSGREFTYPES": "msgid,timestamp",
        "NETWORK": ctx.server.config.server.network,
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
    }


# -- CAP -------------------------------------------------------------------------------------------


def handle_cap(ctx: Context, msg: Message) -> None:
    """CAP <LS [version] | LIST | REQ :caps | END>"""
    client = ctx.client
    sub = msg.params[0].upper()
    if sub == "LS":
        version = msg.param(1)
        if not client.registered:
            client.cap_negotiating = True
        number = parse_count(version)
        if number is not None:
            client.cap_version = max(client.cap_version, number)
        if client.cap_version >= 302:
            client.caps |= Cap.CAP_NOTIFY
        names = list(_capabilities(ctx))
        if client.cap_version >= 302:
            names = [f"{n}={_CAP_VALUES[n]}" if n in _CAP_VALUES else n for n in names]
        _send_cap_list(ctx, "LS", names)
    elif sub == "LIST":
        enabled = [name for name, flag in CAPABILITIES.items() if client.caps & flag]
        _send_cap_list(ctx, "LIST", enabled)
    elif sub == "REQ":
        if not client.registered:
            client.cap_negotiating = True
        _cap_req(ctx, msg.param(1))
    elif sub == "END":
        if not client.registered:
            client.cap_negotiating = False
            try_register(ctx)
    else:
        ctx.reply(ERR_INVALIDCAPCMD, msg.params[0], "Invalid CAP command")


def _send_cap_list(ctx: Context, sub: str, names: list[str]) -> None:
    chunks: list[str] = []
    current = ""
    for name in names:
        if current and len(current) + len(name) + 1 > _CAP_LS_CHUNK:
            chunks.append(current)
            current = ""
        current = f"{current} {name}" if current else name
    chunks.append(current)
    nick = ctx.client.nick
    multiline = ctx.client.cap_version >= 302
    for index, chunk in enumerate(chunks):
        if multiline and index < len(chunks) - 1:
            ctx.send("CAP", nick, sub, "*", chunk)
        else:
            ctx.send("CAP", nick, sub, chunk)


def _cap_req(ctx: Context, requested: str) -> None:
    client = ctx.client
    add = Cap.NONE
    remove = Cap.NONE
    for token in requested.split():
        name = token.lstrip("-")
        flag = _capabilities(ctx).get(name.lower())
        if flag is None or (token.startswith("-") and flag == Cap.CAP_NOTIFY):
            ctx.send("CAP", client.nick, "NAK", requested)
            return
        if token.startswith("-"):
            remove |= flag
        else:
            add |= flag
    client.caps = (client.caps | add) & ~remove
    ctx.send("CAP", client.nick, "ACK", requested)


# -- PASS, NICK, USER ------------------------------------------------------------------------------


def handle_pass(ctx: Context, msg: Message) -> None:
    """PASS <password>"""
    if ctx.client.state is not RegState.CONNECTED:
        raise IrcError(ERR_ALREADYREGISTERED, "You may not reregister")
    ctx.client.password = msg.params[0]


def handle_nick(ctx: Context, msg: Message) -> None:
    """NICK <nickname>"""
    client = ctx.client
    nick = msg.param(0)
    if not nick:
        raise IrcError(ERR_NONICKNAMEGIVEN, "No nickname given")
    if not is_valid_nick(nick, ctx.limits.nick_length):
        raise IrcError(ERR_ERRONEUSNICKNAME, nick, "Erroneous nickname")
    if nick == client.nick:
        return
    if ctx.network.nick_in_use(nick, client):
        raise IrcError(ERR_NICKNAMEINUSE, nick, "Nickname is already in use")
    if client.registered:
        ctx.network.rename(client, nick)
        ctx.server.accounts.check_nick(client)
        return
    ctx.network.claim_nick(client, nick)
    try_register(ctx)


def handle_user(ctx: Context, msg: Message) -> None:
    """USER <user> <mode> <unused> :<realname>"""
    client = ctx.client
    if client.user or client.state is not RegState.CONNECTED:
        raise IrcError(ERR_ALREADYREGISTERED, "You may not reregister")
    if not msg.params[0]:
        raise IrcError(ERR_NEEDMOREPARAMS, "USER", "Not enough parameters")
    client.user = sanitize_username(msg.params[0])
    client.realname = msg.params[3][: ctx.limits.realname_length]
    try_register(ctx)


def try_register(ctx: Context) -> None:
    """Finish registration when NICK, USER and CAP negotiation are all done."""
    client = ctx.client
    if (
        client.state is not RegState.CONNECTED
        or client.nick == "*"
        or not client.user
        or client.cap_negotiating
        or sasl_holds_registration(ctx)
    ):
        return
    password_hash = ctx.server.config.server.password_hash
    if not password_hash:
        complete_registration(ctx)
        return
    client.state = RegState.VERIFYING
    ctx.server.spawn(_check_password(ctx, password_hash))


async def _check_password(ctx: Context, password_hash: str) -> None:
    client = ctx.client
    given = client.password or ""
    client.password = None
    ok = bool(given) and await asyncio.to_thread(verify_password, password_hash, given)
    if client.state is not RegState.VERIFYING:
        return
    if not ok:
        ctx.reply(ERR_PASSWDMISMATCH, "Password incorrect")
        client.conn.close("Bad password")
        return
    client.state = RegState.CONNECTED
    complete_registration(ctx)


def complete_registration(ctx: Context) -> None:
    """Send the welcome burst, then put the user in the common rooms."""
    client = ctx.client
    network = ctx.network
    if ctx.server.accounts.refuse_banned(client):
        return
    network.mark_registered(client)
    log.info(
        "registered %s (%s) from %s",
        client.nick,
        client.prefix,
        client.ip,
        extra=fields("registered", nick=client.nick, account=client.account, ip=client.ip),
    )
    network_name = ctx.server.config.server.network
    ctx.reply(RPL_WELCOME, f"Welcome to the {network_name} IRC Network {client.prefix}")
    nick = client.nick.encode("utf-8")
    slot = _NICK_SLOT * ctx.limits.nick_length
    isupport = tuple(tuple(tokens) for tokens in isupport_lines(isupport_tokens(ctx)))
    client.send(_greeting_template(network, slot, isupport).replace(slot.encode(), nick))
    send_lusers(ctx)
    motd = ctx.server.motd_text()
    client.send(_motd_template(network, slot, motd).replace(slot.encode(), nick))
    from chinwag.server.commands.channels import join_channel

    for name in ctx.server.config.server.default_channels:
        try:
            join_channel(ctx, name, None)
        except IrcError as err:
            ctx.reply(err.numeric, *err.params)
    ctx.server.accounts.check_nick(client)


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
    template = _motd_template(ctx.network, slot, ctx.server.motd_text())
    ctx.client.send(template.replace(slot.encode(), ctx.client.nick.encode("utf-8")))


# -- PING, PONG, QUIT ------------------------------------------------------------------------------


def handle_ping(ctx: Context, msg: Message) -> None:
    """PING <token>"""
    if not msg.params or not msg.params[0]:
        raise IrcError(ERR_NOORIGIN, "No origin specified")
    ctx.send("PONG", ctx.network.name, msg.params[0])


def handle_pong(ctx: Context, msg: Message) -> None:
    """PONG <token>: any input already counts as a sign of life, so nothing more to do."""


def handle_quit(ctx: Context, msg: Message) -> None:
    """QUIT [:<reason>]"""
    reason = msg.param(0)
    quit_message = f"Quit: {reason}" if reason else "Client Quit"
    ctx.client.conn.close(quit_message, quit_message=quit_message)


COMMANDS: dict[str, CommandSpec] = {
    "CAP": CommandSpec(handle_cap, min_params=1, before_registration=True),
    "PASS": CommandSpec(handle_pass, min_params=1, before_registration=True),
    "NICK": CommandSpec(handle_nick, before_registration=True),
    "USER": CommandSpec(handle_user, min_params=4, before_registration=True),
    "PING": CommandSpec(handle_ping, before_registration=True),
    "PONG": CommandSpec(handle_pong, before_registration=True),
    "QUIT": CommandSpec(handle_quit, before_registration=True),
}
