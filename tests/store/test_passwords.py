"""Password hashing helpers (also used by ``chinwag passwd`` for operator hashes)."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher

from chinwag.store import (
    InvalidPasswordError,
    check_password,
    hash_password,
    hash_password_async,
    verify_password,
    verify_password_async,
)
from chinwag.store.passwords import needs_rehash

from .factories import FAST_HASHER


def test_hash_and_verify() -> None:
    """A hash verifies its password and nothing else."""
    digest = hash_password("s3cret", FAST_HASHER)
    assert digest.startswith("$argon2id$")
    assert verify_password(digest, "s3cret")
    assert verify_password(digest, b"s3cret")
    assert not verify_password(digest, "S3cret")


def test_default_profile_is_argon2id() -> None:
    """Without an injected hasher the default argon2id profile is used."""
    digest = hash_password("s3cret")
    assert digest.startswith("$argon2id$")
    assert verify_password(digest, "s3cret")
    assert not needs_rehash(digest)
    assert needs_rehash(hash_password("s3cret", FAST_HASHER))


def test_verify_never_raises_on_garbage() -> None:
    """Malformed hashes and unusable passwords simply do not verify."""
    digest = hash_password("pw", FAST_HASHER)
    assert not verify_password("not a hash", "pw")
    assert not verify_password("", "pw")
    assert not verify_password(digest, b"\xff")
    assert not verify_password(digest, "x" * 10_000)
    assert needs_rehash("not a hash")


def test_check_password_returns_utf8() -> None:
    """check_password hands back the UTF-8 bytes it will hash."""
    assert check_password("é") == b"\xc3\xa9"
    assert check_password(b"\xc3\xa9") == b"\xc3\xa9"
    with pytest.raises(InvalidPasswordError):
        hash_password(b"\xff")


async def test_async_variants() -> None:
    """The async helpers run in a thread and give the same answers."""
    hasher = PasswordHasher(time_cost=1, memory_cost=64, parallelism=1)
    digest = await hash_password_async("pw", hasher)
    assert await verify_password_async(digest, "pw", hasher)
    assert not await verify_password_async(digest, "", hasher)
    with pytest.raises(InvalidPasswordError):
        await hash_password_async("", hasher)
