"""The list of conversations (rooms, private partners, the server) with unread counts."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.message import Message
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from chinwag.client.conversation import Conversation, ConversationKind
from chinwag.client.render import flat

__all__ = ["ConversationList"]


class ConversationList(OptionList):
    """Rooms first, then private conversations, then the server, with unread counts.

    The count badge turns red when one of the unread lines mentions me or is private.
    """

    DEFAULT_CSS = """
    ConversationList {
        width: 20;
        height: 100%;
        max-height: 100%;
        border: tall $panel;
        padding: 0 1;
    }
    ConversationList:focus {
        border: tall $accent;
    }
    """

    @dataclass
    class Chosen(Message):
        """A conversation was chosen; ``key`` is its casefolded key."""

        key: str

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.border_title = "Chats"
        self.keys: list[str] = []
        self._entries: list[tuple[str, str, int, int, bool]] = []

    @staticmethod
    def order(conversations: dict[str, Conversation]) -> list[str]:
        """Keys in display order: rooms, then private conversations, then the server."""
        rank = {
            ConversationKind.CHANNEL: 0,
            ConversationKind.PRIVATE: 1,
            ConversationKind.SERVER: 2,
        }
        return sorted(
            conversations,
            key=lambda key: (rank[conversations[key].kind], conversations[key].name.casefold()),
        )

    def show(self, conversations: dict[str, Conversation], active: str) -> None:
        """Redraw the list when something in it changed; highlight the active conversation."""
        entries = [
            (key, conv.name, conv.unread, conv.mentions, conv.joined or not conv.is_channel)
            for key in self.order(conversations)
            for conv in (conversations[key],)
        ]
        if entries != self._entries:
            self._entries = entries
            options = []
            for key, name, unread, mentions, live in entries:
                prompt = Text(flat(name), style="" if live else "dim strike")
                if unread:
                    style = "bold reverse red" if mentions else "bold reverse"
                    prompt.append(" ")
                    prompt.append(f"{unread}", style=style)
                options.append(Option(prompt, id=key))
            self.set_options(options)
            self.keys = [key for key, *_ in entries]
        if active in self.keys and self.highlighted != self.keys.index(active):
            self.highlighted = self.keys.index(active)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        """Turn the option list's selection into `ConversationList.Chosen`."""
        event.stop()
        if event.option.id is not None:
            self.post_message(self.Chosen(event.option.id))
