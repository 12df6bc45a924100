"""The full-screen chinwag client (Textual). The app owns global keys and screens, nothing else."""

from __future__ import annotations

from textual.app import App
from textual.binding import Binding

from chinwag.client.net import Options
from chinwag.client.screens import ChatScreen, HelpScreen
from chinwag.client.session import Session

__all__ = ["ChatApp"]


class ChatApp(App[None]):
    """``chinwag connect``: chat in a terminal."""

    CSS_PATH = "chinwag.tcss"
    TITLE = "chinwag"
    BINDINGS = [
        Binding("f1", "help", "Help"),
        Binding("ctrl+q", "leave", "Quit", priority=True),
        Binding("ctrl+c", "leave", "Quit", priority=True),
    ]

    def __init__(self, session: Session, options: Options) -> None:
        super().__init__()
        self.session = session
        self.options = options
        self.chat = ChatScreen(session, options)

    @property
    def failure(self) -> str | None:
        """Why the first connection failed, if it did."""
        return self.chat.failure

    def on_mount(self) -> None:
        """Show the chat."""
        self.push_screen(self.chat)

    def action_help(self) -> None:
        """Show the keys and commands (unless they are already shown)."""
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    async def action_leave(self) -> None:
        """Send QUIT, then exit."""
        await self.chat.leave()
        self.exit()
