"""The welcome burst: 001-005 with ISUPPORT, LUSERS and the MOTD (LUSERS and MOTD also answer
their own commands, in ``commands/queries.py``).

Theory of operation
-------------------
Everything a registering client gets after its 001 is the same for everyone but two things: its
nick, and the LUSERS counts. So 002-005, LUSERS and the MOTD are formatted once, by the very
functions that format them line by line (`numeric_line`), into one `Burst` template: the nick is a
placeholder as long as the longest nick (so that no line can grow past 512 bytes when the real
nick goes in), and each count a ``%(name)d`` field. A registration then costs a join of the
template's parts, one ``%`` and one queued write. Measured in one process (a registration's
Python alone, NICK and USER to the queued burst): 59 us when each arrival formatted its ISUPPORT
tokens and seven LUSERS numerics afresh, 29 us with the template (``bench/README.md`` has the
server's CPU per arrival over real sockets).

A template is kept per set of inputs (the key `burst_for` makes: the configured limits and names
ISUPPORT states, and the MOTD text): a reload, a REHASH or a new MOTD file make a new one at the
next registration, and nothing else has to remember to invalidate it.
"""

from __future__ import annotations

import itertools
import time

from chinwag import __version__
from chinwag.protocol import CASEMAPPING, MAX_BODY_BYTES, isupport_lines
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
from chinwag.server.replies import MAX_HEAD_BYTES, numeric_line
from chinwag.server.stats import SENT

__all__ = [
    "LUSERS_COUNTS",
    "Burst",
    "burst_for",
    "isupport_tokens",
    "lusers_counts",
    "lusers_lines",
    "send_lusers",
    "send_motd",
    "send_welcome",
]

USER_MODES = "Biow"
CHANNEL_MODES = "Ibeiklmnostv"
CHANNEL_MODES_WITH_PARAM = "Ibeklov"

LUSERS_COUNTS = ("users", "invisible", "opers", "unknown", "channels", "total", "most")
"""The numbers LUSERS tells, by name (the fields of the template)."""

LUSERS_LINES = 7
"""251, 252, 253, 254, 255, 265, 266."""
_COUNT_DIGITS = 20
"""The most digits a count can take (a 64-bit number): the room a field must leave."""


def isupport_tokens(ctx: Context) -> dict[str, str | None]:
    """The ISUPPORT tokens, honest about this server's configured limits.

    What they read of the configuration is in `burst_for`'s key too (the template is
    rebuilt when it changes).
    """
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


def burst_for(ctx: Context) -> Burst:
    """The welcome burst's template for ``ctx.client``, built on first use."""
    limits = ctx.limits
    key = (
        # The placeholder's length: NICKLEN, or a longer nick taken before a reload lowered it.
        max(limits.nick_length, len(ctx.client.nick)),
        # What `isupport_tokens` reads of the configuration, and the MOTD. NICKLEN is here on
        # its own: the slot above can be the same for two NICKLENs.
        limits.nick_length,
        limits.away_length,
        limits.max_channels_per_user,
        limits.channel_length,
        limits.kick_length,
        limits.max_list_modes,
        limits.max_targets,
        limits.topic_length,
        ctx.config.history.chathistory_max,
        ctx.config.server.network,
        ctx.motd.text,
    )
    network = ctx.network
    burst = _BURSTS.get((network, key))
    if burst is None:
        if len(_BURSTS) >= _MAX_BURSTS:
            _BURSTS.clear()  # a few servers in one process (tests), a few reloads each
        burst = _BURSTS[(network, key)] = Burst(network, ctx, key[0])
    return burst


_BURSTS: dict[tuple[Network, tuple[object, ...]], Burst] = {}
_MAX_BURSTS = 8


def send_welcome(ctx: Context) -> None:
    """001-005, LUSERS and the MOTD, for a client that just registered: one write."""
    client = ctx.client
    burst = burst_for(ctx)
    welcome = f"Welcome to the {ctx.config.server.network} IRC Network {client.prefix}"
    first = numeric_line(ctx.network.name, client.nick, RPL_WELCOME, welcome)
    client.send(first + burst.after_welcome(client.nick))
    SENT.count += burst.lines  # the burst went as one chunk: count its lines as lines


def send_lusers(ctx: Context) -> None:
    """The LUSERS numerics (251-255, 265, 266)."""
    ctx.client.send(burst_for(ctx).lusers_for(ctx.client.nick))


def send_motd(ctx: Context) -> None:
    """The message of the day (375, 372..., 376), or 422 when there is none."""
    ctx.client.send(burst_for(ctx).motd_for(ctx.client.nick))


def lusers_counts(network: Network) -> dict[bytes, int]:
    """The LUSERS numbers now, by the names of the template's fields (`LUSERS_COUNTS`): the
    network keeps them up to date, nothing is counted here."""
    total = network.user_count
    invisible = network.mode_counts["i"]
    return {
        b"users": total - invisible,
        b"invisible": invisible,
        b"opers": network.mode_counts["o"],
        b"unknown": max(0, len(network.connections) - total),
        b"channels": len(network.channels),
        b"total": total,
        b"most": network.max_seen,
    }


def lusers_lines(network: Network, nick: str, counts: dict[str, str]) -> list[bytes]:
    """251-255, 265 and 266 to ``nick``, one `numeric_line` each: the reference the template
    is made from (``counts`` are strings: digits, or the template's marks)."""
    server = network.name
    users, invisible, total, most = (counts[k] for k in ("users", "invisible", "total", "most"))
    return [
        numeric_line(
            server,
            nick,
            RPL_LUSERCLIENT,
            f"There are {users} users and {invisible} invisible on 1 servers",
        ),
        numeric_line(server, nick, RPL_LUSEROP, counts["opers"], "operator(s) online"),
        numeric_line(server, nick, RPL_LUSERUNKNOWN, counts["unknown"], "unknown connection(s)"),
        numeric_line(server, nick, RPL_LUSERCHANNELS, counts["channels"], "channels formed"),
        numeric_line(server, nick, RPL_LUSERME, f"I have {total} clients and 0 servers"),
        numeric_line(
            server, nick, RPL_LOCALUSERS, total, most, f"Current local users {total}, max {most}"
        ),
        numeric_line(
            server, nick, RPL_GLOBALUSERS, total, most, f"Current global users {total}, max {most}"
        ),
    ]


class Burst:
    """The welcome burst of one configuration, for nicks of up to ``slot_length`` characters.

    The lines are formatted for a placeholder nick made of a character that none of the texts
    holds (so nothing else can be taken for it), then cut where it is: ``nick.join(parts)``
    puts a nick in (measured: 0.6 us for the 2 KB of 002-005 and the MOTD, where
    ``bytes.replace`` of the placeholder took 8). The LUSERS lines are a ``%`` template.

    A line cut to fit 512 bytes for the placeholder (a MOTD line of some 440 bytes or more)
    would keep less of its text than the same line formatted for a shorter nick: then that
    part (002-005, or the MOTD) is formatted for each nick, as the reference does.

    Args:
        network: the network (its name and creation time are in 002-004).
        ctx: where the ISUPPORT tokens and the MOTD are read.
        slot_length: the longest nick it will be given.
    """

    def __init__(self, network: Network, ctx: Context, slot_length: int) -> None:
        self._network = network
        self._isupport = isupport_lines(isupport_tokens(ctx))
        self._text = ctx.motd.text
        texts = "".join([network.name, self._text, *itertools.chain(*self._isupport)])
        free = [c for c in map(chr, _PLACEHOLDERS) if c not in texts]
        self._greeting: list[bytes] | None = None
        self._motd: list[bytes] | None = None
        self._lusers: bytes | None = None
        greeting = _greeting(network, _SHORTEST, self._isupport)
        motd = _motd(network, _SHORTEST, self._text)
        if len(free) >= 2:  # else (a MOTD of binary junk) every line is formatted in full
            slot, mark = free[0] * slot_length, free[1]
            self._greeting = _parts(_greeting(network, slot, self._isupport), slot, greeting)
            self._motd = _parts(_motd(network, slot, self._text), slot, motd)
            self._lusers = _lusers_template(network, slot, mark)
        self.lines = (greeting + motd).count(b"\n") + LUSERS_LINES
        """How many lines the burst has after the 001."""

    def after_welcome(self, nick: str) -> bytes:
        """002-005, LUSERS and the MOTD to ``nick``."""
        if self._greeting is None:
            return b"".join(
                (
                    _greeting(self._network, nick, self._isupport),
                    self.lusers_for(nick),
                    self.motd_for(nick),
                )
            )
        name = nick.encode("utf-8")
        motd = name.join(self._motd) if self._motd is not None else self.motd_for(nick)
        return b"".join((name.join(self._greeting), self.lusers_for(nick), motd))

    def motd_for(self, nick: str) -> bytes:
        """375, 372..., 376 (or 422) to ``nick``."""
        if self._motd is None:
            return _motd(self._network, nick, self._text)
        return nick.encode("utf-8").join(self._motd)

    def lusers_for(self, nick: str) -> bytes:
        """The LUSERS numerics to ``nick`` with the counts of now."""
        counts = lusers_counts(self._network)
        if self._lusers is None:
            spelled = {name.decode(): str(value) for name, value in counts.items()}
            return b"".join(lusers_lines(self._network, nick, spelled))
        return self._lusers % {**counts, b"nick": nick.encode("utf-8")}


_PLACEHOLDERS = [*range(0x01, 0x20), 0x7F]
"""The one-byte characters a placeholder may be made of (CR and LF never reach a line)."""
_SHORTEST = "*"
"""A nick of one byte, the shortest there is: the lines that keep the most of their texts."""


def _parts(lines: bytes, slot: str, shortest: bytes) -> list[bytes] | None:
    """``lines`` formatted for the placeholder ``slot``, cut where it is; None when a line
    was cut to fit (``shortest``, the same lines formatted for `_SHORTEST`, is not what the
    parts give for it). A line keeps less of its text the longer the nick, so what holds for
    the shortest nick and the placeholder (the longest) holds for every nick between."""
    parts = lines.split(slot.encode())
    return parts if _SHORTEST.encode().join(parts) == shortest else None


def _greeting(network: Network, slot: str, isupport: list[list[str]]) -> bytes:
    """002-005 for the nick ``slot``."""
    server = network.name
    created = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(network.created))
    version = f"chinwag-{__version__}"
    lines = [
        numeric_line(
            server, slot, RPL_YOURHOST, f"Your host is {server}, running version {version}"
        ),
        numeric_line(server, slot, RPL_CREATED, f"This server was created {created}"),
        numeric_line(
            server,
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
        numeric_line(server, slot, RPL_ISUPPORT, *tokens, "are supported by this server")
        for tokens in isupport
    )
    return b"".join(lines)


def _motd(network: Network, slot: str, text: str) -> bytes:
    """375, 372..., 376 for the nick ``slot``, or 422 when there is no MOTD."""
    server = network.name
    if not text:
        return numeric_line(server, slot, ERR_NOMOTD, "MOTD File is missing")
    lines = [numeric_line(server, slot, RPL_MOTDSTART, f"- {server} Message of the day - ")]
    lines.extend(
        numeric_line(server, slot, RPL_MOTD, f"- {line}") for line in text.splitlines() or [""]
    )
    lines.append(numeric_line(server, slot, RPL_ENDOFMOTD, "End of /MOTD command."))
    return b"".join(lines)


def _lusers_template(network: Network, slot: str, mark: str) -> bytes | None:
    """251-266 to the nick ``slot`` as a ``%`` template: the nick a ``%(nick)s`` field, each
    count (written ``mark`` and its index while the lines are formatted) a ``%(name)d`` field.
    None when the reference could format some line differently (cut to fit 512 bytes) once the
    counts are in."""
    marks = {name: f"{mark}{index}" for index, name in enumerate(LUSERS_COUNTS)}
    lines = lusers_lines(network, slot, marks)
    for line in lines:
        head = line.index(b" :") + 2  # what `numeric_line` calls the head: up to the text
        room = _COUNT_DIGITS * line.count(mark.encode())
        if len(line) + room > MAX_BODY_BYTES or head + room > MAX_HEAD_BYTES:
            return None
    template = b"".join(lines).replace(b"%", b"%%").replace(slot.encode(), b"%(nick)s")
    for name, placeholder in marks.items():
        template = template.replace(placeholder.encode(), f"%({name})d".encode())
    return template
