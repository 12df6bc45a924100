"""What the user types: parse the input line into a typed command, then run it on the session.

`parse_input` is pure: text in, one command dataclass out (`Invalid` for a mistake, with the
reason). `execute` applies a command to a `Session`: it queues the IRC messages to send on the
session's outbox, adds local lines (our own message when the server will not echo it, the numbered
``/users`` listing, mistakes), and returns an `Outcome` telling the frontend what else to do
(quit, show help, clear the view). The TUI and plain mode both go through here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from chinwag.client.conversation import SERVER_KEY, Conversation, Member
from chinwag.client.lines import Posted, SystemKind, SystemLine
from chinwag.client.outgoing import say_or_hold
from chinwag.client.session import Session
from chinwag.protocol import Message, ProtocolError, is_valid_nick, parse_line

__all__ = [
    "COMMANDS",
    "Away",
    "Back",
    "Clear",
    "Close",
    "Command",
    "Help",
    "Identify",
    "Invalid",
    "Join",
    "Me",
    "Msg",
    "Nick",
    "Outcome",
    "Part",
    "Query",
    "Quit",
    "Raw",
    "Register",
    "Say",
    "Topic",
    "Users",
    "Who",
    "Whois",
    "execute",
    "help_lines",
    "parse_input",
]


@dataclass(frozen=True, slots=True)
class Say:
    """Plain text for the current conversation."""

    text: str


@dataclass(frozen=True, slots=True)
class Join:
    """/join #room[,#other] [key]"""

    channels: str
    key: str = ""


@dataclass(frozen=True, slots=True)
class Part:
    """/part [#room] [reason]"""

    channel: str = ""
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Msg:
    """/msg NICK|#room|N text (N: a number from the last /users listing)"""

    target: str
    text: str


@dataclass(frozen=True, slots=True)
class Query:
    """/query NICK|N [text]"""

    target: str
    text: str = ""


@dataclass(frozen=True, slots=True)
class Me:
    """/me action"""

    text: str


@dataclass(frozen=True, slots=True)
class Nick:
    """/nick NEWNICK"""

    nick: str


@dataclass(frozen=True, slots=True)
class Away:
    """/away [reason]"""

    reason: str = "away"


@dataclass(frozen=True, slots=True)
class Back:
    """/back"""


@dataclass(frozen=True, slots=True)
class Topic:
    """/topic [#room] [new topic]"""

    channel: str = ""
    text: str | None = None


@dataclass(frozen=True, slots=True)
class Users:
    """/users: number the people in the current room"""


@dataclass(frozen=True, slots=True)
class Who:
    """/who [mask]"""

    mask: str = ""


@dataclass(frozen=True, slots=True)
class Whois:
    """/whois NICK|N"""

    target: str


@dataclass(frozen=True, slots=True)
class Close:
    """/close: leave and forget the current conversation"""


@dataclass(frozen=True, slots=True)
class Clear:
    """/clear: empty the current conversation's scrollback"""


@dataclass(frozen=True, slots=True)
class Help:
    """/help"""


@dataclass(frozen=True, slots=True)
class Quit:
    """/quit [message]"""

    message: str = "Leaving"


@dataclass(frozen=True, slots=True)
class Raw:
    """/quote RAW IRC LINE"""

    line: str


@dataclass(frozen=True, slots=True)
class Register:
    """/register PASSWORD [email]"""

    password: str
    email: str = "*"


@dataclass(frozen=True, slots=True)
class Identify:
    """/identify [NAME] PASSWORD (NAME: the account, default the nick's)"""

    password: str
    account: str = ""


@dataclass(frozen=True, slots=True)
class Invalid:
    """A mistake in the input, explained."""

    reason: str


Command = (
    Say
    | Join
    | Part
    | Msg
    | Query
    | Me
    | Nick
    | Away
    | Back
    | Topic
    | Users
    | Who
    | Whois
    | Close
    | Clear
    | Help
    | Quit
    | Raw
    | Register
    | Identify
    | Invalid
)

# name -> (usage, what it does); the order is the order of /help.
COMMANDS: dict[str, tuple[str, str]] = {
    "join": ("/join #room", "join a room (it opens as a conversation)"),
    "part": ("/part [#room] [reason]", "leave a room (default: the current one)"),
    "msg": ("/msg NICK|N text", "send a private message (N: a number from /users)"),
    "query": ("/query NICK|N", "open a private conversation"),
    "me": ("/me action", "say what you are doing: * you wave"),
    "nick": ("/nick NAME", "change your nick"),
    "away": ("/away [reason]", "mark yourself away"),
    "back": ("/back", "mark yourself back"),
    "topic": ("/topic [text]", "show or change the room's topic"),
    "users": ("/users", "list the people in this room, numbered"),
    "who": ("/who [mask]", "like /users, or ask the server about a mask"),
    "whois": ("/whois NICK|N", "ask the server about someone"),
    "close": ("/close", "leave and close the current conversation"),
    "clear": ("/clear", "clear the current conversation"),
    "help": ("/help", "show keys and commands (also F1)"),
    "quit": ("/quit [message]", "leave chinwag"),
    "register": ("/register PASSWORD [email]", "create an account for your nick (then --account)"),
    "identify": ("/identify [NAME] PASSWORD", "log in to your account (NickServ IDENTIFY)"),
    "quote": ("/quote LINE", "send a raw IRC line"),
}


def _split_word(rest: str) -> tuple[str, str]:
    word, _, tail = rest.strip().partition(" ")
    return word, tail.strip()


def parse_input(text: str) -> Command | None:
    """Parse one line from the input bar.

    Returns:
        The command, `Invalid` for a mistake, or None for a blank line.
    """
    if not text.strip():
        return None
    if not text.startswith("/") or text.startswith("//"):
        return Say(text[1:] if text.startswith("//") else text)
    verb, _, rest = text[1:].partition(" ")
    verb = verb.lower()
    rest = rest.strip()
    arg, tail = _split_word(rest)
    usage = COMMANDS.get(verb, ("", ""))[0]
    if verb in ("join", "j"):
        return Join(arg, tail) if arg else Invalid(f"Usage: {COMMANDS['join'][0]}")
    if verb in ("part", "leave"):
        if arg and arg[0] in "#&":
            return Part(arg, tail)
        return Part("", rest)
    if verb in ("msg", "m"):
        return Msg(arg, tail) if arg and tail else Invalid(f"Usage: {COMMANDS['msg'][0]}")
    if verb in ("query", "q"):
        return Query(arg, tail) if arg else Invalid(f"Usage: {usage}")
    if verb == "me":
        return Me(rest) if rest else Invalid(f"Usage: {usage}")
    if verb == "nick":
        return Nick(arg) if arg and not tail else Invalid(f"Usage: {usage}")
    if verb == "away":
        return Away(rest or "away")
    if verb == "back":
        return Back()
    if verb == "topic":
        if arg and arg[0] in "#&":
            return Topic(arg, tail or None)
        return Topic("", rest or None)
    if verb in ("users", "names"):
        return Users()
    if verb == "who":
        return Who(rest)
    if verb == "whois":
        return Whois(arg) if arg else Invalid(f"Usage: {usage}")
    if verb == "close":
        return Close()
    if verb == "clear":
        return Clear()
    if verb in ("help", "?"):
        return Help()
    if verb in ("quit", "exit"):
        return Quit(rest or "Leaving")
    if verb == "register":
        return Register(arg, tail or "*") if arg else Invalid(f"Usage: {usage}")
    if verb in ("identify", "login"):
        if not arg:
            return Invalid(f"Usage: {usage}")
        return Identify(tail, arg) if tail else Identify(arg)
    if verb in ("quote", "raw"):
        return Raw(rest) if rest else Invalid(f"Usage: {usage}")
    return Invalid(f"Unknown command /{verb} (type /help for the list)")


def help_lines() -> list[str]:
    """The commands, one per line, for /help in plain mode and the help screen."""
    width = max(len(usage) for usage, _ in COMMANDS.values())
    return [f"{usage:<{width}}  {what}" for usage, what in COMMANDS.values()]


@dataclass(slots=True)
class Outcome:
    """What the frontend must do after a command, besides sending the session's outbox."""

    posted: list[Posted] = field(default_factory=list)
    quit: str | None = None
    help: bool = False
    clear: bool = False


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


def execute(session: Session, command: Command) -> Outcome:
    """Run a command: queue what to send on the session, post local lines, say what else to do."""
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
    return out


def help_posted(session: Session) -> list[Posted]:
    """The help text as lines in the current conversation (plain mode's /help)."""
    return [
        session.post(session.active, SystemLine(session.clock(), text, SystemKind.INFO))
        for text in help_lines()
    ]
