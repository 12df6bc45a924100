"""The Textual app driven by Pilot against a real server, raw-socket clients on the other side."""

from __future__ import annotations

import asyncio
import io
import statistics
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import pytest
from rich.console import Console
from textual import events
from textual.pilot import Pilot

from chinwag.client.app import ChatApp
from chinwag.client.net import Options, Status
from chinwag.client.screens import HelpScreen, NickScreen
from chinwag.client.session import Session
from chinwag.client.widgets import ConversationList, ConversationView, InputBar, UserList
from chinwag.protocol import Message

from .conftest import LOBBY, RawClient, Server, eventually, free_port

SIZE = (110, 30)


@asynccontextmanager
async def running(
    server: Server | None, nick: str = "amy"
) -> AsyncIterator[tuple[ChatApp, Pilot[None]]]:
    """The app connected as ``nick`` and in #lobby (or pointed at nothing when server is None)."""
    session = Session(nick)
    port = server.port if server is not None else free_port()
    if server is not None and not server.autojoins:
        session.want_room(LOBBY)
    app = ChatApp(session, Options(port=port, backoff_initial=0.1, backoff_max=0.5))
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        if server is not None:
            await eventually(lambda: in_lobby(app), f"{nick} in #lobby")
        yield app, pilot
        if app.is_running and server is not None:
            await app.chat.leave()


def in_lobby(app: ChatApp) -> bool:
    """Whether the app's session is in #lobby and the screen shows it (me in the people list)."""
    conv = app.session.conversations.get(LOBBY)
    joined = conv is not None and conv.joined and app.session.active == LOBBY
    return joined and app.session.nick in people(app)


def view_text(app: ChatApp) -> str:
    """Everything the conversation view shows, as plain text."""
    return "\n".join(app.chat.query_one(ConversationView).plain_lines)


def people(app: ChatApp) -> list[str]:
    """The nicks in the sidebar, sorted (the order by rank depends on who got ops first)."""
    return sorted(app.chat.query_one(UserList).nicks)


async def type_line(pilot: Pilot[None], text: str) -> None:
    """Put ``text`` in the input bar (as a paste would) and press Enter."""
    pilot.app.screen.query_one(InputBar).insert_text_at_cursor(text)
    await pilot.press("enter")


async def type_keys(pilot: Pilot[None], text: str) -> None:
    """Type ``text`` key by key into the focused widget and press Enter."""
    await pilot.press(*text)
    await pilot.press("enter")


def shows(app: ChatApp, text: str) -> Callable[[], bool]:
    """A predicate: the conversation view contains ``text``."""
    return lambda: text in view_text(app)


async def expect_privmsg(client: RawClient, target: str, text: str) -> Message:
    """Wait for ``client`` to receive PRIVMSG target :text."""
    return await client.expect(lambda m: m.command == "PRIVMSG" and m.params == (target, text))


class TestChat:
    async def test_typed_message_reaches_another_client(
        self, irc_server: Server, raw_clients: list[RawClient]
    ) -> None:
        """A line typed in the input bar arrives at another real client in #lobby."""
        bob = await RawClient.connect(irc_server, "bob")
        raw_clients.append(bob)
        async with running(irc_server) as (app, pilot):
            await type_keys(pilot, "hello bob")
            await expect_privmsg(bob, LOBBY, "hello bob")
            await eventually(shows(app, "<amy> hello bob"), "my own line shown")

    async def test_message_from_another_client_appears(
        self, irc_server: Server, raw_clients: list[RawClient]
    ) -> None:
        """A message from another client appears, with a mention of me highlighted."""
        async with running(irc_server) as (app, _):
            bob = await RawClient.connect(irc_server, "bob")
            raw_clients.append(bob)
            bob.send(f"PRIVMSG {LOBBY} :hi amy, welcome", f"PRIVMSG {LOBBY} :\x01ACTION waves\x01")
            await eventually(shows(app, "<bob> hi amy, welcome"), "bob's message")
            await eventually(shows(app, "* bob waves"), "bob's action")
            line = app.session.current.lines[-2]
            assert getattr(line, "highlight", False)

    async def test_user_list_follows_joins_nicks_and_quits(
        self, irc_server: Server, raw_clients: list[RawClient]
    ) -> None:
        """The sidebar follows joins, nick changes and quits."""
        async with running(irc_server) as (app, _):
            assert people(app) == ["amy"]
            bob = await RawClient.connect(irc_server, "bob")
            raw_clients.append(bob)
            await eventually(lambda: people(app) == ["amy", "bob"], "bob in the list")
            await eventually(shows(app, "bob has joined #lobby"), "join line")
            bob.send("NICK robert")
            await eventually(lambda: people(app) == ["amy", "robert"], "the new nick")
            await eventually(shows(app, "bob is now known as robert"), "nick line")
            bob.send("QUIT :gone")
            await eventually(lambda: people(app) == ["amy"], "robert gone")
            await eventually(shows(app, "robert has quit ("), "quit line")

    async def test_choosing_user_opens_private_conversation(
        self, irc_server: Server, raw_clients: list[RawClient]
    ) -> None:
        """Choosing a user in the sidebar opens a private conversation only they receive."""
        bob = await RawClient.connect(irc_server, "bob")
        carol = await RawClient.connect(irc_server, "carol")
        raw_clients += [bob, carol]
        async with running(irc_server) as (app, pilot):
            await eventually(lambda: "carol" in people(app), "carol listed")
            await pilot.press("f2")
            users = app.chat.query_one(UserList)
            assert users.has_focus
            assert users.nicks[users.highlighted or 0] != "amy"  # the first one who is not me
            users.highlighted = users.nicks.index("bob")
            await pilot.press("enter")
            await eventually(lambda: app.session.active == "bob", "the private conversation")
            assert app.chat.query_one(InputBar).has_focus
            await type_line(pilot, "just between us")
            await expect_privmsg(bob, "bob", "just between us")
            bob.send("PRIVMSG amy :ok")
            await eventually(shows(app, "<bob> ok"), "bob's answer")
            await type_line(pilot, f"/msg {LOBBY} after")
            await expect_privmsg(carol, LOBBY, "after")
            assert not carol.got_privmsg("just between us")
            assert "bob" in app.chat.query_one(ConversationList).keys

    async def test_clicking_a_user_opens_private_conversation(
        self, irc_server: Server, raw_clients: list[RawClient]
    ) -> None:
        """A mouse click on a name in the sidebar opens the private conversation."""
        raw_clients.append(await RawClient.connect(irc_server, "bob"))
        async with running(irc_server) as (app, pilot):
            await eventually(lambda: people(app) == ["amy", "bob"], "bob listed")
            row = app.chat.query_one(UserList).nicks.index("bob")
            await pilot.click(UserList, offset=(4, 1 + row))
            await eventually(lambda: app.session.active == "bob", "the private conversation")

    async def test_unread_counts_and_switching(
        self, irc_server: Server, raw_clients: list[RawClient]
    ) -> None:
        """Private lines elsewhere pop up a notice and count as unread until shown."""
        bob = await RawClient.connect(irc_server, "bob")
        raw_clients.append(bob)
        async with running(irc_server) as (app, pilot):
            bob.send("PRIVMSG amy :one", "PRIVMSG amy :two")
            await eventually(
                lambda: (
                    app.session.conversations.get("bob") is not None
                    and app.session.conversations["bob"].unread == 2
                ),
                "two unread",
            )
            await eventually(lambda: "bob privately" in screen_text(app), "a notice of it")
            await pilot.press("ctrl+n")
            await eventually(lambda: app.session.active == "bob", "switched to bob")
            assert app.session.conversations["bob"].unread == 0
            await eventually(shows(app, "<bob> two"), "bob's lines shown")

    async def test_users_numbering_and_msg_by_number(
        self, irc_server: Server, raw_clients: list[RawClient]
    ) -> None:
        """/users numbers the room; /msg N sends to that person."""
        bob = await RawClient.connect(irc_server, "bob")
        raw_clients.append(bob)
        async with running(irc_server) as (app, pilot):
            await eventually(lambda: people(app) == ["amy", "bob"], "bob listed")
            await type_line(pilot, "/users")
            await eventually(shows(app, "2 users in #lobby"), "the numbered list")
            number = app.session.listing.index("bob") + 1
            assert f"{number}. " in view_text(app)
            await type_line(pilot, f"/msg {number} numbered hello")
            await expect_privmsg(bob, "bob", "numbered hello")


class TestInput:
    async def test_history_and_completion(self, irc_server: Server) -> None:
        """Up recalls the last line; Tab completes a nick and a command."""
        async with running(irc_server, "amelia") as (app, pilot):
            bar = app.chat.query_one(InputBar)
            await type_line(pilot, "first line")
            await pilot.press("up")
            assert bar.value == "first line"
            await pilot.press("down")
            assert bar.value == ""
            await pilot.press("a", "m", "tab")
            assert bar.value == "amelia: "
            bar.value = ""
            await pilot.press("/", "w", "h", "o", "tab")
            assert bar.value in ("/who ", "/whois ")
            await pilot.press("tab")
            assert bar.value in ("/who ", "/whois ")

    async def test_unknown_command_is_shown(self, irc_server: Server) -> None:
        """An unknown command is explained in the conversation."""
        async with running(irc_server) as (app, pilot):
            await type_line(pilot, "/frob")
            await eventually(shows(app, "Unknown command /frob"), "the error line")

    async def test_f1_shows_help(self, irc_server: Server) -> None:
        """F1 opens the help screen; Escape closes it."""
        async with running(irc_server) as (app, pilot):
            await pilot.press("f1")
            assert isinstance(app.screen, HelpScreen)
            await pilot.press("escape")
            assert not isinstance(app.screen, HelpScreen)


class TestConnection:
    async def test_reconnect_after_server_restart(self, irc_server: Server) -> None:
        """The status line shows the loss; after the restart the rooms that were open are back."""
        async with running(irc_server) as (app, pilot):
            await type_line(pilot, "/join #dev")
            await eventually(lambda: app.session.active == "#dev", "#dev joined and shown")
            await pilot.press("ctrl+n")  # rooms are in name order: #dev, then #lobby
            await eventually(lambda: app.session.active == LOBBY, "back to #lobby")
            await asyncio.to_thread(irc_server.stop)
            await eventually(lambda: app.chat.status is Status.LOST, "lost status")
            assert app.chat.query_one("#status").has_class("-lost")
            await asyncio.to_thread(irc_server.start)
            await eventually(
                lambda: app.chat.status is Status.CONNECTED and in_lobby(app), "back in #lobby"
            )
            assert not app.chat.query_one("#status").has_class("-lost")
            await eventually(lambda: app.session.conversations["#dev"].joined, "#dev rejoined")

    async def test_taken_nick_is_asked_again(
        self, irc_server: Server, raw_clients: list[RawClient]
    ) -> None:
        """A taken nick opens the nick screen; the new nick registers."""
        raw_clients.append(await RawClient.connect(irc_server, "amy"))
        session = Session("amy")
        if not irc_server.autojoins:
            session.want_room(LOBBY)
        app = ChatApp(session, Options(port=irc_server.port))
        async with app.run_test(size=SIZE) as pilot:
            await eventually(lambda: isinstance(app.screen, NickScreen), "the nick screen")
            await eventually(lambda: "The nick amy is already taken" in screen_text(app), "reason")
            await pilot.press("9", "enter")
            await eventually(lambda: "Letters, digits" in screen_text(app), "the hint")
            await pilot.press("backspace", *"amy2", "enter")
            await eventually(lambda: in_lobby(app), "amy2 in #lobby")
            assert session.nick == "amy2"
            await app.chat.leave()

    async def test_refused_connection_exits_with_error(self) -> None:
        """With nothing to connect to the app exits with status 1 and says why."""
        async with running(None) as (app, _):
            await eventually(lambda: app.failure is not None, "the failure")
        assert app.return_code == 1
        assert "connection refused" in (app.failure or "")

    async def test_quit_command_sends_quit(
        self, irc_server: Server, raw_clients: list[RawClient]
    ) -> None:
        """/quit sends QUIT with the message and exits the app."""
        bob = await RawClient.connect(irc_server, "bob")
        raw_clients.append(bob)
        async with running(irc_server) as (app, pilot):
            await type_line(pilot, "/quit off to bed")
            await bob.expect(lambda m: m.command == "QUIT" and "off to bed" in m.param(0))
            await eventually(lambda: not app.is_running, "the app to exit")


class TestBusyRoom:
    async def test_flood_keeps_typing_responsive(
        self, irc_server: Server, raw_clients: list[RawClient]
    ) -> None:
        """At 1,000 lines a second every line is shown and keystrokes are still handled promptly."""
        if irc_server.kind != "chinwag":
            pytest.skip("ngircd throttles flooding clients")
        bob = await RawClient.connect(irc_server, "bob")
        raw_clients.append(bob)
        async with running(irc_server) as (app, _):
            bar = app.chat.query_one(InputBar)
            batches, per_batch = 20, 100

            async def flood() -> None:
                for batch in range(batches):
                    bob.send(
                        *(
                            f"PRIVMSG {LOBBY} :busy line {batch * per_batch + i}"
                            for i in range(per_batch)
                        )
                    )
                    await asyncio.sleep(0.1)  # pacing the load: 100 lines every 0.1 s

            sender = asyncio.create_task(flood())
            latencies: list[float] = []
            for char in "typing while busy":
                # A key event as the terminal driver would deliver it; the latency is until
                # the input bar shows the character, with the room busy at the same time.
                expected = bar.value + char
                started = time.monotonic()
                app.post_message(events.Key(char if char != " " else "space", char))
                await eventually(lambda: bar.value == expected, f"{char!r} to be typed")  # noqa: B023
                latencies.append(time.monotonic() - started)
            await sender
            assert bar.value == "typing while busy"
            total = batches * per_batch
            await eventually(shows(app, f"busy line {total - 1}"), "the last busy line", 30)
            assert sum("busy line" in line for line in view_lines(app)) == total
            # Typically ~20 ms median, ~50 ms worst; bounds leave room for a loaded CI machine.
            assert statistics.median(latencies) < 0.5, latencies
            assert max(latencies) < 2.0, latencies
            print(
                f"keystrokes during the flood: median {statistics.median(latencies) * 1000:.0f} ms,"
            )
            print(f"worst {max(latencies) * 1000:.0f} ms")


def view_lines(app: ChatApp) -> list[str]:
    """The conversation view's lines."""
    return app.chat.query_one(ConversationView).plain_lines


def screen_text(app: ChatApp) -> str:
    """The whole screen as plain text (what a screenshot shows, without colours)."""
    width, height = app.size
    console = Console(width=width, height=height, file=io.StringIO(), record=True)
    console.print(app.screen._compositor.render_update(full=True))
    return console.export_text(styles=False)


class TestLayout:
    async def test_screen_shows_lists_topic_and_status(
        self, irc_server: Server, raw_clients: list[RawClient]
    ) -> None:
        """The screen shows the conversations, the conversation, the people and the status."""
        bob = await RawClient.connect(irc_server, "bob")
        raw_clients.append(bob)
        async with running(irc_server) as (app, pilot):
            await eventually(lambda: people(app) == ["amy", "bob"], "bob listed")
            bob.send(f"PRIVMSG {LOBBY} :hi amy", "PRIVMSG amy :psst")
            await eventually(shows(app, "<bob> hi amy"), "bob's line")
            await eventually(lambda: "bob" in app.session.conversations, "the private line")
            await pilot.pause()
            text = screen_text(app)
            for expected in ("Chats", "People (2)", "<bob> hi amy", "bob 1", "amy on test"):
                assert expected in text, text


class TestResize:
    async def test_lines_are_rewrapped_after_a_resize(
        self, irc_server: Server, raw_clients: list[RawClient]
    ) -> None:
        """After the terminal gets narrower, a long line is wrapped again, not cut."""
        bob = await RawClient.connect(irc_server, "bob")
        raw_clients.append(bob)
        async with running(irc_server) as (app, pilot):
            words = " ".join(f"word{i}" for i in range(20))
            bob.send(f"PRIVMSG {LOBBY} :{words}")
            await eventually(shows(app, "word19"), "the long line")
            await pilot.resize_terminal(70, 30)
            await eventually(
                lambda: all(f"word{i}" in screen_text(app).split() for i in range(20)),
                "every word visible after the resize",
            )
