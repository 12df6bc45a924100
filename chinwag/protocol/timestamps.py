"""IRCv3 ``server-time`` timestamps: ``2026-11-25T15:00:00.123Z``, always UTC, milliseconds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

__all__ = ["format_server_time", "parse_server_time"]

_EPOCH = datetime(1970, 1, 1)


def format_server_time(epoch: float) -> str:
    """Format seconds since the epoch as a server-time tag value, to the nearest millisecond."""
    # Whole milliseconds first: converting the float to microseconds and truncating would lose a
    # millisecond once floats get coarse (from the year 2242), and would not round-trip.
    moment = _EPOCH + timedelta(milliseconds=round(epoch * 1000))
    return moment.isoformat(timespec="milliseconds") + "Z"


def parse_server_time(value: str) -> float:
    """Parse a server-time value back to seconds since the epoch.

    Raises:
        ValueError: when ``value`` is not an ISO 8601 UTC timestamp.
    """
    text = value.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()
