"""IRC formatting from other clients, through a real server, as the full-screen client draws it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from rich.style import Style

from chinwag.client.app import ChatApp
from chinwag.client.net import Options
from chinwag.client.session import Session
from chinwag.client.widgets import ConversationView

from .conftest import LOBBY, RawClient, Server, eventually

LINE = "\x02bold\x02 \x034RED\x03 \x0312,8blue on yellow\x0f see https://example.org/x"


@asynccontextmanager
async def chat(server: Server, *, formatting: bool) -> AsyncIterator[ChatApp]:
    """The full-screen client as amy in #lobby, with formatting shown or stripped."""
    session = Session("amy")
    if not server.autojoins:
        session.want_room(LOBBY)
    app = ChatApp(session, Options(port=server.port, formatting=formatting))
    async with app.run_test(size=(120, 30)) as pilot:
        await eventually(lambda: LOBBY in app.session.rooms, "amy in #lobby")
        yield app
        await pilot.pause()
        await app.chat.leave()


def drawn_styles(app: ChatApp, word: str) -> list[Style]:
    """The styles of the drawn segments (what reaches the screen) that hold ``word``."""
    view = app.chat.query_one(ConversationView)
    return [
        segment.style
        for strip in view.lines
        for segment in strip
        if word in segment.text and segment.style is not None
    ]


async def test_formatting_is_drawn_as_styles(
    irc_server: Server, raw_clients: list[RawClient]
) -> None:
    """Bold, colours and a link from an irssi user are styles; no colour number is shown."""
    bob = await RawClient.connect(irc_server, "bob")
    raw_clients.append(bob)
    async with chat(irc_server, formatting=True) as app:
        bob.send(f"PRIVMSG {LOBBY} :{LINE}")
        view = app.chat.query_one(ConversationView)
        await eventually(lambda: any("RED" in line for line in view.plain_lines), "the line")
        assert any(
            line.endswith("<bob> bold RED blue on yellow see https://example.org/x")
            for line in view.plain_lines
        )
        assert any(style.bold for style in drawn_styles(app, "bold"))
        assert any(s.color and s.color.name == "#ff0000" for s in drawn_styles(app, "RED"))
        blue = drawn_styles(app, "blue on yellow")
        assert any(s.bgcolor and s.bgcolor.name == "#ffff00" for s in blue)
        assert any(s.link == "https://example.org/x" for s in drawn_styles(app, "example.org"))


async def test_no_colour_strips_formatting(
    irc_server: Server, raw_clients: list[RawClient]
) -> None:
    """With formatting off (--no-colour) the codes are gone and no colour is drawn for them."""
    bob = await RawClient.connect(irc_server, "bob")
    raw_clients.append(bob)
    async with chat(irc_server, formatting=False) as app:
        bob.send(f"PRIVMSG {LOBBY} :{LINE}")
        view = app.chat.query_one(ConversationView)
        await eventually(lambda: any("RED" in line for line in view.plain_lines), "the line")
        assert any("<bob> bold RED blue on yellow" in line for line in view.plain_lines)
        assert not any(s.color and s.color.name == "#ff0000" for s in drawn_styles(app, "RED"))
