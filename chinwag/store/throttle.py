"""Rate limiting of failed logins, per account and per IP: a pure token bucket.

Each key (``"account:amy"``, ``"ip:192.0.2.1"``, whatever the caller chooses) owns a bucket of
``burst`` tokens refilled at ``per_second``. A failed login spends one token from every key it
involves; a login attempt is allowed only while every one of its keys has a whole token. A
successful login refills the keys it names. Guessing is thus capped at ``burst`` quick tries,
then ``per_second`` tries per second, per account *and* per address, whichever is tighter.

The clock is injected, so tests run without sleeping. Memory is bounded: full buckets carry no
information and are dropped, and past ``max_keys`` the least recently touched key is evicted.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["LoginThrottle"]


@dataclass(slots=True)
class _Bucket:
    tokens: float
    stamp: float


class LoginThrottle:
    """Token buckets of failed logins keyed by account and by IP."""

    def __init__(
        self,
        *,
        burst: int = 5,
        per_second: float = 1 / 12,
        max_keys: int = 100_000,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        """Create a throttle.

        Args:
            burst: failed attempts allowed in quick succession per key.
            per_second: how fast a key earns attempts back (default: one every 12 s).
            max_keys: how many keys to remember at most.
            now: a monotonic clock in seconds.

        Raises:
            ValueError: when a limit is not positive.
        """
        if burst < 1 or per_second <= 0 or max_keys < 1:
            raise ValueError("burst, per_second and max_keys must be positive")
        self._burst = float(burst)
        self._rate = per_second
        self._max_keys = max_keys
        self._now = now
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def __len__(self) -> int:
        """How many keys currently hold a partly spent bucket."""
        return len(self._buckets)

    def _tokens(self, key: str, now: float) -> float:
        bucket = self._buckets.get(key)
        if bucket is None:
            return self._burst
        tokens = min(self._burst, bucket.tokens + (now - bucket.stamp) * self._rate)
        if tokens >= self._burst:
            del self._buckets[key]
        return tokens

    def retry_after(self, *keys: str) -> float:
        """Seconds until an attempt involving all ``keys`` is allowed; 0.0 when it is now.

        Args:
            keys: every key the attempt involves (account, IP).

        Returns:
            0.0 when allowed, else the wait in seconds.
        """
        now = self._now()
        worst = 0.0
        for key in keys:
            missing = 1.0 - self._tokens(key, now)
            if missing > 0:
                worst = max(worst, missing / self._rate)
        return worst

    def allowed(self, *keys: str) -> bool:
        """Whether an attempt involving all ``keys`` may be checked now."""
        return self.retry_after(*keys) == 0.0

    def failure(self, *keys: str) -> None:
        """Record a failed attempt: spend a token from each key (down to zero at most)."""
        now = self._now()
        for key in keys:
            tokens = max(0.0, self._tokens(key, now) - 1.0)
            self._buckets[key] = _Bucket(tokens, now)
            self._buckets.move_to_end(key)
        while len(self._buckets) > self._max_keys:
            self._buckets.popitem(last=False)

    def spend(self, *keys: str) -> float:
        """Take a token from every key before an attempt, or from none when one is short.

        Spending *before* the password check is what makes the budget hold against guesses
        sent at once: each finds the tokens its predecessors took, whatever their outcome.

        Returns:
            0.0 when the tokens were taken, else the seconds until they would be.
        """
        wait = self.retry_after(*keys)
        if wait == 0.0:
            self.failure(*keys)
        return wait

    def refund(self, *keys: str) -> None:
        """Give back the token `spend` took from each key (the attempt succeeded)."""
        now = self._now()
        for key in keys:
            bucket = self._buckets.get(key)
            if bucket is not None:
                bucket.tokens = min(self._burst, self._tokens(key, now) + 1.0)
                bucket.stamp = now
                if bucket.tokens >= self._burst:
                    self._buckets.pop(key, None)

    def success(self, *keys: str) -> None:
        """Record a successful login: forget the failures of ``keys``.

        Pass the account key only: clearing the IP key would let an attacker who owns one
        account reset their address's budget by logging into it between guesses.
        """
        for key in keys:
            self._buckets.pop(key, None)
