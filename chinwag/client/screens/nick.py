"""Asked when the server refuses a nick: explains why and takes another one."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label

from chinwag.client.render import flat
from chinwag.protocol import is_valid_nick

__all__ = ["NickScreen"]

_NICKLEN = 30


class NickScreen(ModalScreen[str | None]):
    """Returns the new nick, or None when the user gives up (Escape)."""

    DEFAULT_CSS = """
    NickScreen {
        align: center middle;
    }
    NickScreen > Vertical {
        width: 60;
        max-width: 100%;
        height: auto;
        border: thick $warning;
        background: $surface;
        padding: 1 2;
    }
    NickScreen #nick-problem {
        color: $warning;
        width: 100%;
    }
    """

    BINDINGS = [Binding("escape", "give_up", "Give up")]

    def __init__(self, reason: str) -> None:
        super().__init__()
        self.reason = reason

    def compose(self) -> ComposeResult:
        """The reason, a hint, and the nick input."""
        with Vertical():
            yield Label(Text(flat(self.reason)), id="nick-reason")
            yield Label("Choose another nick (Escape to quit):")
            yield Input(placeholder="nick", id="nick-input")
            yield Label("", id="nick-problem")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Accept a valid nick; explain an invalid one."""
        nick = event.value.strip()
        if is_valid_nick(nick, _NICKLEN):
            self.dismiss(nick)
        else:
            self.query_one("#nick-problem", Label).update(
                "Letters, digits and -_[]{}\\|^` only, not starting with a digit or -"
            )

    def action_give_up(self) -> None:
        """Close without a nick."""
        self.dismiss(None)
