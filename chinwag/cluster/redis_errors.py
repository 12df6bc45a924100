"""What Redis's answer to a call means for the call: refused for a while, refused for good, never
sent, or this node fenced.

A call Redis refused for a while (out of memory, a read-only replica after a failover, a busy
script, a dump that cannot be written) goes again until Redis takes it; one refused for good
(a key of the wrong type, a bug in a script) would be refused forever, and is dropped
(``redis_bus.py``). A call that failed before it left this process was certainly not applied;
any other failure may have been. ``FENCED`` is the scripts' refusal of a node declared dead
(``scripts.py``).
"""

from __future__ import annotations

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import (
    MasterDownError,
    OutOfMemoryError,
    ReadOnlyError,
    RedisError,
    ResponseError,
    TryAgainError,
)

__all__ = [
    "NOT_SENT",
    "SCRIPT_FAILED",
    "TRANSIENT",
    "TRANSIENT_ERRORS",
    "TRANSIENT_IN_SCRIPT",
    "is_fenced",
    "is_transient",
    "not_sent",
]

TRANSIENT = ("MISCONF", "BUSY", "NOREPLICAS")
"""Prefixes of Redis's refusals that pass by themselves (a dump that cannot be written, a
script running long, too few replicas): the refused call is sent again."""
TRANSIENT_ERRORS = (OutOfMemoryError, ReadOnlyError, MasterDownError, TryAgainError)
"""The same for the refusals redis-py names by a class of their own (taking their prefix off:
OOM, READONLY, MASTERDOWN, TRYAGAIN)."""
SCRIPT_FAILED = "Error running script"
"""How Redis before 7.0 begins the error of a command that failed inside a script; the
command's own error follows, after a dash ("... @user_script:12: -OOM command not allowed...")."""
TRANSIENT_IN_SCRIPT = tuple(
    f"-{prefix} " for prefix in ("OOM", "READONLY", "MASTERDOWN", "TRYAGAIN", *TRANSIENT)
)
"""The refusals that pass, as a script's failure names them on Redis before 7.0."""
NOT_SENT = (" connecting to ", "while writing to socket", "before write")
"""How redis-py words the failures of a call that never left this process: no connection
("Error 111 connecting to ...", "Timeout connecting to server"), or the connection found dead
when the call was written ("Error ... while writing to socket. Connection lost.", "Connection
closed by the server before write"). A timeout while writing is not one: part may have gone."""


def is_fenced(exc: ResponseError) -> bool:
    """Whether Redis refused the call because this node was declared dead (``FENCED``)."""
    return str(exc).startswith("FENCED")


def is_transient(exc: ResponseError) -> bool:
    """Whether Redis refused for a while only (also when a command inside a script was
    refused, as Redis before 7.0 words it)."""
    if isinstance(exc, TRANSIENT_ERRORS) or str(exc).startswith(TRANSIENT):
        return True
    text = str(exc)
    return SCRIPT_FAILED in text and any(refusal in text for refusal in TRANSIENT_IN_SCRIPT)


def not_sent(exc: RedisError) -> bool:
    """Whether a call certainly did not reach Redis (`NOT_SENT`)."""
    return isinstance(exc, RedisConnectionError) and any(words in str(exc) for words in NOT_SENT)
