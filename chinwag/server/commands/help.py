"""HELP and HELPOP: the syntax and a short explanation of every command.

The syntax line is the handler's docstring (the command table is the one source of truth, so
the help cannot name a command the server does not have or miss one it has: a test checks that
every command has a text here). Replies as modern.ircdocs.horse describes them: 704 opens with
the syntax, 705 carries each line, 706 ends; 524 for an unknown topic.
"""

from __future__ import annotations

from collections.abc import Mapping
from textwrap import wrap

from chinwag.protocol import Message
from chinwag.protocol.numerics import ERR_HELPNOTFOUND, RPL_ENDOFHELP, RPL_HELPSTART, RPL_HELPTXT
from chinwag.server.commands.base import CommandSpec, Context

__all__ = ["COMMANDS", "TOPICS", "serve_from"]

_WIDTH = 72

TOPICS: dict[str, str] = {
    "ADMIN": "Who runs this server and how to reach them.",
    "AUTHENTICATE": "Log in with SASL (after CAP REQ sasl): PLAIN, the password in base64, "
    "in chunks of 400 bytes ending with a shorter chunk or +.",
    "AWAY": "Mark yourself away with a message, or back without one.",
    "CAP": "Negotiate IRCv3 capabilities: LS lists them, REQ asks, END finishes.",
    "CHATHISTORY": "Read stored history of a channel or a private conversation "
    "(LATEST, BEFORE, AFTER, AROUND, BETWEEN, TARGETS).",
    "HELP": "This help: HELP alone lists the commands, HELP <command> explains one.",
    "HELPOP": "The same as HELP.",
    "INFO": "What this server is and since when it runs.",
    "INVITE": "Invite a user to a channel you are in (as an operator under +i).",
    "ISON": "Which of the given nicks are online.",
    "JOIN": "Join channels, creating them if needed; JOIN 0 leaves every channel.",
    "KICK": "Remove users from a channel you operate, with an optional reason.",
    "KILL": "Disconnect a user (server operators).",
    "KLINE": "Ban a mask or an account from the server, optionally for a time: 90 (minutes), "
    "30m, 12h, 7d (server operators).",
    "KNOCK": "Ask the operators of an invite-only channel to invite you.",
    "LINKS": "The servers of the network (chinwag is one server).",
    "LIST": "The channels you may see, with their user counts and topics; "
    ">N and <N filter by size.",
    "LUSERS": "How many users, operators and channels there are.",
    "MODE": "Show or change modes of a channel (+o +v +n +t +m +i +s +k +l, lists "
    "+b +e +I with ~a:account and ~m:mask) or of yourself (+i +w +B, -o).",
    "MONITOR": "Be told when nicks come online or go offline: + adds, - removes, "
    "C clears, L lists, S shows their state.",
    "MOTD": "The message of the day.",
    "NAMES": "Who is in a channel.",
    "NICK": "Change your nick.",
    "NOTICE": "Send a notice to a channel or a user (never answered automatically).",
    "OPER": "Become a server operator.",
    "PART": "Leave channels, with an optional message.",
    "PASS": "The server password, sent before NICK and USER when the server has one.",
    "PING": "Ask the server for a PONG (to measure lag or keep the line busy).",
    "PONG": "The answer to the server's PING.",
    "PRIVMSG": "Send a message to a channel or a user.",
    "QUIT": "Leave the server with an optional message.",
    "REGISTER": "Create an account named after your nick (email optional), and log in.",
    "REHASH": "Re-read the configuration file, as SIGHUP does (server operators).",
    "SETNAME": "Change your real name (with the setname capability).",
    "STATS": "Server statistics: k (bans), c (connections per address), u (uptime), "
    "m (commands received), l (traffic and disconnections) (server operators).",
    "TAGMSG": "Send only tags (typing notifications, reactions) to a channel or a user.",
    "TIME": "The server's time.",
    "TOPIC": "Show or set a channel's topic.",
    "UNKLINE": "Lift a server ban (server operators).",
    "USER": "Your user name and real name, sent once when connecting.",
    "USERHOST": "The user@host of up to five nicks.",
    "USERS": "Refused here: LUSERS counts the users and WHO lists them.",
    "VERIFY": "Confirm an account with a code (accounts here need none).",
    "VERSION": "The server's version and ISUPPORT tokens.",
    "WALLOPS": "Send a message to every user with +w (server operators).",
    "WHO": "List users matching a mask or in a channel; %fields,token asks for WHOX fields "
    "(t c u i h s n f d l a o r).",
    "WHOIS": "Everything public about a user.",
    "WHOWAS": "Who used a nick recently.",
}
"""What each command does, in a sentence or two (the syntax comes from its handler)."""

_table: dict[str, CommandSpec] = {}


def serve_from(table: Mapping[str, CommandSpec]) -> None:
    """Answer HELP from ``table`` (the dispatcher's command table, given once at import)."""
    _table.clear()
    _table.update(table)


def _syntax(spec: CommandSpec) -> str:
    doc = spec.handler.__doc__ or ""
    return doc.strip().splitlines()[0] if doc.strip() else ""


def handle_help(ctx: Context, msg: Message) -> None:
    """HELP [<command>]"""
    subject = msg.param(0).upper()
    if not subject:
        ctx.reply(RPL_HELPSTART, "*", "chinwag speaks IRC; these are its commands:")
        for line in wrap(" ".join(sorted(_table)), _WIDTH):
            ctx.reply(RPL_HELPTXT, "*", line)
        ctx.reply(RPL_ENDOFHELP, "*", "HELP <command> explains one of them")
        return
    spec = _table.get(subject)
    text = TOPICS.get(subject)
    if spec is None or text is None:
        ctx.reply(ERR_HELPNOTFOUND, subject, "No help available on this topic")
        return
    ctx.reply(RPL_HELPSTART, subject, _syntax(spec))
    for line in wrap(text, _WIDTH):
        ctx.reply(RPL_HELPTXT, subject, line)
    ctx.reply(RPL_ENDOFHELP, subject, "End of /HELP")


COMMANDS: dict[str, CommandSpec] = {
    "HELP": CommandSpec(handle_help),
    "HELPOP": CommandSpec(handle_help),
}
