"""Typed store errors: the server maps each one to an IRC reply (numeric or ``FAIL``)."""

from __future__ import annotations

import enum
import sqlite3

__all__ = [
    "STORE_FAILURES",
    "AccountExistsError",
    "InvalidNameError",
    "InvalidPasswordError",
    "NoSuchAccountError",
    "PasswordProblem",
    "StoreClosedError",
    "StoreError",
]


class StoreError(Exception):
    """Base class of every error the store raises on purpose."""


class StoreClosedError(StoreError):
    """The store was closed; nothing more can be written or read."""


STORE_FAILURES: tuple[type[Exception], ...] = (StoreError, sqlite3.Error, OSError)
"""What a store operation raises when the store itself fails (a full disk, a missing file, a
closed store), besides the typed refusals: a handler catches these and answers "try later"."""


class PasswordProblem(enum.Enum):
    """Why a password was refused (``FAIL REGISTER WEAK_PASSWORD``, 904 ERR_SASLFAIL, ...)."""

    EMPTY = "empty"
    TOO_LONG = "too long"
    NOT_UTF8 = "not valid UTF-8"
    CONTROL_CHARACTER = "contains a NUL, CR or LF"


class InvalidPasswordError(StoreError):
    """A password that can never be stored: empty, oversized, not UTF-8 or with NUL/CR/LF.

    Attributes:
        problem: which rule the password broke.
    """

    def __init__(self, problem: PasswordProblem) -> None:
        super().__init__(f"password refused: {problem.value}")
        self.problem = problem


class InvalidNameError(StoreError):
    """An account, channel or party name that is empty, too long or not folded."""


class AccountExistsError(StoreError):
    """``register`` was called for a folded name that already has an account."""


class NoSuchAccountError(StoreError):
    """The account named does not exist."""
