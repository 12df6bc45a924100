"""The client's widgets, one per module."""

from __future__ import annotations

from chinwag.client.widgets.conversation_list import ConversationList
from chinwag.client.widgets.conversation_view import ConversationView
from chinwag.client.widgets.input_bar import InputBar
from chinwag.client.widgets.new_lines_marker import NewLinesMarker
from chinwag.client.widgets.status_line import StatusLine
from chinwag.client.widgets.user_list import UserList

__all__ = [
    "ConversationList",
    "ConversationView",
    "InputBar",
    "NewLinesMarker",
    "StatusLine",
    "UserList",
]
