"""Glob masks such as ``*!*@10.0.*`` for bans, invite exceptions and WHO filters.

``*`` matches any run of characters and ``?`` exactly one; matching ignores case as the server's
case mapping says, so masks are compiled once from their folded form and cached.
"""

from __future__ import annotations

import re
from functools import lru_cache

from chinwag.protocol.casemap import fold

__all__ = ["mask_matches", "normalize_mask"]


@lru_cache(maxsize=4096)
def _compile(mask_folded: str) -> re.Pattern[str]:
    pattern = "".join(
        ".*" if char == "*" else "." if char == "?" else re.escape(char) for char in mask_folded
    )
    return re.compile(pattern + r"\Z", re.DOTALL)


def mask_matches(mask: str, subject: str) -> bool:
    """True when the glob ``mask`` matches ``subject``, ignoring case."""
    return _compile(fold(mask)).match(fold(subject)) is not None


def normalize_mask(mask: str) -> str:
    """Complete a partial ban mask the way other servers do.

    ``nick`` becomes ``nick!*@*``, ``user@host`` becomes ``*!user@host``, ``nick!user`` becomes
    ``nick!user@*``.
    """
    if "!" not in mask and "@" not in mask:
        return f"{mask}!*@*"
    if "!" not in mask:
        return f"*!{mask}"
    if "@" not in mask:
        return f"{mask}@*"
    return mask
