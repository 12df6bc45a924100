"""The in-memory nouns of a network: a `Client` (one connected user) and a `Channel`.

They hold data and answer questions about it; changing who is where, and telling people, is the
job of `network.Network`, so that every change and its notices live in one place.
"""

from __future__ import annotations

import asyncio
import enum
import secrets
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

from chinwag.protocol import fold
from chinwag.server.extbans import entry_matches, is_mute
from chinwag.server.replies import PackedNames
from chinwag.server.stats import SENT

__all__ = [
    "Cap",
    "Channel",
    "ChannelBatch",
    "Client",
    "Link",
    "Membership",
    "RegState",
    "new_identity",
]


class ChannelBatch(Protocol):
    """A channel's open output batch (``fanout.Batch``), as the nouns here see it."""

    channel: Channel
    lazy: bool
    open: bool
    holders: int
    """How many connections hold it and have not let go of it (`Channel.let_go`)."""

    def add(self, line: bytes, author: Client | None, *, muted: bool) -> None:
        """Append ``line`` said by ``author``; ``muted``: the author does not get it back."""

    def extend(self, lines: list[bytes], author: Client) -> None:
        """Append ``lines``, all said by ``author``, who does not get them back."""

    def share_of(self, client: Client | None) -> bytes:
        """The bytes for holder ``client``; seals the batch."""

    def share_so_far(self, client: Client | None) -> bytes:
        """The bytes for holder ``client`` as they stand; the batch stays open."""

    def cut(self) -> tuple[bytes, ChannelBatch] | None:
        """For one holder's own part of a batch (``fanout.Tail``): the bytes it holds so far
        and its part from now on; None for a batch its holders share (it closes instead)."""

    def tail(self) -> ChannelBatch:
        """A part of this batch for one more holder: the lines added from now on."""


class Link(Protocol):
    """A client's connection (``connection.Connection``), as the rest of the server uses it.

    Declared here, below the connection, so that the nouns import nothing above them.
    """

    tls: bool
    transport: asyncio.Transport | None
    closing: bool
    """Set once the connection is ending. From then on it holds no output and takes none (its
    queue is written with its ERROR line, or dropped with the socket), so a room's open batch
    may go on growing after it left (`Network.remove`)."""
    remote: bool
    """Whether this is a user of another node of a network: its own node writes to it and
    closes it, not this one."""
    connected_at: float
    last_read: float
    ping_sent_at: float | None

    @property
    def lost(self) -> asyncio.Future[None]:
        """Done once the connection has ended (what a shutdown waits for)."""

    def enqueue(self, data: bytes) -> None:
        """Queue bytes for the peer (written at the end of the loop turn)."""

    def enqueue_lazy(self, data: bytes) -> None:
        """Queue bytes that may wait a few milliseconds (written with the next lazy flush)."""

    def can_hold(self) -> bool:
        """Whether a channel batch may go in this peer's output."""

    def hold(self, batch: ChannelBatch) -> None:
        """Queue a channel's batch for this peer."""

    def hold_lazily(self, batch: ChannelBatch) -> None:
        """Queue a channel's batch of others' arrivals: written with the next lazy flush."""

    def capture(self) -> None:
        """Start collecting this client's output (labeled-response)."""

    def release(self) -> list[bytes]:
        """Stop collecting and return what was collected."""

    def flush(self) -> None:
        """Write everything queued."""

    def charge(self, replies: int) -> None:
        """Charge the flood budget for the ``replies`` lines of a long answer."""

    def close(self, reason: str, *, abort: bool = False, quit_message: str | None = None) -> None:
        """End the connection: ERROR line, peers told, socket closed."""

    def wait_for(self, task: asyncio.Future[Any]) -> None:
        """Hold the connection's later lines until ``task`` is done (lines run in order)."""


class RegState(enum.Enum):
    """Where a connection is in registration (RFC 2812 section 3.1)."""

    CONNECTED = "connected"
    VERIFYING = "verifying"
    REGISTERED = "registered"
    CLOSED = "closed"


class Cap:
    """IRCv3 capabilities that change what a client is sent, as bits of ``Client.caps``.

    Plain ints rather than an ``enum.IntFlag``: the fan-out loop tests these bits for every
    recipient, and ``IntFlag`` arithmetic costs about 40 times as much as ``int`` arithmetic.
    """

    NONE = 0
    SERVER_TIME = 1 << 0
    MESSAGE_TAGS = 1 << 1
    ECHO_MESSAGE = 1 << 2
    MULTI_PREFIX = 1 << 3
    AWAY_NOTIFY = 1 << 4
    USERHOST_IN_NAMES = 1 << 5
    BATCH = 1 << 6
    LABELED_RESPONSE = 1 << 7
    INVITE_NOTIFY = 1 << 8
    CAP_NOTIFY = 1 << 9
    SETNAME = 1 << 10
    ACCOUNT_TAG = 1 << 11
    ACCOUNT_NOTIFY = 1 << 12
    EXTENDED_JOIN = 1 << 13
    CHGHOST = 1 << 14
    CHATHISTORY = 1 << 15
    EXTENDED_MONITOR = 1 << 16
    NO_IMPLICIT_NAMES = 1 << 17
    SASL = 1 << 20
    ACCOUNT_REGISTRATION = 1 << 21


@dataclass(slots=True)
class Membership:
    """A client's status in one channel: the prefix modes it holds there."""

    op: bool = False
    voice: bool = False

    def prefixes(self, multi: bool) -> str:
        """``@+``-style prefixes, the highest only unless ``multi`` (multi-prefix) is set."""
        text = ("@" if self.op else "") + ("+" if self.voice else "")
        return text if multi else text[:1]


class Client:
    """One connection's user. ``nick`` is ``*`` until NICK is accepted.

    A plain class rather than a dataclass because four of its fields are properties: every
    received line asks ``registered`` (four times on the general path) and every message uses
    the ``prefix``; computed per call they cost 0.34 us and 0.11 us per private message
    (bench/results/compiled-core/profile-privmsg-compiled.md). The setters of ``state``,
    ``nick``, ``user`` and ``host`` are the ONE place where the cached values are refreshed, so
    no caller can leave them stale.
    """

    __slots__ = (
        "_host",
        "_nick",
        "_state",
        "_user",
        "account",
        "account_party",
        "away",
        "cap_negotiating",
        "cap_version",
        "caps",
        "channels",
        "conn",
        "guest_party",
        "invites",
        "ip",
        "last_active",
        "modes",
        "nick_folded",
        "oper_name",
        "password",
        "prefix",
        "realname",
        "registered",
        "server",
        "signon",
    )

    def __init__(
        self,
        conn: Link,
        host: str,
        ip: str,
        *,
        nick: str = "*",
        user: str = "",
        realname: str = "",
        state: RegState = RegState.CONNECTED,
        caps: int = Cap.NONE,
        cap_version: int = 0,
        cap_negotiating: bool = False,
        password: str | None = None,
        modes: set[str] | None = None,
        channels: dict[str, Channel] | None = None,
        away: str | None = None,
        account: str | None = None,
        account_party: str | None = None,
        oper_name: str | None = None,
        signon: float | None = None,
        last_active: float | None = None,
        invites: set[Channel] | None = None,
    ) -> None:
        self.conn = conn
        self._host = host
        self.ip = ip
        self._nick = nick
        self._user = user
        self.realname = realname
        self.caps = caps
        self.cap_version = cap_version
        self.cap_negotiating = cap_negotiating
        self.password = password
        self.modes: set[str] = set() if modes is None else modes
        self.channels: dict[str, Channel] = {} if channels is None else channels
        self.away = away
        self.account = account
        self.account_party = account_party
        """The identity of the account logged in to (`Account.party`): private history's key."""
        self.guest_party: str | None = None
        """Private history's key while not logged in: a token of this connection, drawn and
        dropped by ``History.party`` and ``History.client_gone`` (None until it is needed)."""
        self.oper_name = oper_name
        now = time.time()
        self.signon = now if signon is None else signon
        self.last_active = now if last_active is None else last_active
        self.invites: set[Channel] = set() if invites is None else invites
        """Channels this client was invited to. Held by identity: an invitation dies with its
        channel, and a new channel of the same name does not inherit it."""
        self.server: str | None = None
        """The node of the network the user is connected to, when it is not this server."""
        self.state = state
        self._named()

    def __repr__(self) -> str:
        return f"Client({self.prefix!r}, {self._state.name}, ip={self.ip!r})"

    def _named(self) -> None:
        """Refresh what is derived from the name: the one place the caches are rebuilt."""
        self.nick_folded: str = fold(self._nick)
        """The casefolded nick, the key under which the network knows this client."""
        self.prefix: str = f"{self._nick}!{self._user}@{self._host}"
        """``nick!user@host``, the source of everything this client says."""

    @property
    def nick(self) -> str:
        """The nick, ``*`` before NICK."""
        return self._nick

    @nick.setter
    def nick(self, value: str) -> None:
        self._nick = value
        self._named()

    @property
    def user(self) -> str:
        """The user name (``~`` and the USER parameter for unidentified users)."""
        return self._user

    @user.setter
    def user(self, value: str) -> None:
        self._user = value
        self._named()

    @property
    def host(self) -> str:
        """The host shown to others."""
        return self._host

    @host.setter
    def host(self, value: str) -> None:
        self._host = value
        self._named()

    @property
    def state(self) -> RegState:
        """Where the client is in registration."""
        return self._state

    @state.setter
    def state(self, value: RegState) -> None:
        self._state = value
        self.registered: bool = value is RegState.REGISTERED
        """True once the welcome burst has been sent (a plain bool: read for every line)."""

    @property
    def is_oper(self) -> bool:
        """True when the client is a server operator (user mode ``+o``)."""
        return "o" in self.modes

    def has(self, cap: int) -> bool:
        """True when the client negotiated ``cap``."""
        return bool(self.caps & cap)

    def send(self, data: bytes) -> None:
        """Queue wire bytes for this client (never blocks, never awaits)."""
        SENT.count += 1
        self.conn.enqueue(data)


def new_identity(name_folded: str) -> str:
    """A new history identity for a channel being created (see `Channel.identity`)."""
    return f"{name_folded}!{secrets.token_hex(6)}"


@dataclass(eq=False, slots=True)
class Channel:
    """A channel: its members, topic, modes and lists."""

    name: str
    created: float = field(default_factory=time.time)
    members: dict[Client, Membership] = field(default_factory=dict)
    topic: str = ""
    topic_setter: str = ""
    topic_time: float = 0.0
    modes: set[str] = field(default_factory=lambda: {"n", "t"})
    key: str | None = None
    limit: int | None = None
    bans: dict[str, tuple[str, float]] = field(default_factory=dict)
    """``+b`` entries (masks, ``~a:`` and ``~m:`` extbans: ``server/extbans.py``): setter, time."""
    exceptions: dict[str, tuple[str, float]] = field(default_factory=dict)
    """``+e``: who bans and mutes do not apply to."""
    invex: dict[str, tuple[str, float]] = field(default_factory=dict)
    """``+I``: who may join under ``+i`` without an invitation."""
    knocks: dict[Client, float] = field(default_factory=dict)
    """Who knocked (KNOCK) and when (monotonic), to allow one knock a minute."""
    permanent: bool = False
    hidden: set[Client] = field(default_factory=set)
    """Members whose arrival was not shown (delayed join, mode ``D``): nobody else knows they
    are here until they speak. Empty in a room without ``D``."""
    identity: str = ""
    """The key of this channel's history: the folded name plus a random token drawn when the
    channel is created, so that a later channel of the same name does not read this one's
    history. Permanent channels (the common rooms, registered ones) are created with their
    lasting identity instead (`Network`, `Accounts.start`)."""
    batches: dict[int, ChannelBatch] | None = None
    """This turn's open output batches by tag variant (``fanout.send_to_channel``), or None.
    Closed only by `close_batches`."""
    arrivals: dict[int, ChannelBatch] | None = None
    """The open batches of arrivals' JOIN lines waiting for the lazy flush, by variant
    (``fanout.announce_arrival``), or None. Closed with the others by `close_batches`."""
    late: list[Client] = field(default_factory=list)
    """Who joined since `arrivals` opened: they hold none of it, so each later JOIN of the
    window is queued to each of them."""
    names: dict[bool, list[str]] = field(default_factory=dict)
    """The NAMES entries a member sees (``@nick``...), by ``multi-prefix``, in member order,
    silent members left out: kept up to date by joins, dropped by `names_changed` (see
    `Network.names_lines`)."""
    packed_names: dict[tuple[bool, int], PackedNames] = field(default_factory=dict)
    """`names` packed into NAMES lines, by ``multi-prefix`` and line size: extended by the
    entries added since (`PackedNames.lines`), dropped with `names` by `names_changed`."""

    name_folded: str = field(init=False)
    """The casefolded channel name, its key in the registry (a channel never changes its name:
    folded once, not for every message)."""

    def __post_init__(self) -> None:
        folded = self.name_folded = fold(self.name)
        if not self.identity:
            self.identity = folded if self.permanent else new_identity(folded)

    def names_changed(self) -> None:
        """A member left, renamed, was revealed or got or lost a status: NAMES is rebuilt, and
        packed anew (a packing of the old entries, for a line size nobody asks again, would
        keep them: a 5k room kept 28 of them, 5.2 MB)."""
        self.names.clear()
        self.packed_names.clear()

    def close_batches(self, *, arrivals: bool = True) -> None:
        """Close this turn's open batches: the next channel line opens new ones.

        The one rule behind every call: a batch may grow only while it is the last thing in
        the output of every member holding it, and only those members may hold it. So it is
        closed when anything else is queued for a holder, when it is written out, and when
        somebody joins or leaves while connected (see ``fanout.py``). The arrivals' batches
        (`arrivals`) stay open when somebody joins: the newcomer is `late` instead
        (``arrivals=False``).
        A closed batch is marked (`ChannelBatch.open`) and never changes again.
        """
        batches = self.batches
        if batches is not None:
            self.batches = None
            for batch in batches.values():
                batch.open = False
        if not arrivals:
            return
        open_arrivals = self.arrivals
        if open_arrivals is not None:
            self.arrivals = None
            self.late = []
            for batch in open_arrivals.values():
                batch.open = False

    def let_go(self, batch: ChannelBatch) -> None:
        """A holder of the open ``batch`` is gone without writing it (`Link.closing`).

        A gone connection's leaving does not close the room's batch (`Network.remove`), so the
        batch is closed here once no connection holds one of its kind: nobody would write it
        any more, and every later line to the room (a remote member's, a QUIT) would be added
        to it for ever, keeping the departed users it names alive.
        """
        batch.holders -= 1
        if batch.holders > 0:
            return
        kind = self.arrivals if batch.lazy else self.batches
        if kind is None or any(other.holders > 0 for other in kind.values()):
            return
        self.close_batches()  # the other kind, if held, only reopens with its next line

    def is_op(self, client: Client) -> bool:
        """True when ``client`` is a channel operator here."""
        membership = self.members.get(client)
        return membership is not None and membership.op

    def visible_to(self, client: Client) -> bool:
        """Whether ``client`` may see this channel at all: not secret (+s), a member, or an oper."""
        return "s" not in self.modes or client in self.members or client.is_oper

    def can_speak(self, client: Client) -> bool:
        """Whether ``client`` may send to the channel under +n, +m, bans and mutes."""
        membership = self.members.get(client)
        if membership is None:
            return "n" not in self.modes and not self.is_banned(client, mutes=True)
        if membership.op or membership.voice:
            return True
        return "m" not in self.modes and not self.is_banned(client, mutes=True)

    def is_banned(self, client: Client, *, mutes: bool = False) -> bool:
        """True when a ban (or, with ``mutes``, a ``~m:`` mute) matches and no ``+e`` does."""
        if not self.bans:
            return False
        hit = any(
            (mutes or not is_mute(entry)) and _entry_matches(entry, client) for entry in self.bans
        )
        return hit and not any(_entry_matches(e, client) for e in self.exceptions)

    def is_invite_excepted(self, client: Client) -> bool:
        """True when a ``+I`` entry lets ``client`` in without an invitation."""
        return any(_entry_matches(entry, client) for entry in self.invex)

    def mode_string(self, show_key: bool) -> tuple[str, ...]:
        """The channel modes as MODE parameters: ``("+ntkl", "key", "10")``."""
        flags = "".join(sorted(self.modes))
        params: list[str] = []
        if self.key is not None:
            flags += "k"
            params.append(self.key if show_key else "*")
        if self.limit is not None:
            flags += "l"
            params.append(str(self.limit))
        return ("+" + flags, *params)


def _entry_matches(entry: str, client: Client) -> bool:
    """Whether a ban, exception or invite-exception entry matches ``client``: its shown
    ``nick!user@host``, its account, or the real address behind its cloak."""
    if entry_matches(entry, client.prefix, client.account):
        return True
    if client.host == client.ip:
        return False
    real = f"{client.nick}!{client.user}@{client.ip}"
    return entry_matches(entry, real, client.account)
