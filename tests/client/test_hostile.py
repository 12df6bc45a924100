"""Hostile text through a real server to the real client: the screen shows markers, never escapes.

A raw-socket client sends the corpus of `tests.client.hostile` as messages, a notice, an action,
a topic and a part reason. The full-screen client reads it in Textual's ``run_test()``: the
screen it composes (exported as Textual renders it) and its widgets' text hold no control
character and show the markers. Plain mode reads it through a pipe: its output bytes likewise,
and ``--raw`` passes the text through as received.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from textual.pilot import Pilot
from textual.widgets import Static

from chinwag.client.app import ChatApp
from chinwag.client.net import Options
from chinwag.client.session import Session
from chinwag.client.widgets import ConversationList, ConversationView, InputBar, UserList

from .conftest import LOBBY, RawClient, Server, eventually
from .hostile import CORPUS, MARKERS, RAW_CONTROL
from .test_plain import Plain, launch, plains, server_args

__all__ = ["plains"]  # the fixture, shared with test_plain

DEN = "#den"
END = "end of the corpus"


def send_corpus(bob: RawClient, target: str) -> None:
    """Send the corpus over bob's socket, NUL and lone CR included (the server drops them)."""
    for name, text in CORPUS.items():
        bob.writer.write(f"PRIVMSG {target} :[{name}] {text}\r\n".encode())
    bob.send(f"NOTICE {target} :{CORPUS['osc-title']}")
    bob.send(f"PRIVMSG {target} :\x01ACTION {CORPUS['csi-cursor']}\x01")
    bob.send(f"PRIVMSG {target} :{END}")


def assert_safe_and_marked(text: str) -> None:
    """No control character in ``text``, and every marker of the corpus in it."""
    found = RAW_CONTROL.search(text)
    assert found is None, f"raw {found.group()!r} in {text!r}"
    for marker in MARKERS:
        assert marker in text, f"no {marker} in {text!r}"


@asynccontextmanager
async def tui(server: Server) -> AsyncIterator[tuple[ChatApp, Pilot[None]]]:
    """The full-screen client connected as amy, in #lobby."""
    session = Session("amy")
    if not server.autojoins:
        session.want_room(LOBBY)
    app = ChatApp(session, Options(port=server.port))
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await eventually(lambda: LOBBY in app.session.rooms, "amy in #lobby")
        yield app, pilot
        await app.chat.leave()


def view_text(app: ChatApp) -> str:
    """What the conversation view shows, as plain text."""
    return "\n".join(app.chat.query_one(ConversationView).plain_lines)


async def test_full_screen_client_shows_markers_not_escapes(
    irc_server: Server, raw_clients: list[RawClient]
) -> None:
    """Messages, notice, action, topic, part reason: the rendered screen has no raw control."""
    bob = await RawClient.connect(irc_server, "bob")
    raw_clients.append(bob)
    bob.send(f"JOIN {DEN}")
    await bob.expect(lambda m: m.command == "366" and m.param(1) == DEN)
    bob.send(f"TOPIC {DEN} :{CORPUS['erase-display']}{CORPUS['bidi-override']}")
    eve = await RawClient.connect(irc_server, "eve")
    raw_clients.append(eve)
    async with tui(irc_server) as (app, pilot):
        send_corpus(bob, LOBBY)
        eve.send(f"PART {LOBBY} :{CORPUS['osc-title']}{CORPUS['c1-csi']}")
        await eventually(lambda: END in view_text(app) and "eve has left" in view_text(app), END)
        await pilot.pause()
        shown = view_text(app)
        assert_safe_and_marked(shown)
        assert "[osc-title] \u241b]0;pwned\u2407" in shown
        assert "eve has left #lobby (\u241b]0;pwned\u2407<U+009B>31mred" in shown
        screen = app.export_screenshot()
        assert RAW_CONTROL.search(screen.replace("\n", "")) is None
        assert "\u241b]0;pwned" in screen.replace("&#160;", " ")
        # The topic bar and the lists draw network text themselves: safe too.
        app.chat.query_one(InputBar).insert_text_at_cursor(f"/join {DEN}")
        await pilot.press("enter")
        await eventually(lambda: app.session.active == DEN, "amy in #den")
        await pilot.pause()
        topic = str(app.chat.query_one("#topic", Static).render())
        assert RAW_CONTROL.search(topic) is None
        assert "\u241b[2J" in topic and "<U+202E>" in topic
        for widget in (app.chat.query_one(UserList), app.chat.query_one(ConversationList)):
            for index in range(widget.option_count):
                prompt = str(widget.get_option_at_index(index).prompt)
                assert RAW_CONTROL.search(prompt) is None


async def test_plain_mode_in_a_pipe_prints_markers_not_escapes(
    irc_server: Server, raw_clients: list[RawClient], plains: list[Plain]
) -> None:
    """Plain mode writing to a pipe: its output bytes hold no escape, and show the markers."""
    bob = await RawClient.connect(irc_server, "bob")
    raw_clients.append(bob)
    amy = await launch(*server_args(irc_server, "--nick", "amy"))
    plains.append(amy)
    await amy.expect(r"You have joined #lobby")
    send_corpus(bob, LOBBY)
    await amy.expect(END)
    amy.close_stdin()
    status, _ = await amy.wait()
    assert status == 0
    output = "\n".join(amy.lines)
    assert_safe_and_marked(output)
    assert "<bob> [csi-cursor] \u241b[s\u241b[1;1Htype /register" in output
    assert "* bob \u241b[s\u241b[1;1H" in output
    assert "-bob- \u241b]0;pwned\u2407" in output


async def test_raw_flag_passes_text_through(
    irc_server: Server, raw_clients: list[RawClient], plains: list[Plain]
) -> None:
    """--raw prints what was received, escape sequences included (the user asked for it)."""
    bob = await RawClient.connect(irc_server, "bob")
    raw_clients.append(bob)
    amy = await launch(*server_args(irc_server, "--nick", "amy", "--raw"))
    plains.append(amy)
    await amy.expect(r"You have joined #lobby")
    bob.send(f"PRIVMSG {LOBBY} :\x034red\x03 {CORPUS['osc-title']}", f"PRIVMSG {LOBBY} :{END}")
    await amy.expect(END)
    assert any(line.endswith("<bob> \x034red\x03 \x1b]0;pwned\x07") for line in amy.lines)
    amy.close_stdin()
    status, _ = await amy.wait()
    assert status == 0


async def test_ctcp_requests_are_answered_not_shown(
    irc_server: Server, raw_clients: list[RawClient], plains: list[Plain]
) -> None:
    """CTCP VERSION and TIME get NOTICE answers; FINGER none; none shows as a line."""
    bob = await RawClient.connect(irc_server, "bob")
    raw_clients.append(bob)
    amy = await launch(*server_args(irc_server, "--nick", "amy"))
    plains.append(amy)
    await amy.expect(r"You have joined #lobby")
    bob.send("PRIVMSG amy :\x01VERSION\x01", "PRIVMSG amy :\x01FINGER\x01")
    bob.send("PRIVMSG amy :\x01TIME\x01", f"PRIVMSG {LOBBY} :{END}")
    version = await bob.expect(lambda m: m.command == "NOTICE" and "VERSION" in m.param(1))
    assert version.param(1).startswith("\x01VERSION chinwag ")
    await bob.expect(lambda m: m.command == "NOTICE" and m.param(1).startswith("\x01TIME "))
    await amy.expect(END)
    assert not any("VERSION" in line or "FINGER" in line or "TIME" in line for line in amy.lines)
    assert not any(m.command == "NOTICE" and "FINGER" in m.param(1) for m in bob.received)
    amy.close_stdin()
    status, _ = await amy.wait()
    assert status == 0
