"""Errors raised by the sans-I/O protocol layer."""

from __future__ import annotations

__all__ = ["ProtocolError"]


class ProtocolError(ValueError):
    """A line that cannot be understood as an IRC message at all (for example: no command)."""
