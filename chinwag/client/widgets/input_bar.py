"""The input line: Enter sends, Up/Down walk the history, Tab completes nicks, rooms, commands.

A paste of several lines is neither glued into one line nor cut to its first line (what a plain
`Input` does): it is posted whole as `InputBar.Pasted`, and the screen decides how to send it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from textual import events
from textual.binding import Binding
from textual.message import Message
from textual.widgets import Input

__all__ = ["InputBar", "complete"]

HISTORY_SIZE = 500


def complete(value: str, cursor: int, candidates: list[str]) -> list[tuple[str, int]]:
    """Every completion of the word before ``cursor``, as (new value, new cursor) pairs.

    A nick completed at the start of the line gets ``": "`` after it, as IRC clients do.
    """
    start = value.rfind(" ", 0, cursor) + 1
    word = value[start:cursor]
    if not word:
        return []
    folded = word.casefold()
    out: list[tuple[str, int]] = []
    for candidate in candidates:
        if candidate.casefold().startswith(folded):
            suffix = " "
            if start == 0 and not candidate.startswith(("/", "#", "&")):
                suffix = ": "
            new = value[:start] + candidate + suffix + value[cursor:].lstrip(" ")
            out.append((new, start + len(candidate) + len(suffix)))
    return out


class InputBar(Input):
    """Where the user types; posts `InputBar.Submitted`. One history for all conversations."""

    DEFAULT_CSS = """
    InputBar {
        dock: bottom;
        border: tall $panel;
    }
    InputBar:focus {
        border: tall $accent;
    }
    """

    BINDINGS = [
        Binding("up", "history(-1)", "Previous", show=False),
        Binding("down", "history(1)", "Next", show=False),
        Binding("tab", "complete", "Complete", show=False),
    ]

    @dataclass
    class Submitted(Message):
        """The user pressed Enter on a non-empty line."""

        text: str

    @dataclass
    class Pasted(Message):
        """Several lines were pasted (what was already typed joins the first one)."""

        lines: list[str]

    def __init__(
        self,
        candidates: Callable[[], list[str]],
        *,
        secret: Callable[[str], bool] = lambda text: False,
        id: str | None = None,
    ) -> None:
        super().__init__(placeholder="Type a message or /help", id=id)
        self._secret = secret
        self.history: list[str] = []
        self._history_index = 0
        self._draft = ""
        self._candidates = candidates
        self._completions: list[tuple[str, int]] = []
        self._completion_index = 0
        self._completed: tuple[str, int] | None = None

    async def action_submit(self) -> None:
        """Send the line: remember it, clear the bar, post `InputBar.Submitted`."""
        text = self.value
        if not text.strip():
            return
        if self._secret(text):
            pass  # a password never goes into the history
        elif not self.history or self.history[-1] != text:
            self.history.append(text)
            del self.history[:-HISTORY_SIZE]
        self._history_index = len(self.history)
        self._draft = ""
        self.value = ""
        self.post_message(self.Submitted(text))

    def action_history(self, step: int) -> None:
        """Show the previous (step -1) or next (step 1) line of the history."""
        if not self.history:
            return
        if self._history_index == len(self.history):
            self._draft = self.value
        index = max(0, min(len(self.history), self._history_index + step))
        self._history_index = index
        self.value = self.history[index] if index < len(self.history) else self._draft
        self.cursor_position = len(self.value)

    def action_complete(self) -> None:
        """Complete the word before the cursor; Tab again cycles through the other matches."""
        if self._completed != (self.value, self.cursor_position):
            self._completions = complete(self.value, self.cursor_position, self._candidates())
            self._completion_index = 0
        elif self._completions:
            self._completion_index = (self._completion_index + 1) % len(self._completions)
        if not self._completions:
            self.app.bell()
            return
        value, cursor = self._completions[self._completion_index]
        self.value = value
        self.cursor_position = cursor
        self._completed = (value, cursor)

    def _on_paste(self, event: events.Paste) -> None:
        """Several lines go to the screen whole; one is inserted (blank lines around it cut)."""
        lines = event.text.splitlines()
        while lines and not lines[-1].strip():
            lines.pop()
        while lines and not lines[0].strip():
            lines.pop(0)
        event.prevent_default()
        event.stop()
        if len(lines) == 1:
            selection = self.selection
            if selection.is_empty:
                self.insert_text_at_cursor(lines[0])
            else:
                self.replace(lines[0], *selection)
            return
        if not lines:
            return
        lines[0] = self.value + lines[0]
        self.value = ""
        self.post_message(self.Pasted(lines))
