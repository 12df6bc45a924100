"""ISUPPORT (numeric 005): the server tells clients its limits and features as ``KEY=value`` tokens.

Servers may send at most about 13 tokens per 005 line; `isupport_lines` does the splitting.
`parse_isupport` is the client side: it reads tokens back into a dict (``-KEY`` removes one).
A value cannot hold a space, ``=`` or ``\\`` as such: they travel as ``\\xHH`` escapes
(modern.ircdocs.horse, "RPL_ISUPPORT Parameters"), which `isupport_lines` writes and
`parse_isupport` reads.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

__all__ = ["isupport_lines", "parse_isupport"]

TOKENS_PER_LINE = 13

_VALUE_UNSAFE = re.compile(r"[\x00-\x20=\\\x7f]")
_VALUE_ESCAPE = re.compile(r"\\x([0-9A-Fa-f]{2})")


def _token(key: str, value: str | None) -> str:
    if value is None or value == "":
        return key
    escaped = _VALUE_UNSAFE.sub(lambda found: f"\\x{ord(found.group()):02X}", value)
    return f"{key}={escaped}"


def isupport_lines(tokens: Mapping[str, str | None]) -> list[list[str]]:
    """Split tokens into groups, one group per 005 line, keys in the given order.

    A value of None or ``""`` gives a bare ``KEY``; unsafe characters in a value are escaped.
    """
    items = [_token(key, value) for key, value in tokens.items()]
    return [items[i : i + TOKENS_PER_LINE] for i in range(0, len(items), TOKENS_PER_LINE)]


def parse_isupport(params: Iterable[str], into: dict[str, str] | None = None) -> dict[str, str]:
    """Read 005 parameters (without the client nick and the trailing text) into a dict.

    ``KEY`` alone gives ``""``, ``-KEY`` removes ``KEY``, and ``\\xHH`` escapes are undone.
    """
    result = into if into is not None else {}
    for token in params:
        if token.startswith("-"):
            result.pop(token[1:], None)
            continue
        key, _, value = token.partition("=")
        result[key] = _VALUE_ESCAPE.sub(lambda found: chr(int(found.group(1), 16)), value)
    return result
