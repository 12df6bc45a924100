"""The "new messages below" marker shown under the conversation while the reader is scrolled up."""

from __future__ import annotations

from textual.widgets import Static

__all__ = ["NewLinesMarker"]


class NewLinesMarker(Static):
    """One line, hidden while there is nothing new below."""

    DEFAULT_CSS = """
    NewLinesMarker {
        height: 1;
        width: 100%;
        background: $accent;
        color: $text;
        text-style: bold;
        padding: 0 1;
        display: none;
    }
    """

    count = 0

    def show_count(self, count: int) -> None:
        """Show how many lines arrived below (hide for 0)."""
        self.count = count
        self.display = count > 0
        if count:
            self.update(f"▼ {count} new line{'s' if count != 1 else ''} below (PageDown)")
