"""Answers to CTCP requests, as irssi gives them, and never more than a trickle of them.

A CTCP request is a PRIVMSG whose text is wrapped in ``\\x01``: ``\\x01VERSION\\x01``. ACTION
(``/me``) is shown as an action line; VERSION, PING and TIME are answered with a NOTICE in the
same form, the way irssi answers them; every other request is ignored. None of them is ever
shown as a raw ``\\x01`` line.

Replies are rate-limited by a token bucket over all requesters together: `REPLY_BURST` at once,
then one every `REPLY_INTERVAL` seconds. A hundred people asking at once (or one asking for a
hundred others by sending to a room) get a few answers, so the client cannot be used to reflect
a flood at someone, nor be cut off by its server for flooding.
"""

from __future__ import annotations

import platform
import time
from collections.abc import Callable

from chinwag import __version__

__all__ = ["MAX_PING_ARGUMENT", "REPLY_BURST", "REPLY_INTERVAL", "CtcpReplies", "version_reply"]

REPLY_BURST = 3
REPLY_INTERVAL = 5.0
MAX_PING_ARGUMENT = 64
"""Characters of a PING's argument echoed back (irssi echoes it whole; a line has its limits)."""


def version_reply() -> str:
    """What VERSION answers: ``chinwag 0.1.0 - running on Linux x86_64``."""
    return f"chinwag {__version__} - running on {platform.system()} {platform.machine()}".strip()


class CtcpReplies:
    """Decides the answer to each CTCP request, within the rate limit.

    Args:
        clock: monotonic seconds (injectable, so that tests need not wait).
        wall_clock: seconds since the epoch, for TIME.
    """

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._clock = clock
        self._wall_clock = wall_clock
        self._tokens = float(REPLY_BURST)
        self._tokens_at = clock()

    def answer(self, verb: str, argument: str) -> str | None:
        """The reply's text after the verb, or None: not a request we answer, or too many now."""
        if verb == "VERSION":
            reply = version_reply()
        elif verb == "PING":
            reply = argument.replace("\x01", "")[:MAX_PING_ARGUMENT]
        elif verb == "TIME":
            reply = time.strftime("%a %b %d %H:%M:%S %Y", time.localtime(self._wall_clock()))
        else:
            return None
        return reply if self._take_token() else None

    def _take_token(self) -> bool:
        now = self._clock()
        refill = (now - self._tokens_at) / REPLY_INTERVAL
        self._tokens = min(float(REPLY_BURST), self._tokens + refill)
        self._tokens_at = now
        if self._tokens < 1.0:
            return False
        self._tokens -= 1.0
        return True
