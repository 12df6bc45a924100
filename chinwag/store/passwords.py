"""Password rules and argon2id hashing, shared by accounts and ``chinwag passwd``.

Passwords are checked *before* hashing so that a hostile client cannot make the server hash a
megabyte, and so that every refusal has a typed reason the server can turn into a reply.
Hashing costs tens of milliseconds of CPU on purpose: call the ``*_async`` variants from the
event loop, they run in a worker thread.
"""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from chinwag.store.errors import InvalidPasswordError, PasswordProblem

__all__ = [
    "MAX_PASSWORD_BYTES",
    "check_password",
    "default_hasher",
    "hash_password",
    "hash_password_async",
    "needs_rehash",
    "verify_password",
    "verify_password_async",
]

MAX_PASSWORD_BYTES = 1024
"""Longest password accepted. More than an IRC line can carry: SASL sends it in chunks
(``AUTHENTICATE``, 400 bytes each), and password managers make long ones."""
_CONTROL = frozenset(b"\x00\r\n")

_DEFAULT_HASHER = PasswordHasher()  # argon2id, RFC 9106 "low memory" profile


def default_hasher() -> PasswordHasher:
    """The argon2id hasher used when none is injected (tests inject a cheap one)."""
    return _DEFAULT_HASHER


def check_password(password: str | bytes) -> bytes:
    """Validate a password and return its UTF-8 bytes.

    Args:
        password: text, or raw bytes as received (SASL payload, IRC parameter).

    Returns:
        The password encoded as UTF-8.

    Raises:
        InvalidPasswordError: when it is empty, longer than 1024 bytes, not valid UTF-8 (bytes
            that do not decode, or text holding lone surrogates) or contains NUL, CR or LF.
    """
    if isinstance(password, str):
        try:
            raw = password.encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidPasswordError(PasswordProblem.NOT_UTF8) from None
    else:
        raw = bytes(password)
    if not raw:
        raise InvalidPasswordError(PasswordProblem.EMPTY)
    if len(raw) > MAX_PASSWORD_BYTES:
        raise InvalidPasswordError(PasswordProblem.TOO_LONG)
    if isinstance(password, bytes):
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidPasswordError(PasswordProblem.NOT_UTF8) from None
    if not _CONTROL.isdisjoint(raw):
        raise InvalidPasswordError(PasswordProblem.CONTROL_CHARACTER)
    return raw


def hash_password(password: str | bytes, hasher: PasswordHasher | None = None) -> str:
    """Hash a password with argon2id.

    Args:
        password: the password to hash.
        hasher: the argon2 parameters; the default profile when None.

    Returns:
        The encoded hash (``$argon2id$v=19$...``), safe to store.

    Raises:
        InvalidPasswordError: when the password breaks a rule of :func:`check_password`.
    """
    raw = check_password(password)
    return (hasher or _DEFAULT_HASHER).hash(raw)


def verify_password(
    password_hash: str, password: str | bytes, hasher: PasswordHasher | None = None
) -> bool:
    """Check a password against a stored hash; never raises for bad input.

    Args:
        password_hash: a hash made by :func:`hash_password`.
        password: the candidate password.
        hasher: the argon2 hasher; parameters are read from the hash itself.

    Returns:
        True only when the password is usable and matches.
    """
    try:
        raw = check_password(password)
        return (hasher or _DEFAULT_HASHER).verify(password_hash, raw)
    except (InvalidPasswordError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str, hasher: PasswordHasher | None = None) -> bool:
    """Whether a hash was made with other parameters than ``hasher`` and should be redone."""
    try:
        return (hasher or _DEFAULT_HASHER).check_needs_rehash(password_hash)
    except InvalidHashError:
        return True


async def hash_password_async(password: str | bytes, hasher: PasswordHasher | None = None) -> str:
    """:func:`hash_password` in a worker thread. Raises: InvalidPasswordError (before hashing)."""
    check_password(password)
    return await asyncio.to_thread(hash_password, password, hasher)


async def verify_password_async(
    password_hash: str, password: str | bytes, hasher: PasswordHasher | None = None
) -> bool:
    """:func:`verify_password` in a worker thread; unusable passwords return at once."""
    try:
        check_password(password)
    except InvalidPasswordError:
        return False
    return await asyncio.to_thread(verify_password, password_hash, password, hasher)
