"""Asked when a TLS server's certificate is not vouched for by any CA and was never seen before."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label

__all__ = ["TrustScreen"]


class TrustScreen(ModalScreen[bool]):
    """Shows the fingerprint; returns True to trust (and remember) it, False to refuse."""

    DEFAULT_CSS = """
    TrustScreen {
        align: center middle;
    }
    TrustScreen > Vertical {
        width: 80;
        max-width: 100%;
        height: auto;
        border: thick $warning;
        background: $surface;
        padding: 1 2;
    }
    TrustScreen #trust-fingerprint {
        text-style: bold;
        margin: 1 0;
    }
    TrustScreen Horizontal {
        height: auto;
        margin-top: 1;
    }
    TrustScreen Button {
        margin-right: 2;
    }
    """

    BINDINGS = [
        Binding("y", "answer(True)", "Trust"),
        Binding("n", "answer(False)", "Refuse"),
        Binding("escape", "answer(False)", "Refuse"),
    ]

    def __init__(self, key: str, fingerprint: str, reason: str) -> None:
        super().__init__()
        self.key = key
        self.fingerprint = fingerprint
        self.reason = reason

    def compose(self) -> ComposeResult:
        """What happened, the fingerprint, and the two answers."""
        with Vertical():
            yield Label(f"The certificate of {self.key} could not be verified: {self.reason}.")
            yield Label("Its SHA-256 fingerprint is:")
            yield Label(self.fingerprint, id="trust-fingerprint")
            yield Label(
                "Trust it only if it is the fingerprint the server's operator gave you. "
                "It will be remembered, and a different certificate will be refused."
            )
            with Horizontal():
                yield Button("Trust and remember (y)", id="trust-yes", variant="warning")
                yield Button("Refuse (n)", id="trust-no", variant="primary")

    def on_mount(self) -> None:
        """Refusing is the default: the focus starts on it."""
        self.query_one("#trust-no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        """Answer with the button pressed."""
        self.dismiss(event.button.id == "trust-yes")

    def action_answer(self, trust: bool) -> None:
        """Answer from a key."""
        self.dismiss(trust)
