"""How each server message changes the client session: one small function per command.

A handler is ``(session, msg) -> list[Posted]``, found in `HANDLERS` by command name (numerics
without a handler of their own go to ``"<numeric>"``). Handlers change the session through its
methods and return the lines they added; they never do I/O.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from chinwag.client.conversation import SERVER_KEY, ConversationKind, Member, parse_prefix_token
from chinwag.client.lines import ActionLine, ChatLine, ErrorLine, Posted, SystemKind, SystemLine
from chinwag.client.nickserv import NICKSERV_FOLDED, handle_nickserv_notice, probe_nick
from chinwag.client.outgoing import give_up, release
from chinwag.client.query_replies import QUERY_REPLIES
from chinwag.client.roster import ROSTER_REPLIES, ask_room_modes
from chinwag.protocol import Message, parse_isupport
from chinwag.protocol import numerics as n

if TYPE_CHECKING:
    from chinwag.client.session import Session

__all__ = ["HANDLERS"]

Handler = Callable[["Session", Message], list[Posted]]
HANDLERS: dict[str, Handler] = {}

_CTCP = "\x01"
_SERVER_TEXT_NUMERICS = frozenset(
    {
        n.RPL_YOURHOST,
        n.RPL_CREATED,
        n.RPL_LUSERCLIENT,
        n.RPL_LUSEROP,
        n.RPL_LUSERUNKNOWN,
        n.RPL_LUSERCHANNELS,
        n.RPL_LUSERME,
        n.RPL_LOCALUSERS,
        n.RPL_GLOBALUSERS,
        n.RPL_MOTDSTART,
        n.RPL_MOTD,
    }
)
_SILENT_NUMERICS = frozenset(
    {
        n.RPL_MYINFO,
        n.RPL_ENDOFWHOIS,
        n.RPL_ENDOFWHO,
        n.RPL_CREATIONTIME,
        n.RPL_UMODEIS,
        n.RPL_ENDOFNAMES,
        n.RPL_SASLMECHS,
        n.RPL_LISTSTART,
    }
)


_JOIN_REFUSALS = frozenset(
    {
        n.ERR_TOOMANYCHANNELS,
        n.ERR_CHANNELISFULL,
        n.ERR_INVITEONLYCHAN,
        n.ERR_BANNEDFROMCHAN,
        n.ERR_BADCHANNELKEY,
    }
)


def handles(*commands: str) -> Callable[[Handler], Handler]:
    """Register a handler for ``commands``."""

    def register(func: Handler) -> Handler:
        for command in commands:
            HANDLERS[command] = func
        return func

    return register


def _system(s: Session, msg: Message, text: str, kind: SystemKind) -> SystemLine:
    return SystemLine(s.time_of(msg), text, kind)


def _last(msg: Message) -> str:
    """The trailing parameter, or "" when a (malformed) message has none."""
    return msg.params[-1] if msg.params else ""


def _reason(msg: Message, index: int) -> str:
    reason = msg.param(index)
    return f" ({reason})" if reason else ""


@handles("PING")
def handle_ping(s: Session, msg: Message) -> list[Posted]:
    """PING token: answer at once."""
    s.send(Message("PONG", msg.params))
    return []


@handles("CAP")
def handle_cap(s: Session, msg: Message) -> list[Posted]:
    """CAP <nick> LS|ACK|NAK|NEW|DEL [*] :caps"""
    sub = msg.param(1).upper()
    more = msg.param(2) == "*" and len(msg.params) > 3
    caps = _last(msg).split() if len(msg.params) > 2 else []
    if sub == "LS":
        return s.cap_offered(caps, final=not more)
    if sub == "NEW":
        return s.cap_offered(caps, final=True)
    if sub == "ACK":
        s.caps_acknowledged(caps)
    elif sub == "NAK":
        s.cap_finish()
    elif sub == "DEL":
        s.caps.difference_update(caps)
    return []


def _split_ctcp(text: str) -> tuple[str, str] | None:
    if len(text) > 1 and text.startswith(_CTCP):
        body = text[1:].removesuffix(_CTCP)
        verb, _, rest = body.partition(" ")
        return verb.upper(), rest
    return None


def _history_line(s: Session, msg: Message) -> ChatLine | ActionLine | None:
    """A line of a chathistory batch as a history line (None for CTCP other than ACTION)."""
    nick = msg.source_nick or s.server_name or "server"
    own = s.is_me(nick)
    text = msg.param(1)
    msgid = msg.tags.get("msgid", "")
    ctcp = _split_ctcp(text)
    when = s.time_of(msg)
    if ctcp is None:
        notice = msg.command == "NOTICE"
        return ChatLine(when, nick, text, own=own, notice=notice, msgid=msgid, history=True)
    if ctcp[0] == "ACTION":
        return ActionLine(when, nick, ctcp[1], own=own, msgid=msgid, history=True)
    return None


@handles("BATCH")
def handle_batch(s: Session, msg: Message) -> list[Posted]:
    """BATCH +ref <type> [params...] / BATCH -ref (only ``chathistory`` batches mean anything)."""
    ref = msg.param(0)
    if ref.startswith("+"):
        s.batch_started(ref[1:], msg.param(1), list(msg.params[2:]))
        return []
    if ref.startswith("-"):
        return s.batch_ended(ref[1:])
    return []


@handles("PRIVMSG", "NOTICE")
def handle_privmsg(s: Session, msg: Message) -> list[Posted]:
    """PRIVMSG|NOTICE <target> :<text>, including CTCP ACTION (/me)."""
    msgid = msg.tags.get("msgid", "")
    if s.seen_before(msgid) or s.ignoring(msg.source):
        return []  # already shown (live or in an earlier history page), or /ignored
    batch = s.history_batch(msg)
    if batch is not None:
        said_before = _history_line(s, msg)
        if said_before is not None:
            batch.lines.append(said_before)
        return []
    notice = msg.command == "NOTICE"
    target = s.strip_statusmsg(msg.param(0))
    text = msg.param(1)
    nick = msg.source_nick or s.server_name or "server"
    from_server = msg.source is None or ("!" not in msg.source and "." in msg.source)
    own = s.is_me(nick)
    ctcp = _split_ctcp(text)
    if ctcp is not None and ctcp[0] != "ACTION":
        # Requests are answered (see chinwag.client.ctcp) or ignored, never shown.
        reply = None if notice or own else s.ctcp_replies.answer(ctcp[0], ctcp[1])
        if reply is not None:
            s.send(Message.of("NOTICE", nick, f"{_CTCP}{ctcp[0]} {reply}{_CTCP}"))
        return []
    if s.is_channel(target):
        key = s.key_of(target)
        s.conversation(target)
    elif own:
        key = s.key_of(target)
        s.conversation(target, ConversationKind.PRIVATE)
    elif from_server or not s.registered:
        key = SERVER_KEY
    elif notice and s.fold(nick) not in s.conversations:
        key = s.active
    else:
        key = s.fold(nick)
        new = key not in s.conversations
        conv = s.conversation(nick, ConversationKind.PRIVATE)
        conv.name = nick
        if new:
            s.request_latest(nick)  # what we said before; this line comes back as a duplicate
    when = s.time_of(msg)
    if ctcp is not None:
        highlight = not own and s.mentions_me(ctcp[1])
        line: ChatLine | ActionLine = ActionLine(
            when, nick, ctcp[1], own=own, highlight=highlight, msgid=msgid
        )
        return [s.post(key, line)]
    highlight = not own and not from_server and s.mentions_me(text)
    line = ChatLine(when, nick, text, own=own, highlight=highlight, notice=notice, msgid=msgid)
    if notice and s.fold(nick) == NICKSERV_FOLDED:
        return handle_nickserv_notice(s, key, line)
    return [s.post(key, line)]


@handles("JOIN")
def handle_join(s: Session, msg: Message) -> list[Posted]:
    """JOIN <channel>"""
    channel = msg.param(0)
    nick = msg.source_nick or ""
    conv = s.conversation(channel, ConversationKind.CHANNEL)
    key = s.key_of(channel)
    if s.is_me(nick):
        conv.name = channel
        conv.joined = True
        conv.members.clear()
        s.want_room(channel)
        if s.active == SERVER_KEY or s.focus_on_join == key:
            s.focus_on_join = None
            s.set_active(key)
        s.request_latest(channel)
        ask_room_modes(s, channel)  # a delayed-join room lists its silent members in WHO only
        text = f"You have joined {channel}"
    elif s.fold(nick) in conv.members:
        return []  # a silent member of a delayed-join room who speaks: WHO listed them already
    else:
        text = f"{nick} has joined {channel}"
    conv.members[s.fold(nick)] = Member(nick)
    s.changed = True
    joined = s.post(key, _system(s, msg, text, SystemKind.JOIN))
    return [joined, *release(s, key)] if s.is_me(nick) else [joined]


@handles("PART")
def handle_part(s: Session, msg: Message) -> list[Posted]:
    """PART <channel> [:reason]"""
    channel = msg.param(0)
    key = s.key_of(channel)
    conv = s.conversations.get(key)
    nick = msg.source_nick or ""
    if conv is None:
        return []
    if _leave(s, key, nick):
        text = f"You have left {channel}{_reason(msg, 1)}"
    else:
        text = f"{nick} has left {channel}{_reason(msg, 1)}"
    return [s.post(key, _system(s, msg, text, SystemKind.PART))]


def _leave(s: Session, key: str, nick: str) -> bool:
    """Take ``nick`` out of the room ``key``; True when that was me (the room is then closed)."""
    conv = s.conversations[key]
    s.changed = True
    if s.is_me(nick):
        conv.joined = False
        conv.members.clear()
        s.rooms.pop(key, None)
        return True
    conv.members.pop(s.fold(nick), None)
    return False


@handles("KICK")
def handle_kick(s: Session, msg: Message) -> list[Posted]:
    """KICK <channel> <nick> [:reason]"""
    channel, victim = msg.param(0), msg.param(1)
    key = s.key_of(channel)
    conv = s.conversations.get(key)
    if conv is None:
        return []
    by = msg.source_nick or "the server"
    if _leave(s, key, victim):
        text = f"You were kicked from {channel} by {by}{_reason(msg, 2)}"
    else:
        text = f"{victim} was kicked from {channel} by {by}{_reason(msg, 2)}"
    return [s.post(key, _system(s, msg, text, SystemKind.KICK))]


@handles("QUIT")
def handle_quit(s: Session, msg: Message) -> list[Posted]:
    """QUIT [:reason]"""
    nick = msg.source_nick or ""
    nick_folded = s.fold(nick)
    text = f"{nick} has quit{_reason(msg, 0)}"
    out: list[Posted] = []
    for key, conv in list(s.conversations.items()):
        if conv.members.pop(nick_folded, None) is not None or key == nick_folded:
            s.changed = True
            out.append(s.post(key, _system(s, msg, text, SystemKind.QUIT)))
    return out


@handles("NICK")
def handle_nick(s: Session, msg: Message) -> list[Posted]:
    """NICK <newnick>"""
    old = msg.source_nick or ""
    new = msg.param(0)
    old_folded, new_folded = s.fold(old), s.fold(new)
    me = s.is_me(old)
    if me:
        s.nick = new
        text = f"You are now known as {new}"
    else:
        text = f"{old} is now known as {new}"
    s.changed = True
    out: list[Posted] = []
    for key, conv in list(s.conversations.items()):
        member = conv.members.pop(old_folded, None)
        if member is not None:
            member.nick = new
            conv.members[new_folded] = member
            out.append(s.post(key, _system(s, msg, text, SystemKind.NICK)))
        elif key == old_folded and conv.is_private:
            del s.conversations[key]
            conv.name = new
            s.conversations[new_folded] = conv
            if s.active == old_folded:
                s.active = new_folded
            out.append(s.post(new_folded, _system(s, msg, text, SystemKind.NICK)))
    if me and not out:
        out.append(s.post(SERVER_KEY, _system(s, msg, text, SystemKind.NICK)))
    return out


@handles("TOPIC")
def handle_topic(s: Session, msg: Message) -> list[Posted]:
    """TOPIC <channel> :<text>"""
    channel, topic = msg.param(0), msg.param(1)
    conv = s.conversation(channel, ConversationKind.CHANNEL)
    conv.topic = topic
    s.changed = True
    who = msg.source_nick or "the server"
    text = f"{who} changed the topic to: {topic}" if topic else f"{who} cleared the topic"
    return [s.post(s.key_of(channel), _system(s, msg, text, SystemKind.TOPIC))]


@handles("MODE")
def handle_mode(s: Session, msg: Message) -> list[Posted]:
    """MODE <target> <modes> [args...]"""
    target = msg.param(0)
    who = msg.source_nick or "the server"
    text = f"{who} sets mode {' '.join(msg.params[1:])} on {target}"
    if not s.is_channel(target):
        return [s.post(SERVER_KEY, _system(s, msg, text, SystemKind.MODE))]
    conv = s.conversation(target, ConversationKind.CHANNEL)
    prefix_map = s.prefix_map
    list_modes, always, when_set, _ = s.chanmodes
    args = list(msg.params[2:])
    adding = True
    for char in msg.param(1):
        if char in "+-":
            adding = char == "+"
            continue
        takes_arg = char in prefix_map.modes or char in list_modes or char in always
        takes_arg = takes_arg or (adding and char in when_set)
        arg = args.pop(0) if takes_arg and args else ""
        symbol = prefix_map.symbol_for(char)
        member = conv.members.get(s.fold(arg)) if symbol else None
        if member is not None:
            prefixes = member.prefixes + symbol if adding else member.prefixes.replace(symbol, "")
            member.prefixes = prefix_map.sort(prefixes)
            s.changed = True
    return [s.post(s.key_of(target), _system(s, msg, text, SystemKind.MODE))]


@handles("AWAY")
def handle_away(s: Session, msg: Message) -> list[Posted]:
    """AWAY [:message] (away-notify)"""
    nick_folded = s.fold(msg.source_nick or "")
    for conv in s.conversations.values():
        member = conv.members.get(nick_folded)
        if member is not None:
            member.away = bool(msg.params)
            s.changed = True
    return []


@handles("ERROR")
def handle_error(s: Session, msg: Message) -> list[Posted]:
    """ERROR :<reason> (the server is closing the connection; expected after our QUIT)"""
    s.closing_reason = msg.param(0)
    if s.quitting:
        return []
    line = ErrorLine(s.time_of(msg), f"Server closed the connection: {msg.param(0)}")
    return [s.post(SERVER_KEY, line)]


@handles("AUTHENTICATE")
def handle_authenticate(s: Session, msg: Message) -> list[Posted]:
    """AUTHENTICATE + (the server waits for our PLAIN credentials)"""
    if msg.param(0) == "+" and s.account:
        s.sasl_response()
    return []


@handles(n.RPL_LOGGEDIN, n.RPL_LOGGEDOUT)
def handle_logged_in(s: Session, msg: Message) -> list[Posted]:
    """900 <nick> <mask> <account> :You are now logged in / 901 <nick> <mask> :logged out"""
    s.logged_in_as = msg.param(2) if msg.command == n.RPL_LOGGEDIN else None
    s.changed = True
    return [s.post(SERVER_KEY, _system(s, msg, _last(msg), SystemKind.INFO))]


@handles(n.RPL_SASLSUCCESS, n.ERR_SASLFAIL, n.ERR_SASLTOOLONG, n.ERR_SASLABORTED, n.ERR_SASLALREADY)
def handle_sasl_done(s: Session, msg: Message) -> list[Posted]:
    """903 success, 904-907 failure: either way registration goes on."""
    s.cap_finish()
    if msg.command == n.RPL_SASLSUCCESS:
        return []
    text = f"Could not log in as {s.account}: {_last(msg)}"
    return [
        s.post(
            SERVER_KEY if not s.registered else s.active,
            ErrorLine(s.time_of(msg), text, msg.command),
        )
    ]


@handles("FAIL", "WARN", "NOTE")
def handle_standard_reply(s: Session, msg: Message) -> list[Posted]:
    """FAIL|WARN|NOTE <command> <code> [context...] :<description> (IRCv3 standard replies)"""
    command, description = msg.param(0), _last(msg)
    key = s.active if s.registered else SERVER_KEY
    if msg.command == "FAIL" and command == "CHATHISTORY":
        s.history_failed(msg.param(3))
    if msg.command == "FAIL":
        return [s.post(key, ErrorLine(s.time_of(msg), f"{command} failed: {description}", "FAIL"))]
    return [s.post(key, _system(s, msg, f"{command}: {description}", SystemKind.INFO))]


@handles("REGISTER")
def handle_register_reply(s: Session, msg: Message) -> list[Posted]:
    """REGISTER SUCCESS <account> :<message> (draft/account-registration)"""
    if msg.param(0) == "SUCCESS":
        s.logged_in_as = msg.param(1)
        s.changed = True
    return [s.post(s.active, _system(s, msg, _last(msg), SystemKind.INFO))]


@handles(n.RPL_WELCOME)
def handle_welcome(s: Session, msg: Message) -> list[Posted]:
    """001 <nick> :Welcome..."""
    s.registered = True
    s.nick = msg.param(0) or s.nick
    s.nick_error = None
    s.server_name = msg.source or ""
    s.changed = True
    return [s.post(SERVER_KEY, _system(s, msg, _last(msg), SystemKind.INFO))]


@handles(n.RPL_ISUPPORT)
def handle_isupport(s: Session, msg: Message) -> list[Posted]:
    """005 <nick> TOKEN[=value]... :are supported by this server"""
    parse_isupport(msg.params[1:-1], s.isupport)
    if "CASEMAPPING" in s.isupport:
        s.set_casemapping(s.isupport["CASEMAPPING"])
    return []


@handles(n.RPL_ENDOFMOTD, n.ERR_NOMOTD)
def handle_end_of_motd(s: Session, msg: Message) -> list[Posted]:
    """376/422: registration is complete; join the rooms we should be in.

    Private conversations kept from before a reconnect ask for what was said meanwhile, and say
    what was typed to them while disconnected.
    """
    s.rejoin()
    probe_nick(s)
    posted: list[Posted] = []
    for key, conv in list(s.conversations.items()):
        if conv.is_private:
            s.request_latest(conv.name)
            posted += release(s, key)
    return posted


@handles(n.RPL_NAMREPLY)
def handle_names(s: Session, msg: Message) -> list[Posted]:
    """353 <nick> <symbol> <channel> :[prefix]nick..."""
    buffer = s.names_buffer(msg.param(2))
    prefix_map = s.prefix_map
    for token in _last(msg).split():
        prefixes, nick = parse_prefix_token(token, prefix_map)
        if nick:
            buffer.members[s.fold(nick)] = Member(nick, prefixes)
    return []


@handles(n.RPL_ENDOFNAMES)
def handle_end_of_names(s: Session, msg: Message) -> list[Posted]:
    """366 <nick> <channel> :End of /NAMES list"""
    s.names_done(msg.param(1))
    return []


@handles(n.RPL_TOPIC, n.RPL_NOTOPIC)
def handle_rpl_topic(s: Session, msg: Message) -> list[Posted]:
    """332 <nick> <channel> :<topic> / 331 <nick> <channel> :No topic is set"""
    channel = msg.param(1)
    conv = s.conversation(channel, ConversationKind.CHANNEL)
    topic = msg.param(2) if msg.command == n.RPL_TOPIC else ""
    conv.topic = topic
    s.changed = True
    text = f"Topic for {channel}: {topic}" if topic else f"No topic is set for {channel}"
    return [s.post(s.key_of(channel), _system(s, msg, text, SystemKind.TOPIC))]


@handles(n.RPL_TOPICWHOTIME)
def handle_topic_who_time(s: Session, msg: Message) -> list[Posted]:
    """333 <nick> <channel> <setter> <setat>"""
    channel, setter, set_at = msg.param(1), msg.param(2), msg.param(3)
    when = ""
    if set_at.isdigit():
        when = datetime.fromtimestamp(int(set_at), UTC).strftime(" on %Y-%m-%d %H:%M UTC")
    text = f"Topic set by {setter.split('!', 1)[0]}{when}"
    return [s.post_to(channel, _system(s, msg, text, SystemKind.TOPIC))]


@handles(n.RPL_NOWAWAY, n.RPL_UNAWAY)
def handle_now_away(s: Session, msg: Message) -> list[Posted]:
    """306/305 <nick> :You have been marked as being away / no longer away"""
    s.away = msg.command == n.RPL_NOWAWAY
    s.changed = True
    return [s.post(s.active, _system(s, msg, _last(msg), SystemKind.AWAY))]


@handles(n.ERR_NICKNAMEINUSE, n.ERR_ERRONEUSNICKNAME)
def handle_bad_nick(s: Session, msg: Message) -> list[Posted]:
    """433/432 <me> <nick> :reason (before registration the network layer asks again)."""
    nick = msg.param(1)
    if msg.command == n.ERR_NICKNAMEINUSE:
        text = f"The nick {nick} is already taken"
    else:
        text = f"The nick {nick} is not valid: {_last(msg)}"
    if not s.registered:
        s.nick_error = text
        return [s.post(SERVER_KEY, ErrorLine(s.time_of(msg), text, msg.command))]
    return [s.post(s.active, ErrorLine(s.time_of(msg), text, msg.command))]


@handles("<numeric>")
def handle_numeric(s: Session, msg: Message) -> list[Posted]:
    """Every other numeric: errors as readable lines, the rest as server information."""
    code = msg.command
    if code in _SILENT_NUMERICS:
        return []
    params = msg.params[1:]
    if code in _SERVER_TEXT_NUMERICS or not params:
        # "251 me :There are..." but "252 me 0 :operator(s) online": keep that count.
        counted = code in (n.RPL_LUSEROP, n.RPL_LUSERUNKNOWN, n.RPL_LUSERCHANNELS)
        text = (" ".join(params) if counted else params[-1]) if params else code
        return [s.post(SERVER_KEY, _system(s, msg, text, SystemKind.INFO))]
    text = f"{' '.join(params[:-1])}: {params[-1]}" if len(params) > 1 else params[0]
    if code[0] in "45":
        if code == n.ERR_UNKNOWNCOMMAND and params[0].upper() == "CAP":
            s.cap_finish()
            return []
        subject_folded = s.fold(params[0])
        key = subject_folded if subject_folded in s.conversations else s.active
        posted = [s.post(key, ErrorLine(s.time_of(msg), text, code))]
        if code in _JOIN_REFUSALS:
            posted += give_up(s, subject_folded)  # no rejoining, no holding lines for it
        return posted
    return [
        s.post(s.active if s.registered else SERVER_KEY, _system(s, msg, text, SystemKind.INFO))
    ]


HANDLERS.update(QUERY_REPLIES)
HANDLERS.update(ROSTER_REPLIES)
