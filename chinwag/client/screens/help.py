"""F1 / /help: the keys and the commands."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from chinwag.client.user_commands import help_lines

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


def help_text() -> Text:
    """The help as styled text: keys first, then commands."""
    text = Text()
    text.append("Keys\n", style="bold underline")
    width = max(len(key) for key, _ in KEYS)
    for key, what in KEYS:
        text.append(f"  {key:<{width}}  ", style="bold")
        text.append(f"{what}\n")
    text.append("\nCommands\n", style="bold underline")
    for line in help_lines():
        text.append(f"  {line}\n")
    text.append("\nClick a name in the people list, or /users then /msg N text, to talk privately.")
    return text


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
