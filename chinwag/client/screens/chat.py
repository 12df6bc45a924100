"""The main screen: conversations on the left, the conversation, people on the right.

Theory of operation
-------------------
The connection runs in an exclusive worker (`ChatScreen.connect`) in the app's event loop. It
feeds the shared `Session` itself and posts `LinesReceived` with one batch per socket read. The
screen does not draw per message: batches are collected and drawn together at most every
``REDRAW_INTERVAL`` seconds, so a room sending a thousand lines a second costs a few appends per
frame and typing stays responsive. Only lines of the active conversation are rendered; lists are
redrawn only when the session says something changed (and only when their content differs).
"""

from __future__ import annotations

from rich.text import Text
from textual import events, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Static

from chinwag.client.commands import COMMANDS, Help, execute, parse_input
from chinwag.client.conversation import SERVER_KEY, Member
from chinwag.client.events import ActionLine, ChatLine, Posted
from chinwag.client.messages import LinesReceived, StatusChanged
from chinwag.client.net import ConnectError, Connection, Options, Status
from chinwag.client.render import flat, styled
from chinwag.client.screens.help import HelpScreen
from chinwag.client.screens.nick import NickScreen
from chinwag.client.screens.trust import TrustScreen
from chinwag.client.state import Session
from chinwag.client.widgets import (
    ConversationList,
    ConversationView,
    InputBar,
    StatusLine,
    UserList,
)

__all__ = ["REDRAW_INTERVAL", "ChatScreen"]

REDRAW_INTERVAL = 1 / 30
MAX_ALERTS = 3


class ChatScreen(Screen[None]):
    """Everything the chat shows, driven by the session and the connection worker."""

    BINDINGS = [
        Binding("ctrl+n", "switch(1)", "Next conversation", show=False),
        Binding("ctrl+p", "switch(-1)", "Previous conversation", show=False),
        Binding("f2", "focus_users", "People", show=False),
        Binding("f3", "focus_conversations", "Conversations", show=False),
        Binding("escape", "focus_input", "Input", show=False),
        Binding("pageup", "scroll(-1)", "Scroll up", show=False),
        Binding("pagedown", "scroll(1)", "Scroll down", show=False),
    ]

    def __init__(self, session: Session, options: Options) -> None:
        super().__init__()
        self.session = session
        self.options = options
        self.connection = Connection(
            session,
            options,
            on_lines=self._lines_received,
            on_status=self._status_changed,
            ask_nick=self._ask_nick,
            trust_new=self._trust_new,
        )
        self.status = Status.CLOSED
        self.status_detail = ""
        self.failure: str | None = None
        self._redraw: Timer | None = None
        self._drawn = False
        self._width = 0

    def compose(self) -> ComposeResult:
        """Topic bar, the three columns, input and status."""
        yield Static(id="topic")
        with Horizontal(id="columns"):
            yield ConversationList(id="conversations")
            with Vertical(id="middle"):
                yield ConversationView(
                    self.session.scrollback, formatting=self.options.formatting, id="log"
                )
                yield InputBar(self._candidates, id="input")
            yield UserList(id="users")
        yield StatusLine(id="status")

    def on_mount(self) -> None:
        """Draw the empty state, start connecting, and put the cursor in the input."""
        self.sync()
        self.query_one(InputBar).focus()
        self.connect()

    # -- the connection ------------------------------------------------------------------------

    @work(exclusive=True, group="connection")
    async def connect(self) -> None:
        """Run the connection until quit; the first failure ends the app with an error."""
        try:
            await self.connection.run()
        except ConnectError as exc:
            self.failure = str(exc)
            self.app.exit(return_code=1)

    def _lines_received(self, posted: list[Posted]) -> None:
        self.post_message(LinesReceived(posted))

    def _status_changed(self, status: Status, detail: str) -> None:
        self.post_message(StatusChanged(status, detail))

    async def _ask_nick(self, reason: str) -> str | None:
        return await self.app.push_screen_wait(NickScreen(reason))

    async def _trust_new(self, key: str, fingerprint: str, reason: str) -> bool:
        # The reason may quote names from the certificate, which the server chose.
        return await self.app.push_screen_wait(TrustScreen(key, fingerprint, flat(reason)))

    async def leave(self, message: str = "Leaving") -> None:
        """Send QUIT and close the connection (bounded wait for the server)."""
        await self.connection.quit(message)

    def on_lines_received(self, event: LinesReceived) -> None:
        """Draw at the next redraw tick (the session already holds the lines).

        A private line or a mention in another conversation also pops up a short notice, at most
        a few per batch so that a flood cannot bury the screen in them.
        """
        alerts = [
            p
            for p in event.posted
            if p.key != self.session.active
            and isinstance(p.line, ChatLine | ActionLine)
            and not p.line.own
            and not p.line.history
            and (p.private or p.line.highlight)
        ]
        for posted in alerts[:MAX_ALERTS]:
            line = posted.line
            assert isinstance(line, ChatLine | ActionLine)
            where = "privately" if posted.private else f"in {posted.name}"
            title = flat(f"{line.nick} {where}")
            self.notify(flat(line.text), title=title, timeout=4, markup=False)
        if self._redraw is None:
            self._redraw = self.set_timer(REDRAW_INTERVAL, self._redraw_now)

    def on_status_changed(self, event: StatusChanged) -> None:
        """Show the connection status."""
        self.status, self.status_detail = event.status, event.detail
        self.sync()

    def _redraw_now(self) -> None:
        self._redraw = None
        self.sync()

    # -- drawing -------------------------------------------------------------------------------

    def on_resize(self, event: events.Resize) -> None:
        """Lines were wrapped for the old width: draw them again for the new one."""
        if event.size.width != self._width:
            self._width = event.size.width
            self.query_one(ConversationView).invalidate()
            self.call_after_refresh(self.sync)

    def sync(self) -> None:
        """Bring every widget up to date with the session (cheap when little changed)."""
        session = self.session
        if session.active not in session.conversations:
            session.set_active(SERVER_KEY)
        if session.current.unread:
            session.set_active(session.active)
        behind = self.query_one(ConversationView).sync(session.active, session.current)
        if behind and self._redraw is None:
            self._redraw = self.set_timer(REDRAW_INTERVAL, self._redraw_now)
        if session.changed or not self._drawn:
            session.changed = False
            self._drawn = True
            self._draw_lists()
        self.query_one(StatusLine).show(
            flat(session.nick),
            flat(session.server_name),
            self.status,
            flat(self.status_detail),
            session.away,
        )

    def _draw_lists(self) -> None:
        session = self.session
        conv = session.current
        self.query_one(ConversationList).show(session.conversations, session.active)
        users = self.query_one(UserList)
        if conv.is_channel:
            users.show(conv.sorted_members(session.prefix_map), session.nick)
        elif conv.is_private:
            users.show([Member(conv.name), Member(session.nick)], session.nick)
        else:
            users.show([], session.nick)
        topic = Text()
        if conv.history_loading:
            topic.append("loading history… ", style="italic")
        topic.append(flat(conv.name), style="bold")
        if conv.is_channel:
            state = "" if conv.joined else " (not joined)"
            topic.append(state)
            if conv.topic:
                topic.append("  ")
                topic.append(styled(conv.topic, formatting=self.options.formatting))
        elif conv.is_private:
            topic.append("  private conversation: only you two see it")
        else:
            topic.append("  messages from the server")
        self.query_one("#topic", Static).update(topic)

    def _candidates(self) -> list[str]:
        session = self.session
        nicks = [m.nick for m in session.current.members.values()]
        others = [c.name for c in session.conversations.values() if c.name != "server"]
        names = {flat(name) for name in nicks + others}
        return sorted(names, key=str.casefold) + [f"/{c}" for c in COMMANDS]

    # -- user actions --------------------------------------------------------------------------

    async def on_input_bar_submitted(self, event: InputBar.Submitted) -> None:
        """Run what was typed."""
        command = parse_input(event.text)
        if command is None:
            return
        if isinstance(command, Help):
            self.app.push_screen(HelpScreen())
            return
        outcome = execute(self.session, command)
        if outcome.quit is not None:
            await self.leave(outcome.quit)
            self.app.exit()
            return
        self.connection.flush()
        self.sync()

    def on_user_list_chosen(self, event: UserList.Chosen) -> None:
        """Open a private conversation with the chosen user (not with myself)."""
        if self.session.is_me(event.nick):
            self.notify("That is you: choose someone else to talk to.")
            return
        self.session.open_private(event.nick)
        self.sync()
        self.query_one(InputBar).focus()

    def on_conversation_list_chosen(self, event: ConversationList.Chosen) -> None:
        """Switch to the chosen conversation."""
        self.session.set_active(event.key)
        self.sync()
        self.query_one(InputBar).focus()

    def action_switch(self, step: int) -> None:
        """Go to the next or previous conversation in the list's order."""
        keys = ConversationList.order(self.session.conversations)
        if self.session.active in keys:
            index = (keys.index(self.session.active) + step) % len(keys)
            self.session.set_active(keys[index])
            self.sync()

    def action_focus_users(self) -> None:
        """Move the focus to the people list, on the first person who is not me."""
        users = self.query_one(UserList)
        if users.highlighted is None or self.session.is_me(users.nicks[users.highlighted]):
            others = [i for i, nick in enumerate(users.nicks) if not self.session.is_me(nick)]
            if others:
                users.highlighted = others[0]
        users.focus()

    def action_focus_conversations(self) -> None:
        """Move the focus to the conversation list."""
        self.query_one(ConversationList).focus()

    def action_focus_input(self) -> None:
        """Move the focus back to the input line."""
        self.query_one(InputBar).focus()

    def action_scroll(self, direction: int) -> None:
        """Scroll the conversation by a page; up at the top loads older lines."""
        view = self.query_one(ConversationView)
        if direction < 0:
            if view.scroll_y <= 0:
                self.load_older()
            view.scroll_page_up()
        else:
            view.scroll_page_down()

    def on_conversation_view_top_reached(self, event: ConversationView.TopReached) -> None:
        """The reader scrolled to the top: fetch the page before it."""
        if event.key == self.session.active:
            self.load_older()

    def load_older(self) -> None:
        """Ask the server for the page before the oldest line of the active conversation."""
        if self.session.request_older(self.session.active):
            self.connection.flush()
            self.sync()
