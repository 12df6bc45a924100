"""The in-memory store: for tests and ``--data none``; nothing survives the process.

It answers every query exactly as the SQLite store does (both run ``_query.py`` over their own
:class:`~chinwag.store._query.RangeReader`), so it doubles as the reference the parametrized
tests hold SQLite to. Conversations are sorted lists searched with :mod:`bisect`; to stay
bounded without a retention job, each conversation keeps at most ``max_lines_per_target``.
"""

from __future__ import annotations

import asyncio
from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from dataclasses import replace

from argon2 import PasswordHasher

from chinwag.store import _query
from chinwag.store._query import Position
from chinwag.store.account_rules import (
    hash_for_new_password,
    new_account,
    scram_for,
    verify_and_rehash,
)
from chinwag.store.base import (
    Account,
    BanKind,
    Bound,
    ChannelRecord,
    DirectTarget,
    HistoryEntry,
    OnCommit,
    ServerBan,
    StoreParts,
    Target,
    check_name,
)
from chinwag.store.errors import AccountExistsError, NoSuchAccountError

__all__ = [
    "MemoryAccountStore",
    "MemoryBanStore",
    "MemoryChannelStore",
    "MemoryHistoryStore",
    "MemoryStore",
]


def _later(then: OnCommit) -> None:
    """Run ``then`` on the next loop iteration, like the SQLite writer does after a commit."""
    try:
        asyncio.get_running_loop().call_soon(then)
    except RuntimeError:
        then()


class _Conversation:
    """One conversation's entries, sorted by position."""

    __slots__ = ("entries", "positions")

    def __init__(self) -> None:
        self.positions: list[Position] = []
        self.entries: list[HistoryEntry] = []

    def drop_first(self, count: int) -> list[HistoryEntry]:
        dropped = self.entries[:count]
        del self.positions[:count], self.entries[:count]
        return dropped


class MemoryHistoryStore(_query.RangeReader):
    """History kept in dicts and sorted lists."""

    def __init__(self, max_lines_per_target: int | None = 10_000) -> None:
        """Create an empty history.

        Args:
            max_lines_per_target: oldest entries beyond this are dropped (None: unbounded).
        """
        self._cap = max_lines_per_target
        self._seq = 0
        self._convs: dict[str, _Conversation] = {}
        self._where: dict[str, tuple[str, Position]] = {}
        self._by_party: dict[str, set[str]] = {}

    def __len__(self) -> int:
        """How many entries are stored."""
        return len(self._where)

    # -- RangeReader ---------------------------------------------------------------------

    def resolve(self, conv: str, msgid: str) -> Position | None:
        """See :meth:`chinwag.store._query.RangeReader.resolve`."""
        found = self._where.get(msgid)
        if found is None or found[0] != conv:
            return None
        return found[1]

    def range(
        self, conv: str, lo: Position | None, hi: Position | None, limit: int, newest: bool
    ) -> list[HistoryEntry]:
        """See :meth:`chinwag.store._query.RangeReader.range`."""
        c = self._convs.get(conv)
        if c is None:
            return []
        start = 0 if lo is None else bisect_right(c.positions, lo)
        stop = len(c.positions) if hi is None else bisect_left(c.positions, hi)
        if stop - start > limit:
            if newest:
                start = stop - limit
            else:
                stop = start + limit
        return c.entries[start:stop]

    # -- HistoryStore --------------------------------------------------------------------

    def append(self, entry: HistoryEntry, then: OnCommit | None = None) -> None:
        """See :meth:`HistoryStore.append`."""
        if entry.msgid not in self._where:
            self._seq += 1
            position = (_query.time_key(entry.time), self._seq)
            conv_key = entry.target.key
            conv = self._convs.setdefault(conv_key, _Conversation())
            index = bisect_right(conv.positions, position)
            conv.positions.insert(index, position)
            conv.entries.insert(index, entry)
            self._where[entry.msgid] = (conv_key, position)
            if isinstance(entry.target, DirectTarget):
                for party in (entry.target.party_a, entry.target.party_b):
                    self._by_party.setdefault(party, set()).add(conv_key)
            if self._cap is not None and len(conv.entries) > self._cap + self._cap // 8:
                self._forget_entries(conv.drop_first(len(conv.entries) - self._cap))
        if then is not None:
            _later(then)

    async def probe_write(self) -> None:
        """See :meth:`HistoryStore.probe_write`: memory always has room."""

    def commit_error(self) -> BaseException | None:
        """See :meth:`HistoryStore.commit_error`: memory never refuses an entry."""
        return None

    def end_turn(self) -> None:
        """See :meth:`HistoryStore.end_turn`: nothing to do."""

    def after_writes(self, then: OnCommit) -> None:
        """See :meth:`HistoryStore.after_writes`."""
        _later(then)

    def _forget_entries(self, entries: Iterable[HistoryEntry]) -> int:
        count = 0
        for entry in entries:
            del self._where[entry.msgid]
            count += 1
        return count

    async def flush(self) -> None:
        """See :meth:`HistoryStore.flush`; lets pending ``then`` callbacks run."""
        await asyncio.sleep(0)

    async def latest(self, target: Target, after: Bound | None, limit: int) -> list[HistoryEntry]:
        """See :meth:`HistoryStore.latest`."""
        return _query.query_latest(self, target.key, after, limit)

    async def before(self, target: Target, bound: Bound, limit: int) -> list[HistoryEntry]:
        """See :meth:`HistoryStore.before`."""
        return _query.query_before(self, target.key, bound, limit)

    async def after(self, target: Target, bound: Bound, limit: int) -> list[HistoryEntry]:
        """See :meth:`HistoryStore.after`."""
        return _query.query_after(self, target.key, bound, limit)

    async def around(self, target: Target, bound: Bound, limit: int) -> list[HistoryEntry]:
        """See :meth:`HistoryStore.around`."""
        return _query.query_around(self, target.key, bound, limit)

    async def between(
        self, target: Target, start: Bound, end: Bound, limit: int
    ) -> list[HistoryEntry]:
        """See :meth:`HistoryStore.between`."""
        return _query.query_between(self, target.key, start, end, limit)

    async def targets(
        self, viewer: str, channels: Iterable[str], start: float, end: float, limit: int
    ) -> list[HistoryEntry]:
        """See :meth:`HistoryStore.targets`."""
        if limit <= 0:
            return []
        lo, hi = sorted((_query.time_key(start), _query.time_key(end)))
        keys = _query.channel_keys(channels) | self._by_party.get(viewer, set())
        found: list[HistoryEntry] = []
        for key in keys:
            newest = self.range(key, (lo, _query.MAX_SEQ), (hi, 0), 1, newest=True)
            found.extend(newest)
        found.sort(key=lambda e: (_query.time_key(e.time), self._where[e.msgid][1]))
        return _query.keep_targets(found, start, end, limit)

    async def prune(
        self,
        max_age_days: float | None,
        max_lines_per_target: int | None,
        *,
        now: float | None = None,
    ) -> int:
        """See :meth:`HistoryStore.prune`."""
        cutoff = _query.age_cutoff(max_age_days, now)
        deleted = 0
        for conv in self._convs.values():
            count = 0 if cutoff is None else bisect_left(conv.positions, (cutoff, 0))
            if max_lines_per_target is not None:
                count = max(count, len(conv.entries) - max(0, max_lines_per_target))
            deleted += self._forget_entries(conv.drop_first(count))
        return deleted

    async def forget(self, party: str) -> int:
        """See :meth:`HistoryStore.forget`."""
        deleted = 0
        for key in self._by_party.pop(party, set()):
            conv = self._convs.pop(key, None)
            if conv is not None:
                deleted += self._forget_entries(conv.entries)
            for other in key.split(" "):
                self._by_party.get(other, set()).discard(key)
        return deleted


class MemoryAccountStore:
    """Accounts in a dict; hashing still runs in a thread."""

    def __init__(self, hasher: PasswordHasher | None = None) -> None:
        """Create an empty account table.

        Args:
            hasher: argon2 parameters (None: the default argon2id profile).
        """
        self._hasher = hasher
        self._accounts: dict[str, Account] = {}

    async def register(
        self,
        name: str,
        name_folded: str,
        password: str | bytes,
        *,
        email: str | None = None,
        admin: bool = False,
    ) -> Account:
        """See :meth:`AccountStore.register`."""
        account = await new_account(
            self, name, name_folded, password, self._hasher, email=email, admin=admin
        )
        if name_folded in self._accounts:
            raise AccountExistsError(name_folded)
        self._accounts[name_folded] = account
        return account

    async def verify(self, name_folded: str, password: str | bytes) -> Account | None:
        """See :meth:`AccountStore.verify`."""
        return await verify_and_rehash(self, name_folded, password, self._hasher)

    async def get(self, name_folded: str) -> Account | None:
        """See :meth:`AccountStore.get`."""
        return self._accounts.get(name_folded)

    async def registered_among(self, names_folded: Iterable[str]) -> set[str]:
        """See :meth:`AccountStore.registered_among`."""
        return {name for name in names_folded if name in self._accounts}

    async def set_password(self, name_folded: str, password: str | bytes) -> None:
        """See :meth:`AccountStore.set_password`."""
        password_hash = await hash_for_new_password(self, name_folded, password, self._hasher)
        scram = await scram_for(password)
        account = self._accounts.get(name_folded)
        if account is None:
            raise NoSuchAccountError(name_folded)
        self._accounts[name_folded] = replace(account, password_hash=password_hash, scram=scram)

    async def set_admin(self, name_folded: str, admin: bool) -> None:
        """See :meth:`AccountStore.set_admin`."""
        account = self._accounts.get(name_folded)
        if account is None:
            raise NoSuchAccountError(name_folded)
        self._accounts[name_folded] = replace(account, admin=admin)

    async def drop(self, name_folded: str) -> bool:
        """See :meth:`AccountStore.drop`."""
        return self._accounts.pop(name_folded, None) is not None

    async def list_all(self) -> list[Account]:
        """See :meth:`AccountStore.list_all`."""
        return [self._accounts[k] for k in sorted(self._accounts)]


class MemoryChannelStore:
    """Channel records in a dict."""

    def __init__(self) -> None:
        """Create an empty channel table."""
        self._records: dict[str, ChannelRecord] = {}

    def save(self, record: ChannelRecord) -> None:
        """See :meth:`ChannelStore.save`."""
        check_name(record.name_folded, "channel")
        self._records[record.name_folded] = record

    def delete(self, name_folded: str) -> None:
        """See :meth:`ChannelStore.delete`."""
        self._records.pop(name_folded, None)

    async def get(self, name_folded: str) -> ChannelRecord | None:
        """See :meth:`ChannelStore.get`."""
        return self._records.get(name_folded)

    async def load_all(self) -> list[ChannelRecord]:
        """See :meth:`ChannelStore.load_all`."""
        return [self._records[k] for k in sorted(self._records)]


class MemoryBanStore:
    """Server bans in a dict."""

    def __init__(self) -> None:
        """Create an empty ban list."""
        self._bans: dict[tuple[BanKind, str], ServerBan] = {}

    async def add(self, ban: ServerBan) -> None:
        """See :meth:`BanStore.add`."""
        self._bans[(ban.kind, ban.target)] = ban

    async def remove(self, kind: BanKind, target: str) -> bool:
        """See :meth:`BanStore.remove`."""
        return self._bans.pop((kind, target), None) is not None

    async def list_active(self, now: float) -> list[ServerBan]:
        """See :meth:`BanStore.list_active`."""
        for key in [k for k, ban in self._bans.items() if ban.expired(now)]:
            del self._bans[key]
        return sorted(self._bans.values(), key=lambda b: (b.set_at, b.kind.value, b.target))


class MemoryStore(StoreParts):
    """All four in-memory stores behind the :class:`~chinwag.store.base.Store` interface."""

    def __init__(
        self, *, hasher: PasswordHasher | None = None, max_lines_per_target: int | None = 10_000
    ) -> None:
        """Create an empty store.

        Args:
            hasher: argon2 parameters for accounts (None: the default profile).
            max_lines_per_target: history cap per conversation (None: unbounded).
        """
        super().__init__(
            MemoryHistoryStore(max_lines_per_target),
            MemoryAccountStore(hasher),
            MemoryChannelStore(),
            MemoryBanStore(),
        )

    async def forget(self, party: str) -> tuple[bool, int]:
        """See :meth:`Store.forget`."""
        account = await self._accounts.get(party)
        dropped = await self._accounts.drop(party)
        return dropped, await self._history.forget(account.party if account else party)

    async def flush(self) -> None:
        """See :meth:`Store.flush`."""
        await self._history.flush()

    async def close(self) -> None:
        """See :meth:`Store.close`; nothing to release."""
        await self._history.flush()
