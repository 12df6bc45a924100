"""Ban durations as operators write them."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from chinwag.server.klines import MAX_SECONDS, duration_text, parse_duration, time_left
from chinwag.store import BanKind, ServerBan


def test_durations() -> None:
    """Bare numbers are minutes (KLINE's old form); units s, m, h, d, w combine; junk is None."""
    assert parse_duration("90") == 5400
    assert parse_duration("30m") == 1800
    assert parse_duration("12h") == 43200
    assert parse_duration("1d12h") == 129600
    assert parse_duration("2W") == 14 * 86400
    assert parse_duration("0") == 0
    for junk in ("", "h", "1y", "-5", "1.5h", "*!*@*", "account:amy"):
        assert parse_duration(junk) is None
    assert parse_duration("99999w") == MAX_SECONDS


def test_duration_words() -> None:
    """Durations are said in their largest whole unit."""
    assert duration_text(1800) == "30 minutes"
    assert duration_text(3600) == "1 hour"
    assert duration_text(7 * 86400) == "1 week"
    assert duration_text(90) == "90 seconds"


def test_time_left() -> None:
    """Time left is rounded up to the minute; no expiry is permanent."""
    ban = ServerBan(BanKind.MASK, "*!*@x", "r", "op", 0.0, 7200.0)
    assert time_left(ban, 0.0) == "2h01m"
    assert time_left(ServerBan(BanKind.MASK, "*!*@x", "r", "op", 0.0), 5.0) == "permanent"


@given(st.integers(0, 10_000), st.sampled_from("smhdw"))
def test_any_number_and_unit_parses(count: int, unit: str) -> None:
    """N followed by a unit is N of that unit (up to the ten-year cap)."""
    size = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}[unit]
    assert parse_duration(f"{count}{unit}") == min(count * size, MAX_SECONDS)
