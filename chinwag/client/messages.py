"""Textual messages shared by the client's screens and widgets (named in the past tense)."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from chinwag.client.events import Posted
from chinwag.client.net import Status

__all__ = ["LinesReceived", "StatusChanged"]


@dataclass
class LinesReceived(Message):
    """The connection read a batch from the server; ``posted`` is what it added to conversations."""

    posted: list[Posted]


@dataclass
class StatusChanged(Message):
    """The connection status changed (connecting, connected, lost, closed)."""

    status: Status
    detail: str
