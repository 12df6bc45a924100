"""Account rules written once, over the :class:`~chinwag.store.base.AccountStore` interface.

The memory and SQL account stores (``memory.py``, ``sql_records.py``) differ only in how they
read and write a row. What a registration must pass, when a password is worth hashing, and when
a login upgrades its hash are the same for both, so both call these. Every check that can refuse
runs *before* argon2: a refused request never costs a hash (see ``passwords.py``).
"""

from __future__ import annotations

import asyncio
import time

from argon2 import PasswordHasher

from chinwag.protocol.scram import credentials
from chinwag.store.base import Account, AccountStore, check_name, new_account_uid
from chinwag.store.errors import AccountExistsError, NoSuchAccountError
from chinwag.store.passwords import (
    check_password,
    hash_password_async,
    needs_rehash,
    verify_password_async,
)

__all__ = [
    "hash_for_new_account",
    "hash_for_new_password",
    "new_account",
    "scram_for",
    "verify_and_rehash",
]


async def hash_for_new_account(
    accounts: AccountStore,
    name: str,
    name_folded: str,
    password: str | bytes,
    hasher: PasswordHasher | None,
) -> str:
    """Check a registration, then hash its password in a thread.

    The caller still has to insert the account atomically: another registration of the same
    name may finish while this one hashes.

    Raises:
        InvalidNameError: when a name is empty or malformed.
        InvalidPasswordError: when the password is unusable.
        AccountExistsError: when ``name_folded`` is already taken.
    """
    check_name(name, "account name")
    check_name(name_folded, "account name")
    check_password(password)
    if await accounts.get(name_folded) is not None:  # spare the hashing when obviously taken
        raise AccountExistsError(name_folded)
    return await hash_password_async(password, hasher)


async def new_account(
    accounts: AccountStore,
    name: str,
    name_folded: str,
    password: str | bytes,
    hasher: PasswordHasher | None,
    *,
    email: str | None,
    admin: bool,
) -> Account:
    """The account a registration makes: checked, its password hashed and its SCRAM credentials
    derived (both in a thread), a new uid, created now. Not stored: the caller inserts it
    atomically and refuses a name taken meanwhile.

    Raises:
        InvalidNameError: when a name is empty or malformed.
        InvalidPasswordError: when the password is unusable.
        AccountExistsError: when ``name_folded`` is already taken.
    """
    password_hash = await hash_for_new_account(accounts, name, name_folded, password, hasher)
    scram = await scram_for(password)
    uid = new_account_uid()
    return Account(name, name_folded, password_hash, email, time.time(), admin, scram, uid)


async def hash_for_new_password(
    accounts: AccountStore, name_folded: str, password: str | bytes, hasher: PasswordHasher | None
) -> str:
    """Check a password change, then hash the new password in a thread.

    Raises:
        InvalidPasswordError: when the password is unusable.
        NoSuchAccountError: when there is no such account (the caller checks again on write).
    """
    check_password(password)
    if await accounts.get(name_folded) is None:
        raise NoSuchAccountError(name_folded)
    return await hash_password_async(password, hasher)


async def scram_for(password: str | bytes) -> str:
    """The SCRAM-SHA-256 credentials of a (valid) password, as stored; derived in a thread."""
    raw = check_password(password)
    return await asyncio.to_thread(lambda: credentials(raw).encode())


async def verify_and_rehash(
    accounts: AccountStore, name_folded: str, password: str | bytes, hasher: PasswordHasher | None
) -> Account | None:
    """:meth:`AccountStore.verify`: on success, a hash made with outdated parameters is redone,
    and an account without SCRAM credentials gets them (the password is at hand only now).

    Returns:
        The account (as stored after any rehash), or None when the name or password is wrong.
    """
    account = await accounts.get(name_folded)
    if account is None:
        return None
    if not await verify_password_async(account.password_hash, password, hasher):
        return None
    if needs_rehash(account.password_hash, hasher) or not account.scram:
        await accounts.set_password(name_folded, password)
        return await accounts.get(name_folded)
    return account
