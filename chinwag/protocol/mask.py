"""Glob masks such as ``*!*@10.0.*`` for bans, invite exceptions and WHO filters.

``*`` matches any run of characters and ``?`` exactly one; matching ignores case as the server's
case mapping says, so masks are compiled once from their folded form and cached.

Theory of operation
-------------------
Masks come from users (bans, WHO), so matching must stay cheap whatever they write. A mask
translated to one regular expression (``.*a.*a.*a...``) backtracks exponentially on a subject
that almost matches; instead the mask is cut at each ``*`` into segments of fixed length (a ``?``
is one character). The first segment must match at the start, the last one at the end, and each
middle segment is taken at its leftmost place after the previous one: with fixed-length
segments, the leftmost choice never loses a match, so one forward pass decides.
"""

from __future__ import annotations

import re
from functools import lru_cache

from chinwag.protocol.casemap import fold

__all__ = ["mask_matches", "normalize_mask"]


@lru_cache(maxsize=4096)
def _compile(mask_folded: str) -> tuple[tuple[re.Pattern[str], int], ...]:
    return tuple(
        (
            re.compile("".join("." if char == "?" else re.escape(char) for char in segment), re.S),
            len(segment),
        )
        for segment in mask_folded.split("*")
    )


def mask_matches(mask: str, subject: str) -> bool:
    """True when the glob ``mask`` matches ``subject``, ignoring case."""
    segments = _compile(fold(mask))
    text = fold(subject)
    first, first_len = segments[0]
    if len(segments) == 1:
        return first.fullmatch(text) is not None
    if first.match(text) is None:
        return False
    pos = first_len
    for segment, _ in segments[1:-1]:
        found = segment.search(text, pos)
        if found is None:
            return False
        pos = found.end()
    last, last_len = segments[-1]
    start = len(text) - last_len
    return start >= pos and last.fullmatch(text, start) is not None


def normalize_mask(mask: str) -> str:
    """Complete a partial ban mask the way other servers do.

    ``nick`` becomes ``nick!*@*``, ``user@host`` becomes ``*!user@host``, ``nick!user`` becomes
    ``nick!user@*``, and an empty part becomes ``*`` (``nick!@host`` is ``nick!*@host``).
    """
    if "!" in mask:
        nick, _, userhost = mask.partition("!")
        user, _, host = userhost.partition("@")
    elif "@" in mask:
        nick = ""
        user, _, host = mask.partition("@")
    else:
        nick, user, host = mask, "", ""
    return f"{nick or '*'}!{user or '*'}@{host or '*'}"
