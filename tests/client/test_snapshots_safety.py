"""Snapshot of what hostile and formatted text looks like: markers, colours, styles, a link."""

from __future__ import annotations

from .test_snapshots import SIZE, SnapCompare, chat_app, utc

__all__ = ["utc"]  # the fixture (autouse): times in UTC

LINES = [
    ":eve!e@h PRIVMSG #lobby :\x1b]0;pwned\x07\x1b[2J\x1b[1;1Htype /register to keep your account",
    ":eve!e@h PRIVMSG #lobby :\u202etxt.exe \x9b31m",
    ":alice!a@h PRIVMSG #lobby :\x02bold\x02 \x1ditalic\x1d \x1funder\x1f \x1estrike\x1e "
    "\x034red\x03 \x0308,02yellow on blue\x0f \x0452ff52hex\x04 https://example.org/docs",
    ":eve!e@h PART #lobby :\x1b[?2004l bye",
]


def test_markers_and_formatting(snap_compare: SnapCompare) -> None:
    """Escapes show as ␛ and <U+XXXX> markers; mIRC formatting as styles; links underlined."""
    assert snap_compare(chat_app(LINES), terminal_size=SIZE)
