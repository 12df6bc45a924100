"""What the user types: the commands, their help, and the parser from a typed line to a command.

`parse_input` is pure: text in, one command dataclass out (`Invalid` for a mistake, with the
reason). `chinwag.client.command_runner.execute` runs a command on the session; the TUI and plain
mode both go through both. `COMMANDS` is the help, in the order ``/help`` shows it.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "COMMANDS",
    "Away",
    "Back",
    "Ban",
    "Clear",
    "Close",
    "Command",
    "Help",
    "Identify",
    "Ignore",
    "Invalid",
    "Invite",
    "Join",
    "Kick",
    "Lastlog",
    "ListRooms",
    "Me",
    "Mode",
    "Msg",
    "Nick",
    "Notify",
    "Oper",
    "Part",
    "Paste",
    "PrefixMode",
    "Query",
    "Quit",
    "Raw",
    "Register",
    "Say",
    "Topic",
    "Unignore",
    "Users",
    "Who",
    "Whois",
    "help_lines",
    "is_secret",
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
class ListRooms:
    """/list [mask]"""

    mask: str = ""


@dataclass(frozen=True, slots=True)
class Kick:
    """/kick NICK [reason]"""

    nick: str
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Ban:
    """/ban NICK|MASK, /unban MASK"""

    mask: str
    lift: bool = False


@dataclass(frozen=True, slots=True)
class PrefixMode:
    """/op, /deop, /voice, /devoice NICK...: ``change`` is ``+o``, ``-o``, ``+v`` or ``-v``"""

    change: str
    nicks: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Mode:
    """/mode [#room|NICK] [+modes [args...]] (``target`` empty: the current room)"""

    target: str = ""
    modes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Invite:
    """/invite NICK [#room]"""

    nick: str
    channel: str = ""


@dataclass(frozen=True, slots=True)
class Oper:
    """/oper NAME PASSWORD"""

    name: str
    password: str


@dataclass(frozen=True, slots=True)
class Ignore:
    """/ignore [NICK|MASK] (nothing: list who is ignored)"""

    mask: str = ""


@dataclass(frozen=True, slots=True)
class Unignore:
    """/unignore NICK|MASK"""

    mask: str


@dataclass(frozen=True, slots=True)
class Lastlog:
    """/lastlog TEXT: the lines of this conversation that contain TEXT"""

    text: str


@dataclass(frozen=True, slots=True)
class Notify:
    """/notify [bell|osc9|osc777|off] (nothing: say which)"""

    mode: str = ""


@dataclass(frozen=True, slots=True)
class Paste:
    """/paste: a box for several lines at once"""


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
    | ListRooms
    | Kick
    | Ban
    | PrefixMode
    | Mode
    | Invite
    | Oper
    | Ignore
    | Unignore
    | Lastlog
    | Notify
    | Paste
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
    "list": ("/list [mask]", "list the rooms on the server"),
    "invite": ("/invite NICK [#room]", "invite someone to this room"),
    "lastlog": ("/lastlog TEXT", "show the lines of this conversation that contain TEXT"),
    "paste": ("/paste", "a box for several lines (code): Ctrl+S sends them, one message each"),
    "ignore": ("/ignore [NICK|MASK]", "hide someone's messages, kept between runs (alone: list)"),
    "unignore": ("/unignore NICK|MASK", "stop ignoring someone"),
    "notify": ("/notify [bell|osc9|osc777|off]", "how a mention or private line elsewhere alerts"),
    "close": ("/close", "leave and close the current conversation"),
    "clear": ("/clear", "clear the current conversation"),
    "help": ("/help", "show keys and commands (also F1)"),
    "quit": ("/quit [message]", "leave chinwag"),
    "register": ("/register PASSWORD [email]", "create an account for your nick (then --account)"),
    "identify": ("/identify [NAME] PASSWORD", "log in to your account (NickServ IDENTIFY)"),
    "kick": ("/kick NICK [reason]", "room operators: put someone out of this room"),
    "ban": ("/ban NICK|MASK", "room operators: ban (nick!user@host, * and ?) from this room"),
    "unban": ("/unban MASK", "room operators: lift a ban"),
    "op": ("/op NICK...", "room operators: make someone a room operator"),
    "deop": ("/deop NICK...", "room operators: take room operator away"),
    "voice": ("/voice NICK...", "room operators: let someone speak in a moderated room"),
    "devoice": ("/devoice NICK...", "room operators: take the voice away"),
    "mode": ("/mode [#room|NICK] [+modes [args]]", "show or change modes (default: this room)"),
    "oper": ("/oper NAME PASSWORD", "become a server operator"),
    "quote": ("/quote LINE", "send a raw IRC line"),
}
_PREFIX_CHANGES = {"op": "+o", "deop": "-o", "voice": "+v", "devoice": "-v"}
_SECRET_VERBS = frozenset({"register", "identify", "login", "oper"})
_SECRET_RAW = frozenset({"PASS", "OPER", "AUTHENTICATE"})


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
    return _parse_more(verb, rest, usage)


def _parse_more(verb: str, rest: str, usage: str) -> Command:
    """The room operators' commands and the client's own (/ignore, /lastlog, /notify, /paste)."""
    arg, tail = _split_word(rest)
    words = tuple(rest.split())
    if verb == "list":
        return ListRooms(rest)
    if verb == "kick":
        return Kick(arg, tail) if arg else Invalid(f"Usage: {usage}")
    if verb in ("ban", "unban"):
        return Ban(arg, lift=verb == "unban") if arg else Invalid(f"Usage: {COMMANDS[verb][0]}")
    if verb in _PREFIX_CHANGES:
        return (
            PrefixMode(_PREFIX_CHANGES[verb], words)
            if words
            else Invalid(f"Usage: /{verb} NICK...")
        )
    if verb == "mode":
        if words and words[0][0] not in "+-":
            return Mode(words[0], words[1:])
        return Mode("", words)
    if verb == "invite":
        return Invite(arg, tail) if arg else Invalid(f"Usage: {usage}")
    if verb == "oper":
        return Oper(arg, tail) if arg and tail else Invalid(f"Usage: {usage}")
    if verb == "ignore":
        return Ignore(arg)
    if verb == "unignore":
        return Unignore(arg) if arg else Invalid(f"Usage: {usage}")
    if verb in ("lastlog", "search"):
        return Lastlog(rest) if rest else Invalid(f"Usage: {usage}")
    if verb == "notify":
        return Notify(arg.lower())
    if verb == "paste":
        return Paste()
    return Invalid(f"Unknown command /{verb} (type /help for the list)")


def is_secret(text: str) -> bool:
    """True for a typed line that carries a password: it is never kept in the Up-arrow history."""
    if not text.startswith("/"):
        return False
    verb, _, rest = text[1:].partition(" ")
    verb = verb.lower()
    if verb in _SECRET_VERBS:
        return True
    words = rest.split()
    if verb in ("quote", "raw"):
        return bool(words) and words[0].upper() in _SECRET_RAW
    if verb in ("msg", "m", "query", "q") and len(words) > 1:
        return words[0].lower() == "nickserv" and words[1].upper() in ("IDENTIFY", "REGISTER")
    return False


def help_lines() -> list[str]:
    """The commands, one per line, for /help in plain mode and the help screen."""
    width = max(len(usage) for usage, _ in COMMANDS.values())
    return [f"{usage:<{width}}  {what}" for usage, what in COMMANDS.values()]
