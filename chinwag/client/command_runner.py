"""Running what the user typed: a command from `chinwag.client.user_commands` applied to a session.

`execute` queues the IRC messages to send on the session's outbox, adds local lines (our own
message when the server will not echo it, the numbered ``/users`` listing, ``/lastlog`` results,
mistakes), and returns an `Outcome` telling the frontend what else to do (quit, show help, clear
the view, save the settings, open the paste box). The TUI and plain mode both go through here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from chinwag.client.attention import NOTIFY_MODES
from chinwag.client.conversation import SERVER_KEY, Conversation, Member
from chinwag.client.lines import Posted, SystemKind, SystemLine
from chinwag.client.outgoing import say_or_hold
from chinwag.client.render import render_line
from chinwag.client.session import Session
from chinwag.client.user_commands import (
    Away,
    Back,
    Ban,
    Clear,
    Close,
    Command,
    Help,
    Identify,
    Ignore,
    Invalid,
    Invite,
    Join,
    Kick,
    Lastlog,
    ListRooms,
    Me,
    Mode,
    Msg,
    Nick,
    Notify,
    Oper,
    Part,
    Paste,
    PrefixMode,
    Query,
    Quit,
    Raw,
    Register,
    Say,
    Topic,
    Unignore,
    Users,
    Who,
    Whois,
    help_lines,
)
from chinwag.protocol import Message, ProtocolError, is_valid_nick, normalize_mask, parse_line

__all__ = ["LASTLOG_MAX", "Outcome", "execute", "help_posted"]

LASTLOG_MAX = 200
"""The most lines /lastlog shows (the newest ones)."""
_DEFAULT_MODES_PER_LINE = 3


@dataclass(slots=True)
class Outcome:
    """What the frontend must do after a command, besides sending the session's outbox."""

    posted: list[Posted] = field(default_factory=list)
    quit: str | None = None
    help: bool = False
    clear: bool = False
    settings_changed: bool = False
    paste: bool = False


def _resolve(session: Session, target: str) -> str | None:
    """A nick from a number of the last /users listing, or the target itself."""
    if not target.isdigit():
        return target
    index = int(target) - 1
    if 0 <= index < len(session.listing):
        return session.listing[index]
    return None


def _current_target(session: Session, out: Outcome) -> Conversation | None:
    conv = session.current
    if session.active == SERVER_KEY:
        out.posted.append(session.error("This is the server window: /join #room or /msg NICK text"))
        return None
    if conv.is_channel and not conv.joined and session.key_of(conv.name) not in session.rooms:
        out.posted.append(session.error(f"You are not in {conv.name} (/join {conv.name})"))
        return None
    return conv


def _users(session: Session) -> list[Posted]:
    """Number the people of the current room (or of all my rooms, elsewhere) for /msg N."""
    conv = session.current
    if conv.is_channel:
        people = conv.sorted_members(session.prefix_map)
        where = conv.name
    else:
        seen: dict[str, Member] = {}
        for room in session.channels():
            for key, member in room.members.items():
                seen.setdefault(key, Member(member.nick, away=member.away))
        people = sorted(seen.values(), key=lambda m: m.nick.casefold())
        where = "your rooms"
    session.listing = [m.nick for m in people]
    lines = [session.note(f"{len(people)} users in {where} (/msg N text or /query N):")]
    for i, member in enumerate(people, 1):
        away = " (away)" if member.away else ""
        lines.append(session.note(f"{i}. {member.display}{away}"))
    return lines


def execute(session: Session, command: Command, *, paste_box: bool = False) -> Outcome:
    """Run a command: queue what to send on the session, post local lines, say what else to do.

    ``paste_box``: the frontend can open a box for /paste (plain mode cannot, and says so).
    """
    out = Outcome()
    match command:
        case Say(text):
            conv = _current_target(session, out)
            if conv is not None:
                out.posted += say_or_hold(session, conv.name, text)
        case Me(text):
            conv = _current_target(session, out)
            if conv is not None:
                out.posted += say_or_hold(session, conv.name, text, action=True)
        case Msg(target, text) | Query(target, text):
            nick = _resolve(session, target)
            if nick is None:
                out.posted.append(session.error(f"No user number {target}: type /users first"))
                return out
            if isinstance(command, Query):
                if session.is_channel(nick):
                    out.posted.append(session.error("/query is for people; use /join for rooms"))
                    return out
                session.open_private(nick)
            if text:
                out.posted += say_or_hold(session, nick, text)
        case Join(channels, key):
            names = [c if session.is_channel(c) else "#" + c for c in channels.split(",") if c]
            for name in names:
                session.want_room(name)
            session.focus_on_join = session.fold(names[-1])
            session.send(Message("JOIN", (",".join(names), key) if key else (",".join(names),)))
        case Part(channel, reason):
            name = channel or session.current.name
            if not session.is_channel(name):
                out.posted.append(session.error("This is not a room; /close closes it"))
                return out
            session.rooms.pop(session.fold(name), None)
            session.send(Message("PART", (name, reason) if reason else (name,)))
        case Nick(nick):
            if not is_valid_nick(nick, session.nicklen):
                out.posted.append(session.error(f"{nick} is not a valid nick"))
            else:
                session.change_nick(nick)
        case Away(reason):
            session.send(Message.of("AWAY", reason))
        case Back():
            session.send(Message.of("AWAY"))
        case Topic(channel, text):
            name = channel or session.current.name
            if not session.is_channel(name):
                out.posted.append(session.error("There is no topic here: this is not a room"))
                return out
            session.send(Message("TOPIC", (name,) if text is None else (name, text)))
        case Users() | Who(""):
            out.posted += _users(session)
        case Who(mask):
            session.send(Message.of("WHO", mask))
        case Whois(target):
            nick = _resolve(session, target)
            if nick is None:
                out.posted.append(session.error(f"No user number {target}: type /users first"))
            else:
                session.send(Message.of("WHOIS", nick))
        case Close():
            conv = session.current
            if session.active == SERVER_KEY:
                out.posted.append(session.error("The server window stays open (/quit to leave)"))
                return out
            if conv.is_channel and conv.joined:
                session.send(Message.of("PART", conv.name))
            session.close(session.active)
        case Clear():
            session.current.lines.clear()
            session.current.total += 1  # views redraw (a cleared log shows nothing)
            out.clear = True
        case Help():
            out.help = True
        case Quit(message):
            session.send(Message.of("QUIT", message))
            out.quit = message
        case Raw(line):
            try:
                session.send(parse_line(line))
            except ProtocolError:
                out.posted.append(session.error(f"Not an IRC line: {line}"))
        case Register(password, email):
            session.send(Message.of("REGISTER", "*", email, password))
        case Identify(password, account):
            words = ["IDENTIFY", account, password] if account else ["IDENTIFY", password]
            session.send(Message.of("PRIVMSG", "NickServ", " ".join(words)))
        case Invalid(reason):
            out.posted.append(session.error(reason))
        case _:
            _execute_more(session, command, out, paste_box)
    return out


def _room(session: Session, out: Outcome, channel: str = "") -> str | None:
    """The room a command is about: ``channel`` when given, else the current conversation's."""
    name = channel or session.current.name
    if session.is_channel(name):
        return name
    out.posted.append(session.error("This is not a room: go to one, or name it (#room)"))
    return None


def _modes_per_line(session: Session) -> int:
    value = session.isupport.get("MODES", "")
    return int(value) if value.isdigit() and int(value) > 0 else _DEFAULT_MODES_PER_LINE


def _execute_more(session: Session, command: Command, out: Outcome, paste_box: bool) -> None:
    """The room operators' commands and the client's own (/ignore, /lastlog, /notify, /paste)."""
    match command:
        case ListRooms(mask):
            session.send(Message("LIST", (mask,) if mask else ()))
        case Kick(nick, reason):
            if (room := _room(session, out)) is not None:
                session.send(Message("KICK", (room, nick, reason) if reason else (room, nick)))
        case Ban(mask, lift):
            if (room := _room(session, out)) is not None:
                session.send(Message.of("MODE", room, "-b" if lift else "+b", normalize_mask(mask)))
        case PrefixMode(change, nicks):
            if (room := _room(session, out)) is not None:
                step = _modes_per_line(session)
                for i in range(0, len(nicks), step):
                    chunk = nicks[i : i + step]
                    letters = change[0] + change[1] * len(chunk)
                    session.send(Message("MODE", (room, letters, *chunk)))
        case Mode(target, modes):
            name = target or _room(session, out)
            if name:
                session.send(Message("MODE", (name, *modes)))
        case Invite(nick, channel):
            if (room := _room(session, out, channel)) is not None:
                session.send(Message.of("INVITE", nick, room))
        case Oper(name, password):
            session.send(Message.of("OPER", name, password))
        case Ignore(""):
            masks = session.ignores
            text = "Ignoring: " + ", ".join(masks) if masks else "Nobody is ignored"
            out.posted.append(session.note(text + " (/ignore NICK|MASK, /unignore NICK|MASK)"))
        case Ignore(mask):
            mask = normalize_mask(mask)
            if mask not in session.ignores:
                session.ignores.append(mask)
                out.settings_changed = True
            note = f"Ignoring {mask}: their messages are not shown (/unignore {mask} to undo)"
            out.posted.append(session.note(note))
        case Unignore(mask):
            wanted = {mask, normalize_mask(mask)}
            kept = [m for m in session.ignores if m not in wanted]
            if len(kept) == len(session.ignores):
                out.posted.append(session.error(f"{mask} is not ignored (/ignore lists who is)"))
            else:
                session.ignores[:] = kept
                out.settings_changed = True
                out.posted.append(session.note(f"No longer ignoring {normalize_mask(mask)}"))
        case Lastlog(text):
            out.posted += _lastlog(session, text)
        case Notify(mode):
            choices = "|".join(NOTIFY_MODES)
            if mode in NOTIFY_MODES:
                session.notify = mode
                out.settings_changed = True
            elif mode:
                out.posted.append(session.error(f"/notify {mode}: choose one of {choices}"))
            text = f"Mentions and private lines elsewhere: {session.notify} (/notify {choices})"
            out.posted.append(session.note(text))
        case Paste() if paste_box:
            out.paste = True
        case Paste():
            text = "/paste opens a box in the full-screen client; here every line is a message"
            out.posted.append(session.note(text))


def _lastlog(session: Session, text: str) -> list[Posted]:
    """The lines of the current conversation containing ``text`` (ignoring case), newest last."""
    wanted = text.casefold()
    found = [
        plain
        for line in list(session.current.lines)
        for plain in (render_line(line).plain,)
        if wanted in plain.casefold()
    ]
    shown = found[-LASTLOG_MAX:]
    more = f", the last {len(shown)} shown" if len(shown) < len(found) else ""
    posted = [session.note(f"lastlog {text!r}: {len(found)} line(s){more}")]
    posted += [session.note(f"| {plain}") for plain in shown]
    return posted


def help_posted(session: Session) -> list[Posted]:
    """The help text as lines in the current conversation (plain mode's /help)."""
    return [
        session.post(session.active, SystemLine(session.clock(), text, SystemKind.INFO))
        for text in help_lines()
    ]
