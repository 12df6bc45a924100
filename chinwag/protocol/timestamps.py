"""IRCv3 ``server-time`` timestamps: ``2026-11-25T15:00:00.123Z``, always UTC, milliseconds."""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["format_server_time", "parse_server_time"]


def format_server_time(epoch: float) -> str:
    """Format seconds since the epoch as a server-time tag value."""
    moment = datetime.fromtimestamp(epoch, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


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
