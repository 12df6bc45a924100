"""Tests for IRCv3 server-time timestamps."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chinwag.protocol import format_server_time, parse_server_time


@pytest.mark.parametrize(
    ("epoch", "text"),
    [
        (0, "1970-01-01T00:00:00.000Z"),
        (1.5, "1970-01-01T00:00:01.500Z"),
        (1_000_000_000, "2001-09-09T01:46:40.000Z"),
        (1_000_000_000.123, "2001-09-09T01:46:40.123Z"),
        (1_000_000_000.0004, "2001-09-09T01:46:40.000Z"),
        (1_000_000_000.0006, "2001-09-09T01:46:40.001Z"),
        (1_000_000_000.9996, "2001-09-09T01:46:41.000Z"),
        (-1, "1969-12-31T23:59:59.000Z"),
        (-62_135_596_800, "0001-01-01T00:00:00.000Z"),
        (253_402_300_799.999, "9999-12-31T23:59:59.999Z"),
    ],
)
def test_format_server_time(epoch: float, text: str) -> None:
    """format_server_time writes UTC with a Z, always three digits of milliseconds."""
    assert format_server_time(epoch) == text


@pytest.mark.parametrize(
    ("text", "epoch"),
    [
        ("2001-09-09T01:46:40.000Z", 1_000_000_000),
        ("2001-09-09T01:46:40.5Z", 1_000_000_000.5),
        ("2001-09-09T01:46:40Z", 1_000_000_000),
        ("2001-09-09T01:46:40.000+00:00", 1_000_000_000),
        ("2001-09-09T03:46:40.000+02:00", 1_000_000_000),
        ("2001-09-09T01:46:40.000", 1_000_000_000),
        ("  2001-09-09T01:46:40.000Z \n", 1_000_000_000),
        ("1970-01-01T00:00:00.000Z", 0),
    ],
)
def test_parse_server_time(text: str, epoch: float) -> None:
    """parse_server_time reads ISO 8601, taking a missing offset as UTC."""
    assert parse_server_time(text) == pytest.approx(epoch, abs=1e-6)


@pytest.mark.parametrize(
    "text", ["", "yesterday", "2001-13-01T00:00:00Z", "2001-09-09T25:00:00Z", "Z"]
)
def test_parse_server_time_rejects(text: str) -> None:
    """Text that is not an ISO 8601 timestamp raises ValueError."""
    with pytest.raises(ValueError):
        parse_server_time(text)


moments = st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)).map(
    lambda moment: moment.replace(microsecond=moment.microsecond // 1000 * 1000)
)


@given(moments)
def test_text_round_trip(moment: datetime) -> None:
    """format_server_time(parse_server_time(s)) == s for every millisecond timestamp."""
    text = moment.isoformat(timespec="milliseconds") + "Z"
    assert format_server_time(parse_server_time(text)) == text


@given(st.floats(min_value=-6e10, max_value=2.5e11, allow_nan=False))
def test_epoch_round_trip(epoch: float) -> None:
    """parse_server_time(format_server_time(t)) is t to the nearest millisecond."""
    assert abs(parse_server_time(format_server_time(epoch)) - epoch) <= 0.0005 + abs(epoch) * 1e-15


def test_format_now_is_utc() -> None:
    """A current time formats as the UTC wall clock, not local time."""
    now = datetime(2026, 11, 25, 15, 0, 0, 123000, tzinfo=UTC)
    assert format_server_time(now.timestamp()) == "2026-11-25T15:00:00.123Z"
