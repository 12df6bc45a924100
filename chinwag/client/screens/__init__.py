"""The client's screens, one per module."""

from __future__ import annotations

from chinwag.client.screens.chat import ChatScreen
from chinwag.client.screens.confirm import ConfirmScreen
from chinwag.client.screens.help import HelpScreen
from chinwag.client.screens.nick import NickScreen
from chinwag.client.screens.paste import PasteScreen
from chinwag.client.screens.trust import TrustScreen

__all__ = ["ChatScreen", "ConfirmScreen", "HelpScreen", "NickScreen", "PasteScreen", "TrustScreen"]
