"""Failed-login throttling with an injected clock."""

from __future__ import annotations

import pytest

from chinwag.store import LoginThrottle


class Clock:
    """A clock that only moves when told to."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_burst_then_refill() -> None:
    """After ``burst`` failures a key waits 1/per_second, then gets one try back."""
    clock = Clock()
    throttle = LoginThrottle(burst=3, per_second=0.5, now=clock)
    for _ in range(3):
        assert throttle.allowed("acct:amy")
        throttle.failure("acct:amy")
    assert not throttle.allowed("acct:amy")
    assert throttle.retry_after("acct:amy") == pytest.approx(2.0)
    clock.now += 1.0
    assert throttle.retry_after("acct:amy") == pytest.approx(1.0)
    clock.now += 1.0
    assert throttle.allowed("acct:amy")
    throttle.failure("acct:amy")
    assert not throttle.allowed("acct:amy")


def test_account_and_ip_are_both_checked() -> None:
    """An attempt is refused when either its account or its IP is exhausted."""
    clock = Clock()
    throttle = LoginThrottle(burst=2, per_second=0.1, now=clock)
    throttle.failure("acct:amy", "ip:192.0.2.1")
    throttle.failure("acct:bob", "ip:192.0.2.1")
    assert not throttle.allowed("acct:carol", "ip:192.0.2.1")
    assert throttle.allowed("acct:amy", "ip:198.51.100.7")
    throttle.failure("acct:amy", "ip:198.51.100.7")
    assert not throttle.allowed("acct:amy", "ip:203.0.113.9")


def test_success_forgets_failures() -> None:
    """A successful login clears the keys it names, and only those."""
    clock = Clock()
    throttle = LoginThrottle(burst=1, now=clock)
    throttle.failure("acct:amy", "ip:x")
    throttle.success("acct:amy")
    assert throttle.allowed("acct:amy")
    assert not throttle.allowed("ip:x")


def test_memory_is_bounded() -> None:
    """Refilled buckets are dropped and at most ``max_keys`` are kept."""
    clock = Clock()
    throttle = LoginThrottle(burst=2, per_second=1.0, max_keys=10, now=clock)
    for i in range(100):
        throttle.failure(f"ip:{i}")
    assert len(throttle) == 10
    clock.now += 10
    assert throttle.allowed(*(f"ip:{i}" for i in range(100)))
    assert len(throttle) == 0


def test_rejects_nonsense_limits() -> None:
    """Non-positive limits are a programming error."""
    with pytest.raises(ValueError, match="positive"):
        LoginThrottle(burst=0)
    with pytest.raises(ValueError, match="positive"):
        LoginThrottle(per_second=0)


def test_spend_takes_from_every_key_or_none() -> None:
    """spend takes a token from each key when all have one; when one is short, none is taken."""
    clock = Clock()
    throttle = LoginThrottle(burst=1, per_second=0.1, now=clock)
    assert throttle.spend("ip:a") == 0.0
    assert throttle.spend("acct:amy", "ip:a") == pytest.approx(10.0)
    assert throttle.spend("acct:amy") == 0.0  # the refused attempt took nothing from acct:amy


def test_refund_gives_back_what_spend_took() -> None:
    """A refunded spend leaves the key as it was: success costs nothing, but resets nothing."""
    clock = Clock()
    throttle = LoginThrottle(burst=2, per_second=0.1, now=clock)
    throttle.failure("ip:a")
    assert throttle.spend("ip:a") == 0.0
    throttle.refund("ip:a")
    assert throttle.spend("ip:a") == 0.0
    assert not throttle.allowed("ip:a")
