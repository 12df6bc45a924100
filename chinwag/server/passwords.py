"""Password hashing for the server password and operators: argon2id, never plain text.

The one implementation lives in `chinwag.store.passwords` (accounts use it too); the server
imports it from here so that handlers do not reach into the store package for it.
"""

from __future__ import annotations

from chinwag.store.passwords import hash_password, verify_password

__all__ = ["hash_password", "verify_password"]
