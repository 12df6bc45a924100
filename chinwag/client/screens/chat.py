"""The main screen: conversations on the left, the conversation, people on the right.

Theory of operation
-------------------
The connection runs in an exclusive worker (`ChatScreen.connect`) in the app's event loop. It
feeds the shared `Session` itself and posts `ChatScreen.LinesReceived` with one batch per socket
read. The screen does not draw per message: batches are collected and drawn together at most every
``REDRAW_INTERVAL`` seconds, so a room sending a thousand lines a second costs a few appends per
frame and typing stays responsive. Only lines of the active conversation are rendered; lists are
redrawn only when the session says something changed (and only when their content differs).

Pasting several lines sends them as separate messages to the conversation the paste was made in;
more than `PASTE_ASK_OVER` lines are sent only after a yes to "Send 14 lines to #lobby?". Pasted
lines and typed ones share one token bucket: `PASTE_BURST` lines at once, then one per
`PASTE_INTERVAL` (irssi paces the same way, so a server's flood control never cuts us off). A
person typing never meets the limit; a paste the terminal did not bracket (one Enter per line)
does, and is paced like any other, in order. On a narrow terminal the side panels make room for the
conversation (`NARROW_USERS`, `NARROW_CHATS`); F4 shows or hides them whatever the width.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass

from rich.text import Text
from textual import events, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Static

from chinwag.client.attention import osc_notification
from chinwag.client.command_runner import Outcome, execute
from chinwag.client.conversation import SERVER_KEY, Member
from chinwag.client.lines import ActionLine, ChatLine, Posted
from chinwag.client.net import ConnectError, Options, ServerConnection, Status
from chinwag.client.outgoing import say_or_hold
from chinwag.client.render import flat, styled
from chinwag.client.screens.confirm import ConfirmScreen
from chinwag.client.screens.help import HelpScreen
from chinwag.client.screens.nick import NickScreen
from chinwag.client.screens.paste import PasteScreen
from chinwag.client.screens.trust import TrustScreen
from chinwag.client.session import Session
from chinwag.client.settings import Settings
from chinwag.client.user_commands import COMMANDS, Help, Me, Say, is_secret, parse_input
from chinwag.client.widgets import (
    ConversationList,
    ConversationView,
    InputBar,
    NewLinesMarker,
    StatusLine,
    UserList,
)

__all__ = [
    "NARROW_CHATS",
    "NARROW_USERS",
    "PASTE_ASK_OVER",
    "PASTE_BURST",
    "PASTE_INTERVAL",
    "REDRAW_INTERVAL",
    "ChatScreen",
]

REDRAW_INTERVAL = 1 / 30
MAX_ALERTS = 3
PASTE_ASK_OVER = 5
"""A paste of more lines than this asks first (irssi's paste_verify_line_count)."""
PASTE_BURST = 4
PASTE_INTERVAL = 0.5
"""Seconds between pasted lines after the first `PASTE_BURST`."""
NARROW_USERS = 82
"""Below this width the people list hides (the conversation keeps 40 columns or more)."""
NARROW_CHATS = 62
"""Below this width the conversation list hides too."""


class ChatScreen(Screen[None]):
    """Everything the chat shows, driven by the session and the connection worker."""

    @dataclass
    class LinesReceived(Message):
        """The connection read a batch from the server; ``posted`` is what it added."""

        posted: list[Posted]

    @dataclass
    class StatusChanged(Message):
        """The connection status changed (connecting, connected, lost, closed)."""

        status: Status
        detail: str

    BINDINGS = [
        Binding("ctrl+n", "switch(1)", "Next conversation", show=False),
        Binding("ctrl+p", "switch(-1)", "Previous conversation", show=False),
        Binding("f2", "focus_users", "People", show=False),
        Binding("f3", "focus_conversations", "Conversations", show=False),
        Binding("escape", "focus_input", "Input", show=False),
        Binding("pageup", "scroll(-1)", "Scroll up", show=False),
        Binding("pagedown", "scroll(1)", "Scroll down", show=False),
        Binding("f4", "toggle_panels", "Panels", show=False),
    ]

    def __init__(
        self, session: Session, options: Options, settings: Settings | None = None
    ) -> None:
        super().__init__()
        self.session = session
        self.options = options
        self.settings = settings if settings is not None else Settings()
        self.paste_interval = PASTE_INTERVAL
        self.alerts_given = 0
        self.panels: bool | None = None
        """Side panels: None follows the width; True / False after F4."""
        self._paste: deque[tuple[str, str, bool]] = deque()  # (target, text, is an action)
        self._paste_timer: Timer | None = None
        self._tokens = float(PASTE_BURST)
        self._tokens_at = time.monotonic()
        self.connection = ServerConnection(
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
                yield NewLinesMarker(id="below")
                yield InputBar(self._candidates, secret=is_secret, id="input")
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
        self.post_message(self.LinesReceived(posted))

    def _status_changed(self, status: Status, detail: str) -> None:
        self.post_message(self.StatusChanged(status, detail))

    async def _ask_nick(self, reason: str) -> str | None:
        return await self.app.push_screen_wait(NickScreen(reason))

    async def _trust_new(self, key: str, fingerprint: str, reason: str) -> bool:
        # The reason may quote names from the certificate, which the server chose.
        return await self.app.push_screen_wait(TrustScreen(key, fingerprint, flat(reason)))

    async def leave(self, message: str = "Leaving") -> None:
        """Send QUIT and close the connection (bounded wait for the server)."""
        await self.connection.quit(message)

    async def on_unmount(self) -> None:
        """However the app ends, the server hears QUIT (unless that was done already)."""
        if not self.connection.quitting:
            await self.leave()

    def on_chat_screen_lines_received(self, event: ChatScreen.LinesReceived) -> None:
        """Draw at the next redraw tick (the session already holds the lines).

        A private line or a mention in another conversation (or in this one, while the terminal
        window is in the background) also pops up a short notice, at most a few per batch so
        that a flood cannot bury the screen in them, and gets attention as /notify says.
        """
        alerts = [
            p
            for p in event.posted
            if (p.key != self.session.active or not self.app.app_focus)
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
        if alerts:
            line = alerts[-1].line
            assert isinstance(line, ChatLine | ActionLine)
            where = "privately" if alerts[-1].private else f"in {alerts[-1].name}"
            self.attract(flat(f"{line.nick} {where}"), flat(line.text))
        if self._redraw is None:
            self._redraw = self.set_timer(REDRAW_INTERVAL, self._redraw_now)

    def on_chat_screen_status_changed(self, event: ChatScreen.StatusChanged) -> None:
        """Show the connection status."""
        self.status, self.status_detail = event.status, event.detail
        self.sync()

    def _redraw_now(self) -> None:
        self._redraw = None
        self.sync()

    def attract(self, title: str, text: str) -> None:
        """Ring the bell, or ask the terminal for a desktop notification, as /notify says."""
        mode = self.session.notify
        if mode == "off":
            return
        self.alerts_given += 1
        if mode == "bell":
            self.app.bell()
            return
        driver = self.app._driver  # as App.bell and App.copy_to_clipboard write theirs
        if not self.app.is_headless and driver is not None:
            driver.write(osc_notification(mode, title, text))

    # -- drawing -------------------------------------------------------------------------------

    def on_resize(self, event: events.Resize) -> None:
        """Lines were wrapped for the old width: draw them again for the new one."""
        self._lay_out_panels(event.size.width)
        if event.size.width != self._width:
            self._width = event.size.width
            self.query_one(ConversationView).invalidate()
            self.call_after_refresh(self.sync)

    def _lay_out_panels(self, width: int) -> None:
        """Hide the side panels that would leave the conversation too narrow (unless F4 said)."""
        show_users = width >= NARROW_USERS if self.panels is None else self.panels
        show_chats = width >= NARROW_CHATS if self.panels is None else self.panels
        self.set_class(not show_users, "-hide-users")
        if self.has_class("-hide-chats") == show_chats:
            self.set_class(not show_chats, "-hide-chats")
            self.call_after_refresh(self.sync)  # unread counts move to or from the status line

    def action_toggle_panels(self) -> None:
        """F4: show both side panels, or hide both when both are shown."""
        both_shown = not (self.has_class("-hide-users") or self.has_class("-hide-chats"))
        self.panels = not both_shown
        self._lay_out_panels(self.size.width)
        self.call_after_refresh(self._rewrap)

    def _rewrap(self) -> None:
        self.query_one(ConversationView).invalidate()
        self.sync()

    def on_conversation_view_unseen_changed(self, event: ConversationView.UnseenChanged) -> None:
        """Show or hide "new messages below"."""
        self.query_one(NewLinesMarker).show_count(event.unseen)

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
        unread = None
        if self.has_class("-hide-chats"):
            # The conversation list is hidden: its unread counts go to the status line.
            unread = [
                (conv.name, conv.unread, conv.mentions > 0)
                for key in ConversationList.order(session.conversations)
                for conv in (session.conversations[key],)
                if conv.unread
            ]
        self.query_one(StatusLine).show(
            flat(session.nick),
            flat(session.server_name),
            self.status,
            flat(self.status_detail),
            session.away,
            pending=sum(len(held) for held in session.pending.values()),
            unread=unread,
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
        if isinstance(command, Say | Me) and (self._paste or not self._take_token()):
            # Typed faster than anyone types (an unbracketed paste), or behind a paced paste.
            target = self._paste_target()
            if target is not None:
                self._queue(target, [command.text], action=isinstance(command, Me))
            return
        outcome = execute(self.session, command, paste_box=True)
        if outcome.quit is not None:
            await self.leave(outcome.quit)
            self.app.exit()
            return
        self._follow_up(outcome)
        self.query_one(ConversationView).jump_to_end()
        self.connection.flush()
        self.sync()

    def _follow_up(self, outcome: Outcome) -> None:
        """What a command leaves to the frontend: saving the settings, the paste box."""
        if outcome.settings_changed:
            self.settings.ignore = list(self.session.ignores)
            self.settings.notify = self.session.notify
            self._save_settings()
        if outcome.paste:
            self.open_paste_box()

    def _save_settings(self) -> None:
        try:
            self.settings.save()
        except OSError as exc:
            self.session.error(f"Could not save the settings: {exc}")

    # -- pasting -------------------------------------------------------------------------------

    def _paste_target(self) -> str | None:
        """The conversation pasted lines go to, or None (and why) when there is none."""
        if self.session.active == SERVER_KEY:
            self.session.error("This is the server window: /join #room or /query NICK first")
            self.sync()
            return None
        return self.session.current.name

    def on_input_bar_pasted(self, event: InputBar.Pasted) -> None:
        """Several lines were pasted: send them paced, asking first when there are many."""
        self.send_lines(event.lines)

    @work(group="paste")
    async def send_lines(self, lines: list[str]) -> None:
        """Send ``lines`` as separate messages to the current conversation (asking over 5)."""
        target = self._paste_target()
        if target is None:
            return
        if len(lines) > PASTE_ASK_OVER:
            first = lines[0] if len(lines[0]) <= 60 else lines[0][:59] + "…"
            question = f"Send {len(lines)} lines to {target}?"
            detail = f"One message each, paced by the client. The first: {first}"
            if not await self.app.push_screen_wait(ConfirmScreen(question, detail)):
                self.session.note(f"The {len(lines)} pasted lines were not sent")
                self.sync()
                return
        self._queue(target, lines)

    def _queue(self, target: str, lines: list[str], *, action: bool = False) -> None:
        """Send ``lines`` to ``target`` as the token bucket allows, the rest on a timer."""
        self._paste.extend((target, line, action) for line in lines if line.strip())
        self.query_one(ConversationView).jump_to_end()
        self._send_paced()
        if self._paste and self._paste_timer is None:
            self._paste_timer = self.set_interval(self.paste_interval, self._send_paced)

    def _take_token(self) -> bool:
        """One line's worth of the bucket: `PASTE_BURST` deep, one more per `paste_interval`."""
        now = time.monotonic()
        refill = (now - self._tokens_at) / self.paste_interval
        self._tokens, self._tokens_at = min(float(PASTE_BURST), self._tokens + refill), now
        if self._tokens < 1:
            return False
        self._tokens -= 1
        return True

    def _send_paced(self) -> None:
        sent = False
        while self._paste and self._take_token():
            target, text, action = self._paste.popleft()
            say_or_hold(self.session, target, text, action=action)
            sent = True
        if not self._paste and self._paste_timer is not None:
            self._paste_timer.stop()
            self._paste_timer = None
        if sent:
            self.connection.flush()
            self.sync()

    @work(group="paste")
    async def open_paste_box(self) -> None:
        """/paste: a box for several lines; what is written there is sent as a paste is."""
        target = self._paste_target()
        if target is None:
            return
        lines = await self.app.push_screen_wait(PasteScreen(target))
        if lines:
            self.send_lines(lines)

    def on_user_list_chosen(self, event: UserList.Chosen) -> None:
        """Open a private conversation with the chosen user (not with myself)."""
        if self.session.is_me(event.nick):
            # Back to the input all the same: the next line typed must not go to the list.
            self.notify("That is you: choose someone else to talk to.")
            self.query_one(InputBar).focus()
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
        """Move the focus to the people list (shown if hidden), on the first person but me."""
        if self.has_class("-hide-users"):
            self.panels = True
            self._lay_out_panels(self.size.width)
        users = self.query_one(UserList)
        if users.highlighted is None or self.session.is_me(users.nicks[users.highlighted]):
            others = [i for i, nick in enumerate(users.nicks) if not self.session.is_me(nick)]
            if others:
                users.highlighted = others[0]
        users.focus()

    def action_focus_conversations(self) -> None:
        """Move the focus to the conversation list (shown if hidden)."""
        if self.has_class("-hide-chats"):
            self.panels = True
            self._lay_out_panels(self.size.width)
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
