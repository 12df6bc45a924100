"""The chinwag terminal client: session model, commands, connection, plain mode and Textual UI."""

from __future__ import annotations

from chinwag.client.lines import (
    ActionLine,
    ChatLine,
    ErrorLine,
    Line,
    Posted,
    SystemKind,
    SystemLine,
)
from chinwag.client.session import Session

__all__ = [
    "ActionLine",
    "ChatLine",
    "ErrorLine",
    "Line",
    "Posted",
    "Session",
    "SystemKind",
    "SystemLine",
]
