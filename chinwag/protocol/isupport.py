"""ISUPPORT (numeric 005): the server tells clients its limits and features as ``KEY=value`` tokens.

Servers may send at most about 13 tokens per 005 line; `isupport_lines` does the splitting.
`parse_isupport` is the client side: it reads tokens back into a dict (``-KEY`` removes one).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

__all__ = ["isupport_lines", "parse_isupport"]

TOKENS_PER_LINE = 13


def _token(key: str, value: str | None) -> str:
    return key if value is None or value == "" else f"{key}={value}"


def isupport_lines(tokens: Mapping[str, str | None]) -> list[list[str]]:
    """Split tokens into groups, one group per 005 line, keys in the given order."""
    items = [_token(key, value) for key, value in tokens.items()]
    return [items[i : i + TOKENS_PER_LINE] for i in range(0, len(items), TOKENS_PER_LINE)]


def parse_isupport(params: Iterable[str], into: dict[str, str] | None = None) -> dict[str, str]:
    """Read 005 parameters (without the client nick and the trailing text) into a dict."""
    result = into if into is not None else {}
    for token in params:
        if token.startswith("-"):
            result.pop(token[1:], None)
            continue
        key, _, value = token.partition("=")
        result[key] = value
    return result
