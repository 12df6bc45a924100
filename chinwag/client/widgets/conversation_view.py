"""The conversation: a log of rendered lines that appends; redrawn on a switch or merged history.

Scrolling: the view follows new lines only while it is at the bottom. Scrolling up stops that (so
a busy room does not pull the reader away) and scrolling back to the bottom resumes it. Lines
that arrive meanwhile are counted in `ConversationView.unseen`, and every change of that count is
posted as `ConversationView.UnseenChanged` (the screen shows "new messages below"). Reaching
the top posts `ConversationView.TopReached`, which the screen answers with an older history page;
when that page lands before every line shown, the line that was at the top stays at the top.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from rich.text import Text
from textual import events
from textual.message import Message
from textual.widgets import RichLog

from chinwag.client.conversation import Conversation
from chinwag.client.lines import Line
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

    @dataclass
    class TopReached(Message):
        """The reader scrolled to the top of the conversation (time for older lines)."""

        key: str

    @dataclass
    class UnseenChanged(Message):
        """How many lines arrived below while the reader was scrolled up (0: caught up)."""

        unseen: int

    def __init__(self, max_lines: int, *, formatting: bool = True, id: str | None = None) -> None:
        super().__init__(max_lines=max_lines, wrap=True, markup=False, auto_scroll=True, id=id)
        self.formatting = formatting
        self.can_focus = False
        self.plain_lines: list[str] = []
        self.key: str | None = None
        self.shown_total = 0
        self.rewrites = 0
        self.follow = True
        self.unseen = 0
        self._syncing = False
        self._behind = False

    def sync(self, key: str, conversation: Conversation, limit: int = LINES_PER_FRAME) -> bool:
        """Show what ``conversation`` holds, appending at most ``limit`` new lines per call.

        ``Conversation.total`` counts every line ever added, so the difference with what this view
        has shown is exactly the lines still to append. A switch (or a cleared log, history merged
        among the lines, or falling further behind than the scrollback holds) starts again from
        the oldest line kept. The limit keeps one frame cheap: a burst of thousands of lines is
        drawn over a few frames while keys are still handled between them.

        Returns:
            True when lines are still waiting to be drawn (call again on the next frame).
        """
        self._syncing = True
        try:
            return self._sync(key, conversation, limit)
        finally:
            self._syncing = False

    def _sync(self, key: str, conversation: Conversation, limit: int) -> bool:
        new = conversation.total - self.shown_total
        rewritten = key == self.key and conversation.rewrites != self.rewrites
        if key != self.key:
            self.follow = True
            self._set_unseen(0)
        elif not self._behind:
            # While catching up, the bottom is not the end yet: keep the last decision.
            self.follow = self.is_vertical_scroll_end
        redraw = key != self.key or rewritten or new > len(conversation.lines) or new < 0
        if redraw:
            keep_top = rewritten and not self.follow and conversation.prepended > 0
            offset = self.scroll_y
            self.key = key
            self.rewrites = conversation.rewrites
            self.clear()
            self.plain_lines = []
            self.shown_total = conversation.total - len(conversation.lines)
            new = len(conversation.lines)
            if keep_top:
                # Draw the older page, then a screenful after it, and put the line that was at
                # the top back at the top.
                self.append(list(itertools.islice(conversation.lines, 0, conversation.prepended)))
                rows = len(self.lines)
                more = min(new, conversation.prepended + int(offset) + self.size.height + 1)
                self.append(
                    list(itertools.islice(conversation.lines, conversation.prepended, more))
                )
                self.shown_total += more
                new -= more
                self.scroll_to(y=rows + offset, animate=False, immediate=True)
        if new:
            take = min(new, limit)
            start = len(conversation.lines) - new
            self.append(list(itertools.islice(conversation.lines, start, start + take)))
            self.shown_total += take
            if not self.follow and not redraw:
                self._set_unseen(self.unseen + take)
        self._behind = conversation.total > self.shown_total
        return self._behind

    def invalidate(self) -> None:
        """Forget what is shown, so that the next `sync` draws it all again (new width)."""
        self.key = None

    def append(self, lines: list[Line]) -> None:
        """Add lines at the bottom, as one write (cheap even for a thousand lines)."""
        if not lines:
            return
        text = Text("\n").join(render_line(line, formatting=self.formatting) for line in lines)
        self.plain_lines.extend(text.plain.split("\n"))
        if self.max_lines is not None and len(self.plain_lines) > self.max_lines:
            del self.plain_lines[: len(self.plain_lines) - self.max_lines]
        # An explicit width skips measuring the text (the costly part of a write).
        width = self.scrollable_content_region.width
        # Writes made before the size is known are deferred, and so is their scroll to the end;
        # otherwise scroll now: a scroll left for after the refresh would undo a reader's
        # scroll up made in between.
        # (RichLog knows its size one resize event after the layout does: until then it defers.)
        deferred = self.follow and not self._size_known
        self.write(text, width=width if width > 0 else None, scroll_end=deferred)
        if self.follow:
            # At once, not after the next refresh: the next sync reads the position to know
            # whether the reader is still at the bottom.
            self.scroll_end(animate=False, immediate=True, x_axis=False)

    def jump_to_end(self) -> None:
        """Scroll to the newest line and follow again (after sending, or on request)."""
        self.follow = True
        self.scroll_end(animate=False, immediate=True, x_axis=False)
        self._set_unseen(0)

    def _set_unseen(self, count: int) -> None:
        if count != self.unseen:
            self.unseen = count
            self.post_message(self.UnseenChanged(count))

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        """Say so when the reader scrolls up to the top."""
        super().watch_scroll_y(old_value, new_value)
        if self.unseen and self.is_vertical_scroll_end:
            self._set_unseen(0)
        if not self._syncing and new_value <= 0 < old_value and self.key is not None:
            self.post_message(self.TopReached(self.key))

    def on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        """Scrolling up while already at the top asks for older lines again."""
        if self.scroll_y <= 0 and self.key is not None:
            self.post_message(self.TopReached(self.key))
