"""Parameters that look valid but are not: digits that only Unicode calls digits.

Each of these once made a handler raise, which drops the sender with "Internal error"; now each
gets an ordinary reply and the connection lives on.
"""

from __future__ import annotations

from .harness import ANY, Client, Harness


async def _op_in(h: Harness, channel: str) -> Client:
    amy = await h.connect("amy")
    await amy.send(f"JOIN {channel}")
    await amy.expect("JOIN", [channel], source="amy")
    await amy.expect_numeric("366")
    return amy


async def test_cap_ls_with_a_unicode_digit(h: Harness) -> None:
    """CAP LS ² is CAP LS without a version: the list comes back and registration goes on."""
    raw = await h.open()
    await raw.send("CAP LS ²", "NICK amy", "USER amy 0 * :Amy", "CAP END")
    await raw.expect("CAP", ["*", "LS", ANY])
    await raw.expect_numeric("001")


async def test_counts_with_unicode_digits(h: Harness) -> None:
    """WHOWAS x ², LIST >² and MODE +l ² are answered, not crashed on."""
    amy = await _op_in(h, "#c")
    await amy.send("WHOWAS nobody ²")
    await amy.expect_numeric("406", "nobody", ANY)
    await amy.send("LIST >²")
    await amy.expect_numeric("323", ANY)
    await amy.send("MODE #c +l ²")
    await amy.expect_numeric("696", "#c", "l", "²", ANY)
    await amy.alive()
