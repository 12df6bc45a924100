"""The conversation: a log of rendered lines that only appends; redrawn only on a switch."""

from __future__ import annotations

import itertools

from rich.text import Text
from textual.widgets import RichLog

from chinwag.client.conversation import Conversation
from chinwag.client.events import Line
from chinwag.client.render import render_line

__all__ = ["LINES_PER_FRAME", "ConversationView"]

# Rendering 100 wrapped lines takes ~20 ms: one frame's worth of work, 3,000 lines a second.
LINES_PER_FRAME = 100


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

    def sync(self, key: str, conversation: Conversation, limit: int = LINES_PER_FRAME) -> bool:
        """Show what ``conversation`` holds, appending at most ``limit`` new lines per call.

        ``Conversation.total`` counts every line ever added, so the difference with what this view
        has shown is exactly the lines still to append. A switch (or a cleared log, or falling
        further behind than the scrollback holds) starts again from the oldest line kept. The
        limit keeps one frame cheap: a burst of thousands of lines is drawn over a few frames
        while keys are still handled between them.

        Returns:
            True when lines are still waiting to be drawn (call again on the next frame).
        """
        new = conversation.total - self.shown_total
        if key != self.key or new > len(conversation.lines) or new < 0:
            self.key = key
            self.clear()
            self.plain_lines = []
            self.shown_total = conversation.total - len(conversation.lines)
            new = len(conversation.lines)
        if new:
            take = min(new, limit)
            start = len(conversation.lines) - new
            self.append(list(itertools.islice(conversation.lines, start, start + take)))
            self.shown_total += take
        return conversation.total > self.shown_total

    def invalidate(self) -> None:
        """Forget what is shown, so that the next `sync` draws it all again (new width)."""
        self.key = None

    def append(self, lines: list[Line]) -> None:
        """Add lines at the bottom, as one write (cheap even for a thousand lines)."""
        if not lines:
            return
        text = Text("\n").join(render_line(line) for line in lines)
        self.plain_lines.extend(text.plain.split("\n"))
        if self.max_lines is not None and len(self.plain_lines) > self.max_lines:
            del self.plain_lines[: len(self.plain_lines) - self.max_lines]
        # An explicit width skips measuring the text (the costly part of a write).
        width = self.scrollable_content_region.width
        self.write(text, width=width if width > 0 else None)
