"""Snapshot tests of the client's looks: a fixed session, no network, UTC, a fixed size."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest

from chinwag.client.app import ChatApp
from chinwag.client.net import Options
from chinwag.client.screens import ChatScreen
from chinwag.client.session import Session
from chinwag.protocol import parse_line

SIZE = (100, 24)
SnapCompare = Callable[..., bool]

LINES = [
    ":srv 001 amy :Welcome to chinwag",
    ":srv 005 amy PREFIX=(ov)@+ CHANTYPES=# :are supported",
    ":amy!a@h JOIN #lobby",
    ":srv 332 amy #lobby :Say hello, be kind",
    ":srv 353 amy = #lobby :amy @alice +bob carol dave",
    ":srv 366 amy #lobby :End of NAMES",
    ":alice!a@h PRIVMSG #lobby :morning all",
    ":bob!b@h PRIVMSG #lobby :hi alice! amy, did you push the fix?",
    ":dave!d@h QUIT :lunch",
    ":bob!b@h NICK robert",
    ":robert!b@h PRIVMSG #lobby :\x01ACTION brings coffee\x01",
    ":amy!a@h PRIVMSG #lobby :yes, it is in main now",
    ":carol!c@h PRIVMSG amy :can you look at my branch later?",
]


class OfflineChat(ChatScreen):
    """The chat screen without a connection: the test fills the session."""

    def connect(self) -> None:  # type: ignore[override]
        """Stay offline."""


@pytest.fixture(autouse=True)
def utc() -> Iterator[None]:
    """Render times in UTC whatever the machine's zone."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TZ", "UTC")
        time.tzset()
        yield
    time.tzset()


HISTORY = [
    ":srv BATCH +h chathistory #lobby",
    "@batch=h;msgid=1;time=2023-11-14T21:50:00.000Z :alice!a@h PRIVMSG #lobby :yesterday's notes?",
    "@batch=h;msgid=2;time=2023-11-14T21:51:00.000Z :bob!b@h PRIVMSG #lobby :in the wiki, amy",
    ":srv BATCH -h",
]


def chat_app(extra: list[str] | None = None) -> ChatApp:
    """An app showing a lively #lobby with an unread private message, at a fixed time."""
    session = Session("amy", clock=lambda: 1_700_000_000.0)
    session.caps.add("echo-message")
    for line in LINES + (extra or []):
        session.feed(parse_line(line))
    app = ChatApp(session, Options(port=1))
    app.chat = OfflineChat(session, app.options, app.settings)
    return app


class TestLooks:
    def test_lobby(self, snap_compare: SnapCompare) -> None:
        """The lobby: conversations with unread counts, the log, the people list, the status."""
        assert snap_compare(chat_app(), terminal_size=SIZE)

    def test_history_is_dimmed(self, snap_compare: SnapCompare) -> None:
        """Lines from the server's history come first, dimmed, and never as a mention."""
        assert snap_compare(chat_app(HISTORY), terminal_size=SIZE)

    def test_narrow_terminal(self, snap_compare: SnapCompare) -> None:
        """At 60x15 the side panels hide; unread counts move to the status line."""
        assert snap_compare(chat_app(), terminal_size=(60, 15))

    def test_help(self, snap_compare: SnapCompare) -> None:
        """F1 shows the keys and commands over the chat."""
        assert snap_compare(chat_app(), press=["f1"], terminal_size=SIZE)
