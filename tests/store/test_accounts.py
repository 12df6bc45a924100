"""Accounts and password rules, identical for every store."""

from __future__ import annotations

from dataclasses import replace

import pytest

from chinwag.protocol.scram import ScramCredentials, credentials
from chinwag.store import (
    AccountExistsError,
    InvalidNameError,
    InvalidPasswordError,
    NoSuchAccountError,
    PasswordProblem,
    SqliteStore,
    Store,
)
from chinwag.store.memory import MemoryAccountStore
from chinwag.store.postgres import PostgresStore

BAD_PASSWORDS: list[tuple[str | bytes, PasswordProblem]] = [
    ("", PasswordProblem.EMPTY),
    (b"", PasswordProblem.EMPTY),
    ("x" * 1025, PasswordProblem.TOO_LONG),
    ("é" * 513, PasswordProblem.TOO_LONG),  # 1026 bytes in UTF-8
    (b"\xff\xfe\xfd", PasswordProblem.NOT_UTF8),
    (b"ok\xc3", PasswordProblem.NOT_UTF8),
    ("lone \udcff surrogate", PasswordProblem.NOT_UTF8),
    ("nul\x00inside", PasswordProblem.CONTROL_CHARACTER),
    ("line\r\nbreak", PasswordProblem.CONTROL_CHARACTER),
    (b"x" * 100_000, PasswordProblem.TOO_LONG),
]


async def test_register_get_and_verify(store: Store) -> None:
    """A registered account can be fetched and logged into with its password only."""
    amy = await store.accounts.register("Amy", "amy", "correct horse", email="amy@example.org")
    assert (amy.name, amy.name_folded, amy.email, amy.admin) == (
        "Amy",
        "amy",
        "amy@example.org",
        False,
    )
    assert amy.password_hash.startswith("$argon2id$")
    assert "correct horse" not in repr(amy) and amy.password_hash not in repr(amy)
    assert await store.accounts.get("amy") == amy
    assert await store.accounts.verify("amy", "correct horse") == amy
    assert await store.accounts.verify("amy", b"correct horse") == amy
    assert await store.accounts.verify("amy", "wrong") is None
    assert await store.accounts.verify("nobody", "correct horse") is None


async def test_registered_among_answers_for_many_names_at_once(store: Store) -> None:
    """One look-up tells which of many names are accounts (more than one query's worth too);
    no names, no accounts."""
    await store.accounts.register("Amy", "amy", "pw1")
    await store.accounts.register("Bob", "bob", "pw2")
    names = [f"guest{i}" for i in range(1200)] + ["bob", "amy", "bob"]
    assert await store.accounts.registered_among(names) == {"amy", "bob"}
    assert await store.accounts.registered_among(["carol"]) == set()
    assert await store.accounts.registered_among([]) == set()


async def test_register_twice_is_refused(store: Store) -> None:
    """A folded name can only be registered once, whatever the display case."""
    await store.accounts.register("Amy", "amy", "pw1")
    with pytest.raises(AccountExistsError):
        await store.accounts.register("AMY", "amy", "pw2")
    assert await store.accounts.verify("amy", "pw1") is not None


@pytest.mark.parametrize(("password", "problem"), BAD_PASSWORDS)
async def test_bad_passwords_raise_a_typed_error(
    store: Store, password: str | bytes, problem: PasswordProblem
) -> None:
    """Empty, oversized, non-UTF-8 and NUL/CR/LF passwords are refused with their reason."""
    with pytest.raises(InvalidPasswordError) as caught:
        await store.accounts.register("Amy", "amy", password)
    assert caught.value.problem is problem
    assert await store.accounts.get("amy") is None


async def test_bad_passwords_never_log_in(store: Store) -> None:
    """verify() answers None for unusable passwords instead of raising."""
    await store.accounts.register("Amy", "amy", "pw")
    for password, _ in BAD_PASSWORDS:
        assert await store.accounts.verify("amy", password) is None


async def test_longest_allowed_password(store: Store) -> None:
    """A 512-byte UTF-8 password is accepted and works."""
    password = "é" * 256
    await store.accounts.register("Amy", "amy", password)
    assert await store.accounts.verify("amy", password.encode()) is not None


@pytest.mark.parametrize("name", ["", "a b", "a,b", "x" * 201, "nul\x00"])
async def test_bad_names_are_refused(store: Store, name: str) -> None:
    """Empty or malformed account names raise InvalidNameError."""
    with pytest.raises(InvalidNameError):
        await store.accounts.register(name, name, "pw")


async def test_set_password(store: Store) -> None:
    """After SET PASSWORD only the new password works."""
    await store.accounts.register("Amy", "amy", "old")
    await store.accounts.set_password("amy", "new")
    assert await store.accounts.verify("amy", "old") is None
    assert await store.accounts.verify("amy", "new") is not None
    with pytest.raises(NoSuchAccountError):
        await store.accounts.set_password("nobody", "new")
    with pytest.raises(InvalidPasswordError):
        await store.accounts.set_password("amy", "")


async def test_admin_flag(store: Store) -> None:
    """Accounts can be made server operators and back."""
    await store.accounts.register("Root", "root", "pw", admin=True)
    await store.accounts.register("Amy", "amy", "pw")
    root = await store.accounts.get("root")
    assert root is not None and root.admin
    await store.accounts.set_admin("amy", True)
    await store.accounts.set_admin("root", False)
    assert [(a.name, a.admin) for a in await store.accounts.list_all()] == [
        ("Amy", True),
        ("Root", False),
    ]
    with pytest.raises(NoSuchAccountError):
        await store.accounts.set_admin("nobody", True)


async def test_drop(store: Store) -> None:
    """DROP deletes the account and reports whether it existed."""
    await store.accounts.register("Amy", "amy", "pw")
    assert await store.accounts.drop("amy") is True
    assert await store.accounts.drop("amy") is False
    assert await store.accounts.get("amy") is None
    assert await store.accounts.list_all() == []


async def test_scram_credentials_follow_the_password(store: Store) -> None:
    """Registering makes SCRAM-SHA-256 credentials of the password; changing it remakes them;
    an account stored without them gets them at its next password login."""
    amy = await store.accounts.register("Amy", "amy", "correct horse")
    creds = ScramCredentials.decode(amy.scram)
    assert creds == credentials(b"correct horse", creds.salt, creds.iterations)
    assert amy.scram not in repr(amy)
    await store.accounts.set_password("amy", "battery staple")
    changed = await store.accounts.get("amy")
    assert changed is not None
    new = ScramCredentials.decode(changed.scram)
    assert new == credentials(b"battery staple", new.salt, new.iterations)
    await store.accounts.set_password("amy", "old one")
    await _forget_scram(store, "amy")
    legacy = await store.accounts.get("amy")
    assert legacy is not None and legacy.scram == ""
    logged_in = await store.accounts.verify("amy", "old one")
    assert logged_in is not None and logged_in.scram


async def _forget_scram(store: Store, name_folded: str) -> None:
    """Make the account look like one stored before SCRAM credentials existed."""
    if isinstance(store, SqliteStore | PostgresStore):
        sql = store.database.sql("UPDATE accounts SET scram = NULL WHERE name_folded = ?")
        await store.writer.call(lambda conn: conn.execute(sql, (name_folded,)))
    else:
        accounts = store.accounts
        assert isinstance(accounts, MemoryAccountStore)
        accounts._accounts[name_folded] = replace(accounts._accounts[name_folded], scram="")
