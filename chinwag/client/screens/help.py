"""F1 / /help: the keys and the commands."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from chinwag.client.user_commands import COMMANDS

__all__ = ["KEYS", "HelpScreen", "help_text"]

KEYS: list[tuple[str, str]] = [
    ("Enter", "send the line (a message, or a /command)"),
    ("Up / Down", "walk through what you typed before"),
    ("Tab", "complete a nick, #room or /command (again: next match)"),
    ("Ctrl+N / Ctrl+P", "next / previous conversation"),
    ("F2", "people list: Enter on a name opens a private conversation"),
    ("F3", "go to the conversation list"),
    ("F4", "show / hide the side panels (hidden on a narrow terminal)"),
    ("Escape", "back to the input line"),
    ("PageUp / PageDown", "scroll the conversation (PageUp at the top: older lines)"),
    ("F1", "this help"),
    ("Ctrl+Q / Ctrl+C", "quit (sends QUIT)"),
]


def _two_columns(rows: list[tuple[str, str]]) -> Table:
    """Name and meaning side by side; a long meaning wraps under itself, not under the name."""
    table = Table.grid(padding=(0, 2), pad_edge=True)
    table.add_column(no_wrap=True)
    table.add_column()
    for name, what in rows:
        # Text, not str: "[#room]" is not Rich markup.
        table.add_row(Text(name, style="bold"), Text(what))
    return table


def help_text() -> RenderableType:
    """The help: keys first, then commands."""
    return Group(
        Text("Keys", style="bold underline"),
        _two_columns(KEYS),
        Text("\nCommands", style="bold underline"),
        _two_columns(list(COMMANDS.values())),
        Text("\nClick a name in the people list, or /users then /msg N text, to talk privately."),
    )


class HelpScreen(ModalScreen[None]):
    """A modal with the keys and commands; Escape, F1 or q closes it."""

    DEFAULT_CSS = """
    HelpScreen {
        align: center middle;
    }
    HelpScreen > VerticalScroll {
        width: 90;
        max-width: 100%;
        height: auto;
        max-height: 90%;
        border: thick $accent;
        background: $surface;
        padding: 1 2;
    }
    """

    BINDINGS = [
        Binding("escape,f1,q", "dismiss", "Close"),
    ]

    def compose(self) -> ComposeResult:
        """The help text in a scrollable box."""
        with VerticalScroll():
            yield Static(help_text(), id="help-text")
