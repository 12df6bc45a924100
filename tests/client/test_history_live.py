"""History against a real server: recent lines when a room opens, older pages, plain mode."""

from __future__ import annotations

import pytest
from textual.widgets import Static

from chinwag.client.lines import ChatLine
from chinwag.client.net import Status
from chinwag.client.widgets import ConversationView

from .conftest import LOBBY, RawClient, Server, eventually
from .test_app import running, view_text
from .test_net import Harness
from .test_plain import Plain, launch, plains, server_args

__all__ = ["plains"]


async def say_lines(server: Server, raw_clients: list[RawClient], count: int) -> None:
    """alice says ``line 0`` .. ``line N-1`` in #lobby; bob has them all (so they are stored)."""
    alice = await RawClient.connect(server, "alice")
    bob = await RawClient.connect(server, "bob")
    raw_clients += [alice, bob]
    alice.send(*(f"PRIVMSG {LOBBY} :line {i}" for i in range(count)))
    last = f"line {count - 1}"
    await bob.expect(lambda m: m.command == "PRIVMSG" and m.param(1) == last)


def history_texts(view: str) -> list[str]:
    """The ``line N`` texts a conversation view shows, in order."""
    return [row.split("> ", 1)[1] for row in view.splitlines() if "> line " in row]


class TestHistoryInTheApp:
    async def test_recent_history_then_older_pages_on_page_up(
        self, irc_server: Server, raw_clients: list[RawClient]
    ) -> None:
        """Opening #lobby shows its last 50 lines dimmed; PageUp at the top loads the rest."""
        if not irc_server.autojoins:
            pytest.skip("needs chinwag's chathistory")
        await say_lines(irc_server, raw_clients, 120)
        async with running(irc_server) as (app, pilot):
            await eventually(lambda: "line 119" in view_text(app), "the latest lines")
            conv = app.session.conversations[LOBBY]
            await eventually(lambda: not conv.history_loading, "the LATEST answer")
            assert history_texts(view_text(app)) == [f"line {i}" for i in range(70, 120)]
            lines = [line for line in conv.lines if isinstance(line, ChatLine)]
            assert all(line.history for line in lines) and conv.unread == 0
            view = app.chat.query_one(ConversationView)
            for _ in range(40):
                if conv.history_done:
                    break
                await pilot.press("pageup")
                await pilot.pause()
                if conv.history_loading:
                    await eventually(lambda: not conv.history_loading, "an older page")
                    await pilot.pause()
            assert conv.history_done, "an empty page ends the paging"
            assert history_texts(view_text(app)) == [f"line {i}" for i in range(120)]
            assert view.scroll_y < view.max_scroll_y, "reading older lines, not pulled down"

    async def test_older_page_keeps_the_top_line_in_place(
        self, irc_server: Server, raw_clients: list[RawClient]
    ) -> None:
        """After an older page lands, the line that was at the top is still at the top."""
        if not irc_server.autojoins:
            pytest.skip("needs chinwag's chathistory")
        await say_lines(irc_server, raw_clients, 80)
        async with running(irc_server) as (app, pilot):
            conv = app.session.conversations[LOBBY]
            await eventually(lambda: "line 79" in view_text(app), "the latest lines")
            await eventually(lambda: not conv.history_loading, "the LATEST answer")
            view = app.chat.query_one(ConversationView)
            view.scroll_home(animate=False, immediate=True)
            await pilot.pause()
            await eventually(lambda: "line 29" in view_text(app), "the page before line 30")
            await pilot.pause()
            top = view.lines[int(view.scroll_y)].text
            assert "line 30" in top, top

    async def test_topic_bar_says_while_history_loads(self, irc_server: Server) -> None:
        """While a history request is unanswered the topic bar says it is loading."""
        async with running(irc_server) as (app, _):
            conv = app.session.conversations[LOBBY]
            await eventually(lambda: not conv.history_loading, "the LATEST answer")
            conv.history_loading = True
            app.session.changed = True
            app.chat.sync()
            assert "loading history" in str(app.chat.query_one("#topic", Static).render())
            conv.history_loading = False


async def test_lines_missed_while_disconnected_come_back_as_history(
    irc_server: Server, raw_clients: list[RawClient]
) -> None:
    """After a dropped connection, what was said meanwhile is shown once, as history."""
    if not irc_server.autojoins:
        pytest.skip("needs chinwag's chathistory")
    await say_lines(irc_server, raw_clients, 2)
    alice, bob = raw_clients
    amy = Harness(irc_server, "amy", backoff_initial=1.0)
    amy.start()
    try:
        await eventually(amy.joined, "amy in #lobby")
        lobby = amy.session.conversations[LOBBY]
        await eventually(lambda: not lobby.history_loading, "the first history")
        writer = amy.connection._writer
        assert writer is not None
        writer.close()  # the network drops us; reconnecting waits about a second
        await eventually(lambda: Status.LOST in amy.statuses, "the loss to be noticed")
        alice.send(f"PRIVMSG {LOBBY} :while amy was away")
        await bob.expect(lambda m: m.command == "PRIVMSG" and m.param(1) == "while amy was away")
        await eventually(lambda: amy.statuses.count(Status.CONNECTED) == 2, "the reconnect")
        await eventually(
            lambda: any(line.text == "while amy was away" for line in lobby.lines),
            "the missed line",
        )
        await eventually(lambda: not lobby.history_loading, "the history after the rejoin")
        said = [line for line in lobby.lines if isinstance(line, ChatLine)]
        assert [line.text for line in said] == ["line 0", "line 1", "while amy was away"]
        assert all(line.history for line in said)
        assert lobby.unread == 0
    finally:
        await amy.stop()


async def test_plain_prints_recent_history_once(
    irc_server: Server, raw_clients: list[RawClient], plains: list[Plain]
) -> None:
    """Plain mode prints the latest lines of #lobby between markers, each with its time."""
    if not irc_server.autojoins:
        pytest.skip("needs chinwag's chathistory")
    await say_lines(irc_server, raw_clients, 3)
    amy = await launch(*server_args(irc_server, "--nick", "amy"))
    plains.append(amy)
    await amy.expect(r"^-- history of #lobby --$")
    await amy.expect(r"^-- end of history --$")
    start = amy.lines.index("-- history of #lobby --")
    block = amy.lines[start + 1 : start + 4]
    assert [row.split("] ", 1)[1] for row in block] == [f"<alice> line {i}" for i in range(3)]
    assert all(row.startswith("[") for row in block)
    alice = raw_clients[0]
    alice.send(f"PRIVMSG {LOBBY} :live now")
    await amy.expect(r"^\[\d\d:\d\d\] <alice> live now$")
    assert amy.lines.count("-- history of #lobby --") == 1
    amy.close_stdin()
    status, _ = await amy.wait()
    assert status == 0
