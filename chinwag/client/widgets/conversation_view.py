"""The conversation: a log of rendered lines that only appends; redrawn only on a switch."""

from __future__ import annotations

import itertools

from rich.text import Text
from textual.widgets import RichLog

from chinwag.client.conversation import Conversation
from chinwag.client.events import Line
from chinwag.client.render import render_line

__all__ = ["ConversationView"]


class ConversationView(RichLog):
    """Shows one conversation. New lines are appended in batches; nothing is re-rendered."""

    DEFAULT_CSS = """
    ConversationView {
        background: $surface;
        border: none;
        padding: 0 1;
        scrollbar-size-vertical: 1;
    }
    """

    def __init__(self, max_lines: int, *, id: str | None = None) -> None:
        super().__init__(max_lines=max_lines, wrap=True, markup=False, auto_scroll=True, id=id)
        self.can_focus = False
        self.plain_lines: list[str] = []
        self.key: str | None = None
        self.shown_total = 0

    def sync(self, key: str, conversation: Conversation) -> None:
        """Show what ``conversation`` holds: append only its new lines, or redraw on a switch.

        ``Conversation.total`` counts every line ever added, so the difference with what this view
        has shown is exactly the lines to append; when more are missing than the scrollback holds
        (or it was cleared), the view is redrawn from the scrollback.
        """
        new = conversation.total - self.shown_total
        if key != self.key or new > len(conversation.lines) or new < 0:
            self.key = key
            self.clear()
            self.plain_lines = []
            self.append(list(conversation.lines))
        elif new:
            start = len(conversation.lines) - new
            self.append(list(itertools.islice(conversation.lines, start, None)))
        self.shown_total = conversation.total

    def append(self, lines: list[Line]) -> None:
        """Add lines at the bottom, as one write (cheap even for a thousand lines)."""
        if not lines:
            return
        text = Text("\n").join(render_line(line) for line in lines)
        self.plain_lines.extend(text.plain.split("\n"))
        if self.max_lines is not None and len(self.plain_lines) > self.max_lines:
            del self.plain_lines[: len(self.plain_lines) - self.max_lines]
        self.write(text)
