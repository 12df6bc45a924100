"""Builders of entries and stores, and helpers, shared by the store tests."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from argon2 import PasswordHasher

from chinwag.store import (
    ChannelTarget,
    DirectTarget,
    HistoryEntry,
    MemoryStore,
    SqliteStore,
    Store,
    Target,
)
from chinwag.store.writer import Writer


class HasWriter(Protocol):
    """A store with a writer thread (SQLite, PostgreSQL)."""

    @property
    def writer(self) -> Writer[Any]:
        """The writer thread."""
        ...


FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=64, parallelism=1)
"""A cheap argon2id profile: the default one costs ~50 ms per hash."""

T0 = 1_700_000_000.0
LOBBY = ChannelTarget("#lobby")


def entry(
    msgid: str,
    time: float,
    target: Target = LOBBY,
    *,
    sender: str = "amy!a@host",
    text: str | None = None,
    account: str | None = None,
    tags: dict[str, str] | None = None,
) -> HistoryEntry:
    """A PRIVMSG entry with sensible defaults."""
    name = target.channel_folded if isinstance(target, ChannelTarget) else target.party_b
    return HistoryEntry(
        msgid=msgid,
        time=time,
        target=target,
        target_name=name,
        sender=sender,
        account=account,
        command="PRIVMSG",
        text=f"text of {msgid}" if text is None else text,
        tags={} if tags is None else tags,
    )


def direct(a: str, b: str) -> DirectTarget:
    """The private conversation between ``a`` and ``b``."""
    return DirectTarget.between(a, b)


def ids(entries: list[HistoryEntry]) -> list[str]:
    """The msgids of ``entries``, in order."""
    return [e.msgid for e in entries]


def open_kind(kind: str, path: Path, url: str = "") -> Store:
    """Open a store of the given kind: ``memory``, ``sqlite`` (in directory ``path``) or
    ``postgres`` (the database at ``url``)."""
    if kind == "memory":
        return MemoryStore(hasher=FAST_HASHER)
    if kind == "postgres":
        from chinwag.store.postgres import PostgresStore

        return PostgresStore(url, hasher=FAST_HASHER)
    return SqliteStore(path / "chinwag.sqlite3", hasher=FAST_HASHER)


def hold_writer(store: HasWriter) -> Callable[[], None]:
    """Keep ``store``'s writer busy in a job until the returned function is called, so that
    the jobs queued meanwhile form one group."""
    gate, held = threading.Event(), threading.Event()

    def hold(conn: object) -> None:
        held.set()
        gate.wait(5.0)

    store.writer.fire(hold)
    assert held.wait(5.0)
    return gate.set
