"""The status line: who I am, where, and whether the connection is up."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from chinwag.client.net import Status

__all__ = ["StatusLine"]


class StatusLine(Static):
    """One line at the bottom: ``amy on test.chinwag | connected``, or a warning when lost."""

    DEFAULT_CSS = """
    StatusLine {
        height: 1;
        background: $panel;
        color: $text;
        padding: 0 1;
    }
    StatusLine.-lost {
        background: $error;
        color: $text;
    }
    """

    _shown: Text | None = None

    def show(
        self,
        nick: str,
        server: str,
        status: Status,
        detail: str,
        away: bool,
        *,
        pending: int = 0,
        unread: list[tuple[str, int, bool]] | None = None,
    ) -> None:
        """Redraw the status line.

        Args:
            pending: lines typed while disconnected, waiting to be sent.
            unread: (name, count, mentions me) of conversations, when their list is hidden.
        """
        text = Text()
        text.append(nick, style="bold")
        if away:
            text.append(" (away)", style="italic")
        if server:
            text.append(f" on {server}")
        message = {
            Status.CONNECTING: f"connecting to {detail}…" if detail else "connecting…",
            Status.REGISTERING: "registering…",
            Status.CONNECTED: "connected",
            Status.LOST: f"connection lost: {detail}",
            Status.CLOSED: "disconnected",
        }[status]
        if pending:
            # Before the connection's message, which can be long enough to be cut off.
            text.append(f" | {pending} pending", style="bold")
        text.append(f" | {message}")
        if unread:
            text.append(" |")
        for name, count, mentioned in unread or []:
            text.append(" ")
            text.append(f"{name} {count}", style="bold reverse " + ("red" if mentioned else ""))
        text.append(" | F1 help  Ctrl+N/P switch  F2 users  Ctrl+Q quit", style="dim")
        self.set_class(status in (Status.LOST, Status.CLOSED), "-lost")
        if text != self._shown:
            # Updating a Static refreshes the layout: only do it when the text changed.
            self._shown = text
            self.update(text)
