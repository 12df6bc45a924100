"""The full-screen chinwag client (Textual). The app owns global keys and screens, nothing else.

Leaving sends QUIT whichever way it happens: Ctrl+Q or Ctrl+C, ``/quit``, Textual's own quit
action, the terminal window closing (SIGHUP), or any other exit (the chat screen says goodbye
when it is unmounted). Textual's command palette is off: its key, Ctrl+P, is "previous
conversation" here, and its Quit used to leave without a word to the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal

from textual.app import App
from textual.binding import Binding

from chinwag.client.net import Options
from chinwag.client.screens import ChatScreen, HelpScreen
from chinwag.client.session import Session
from chinwag.client.settings import Settings

__all__ = ["ChatApp"]


class ChatApp(App[None]):
    """``chinwag connect``: chat in a terminal."""

    CSS_PATH = "chinwag.tcss"
    TITLE = "chinwag"
    ENABLE_COMMAND_PALETTE = False
    BINDINGS = [
        Binding("f1", "help", "Help"),
        Binding("ctrl+q", "leave", "Quit", priority=True),
        Binding("ctrl+c", "leave", "Quit", priority=True),
    ]

    def __init__(
        self, session: Session, options: Options, settings: Settings | None = None
    ) -> None:
        super().__init__()
        self.session = session
        self.options = options
        self.settings = settings if settings is not None else Settings()
        session.ignores = list(self.settings.ignore)
        session.notify = self.settings.notify
        self.chat = ChatScreen(session, options, self.settings)
        self._hangup_handled = False

    @property
    def failure(self) -> str | None:
        """Why the first connection failed, if it did."""
        return self.chat.failure

    def on_mount(self) -> None:
        """Show the chat; leave properly when the terminal goes away (SIGHUP)."""
        self.push_screen(self.chat)
        if self.settings.problem:
            self.session.error(self.settings.problem)
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            # Only the main thread may; a closed window must still say QUIT.
            asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, self._hung_up)
            self._hangup_handled = True

    def on_unmount(self) -> None:
        """Give SIGHUP back to its default."""
        if self._hangup_handled:
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                asyncio.get_running_loop().remove_signal_handler(signal.SIGHUP)

    def _hung_up(self) -> None:
        self.run_worker(self.action_leave("Terminal closed"), group="leave")

    def action_help(self) -> None:
        """Show the keys and commands (unless they are already shown)."""
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    async def action_leave(self, message: str = "Leaving") -> None:
        """Send QUIT, then exit."""
        await self.chat.leave(message)
        self.exit()

    async def action_quit(self) -> None:
        """Textual's quit action: leave as Ctrl+Q does (QUIT first)."""
        await self.action_leave()
