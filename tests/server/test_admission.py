"""Which peers count as loopback for the per-IP connection limit."""

from __future__ import annotations

import pytest

from chinwag.server.app import _is_loopback


@pytest.mark.parametrize(
    ("ip", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("::ffff:127.0.0.1", True),
        ("::ffff:10.0.0.1", False),
        ("10.0.0.1", False),
        ("2001:db8::1", False),
        ("unknown", False),
    ],
)
def test_loopback_addresses(ip: str, loopback: bool) -> None:
    """IPv4 and IPv6 loopback, including IPv4-mapped IPv6, are exempt; nothing else is."""
    assert _is_loopback(ip) is loopback
