"""Drivers for real IRC clients written by others (weechat-headless, irssi, ii)."""

from __future__ import annotations

from .base import ClientDriver, ClientMissingError
from .ii import IiDriver
from .irssi import IrssiDriver
from .weechat import WeechatDriver

__all__ = ["ClientDriver", "ClientMissingError", "IiDriver", "IrssiDriver", "WeechatDriver"]
