"""/paste: a box to write or paste several lines (code, a log excerpt) and send them at once."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, TextArea

__all__ = ["PasteScreen"]


class PasteScreen(ModalScreen[list[str] | None]):
    """Returns the lines written (Ctrl+S), or None (Escape). Blank lines are left out."""

    DEFAULT_CSS = """
    PasteScreen {
        align: center middle;
    }
    PasteScreen > Vertical {
        width: 90%;
        height: 80%;
        border: thick $accent;
        background: $surface;
        padding: 0 1;
    }
    PasteScreen TextArea {
        height: 1fr;
    }
    """

    BINDINGS = [
        Binding("ctrl+s", "send", "Send", priority=True),
        Binding("escape", "cancel", "Cancel"),
    ]

    def __init__(self, target: str) -> None:
        super().__init__()
        self.target = target

    def compose(self) -> ComposeResult:
        """A hint and the text area."""
        with Vertical():
            yield Label(f"Lines for {self.target}, one message each: Ctrl+S sends, Escape cancels")
            yield TextArea(id="paste-text", soft_wrap=True, show_line_numbers=True)

    def on_mount(self) -> None:
        """Put the cursor in the box."""
        self.query_one(TextArea).focus()

    def action_send(self) -> None:
        """Close with the lines (nothing when the box is empty)."""
        lines = [line for line in self.query_one(TextArea).text.splitlines() if line.strip()]
        self.dismiss(lines or None)

    def action_cancel(self) -> None:
        """Close without sending."""
        self.dismiss(None)
