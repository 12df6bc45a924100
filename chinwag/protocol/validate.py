"""Which strings are valid nicks, channel names and user names.

The nick rule is RFC 2812 section 2.3.1 (a letter or one of ``[]\\`_^{|}`` first, then those,
digits and ``-``), which is also what every client's tab completion and highlighting assume.
Channel names start with ``#`` (the only CHANTYPE chinwag announces) and may not contain a space,
a comma, BEL, or ``:`` (used in masks); their length limits come from the server's configuration.
"""

from __future__ import annotations

import re

__all__ = [
    "is_valid_channel",
    "is_valid_mask_param",
    "is_valid_nick",
    "parse_count",
    "sanitize_username",
]

_NICK = re.compile(r"[A-Za-z\[\]\\`_^{|}][A-Za-z0-9\[\]\\`_^{|}\-]*\Z")
_CHANNEL_FORBIDDEN = re.compile(r"[\x00-\x20,:\x07\x7f]")
_USER_ALLOWED = re.compile(r"[^A-Za-z0-9_.\-\[\]\\`^{|}]")


def is_valid_nick(nick: str, max_length: int) -> bool:
    """True when ``nick`` is a valid nick of at most ``max_length`` characters."""
    return 0 < len(nick) <= max_length and _NICK.match(nick) is not None


def is_valid_channel(name: str, max_length: int) -> bool:
    """True when ``name`` is a valid channel name (``#`` included) of at most ``max_length``."""
    return (
        1 < len(name) <= max_length
        and name.startswith("#")
        and _CHANNEL_FORBIDDEN.search(name) is None
    )


def sanitize_username(user: str, max_length: int = 10) -> str:
    """Turn the USER command's user name into a safe ident: ``~`` marks it as unverified.

    Characters that could confuse a ``nick!user@host`` mask are dropped; an empty result becomes
    ``user``.
    """
    cleaned = _USER_ALLOWED.sub("", user)[: max_length - 1] or "user"
    return "~" + cleaned


def parse_count(text: str) -> int | None:
    """A non-negative whole number written in ASCII digits, or None.

    ``str.isdigit`` alone is not enough: it is true for ``"²"``, which ``int`` refuses.
    """
    return int(text) if text.isascii() and text.isdigit() else None


def is_valid_mask_param(text: str) -> bool:
    """True when ``text`` can travel as a middle parameter (a ban mask, a channel key).

    Such values are echoed in MODE lines and listed in numerics, where a space or a leading
    ``:`` would change the meaning of the line.
    """
    return bool(text) and " " not in text and not text.startswith(":")
