"""Entries of a channel's lists (``+b`` bans, ``+e`` ban exceptions, ``+I`` invite exceptions):
``nick!user@host`` masks and extended bans.

Extended bans have a ``~`` prefix and a type letter (ISUPPORT ``EXTBAN=~,am``):

- ``~a:<account>`` matches users logged in to an account whose name matches the glob
  (``~a:*`` is every logged-in user);
- ``~m:<mask>`` is a mute: in ``+b`` it does not keep the user out, it keeps them quiet
  (404 on PRIVMSG and NOTICE, unless voiced or op), the way ``~q:``/``~m:`` work elsewhere.
  The inner mask is a plain mask or an ``~a:`` extban.

An exception (``+e``) lifts both bans and mutes; ``+I`` lets a matching user through ``+i``.
"""

from __future__ import annotations

from chinwag.protocol import is_valid_mask_param, mask_matches, normalize_mask

__all__ = ["EXTBAN_PREFIX", "EXTBAN_TYPES", "entry_matches", "is_mute", "normalize_entry"]

EXTBAN_PREFIX = "~"
ACCOUNT = "a"
MUTE = "m"
EXTBAN_TYPES = ACCOUNT + MUTE
_MUTE_HEAD = EXTBAN_PREFIX + MUTE + ":"


def normalize_entry(param: str, *, mute_allowed: bool = True) -> str | None:
    """The list entry ``param`` means, completed like other servers do, or None if invalid.

    ``nick`` becomes ``nick!*@*``; ``~a:name`` and ``~m:<entry>`` keep their form.
    """
    if not is_valid_mask_param(param):
        return None
    if not param.startswith(EXTBAN_PREFIX):
        return normalize_mask(param)
    kind, colon, rest = param[1:2], param[2:3], param[3:]
    if colon != ":" or not rest:
        return None
    if kind == ACCOUNT:
        return param
    if kind == MUTE and mute_allowed:
        inner = normalize_entry(rest, mute_allowed=False)
        return None if inner is None else _MUTE_HEAD + inner
    return None


def is_mute(entry: str) -> bool:
    """True for a ``~m:`` entry (a mute, not a ban)."""
    return entry.startswith(_MUTE_HEAD)


def entry_matches(entry: str, prefix: str, account: str | None) -> bool:
    """Whether ``entry`` (normalized) matches a user with ``prefix`` and ``account``.

    A mute entry matches the users its inner entry matches.
    """
    if entry.startswith(EXTBAN_PREFIX):
        kind, rest = entry[1:2], entry[3:]
        if kind == ACCOUNT:
            return account is not None and mask_matches(rest, account)
        if kind == MUTE:
            return entry_matches(rest, prefix, account)
        return False
    return mask_matches(entry, prefix)
