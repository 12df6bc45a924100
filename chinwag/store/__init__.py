"""The seam for durability: accounts, history, channels and bans that survive restarts."""

from __future__ import annotations

from chinwag.store.base import (
    NO_TAGS,
    Account,
    AccountStore,
    BanKind,
    BanStore,
    Bound,
    ChannelBan,
    ChannelRecord,
    ChannelStore,
    ChannelTarget,
    DirectTarget,
    HistoryEntry,
    HistoryStore,
    MsgidBound,
    OnCommit,
    ServerBan,
    Store,
    Target,
    TimeBound,
    Topic,
)
from chinwag.store.errors import (
    AccountExistsError,
    InvalidNameError,
    InvalidPasswordError,
    NoSuchAccountError,
    PasswordProblem,
    StoreClosedError,
    StoreError,
)
from chinwag.store.factory import open_store
from chinwag.store.memory import MemoryStore
from chinwag.store.passwords import (
    MAX_PASSWORD_BYTES,
    check_password,
    hash_password,
    hash_password_async,
    verify_password,
    verify_password_async,
)
from chinwag.store.sqlite import DB_FILENAME, SqliteStore
from chinwag.store.throttle import LoginThrottle

__all__ = [
    "DB_FILENAME",
    "MAX_PASSWORD_BYTES",
    "NO_TAGS",
    "Account",
    "AccountExistsError",
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
    "HistoryStore",
    "InvalidNameError",
    "InvalidPasswordError",
    "LoginThrottle",
    "MemoryStore",
    "MsgidBound",
    "NoSuchAccountError",
    "OnCommit",
    "PasswordProblem",
    "ServerBan",
    "SqliteStore",
    "Store",
    "StoreClosedError",
    "StoreError",
    "Target",
    "TimeBound",
    "Topic",
    "check_password",
    "hash_password",
    "hash_password_async",
    "open_store",
    "verify_password",
    "verify_password_async",
]
