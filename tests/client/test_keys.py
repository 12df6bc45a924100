"""Every key the help and the README promise, pressed in the real app, with its effect checked.

Keys whose effect stays on the screen run on an offline app (a session filled with lines); keys
that talk to the server (Enter, quitting) run against a real server with a raw client watching.
`test_every_key_of_the_help_is_tested` keeps this file, the F1 help and the README in step.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
from collections.abc import Callable
from pathlib import Path

from textual import events
from textual.command import CommandPalette

from chinwag.client.app import ChatApp
from chinwag.client.screens import HelpScreen
from chinwag.client.screens.help import KEYS
from chinwag.client.settings import Settings
from chinwag.client.widgets import (
    ConversationList,
    ConversationView,
    InputBar,
    NewLinesMarker,
    UserList,
)
from chinwag.protocol import Message, parse_line

from .conftest import LOBBY, ROOT, RawClient, Server, eventually
from .test_app import expect_privmsg, running, screen_text, type_keys, type_line
from .test_snapshots import chat_app

SIZE = (100, 24)

# Which test below presses each key of the help's table.
TESTED_KEYS = {
    "Enter": "TestServerKeys.test_enter_sends_the_line",
    "Up / Down": "TestOfflineKeys.test_up_and_down_walk_the_history",
    "Tab": "TestOfflineKeys.test_tab_completes",
    "Ctrl+N / Ctrl+P": "TestOfflineKeys.test_ctrl_n_and_ctrl_p_switch_conversations",
    "F2": "TestOfflineKeys.test_f2_goes_to_the_people_list",
    "F3": "TestOfflineKeys.test_f3_goes_to_the_conversation_list",
    "F4": "TestOfflineKeys.test_f4_shows_and_hides_the_side_panels",
    "Escape": "TestOfflineKeys.test_escape_returns_to_the_input",
    "PageUp / PageDown": "TestOfflineKeys.test_pageup_and_pagedown_scroll",
    "F1": "TestOfflineKeys.test_f1_shows_help",
    "Ctrl+Q / Ctrl+C": "TestServerKeys.test_ctrl_q_and_ctrl_c_send_quit",
}


def readme_keys() -> list[str]:
    """The keys of the README's key table, in order."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    table = text.split("| key | what it does |", 1)[1].split("\n\n", 1)[0]
    return re.findall(r"^\| ([^|]+?) \|", table, re.M)[1:]


def test_every_key_of_the_help_is_tested() -> None:
    """The F1 help, the README's table and this file name the same keys, in the same order."""
    help_keys = [key for key, _ in KEYS]
    assert help_keys == list(TESTED_KEYS)
    assert readme_keys() == help_keys
    for name in TESTED_KEYS.values():
        cls, method = name.split(".")
        assert hasattr(globals()[cls], method), name


def quit_of(nick: str) -> Callable[[Message], bool]:
    """A predicate: the message is the QUIT of ``nick``."""
    return lambda m: m.command == "QUIT" and m.source_nick == nick


def private_line(app: ChatApp, line: str) -> None:
    """Feed a server line to the app as the connection does (and let it draw)."""
    app.chat._lines_received(app.session.feed(parse_line(line)))


class TestOfflineKeys:
    async def test_up_and_down_walk_the_history(self) -> None:
        """Up shows the line typed before, Down comes back to the empty line."""
        app = chat_app()
        async with app.run_test(size=SIZE) as pilot:
            bar = app.chat.query_one(InputBar)
            await type_line(pilot, "/topic")
            await type_line(pilot, "/who")
            await pilot.press("up")
            assert bar.value == "/who"
            await pilot.press("up")
            assert bar.value == "/topic"
            await pilot.press("down", "down")
            assert bar.value == ""

    async def test_password_lines_stay_out_of_the_history(self) -> None:
        """/register and /identify lines are sent but never come back with Up."""
        app = chat_app()
        async with app.run_test(size=SIZE) as pilot:
            bar = app.chat.query_one(InputBar)
            await type_line(pilot, "/topic")
            await type_line(pilot, "/register hunter2")
            await type_line(pilot, "/identify amy hunter2")
            await pilot.press("up")
            assert bar.value == "/topic"
            assert "hunter2" not in " ".join(bar.history)

    async def test_tab_completes(self) -> None:
        """Tab completes a nick at the start of the line with ': ', again cycles."""
        app = chat_app()
        async with app.run_test(size=SIZE) as pilot:
            bar = app.chat.query_one(InputBar)
            await pilot.press("a", "l", "tab")
            assert bar.value == "alice: "

    async def test_ctrl_n_and_ctrl_p_switch_conversations(self) -> None:
        """Ctrl+N goes to the next conversation, Ctrl+P to the previous; no palette opens."""
        app = chat_app()
        async with app.run_test(size=SIZE) as pilot:
            order = ConversationList.order(app.session.conversations)
            start = order.index(app.session.active)
            await pilot.press("ctrl+n")
            assert app.session.active == order[(start + 1) % len(order)]
            await pilot.press("ctrl+p")
            assert app.session.active == order[start]
            await pilot.press("ctrl+p")
            assert app.session.active == order[(start - 1) % len(order)]
            assert not isinstance(app.screen, CommandPalette)

    async def test_f2_goes_to_the_people_list(self) -> None:
        """F2 focuses the people list on someone who is not me."""
        app = chat_app()
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("f2")
            users = app.chat.query_one(UserList)
            assert users.has_focus
            assert users.highlighted is not None
            assert users.nicks[users.highlighted] != "amy"

    async def test_choosing_myself_does_not_swallow_the_next_line(self) -> None:
        """Enter on my own name says so and puts me back in the input: what I type goes there."""
        app = chat_app()
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("f2")
            users = app.chat.query_one(UserList)
            users.highlighted = users.nicks.index("amy")
            await pilot.press("enter")
            await pilot.pause()
            bar = app.chat.query_one(InputBar)
            assert bar.has_focus
            await pilot.press(*"hi all")
            assert bar.value == "hi all"
            assert app.session.active == LOBBY

    async def test_f3_goes_to_the_conversation_list(self) -> None:
        """F3 focuses the conversation list; Enter there switches to the highlighted one."""
        app = chat_app()
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("f3")
            chats = app.chat.query_one(ConversationList)
            assert chats.has_focus
            chats.highlighted = chats.keys.index("carol")
            await pilot.press("enter")
            assert app.session.active == "carol"
            assert app.chat.query_one(InputBar).has_focus

    async def test_escape_returns_to_the_input(self) -> None:
        """Escape from a list puts the cursor back in the input line."""
        app = chat_app()
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("f3")
            await pilot.press("escape")
            assert app.chat.query_one(InputBar).has_focus

    async def test_f1_shows_help(self) -> None:
        """F1 opens the help, which lists F4; Escape closes it."""
        app = chat_app()
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("f1")
            assert isinstance(app.screen, HelpScreen)
            await pilot.press("escape")
            assert not isinstance(app.screen, HelpScreen)

    async def test_f4_shows_and_hides_the_side_panels(self) -> None:
        """At 60x15 the panels hide by themselves; F4 shows them, F4 again hides them."""
        app = chat_app()
        async with app.run_test(size=(60, 15)) as pilot:
            await pilot.pause()
            chats = app.chat.query_one(ConversationList)
            users = app.chat.query_one(UserList)
            assert not chats.display and not users.display
            assert app.chat.query_one(ConversationView).size.width >= 40
            await eventually(lambda: "| carol 1 |" in _screen(app), "unread in the status line")
            await pilot.press("f4")
            assert chats.display and users.display
            await pilot.press("f4")
            assert not chats.display and not users.display

    async def test_wide_terminal_shows_both_panels_and_f4_hides_them(self) -> None:
        """At 100 columns both panels show; F4 hides both, and the conversation gets the room."""
        app = chat_app()
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            assert app.chat.query_one(UserList).display
            await pilot.press("f4")
            await pilot.pause()
            assert not app.chat.query_one(UserList).display
            assert app.chat.query_one(ConversationView).outer_size.width == SIZE[0]

    async def test_middle_width_hides_only_the_people(self) -> None:
        """At 70 columns the people list hides, the conversation list stays."""
        app = chat_app()
        async with app.run_test(size=(70, 20)) as pilot:
            await pilot.pause()
            assert app.chat.query_one(ConversationList).display
            assert not app.chat.query_one(UserList).display
            assert app.chat.query_one(ConversationView).size.width >= 40

    async def test_pageup_and_pagedown_scroll(self) -> None:
        """PageUp scrolls up (new lines then show a marker); PageDown back at the end hides it."""
        app = chat_app([f":alice!a@h PRIVMSG #lobby :line {i}" for i in range(60)])
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            view = app.chat.query_one(ConversationView)
            marker = app.chat.query_one(NewLinesMarker)
            await eventually(lambda: view.is_vertical_scroll_end and view.max_scroll_y > 0, "end")
            await pilot.press("pageup")
            await pilot.pause()
            assert not view.is_vertical_scroll_end
            private_line(app, ":bob!b@h PRIVMSG #lobby :while you read")
            await eventually(lambda: marker.display and marker.count == 1, "the marker")
            for _ in range(5):
                await pilot.press("pagedown")
            await pilot.pause()
            assert view.is_vertical_scroll_end
            await eventually(lambda: not marker.display, "the marker gone")

    async def test_sending_while_scrolled_up_jumps_to_the_end(self) -> None:
        """A line sent while reading older lines brings the view back to the newest."""
        app = chat_app([f":alice!a@h PRIVMSG #lobby :line {i}" for i in range(60)])
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            view = app.chat.query_one(ConversationView)
            await pilot.press("pageup", "pageup")
            await pilot.pause()
            assert not view.is_vertical_scroll_end
            await type_keys(pilot, "/who")
            await pilot.pause()
            assert view.is_vertical_scroll_end
            assert not app.chat.query_one(NewLinesMarker).display


class TestAttention:
    async def test_private_line_elsewhere_rings_the_bell(self) -> None:
        """A private line in another conversation gets attention; one here does not."""
        app = chat_app()
        async with app.run_test(size=SIZE) as pilot:
            private_line(app, ":dave!d@h PRIVMSG amy :psst")
            await eventually(lambda: app.chat.alerts_given == 1, "the bell")
            private_line(app, ":alice!a@h PRIVMSG #lobby :no mention here")
            private_line(app, ":alice!a@h PRIVMSG #lobby :amy, here")  # active: no bell
            await pilot.pause()
            assert app.chat.alerts_given == 1
            assert app.session.conversations["dave"].unread == 1

    async def test_mention_here_rings_while_the_terminal_is_in_the_background(self) -> None:
        """With the terminal window unfocused, a mention in the conversation shown rings too."""
        app = chat_app()
        async with app.run_test(size=SIZE) as pilot:
            app.app_focus = False
            private_line(app, ":alice!a@h PRIVMSG #lobby :amy, are you there?")
            await eventually(lambda: app.chat.alerts_given == 1, "the bell")
            app.app_focus = True
            private_line(app, ":alice!a@h PRIVMSG #lobby :amy?")
            await pilot.pause()
            assert app.chat.alerts_given == 1

    async def test_notify_off_stays_quiet_and_is_saved(self, tmp_path: Path) -> None:
        """/notify off silences alerts and is written to the settings file."""
        app = chat_app()
        app.settings.path = tmp_path / "client.toml"
        async with app.run_test(size=SIZE) as pilot:
            await type_keys(pilot, "/notify off")
            private_line(app, ":dave!d@h PRIVMSG amy :psst")
            await pilot.pause()
            assert app.chat.alerts_given == 0
        assert 'notify = "off"' in (tmp_path / "client.toml").read_text()


class TestIgnore:
    async def test_ignore_is_kept_between_runs(self, tmp_path: Path) -> None:
        """/ignore writes the mask to the settings file; the next run loads and applies it."""
        path = tmp_path / "client.toml"
        app = chat_app()
        app.settings.path = path
        async with app.run_test(size=SIZE) as pilot:
            await type_keys(pilot, "/ignore dave")
        assert Settings.load(path).ignore == ["dave!*@*"]
        session_app = chat_app()
        session_app.settings = Settings.load(path)
        session_app.session.ignores = list(session_app.settings.ignore)
        private_line(session_app, ":dave!d@h PRIVMSG amy :still here")
        assert "dave" not in session_app.session.conversations

    async def test_broken_settings_file_is_reported_and_kept(self, tmp_path: Path) -> None:
        """A settings file that cannot be read is reported; saving moves it aside, not away."""
        path = tmp_path / "client.toml"
        path.write_text("notify = [broken\n")
        settings = Settings.load(path)
        assert settings.problem.startswith(f"could not read {path}")
        settings.ignore.append("x!*@*")
        settings.save()
        assert (tmp_path / "client.toml.broken").read_text() == "notify = [broken\n"
        assert Settings.load(path).ignore == ["x!*@*"]


class TestPaste:
    async def test_paste_of_a_few_lines_sends_each(
        self, irc_server: Server, raw_clients: list[RawClient]
    ) -> None:
        """Three pasted lines arrive as three messages, in order, none glued or cut."""
        bob = await RawClient.connect(irc_server, "bob")
        raw_clients.append(bob)
        async with running(irc_server) as (app, _):
            bar = app.chat.query_one(InputBar)
            bar.post_message(_paste("first\nsecond\n\nthird\n"))
            for text in ("first", "second", "third"):
                await expect_privmsg(bob, LOBBY, text)
            assert bar.value == ""
            said = [m.param(1) for m in bob.received if m.command == "PRIVMSG"]
            assert said == ["first", "second", "third"]

    async def test_long_paste_asks_first(
        self, irc_server: Server, raw_clients: list[RawClient]
    ) -> None:
        """A 14-line paste asks "Send 14 lines?"; yes sends them all, paced, in order."""
        bob = await RawClient.connect(irc_server, "bob")
        raw_clients.append(bob)
        async with running(irc_server) as (app, pilot):
            app.chat.paste_interval = 0.02
            app.chat.query_one(InputBar).post_message(
                _paste("\n".join(f"code {i}" for i in range(14)))
            )
            await eventually(lambda: "Send 14 lines to #lobby?" in _screen(app), "the question")
            await pilot.press("y")
            await expect_privmsg(bob, LOBBY, "code 13")
            said = [m.param(1) for m in bob.received if m.command == "PRIVMSG"]
            assert said == [f"code {i}" for i in range(14)]

    async def test_lines_entered_faster_than_typing_are_paced_in_order(
        self, irc_server: Server, raw_clients: list[RawClient]
    ) -> None:
        """An unbracketed paste (one Enter per line) goes out paced by the bucket, in order."""
        bob = await RawClient.connect(irc_server, "bob")
        raw_clients.append(bob)
        async with running(irc_server) as (app, pilot):
            app.chat.paste_interval = 0.3
            bar = app.chat.query_one(InputBar)
            for i in range(10):
                bar.post_message(InputBar.Submitted(f"fast {i}"))
            await pilot.pause()
            assert app.chat._paste, "lines past the burst wait their turn"
            await expect_privmsg(bob, LOBBY, "fast 9")
            said = [m.param(1) for m in bob.received if m.command == "PRIVMSG"]
            assert said == [f"fast {i}" for i in range(10)]

    async def test_long_paste_refused_sends_nothing(self) -> None:
        """No to the question sends nothing and says so."""
        app = chat_app()
        async with app.run_test(size=SIZE) as pilot:
            app.chat.query_one(InputBar).post_message(_paste("\n".join("abcdefgh")))
            await eventually(lambda: "Send 8 lines" in _screen(app), "the question")
            await pilot.press("n")
            await eventually(lambda: "The 8 pasted lines were not sent" in _view(app), "the note")

    async def test_paste_box_sends_its_lines(
        self, irc_server: Server, raw_clients: list[RawClient]
    ) -> None:
        """/paste opens a box; Ctrl+S sends what is written there, one message per line."""
        bob = await RawClient.connect(irc_server, "bob")
        raw_clients.append(bob)
        async with running(irc_server) as (app, pilot):
            await type_keys(pilot, "/paste")
            await eventually(lambda: "Ctrl+S sends" in _screen(app), "the box")
            await pilot.press(*"def f():", "enter", *"    return 1")
            await pilot.press("ctrl+s")
            await expect_privmsg(bob, LOBBY, "def f():")
            await expect_privmsg(bob, LOBBY, "    return 1")


class TestServerKeys:
    async def test_enter_sends_the_line(
        self, irc_server: Server, raw_clients: list[RawClient]
    ) -> None:
        """Enter sends what is typed to the current conversation."""
        bob = await RawClient.connect(irc_server, "bob")
        raw_clients.append(bob)
        async with running(irc_server) as (_, pilot):
            await type_keys(pilot, "hello bob")
            await expect_privmsg(bob, LOBBY, "hello bob")

    async def test_ctrl_q_and_ctrl_c_send_quit(
        self, irc_server: Server, raw_clients: list[RawClient]
    ) -> None:
        """Ctrl+Q and Ctrl+C each send QUIT before the app exits."""
        bob = await RawClient.connect(irc_server, "bob")
        raw_clients.append(bob)
        for key, nick in (("ctrl+q", "amy"), ("ctrl+c", "ann")):
            async with running(irc_server, nick) as (app, pilot):
                await pilot.press(key)
                await bob.expect(quit_of(nick))
                await eventually(lambda: not app.is_running, "the app to exit")

    async def test_textual_quit_action_sends_quit(
        self, irc_server: Server, raw_clients: list[RawClient]
    ) -> None:
        """Textual's own quit action (the palette's Quit) goes through QUIT too."""
        bob = await RawClient.connect(irc_server, "bob")
        raw_clients.append(bob)
        async with running(irc_server) as (app, _):
            await app.run_action("quit")
            await bob.expect(lambda m: m.command == "QUIT" and m.source_nick == "amy")

    async def test_any_exit_sends_quit(
        self, irc_server: Server, raw_clients: list[RawClient]
    ) -> None:
        """An exit by any other path still says QUIT to the server first."""
        bob = await RawClient.connect(irc_server, "bob")
        raw_clients.append(bob)
        async with running(irc_server) as (app, _):
            app.exit()
            await eventually(lambda: not app.is_running, "the app to exit")
        await bob.expect(lambda m: m.command == "QUIT" and m.source_nick == "amy")

    async def test_closed_terminal_sends_quit(
        self, irc_server: Server, raw_clients: list[RawClient]
    ) -> None:
        """SIGHUP (the terminal window closed) sends QUIT and exits."""
        bob = await RawClient.connect(irc_server, "bob")
        raw_clients.append(bob)
        async with running(irc_server) as (app, _):
            os.kill(os.getpid(), signal.SIGHUP)
            await bob.expect(lambda m: m.command == "QUIT" and m.source_nick == "amy")
            await eventually(lambda: not app.is_running, "the app to exit")
            assert "Terminal closed" in next(
                m.param(0) for m in bob.received if m.command == "QUIT"
            )

    async def test_typing_while_disconnected_is_sent_after_reconnect(
        self, irc_server: Server, raw_clients: list[RawClient]
    ) -> None:
        """A line typed while the server is down shows as pending and reaches the room later."""
        if not irc_server.autojoins:
            return  # the check below reads chinwag's join replay
        async with running(irc_server) as (app, pilot):
            await asyncio.to_thread(irc_server.stop)
            await eventually(lambda: not app.session.registered, "the loss")
            await type_keys(pilot, "back soon")
            await eventually(lambda: "pending, sent once" in _view(app), "the pending note")
            await eventually(lambda: "| 1 pending" in _screen(app), "the count in the status")
            assert "You are not in" not in _view(app)
            await asyncio.to_thread(irc_server.start)
            await eventually(lambda: app.session.pending == {}, "the pending line sent")
            carol = await RawClient.connect(irc_server, "carol")
            raw_clients.append(carol)
            # Without server-time, chinwag's join replay puts the time before the text.
            await carol.expect(
                lambda m: m.command == "PRIVMSG" and m.param(1).endswith("back soon")
            )


def _paste(text: str) -> events.Paste:
    """A paste event, as the terminal sends it (bracketed paste)."""
    return events.Paste(text)


def _view(app: ChatApp) -> str:
    return "\n".join(app.chat.query_one(ConversationView).plain_lines)


def _screen(app: ChatApp) -> str:
    return screen_text(app)
