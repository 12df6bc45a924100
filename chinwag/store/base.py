"""What the store keeps, and the Protocols every store implementation satisfies.

Records are frozen dataclasses, except :class:`HistoryEntry`, a ``NamedTuple`` because the
server builds one per message on its hot path (see its docstring). Names arrive already folded
by ``protocol/casemap.py`` (fields named ``*_folded``), the store never folds anything itself.
Times are float seconds since the epoch (UTC), the same unit as ``protocol/timestamps.py``.

Writes that a command handler fires on the hot path (``HistoryStore.append``,
``ChannelStore.save``) are plain methods that enqueue and return at once. Everything that
answers a question is ``async`` so that a disk-backed implementation can run it off the event
loop.

Private history is keyed by :class:`DirectTarget`, the unordered pair of its two parties. A
query for private history can only be phrased as "between me and X", so no query can return a
conversation the asker is not part of.
"""

from __future__ import annotations

import enum
import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import NamedTuple, Protocol

from chinwag.store.errors import InvalidNameError

__all__ = [
    "NO_TAGS",
    "Account",
    "AccountStore",
    "BanKind",
    "BanStore",
    "Bound",
    "ChannelBan",
    "ChannelRecord",
    "ChannelStore",
    "ChannelTarget",
    "DirectTarget",
    "HistoryEntry",
    "HistoryIndex",
    "HistoryStore",
    "MsgidBound",
    "OnCommit",
    "ServerBan",
    "Store",
    "StoreParts",
    "Target",
    "TimeBound",
    "Topic",
    "check_name",
    "new_account_uid",
]

OnCommit = Callable[[], object]
"""Called on the event loop once an appended entry is durable (committed)."""

_FORBIDDEN_IN_NAMES = frozenset(" \x00\r\n,")
MAX_NAME_LENGTH = 200


def check_name(name: str, what: str = "name") -> str:
    """Validate a folded name used as a key (account, party, channel).

    Args:
        name: the folded name.
        what: what the name is, for the error message.

    Returns:
        ``name`` unchanged.

    Raises:
        InvalidNameError: when ``name`` is empty, too long or holds a space, comma, NUL, CR or LF.
    """
    if not name:
        raise InvalidNameError(f"empty {what}")
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidNameError(f"{what} too long")
    if not _FORBIDDEN_IN_NAMES.isdisjoint(name):
        raise InvalidNameError(f"{what} contains a forbidden character")
    return name


@dataclass(frozen=True, slots=True)
class ChannelTarget:
    """The history of one channel; anybody the server lets read the channel may query it."""

    channel_folded: str

    def __post_init__(self) -> None:
        check_name(self.channel_folded, "channel")

    @property
    def key(self) -> str:
        """The conversation key stored with each entry."""
        return self.channel_folded


@dataclass(frozen=True, slots=True)
class DirectTarget:
    """A private conversation: the unordered pair of its two parties.

    A party is whatever the server uses to identify a person in private history: the folded
    account name when logged in, else the folded nick (a server may prefix one of the two kinds
    to keep them apart). ``DirectTarget("amy", "bob") == DirectTarget("bob", "amy")``.
    """

    party_a: str
    party_b: str
    key: str = field(init=False, repr=False, compare=False)
    """The conversation key: both parties joined by a space, which no name contains. Computed
    once here, since the server keeps one target per conversation and stores its key with
    every message."""

    def __post_init__(self) -> None:
        check_name(self.party_a, "party")
        check_name(self.party_b, "party")
        if self.party_a > self.party_b:
            low, high = self.party_b, self.party_a
            object.__setattr__(self, "party_a", low)
            object.__setattr__(self, "party_b", high)
        object.__setattr__(self, "key", f"{self.party_a} {self.party_b}")

    @classmethod
    def between(cls, me: str, other: str) -> DirectTarget:
        """The conversation between the asker ``me`` and ``other``."""
        return cls(me, other)

    def peer_of(self, me: str) -> str:
        """The other party, as seen by ``me`` (``me`` itself for notes to self).

        Raises:
            ValueError: when ``me`` is not a party of this conversation.
        """
        if me == self.party_a:
            return self.party_b
        if me == self.party_b:
            return self.party_a
        raise ValueError(f"{me!r} is not a party of this conversation")


Target = ChannelTarget | DirectTarget


@dataclass(frozen=True, slots=True)
class MsgidBound:
    """A CHATHISTORY ``msgid=`` selector."""

    msgid: str


@dataclass(frozen=True, slots=True)
class TimeBound:
    """A CHATHISTORY ``timestamp=`` selector (seconds since the epoch)."""

    time: float


Bound = MsgidBound | TimeBound


NO_TAGS: Mapping[str, str] = MappingProxyType({})
"""The tags of an entry that has none (read-only, so that every entry can share it)."""


class HistoryEntry(NamedTuple):
    """One stored PRIVMSG, NOTICE or TAGMSG.

    A ``NamedTuple`` rather than a frozen dataclass: the server builds one for every message
    it stores, on the event loop, and a tuple is built five times faster (a frozen
    dataclass's ``__init__`` sets each field through ``object.__setattr__``). It is just as
    immutable; unlike the dataclass it is not hashable (``tags`` is a mapping), which nothing
    needs.

    Attributes:
        msgid: the server-assigned ``msgid`` tag value, unique across the network.
        time: server time in seconds since the epoch.
        target: which conversation the entry belongs to.
        target_name: the target parameter as sent (channel display name, or recipient nick).
        sender: the source prefix ``nick!user@host``.
        account: the sender's account, when logged in.
        command: ``PRIVMSG``, ``NOTICE`` or ``TAGMSG``.
        text: the trailing parameter (empty for TAGMSG).
        tags: client-only tags (``+draft/reply`` ...) to replay with the entry.
    """

    msgid: str
    time: float
    target: Target
    target_name: str
    sender: str
    account: str | None
    command: str
    text: str
    tags: Mapping[str, str] = NO_TAGS


@dataclass(frozen=True, slots=True)
class Account:
    """A registered account (NickServ / ``draft/account-registration`` / SASL).

    ``uid`` is drawn at random when the account is created: a later account of the same name
    gets another, so it never inherits what belonged to this one (private history is kept
    under `party`). Accounts made before identities existed have none, and keep their name.
    """

    name: str
    name_folded: str
    password_hash: str = field(repr=False)
    email: str | None
    created_at: float
    admin: bool = False
    scram: str = field(default="", repr=False)
    """SCRAM-SHA-256 credentials (``protocol.scram.ScramCredentials.encode``), made whenever the
    password is set; empty for an account whose password was set before they existed, until
    its next password login (then `AccountStore.verify` adds them)."""
    uid: str = ""

    @property
    def party(self) -> str:
        """This account's name in private history: ``name!uid`` (``!`` is in no nick)."""
        return f"{self.name_folded}!{self.uid}" if self.uid else self.name_folded


def new_account_uid() -> str:
    """A fresh account identity (64 random bits, hex)."""
    return secrets.token_hex(8)


@dataclass(frozen=True, slots=True)
class Topic:
    """A channel topic with who set it and when (RPL_TOPICWHOTIME)."""

    text: str
    set_by: str
    set_at: float


@dataclass(frozen=True, slots=True)
class ChannelBan:
    """One entry of a channel's lists: a ban (RPL_BANLIST), or with ``mode`` ``e`` a ban
    exception, ``I`` an invite exception."""

    mask: str
    set_by: str
    set_at: float
    mode: str = "b"


@dataclass(frozen=True, slots=True)
class ChannelRecord:
    """The persistent part of a channel: what must survive a restart."""

    name: str
    name_folded: str
    founder: str | None = None
    registered_at: float | None = None
    topic: Topic | None = None
    modes: str = ""
    bans: tuple[ChannelBan, ...] = ()
    identity: str = ""
    """The key of the channel's history (its name plus the identity drawn when the channel was
    created); empty for channels registered before identities existed: their folded name."""


class BanKind(enum.Enum):
    """What a server ban matches: a ``nick!user@host`` mask or an account."""

    MASK = "mask"
    ACCOUNT = "account"


@dataclass(frozen=True, slots=True)
class ServerBan:
    """A K-line-like server ban, optionally temporary."""

    kind: BanKind
    target: str
    reason: str
    set_by: str
    set_at: float
    expires_at: float | None = None

    def expired(self, now: float) -> bool:
        """True when the ban has an expiry time and ``now`` is past it."""
        return self.expires_at is not None and now >= self.expires_at


class HistoryIndex(Protocol):
    """The queries and the retention of message history (a SQL index fed by the journal
    implements only these; a :class:`HistoryStore` adds the appends).

    Every query returns entries in chronological order. Entries are ordered by server time at
    millisecond resolution (what clients see in ``server-time``), ties broken by arrival order.
    Bounds are exclusive. A ``msgid`` bound that is not in ``target`` selects nothing.
    """

    async def latest(self, target: Target, after: Bound | None, limit: int) -> list[HistoryEntry]:
        """CHATHISTORY LATEST: the newest ``limit`` entries, only those after ``after``.

        Args:
            target: the channel, or the private conversation "between me and X".
            after: None for LATEST ``*``; else only entries after this bound count.
            limit: how many entries at most (the caller caps it; <= 0 returns nothing).

        Returns:
            Chronological entries (so are the answers of every query below).

        Raises:
            StoreClosedError: after the store was closed (every query).
        """
        ...

    async def before(self, target: Target, bound: Bound, limit: int) -> list[HistoryEntry]:
        """CHATHISTORY BEFORE: the ``limit`` entries just before ``bound``."""
        ...

    async def after(self, target: Target, bound: Bound, limit: int) -> list[HistoryEntry]:
        """CHATHISTORY AFTER: the ``limit`` entries just after ``bound``."""
        ...

    async def around(self, target: Target, bound: Bound, limit: int) -> list[HistoryEntry]:
        """CHATHISTORY AROUND: ``limit // 2`` entries before ``bound``, the rest from it on.

        A ``msgid`` bound's own entry is included; when one side runs short the other fills
        in, so ``limit`` entries come back whenever the conversation has that many.
        """
        ...

    async def between(
        self, target: Target, start: Bound, end: Bound, limit: int
    ) -> list[HistoryEntry]:
        """CHATHISTORY BETWEEN: entries strictly between the bounds, the ``limit`` closest to
        ``start`` (``start`` may be the later bound: the walk then goes backwards)."""
        ...

    async def targets(
        self, viewer: str, channels: Iterable[str], start: float, end: float, limit: int
    ) -> list[HistoryEntry]:
        """The latest entry of each conversation active strictly between two times.

        Args:
            viewer: the asker's party name; their private conversations are included.
            channels: folded names of the channels the asker may read.
            start: one end of the window; if later than ``end`` the newest targets are kept.
            end: the other end of the window.
            limit: how many conversations at most.

        Returns:
            One entry per conversation, ordered by time.
        """
        ...

    async def prune(
        self,
        max_age_days: float | None,
        max_lines_per_target: int | None,
        *,
        now: float | None = None,
    ) -> int:
        """Retention: delete entries older than ``max_age_days`` and beyond the newest
        ``max_lines_per_target`` of each conversation.

        Args:
            max_age_days: age limit in days, or None for no age limit.
            max_lines_per_target: lines kept per conversation, or None for no line limit.
            now: the current time (tests inject it); default ``time.time()``.

        Returns:
            How many entries were deleted.
        """
        ...

    async def forget(self, party: str) -> int:
        """Delete every private entry ``party`` took part in; channel messages stay.

        Args:
            party: the party name used in :class:`DirectTarget` (folded account or nick).

        Returns:
            How many entries were deleted.
        """
        ...


class HistoryStore(HistoryIndex, Protocol):
    """Message history for CHATHISTORY and join replay: the queries of `HistoryIndex`, and the
    appends that feed them."""

    def append(self, entry: HistoryEntry, then: OnCommit | None = None) -> None:
        """Queue ``entry`` for storage; never waits for the disk.

        Args:
            entry: the message to keep. A duplicate ``msgid`` is ignored.
            then: called on the event loop once the entry is committed, in append order. A
                server that delivers from ``then`` never shows a client a message that a
                crash could lose.
        """
        ...

    async def probe_write(self) -> None:
        """Write something tiny and commit it: raises when nothing can be stored now (a full
        disk), returns when storing works."""
        ...

    def commit_error(self) -> BaseException | None:
        """Inside an ``append`` callback: why that entry was NOT stored (the disk is full, the
        file is gone...), or None when it was. Outside a callback: None."""
        ...

    def end_turn(self) -> None:
        """Store what this event-loop turn appended now and run its callbacks; the server calls
        it before it writes the turn's output. A store that does not work in turns does
        nothing."""
        ...

    def after_writes(self, then: OnCommit) -> None:
        """Run ``then`` on the event loop once every entry appended before is committed.

        It runs in order with the ``then`` callbacks of :meth:`append`: a server that delivers
        stored messages from their callbacks delivers what it does not store (JOIN, PART,
        QUIT, ...) through this, and clients see everything in the original order.
        """
        ...

    async def flush(self) -> None:
        """Wait until everything appended so far is committed."""
        ...


class AccountStore(Protocol):
    """Registered accounts, with argon2id password hashes."""

    async def register(
        self,
        name: str,
        name_folded: str,
        password: str | bytes,
        *,
        email: str | None = None,
        admin: bool = False,
    ) -> Account:
        """Create an account; hashing runs in a thread.

        Raises:
            AccountExistsError: when ``name_folded`` is taken.
            InvalidPasswordError: when the password is empty, too long or not UTF-8.
            InvalidNameError: when the name is empty or malformed.
        """
        ...

    async def verify(self, name_folded: str, password: str | bytes) -> Account | None:
        """The account when the password matches, else None (also for unusable passwords)."""
        ...

    async def get(self, name_folded: str) -> Account | None:
        """The account, or None."""
        ...

    async def registered_among(self, names_folded: Iterable[str]) -> set[str]:
        """Which of ``names_folded`` are accounts: one look-up for many names (nick protection
        asks about every arriving nick, and a storm of arrivals is one query, not one each)."""
        ...

    async def set_password(self, name_folded: str, password: str | bytes) -> None:
        """Replace an account's password.

        Raises:
            NoSuchAccountError: when there is no such account.
            InvalidPasswordError: when the new password is unusable.
        """
        ...

    async def set_admin(self, name_folded: str, admin: bool) -> None:
        """Grant or revoke server-operator rights.

        Raises:
            NoSuchAccountError: when there is no such account.
        """
        ...

    async def drop(self, name_folded: str) -> bool:
        """Delete an account. Returns: whether it existed."""
        ...

    async def list_all(self) -> list[Account]:
        """Every account, ordered by folded name."""
        ...


class ChannelStore(Protocol):
    """Channels whose state survives restarts."""

    def save(self, record: ChannelRecord) -> None:
        """Queue an insert-or-replace of ``record``; never waits for the disk."""
        ...

    def delete(self, name_folded: str) -> None:
        """Queue the removal of a channel record."""
        ...

    async def get(self, name_folded: str) -> ChannelRecord | None:
        """The record, or None."""
        ...

    async def load_all(self) -> list[ChannelRecord]:
        """Every record, ordered by folded name (used at startup)."""
        ...


class BanStore(Protocol):
    """Server bans (K-lines) by mask or by account."""

    async def add(self, ban: ServerBan) -> None:
        """Add a ban, replacing any ban of the same kind and target."""
        ...

    async def remove(self, kind: BanKind, target: str) -> bool:
        """Remove a ban. Returns: whether it existed."""
        ...

    async def list_active(self, now: float) -> list[ServerBan]:
        """Bans not expired at ``now``, oldest first; expired bans are deleted."""
        ...


class Store(Protocol):
    """Everything that survives a restart, behind one ``flush`` and one ``close``."""

    @property
    def history(self) -> HistoryStore:
        """Message history."""
        ...

    @property
    def accounts(self) -> AccountStore:
        """Registered accounts."""
        ...

    @property
    def channels(self) -> ChannelStore:
        """Persistent channels."""
        ...

    @property
    def bans(self) -> BanStore:
        """Server bans."""
        ...

    async def forget(self, party: str) -> tuple[bool, int]:
        """Drop the account named ``party`` (folded) and all private history it took part in
        (kept under its identity, `Account.party`).

        Returns:
            Whether an account was dropped, and how many history entries were deleted.
        """
        ...

    async def flush(self) -> None:
        """Wait until every write queued so far is committed."""
        ...

    async def close(self) -> None:
        """Commit what is queued, stop background work and release files."""
        ...


class StoreParts:
    """The four :class:`Store` properties, for implementations to inherit.

    An implementation builds its four parts and hands them to ``__init__``; it still writes
    ``forget``, ``flush`` and ``close`` itself, since those differ (one transaction in SQLite).
    """

    def __init__(
        self, history: HistoryStore, accounts: AccountStore, channels: ChannelStore, bans: BanStore
    ) -> None:
        """Keep the four parts."""
        self._history = history
        self._accounts = accounts
        self._channels = channels
        self._bans = bans

    @property
    def history(self) -> HistoryStore:
        """See :attr:`Store.history`."""
        return self._history

    @property
    def accounts(self) -> AccountStore:
        """See :attr:`Store.accounts`."""
        return self._accounts

    @property
    def channels(self) -> ChannelStore:
        """See :attr:`Store.channels`."""
        return self._channels

    @property
    def bans(self) -> BanStore:
        """See :attr:`Store.bans`."""
        return self._bans
