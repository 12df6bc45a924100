"""Case mapping: when two nicks or channel names are the same name.

chinwag announces ``CASEMAPPING=rfc1459``: ASCII letters fold to lower case and, because of IRC's
Scandinavian origins, ``[]\\~`` are the upper-case forms of ``{}|^`` (RFC 1459 section 2.2). Every
casefolded value in chinwag comes from `fold`, and variables that hold one are named ``*_folded``.
"""

from __future__ import annotations

__all__ = ["CASEMAPPING", "fold"]

CASEMAPPING = "rfc1459"

_RFC1459 = str.maketrans(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZ[]\\~",
    "abcdefghijklmnopqrstuvwxyz{}|^",
)


def fold(name: str) -> str:
    """Return the rfc1459 casefolded form of ``name``: ``fold("Nick[m]") == "nick{m}"``."""
    return name.translate(_RFC1459)
