"""The sidebar list of people in the current room; choosing one opens a private conversation."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.message import Message
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from chinwag.client.conversation import Member
from chinwag.client.render import flat, nick_colour

__all__ = ["UserList"]


class UserList(OptionList):
    """Members of the current room, ops first; Enter or a click chooses one."""

    DEFAULT_CSS = """
    UserList {
        width: 22;
        height: 100%;
        max-height: 100%;
        border: tall $panel;
        padding: 0 1;
    }
    UserList:focus {
        border: tall $accent;
    }
    """

    @dataclass
    class Chosen(Message):
        """A user was chosen (Enter or click): open a private conversation with ``nick``."""

        nick: str

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.border_title = "People"
        self.nicks: list[str] = []
        self._entries: list[tuple[str, str, bool]] = []

    def show(self, members: list[Member], me: str) -> None:
        """Show ``members`` (already sorted), keeping the highlighted user when still there."""
        nicks = [m.nick for m in members]
        entries = [(m.nick, m.prefixes[:1], m.away) for m in members]
        if entries == self._entries:
            return
        self._entries = entries
        keep = self.highlighted_option.id if self.highlighted_option is not None else None
        options = []
        for member in members:
            prompt = Text(member.prefixes[:1] or " ", style="bold")
            style = "dim italic" if member.away else nick_colour(member.nick)
            prompt.append(flat(member.nick), style=f"{style} bold" if member.nick == me else style)
            options.append(Option(prompt, id=member.nick))
        self.set_options(options)
        self.nicks = nicks
        self.border_title = f"People ({len(nicks)})"
        if keep in nicks:
            self.highlighted = nicks.index(keep)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        """Turn the option list's selection into `UserList.Chosen`."""
        event.stop()
        if event.option.id is not None:
            self.post_message(self.Chosen(event.option.id))
