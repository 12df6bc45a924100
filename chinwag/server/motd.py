"""The message of the day: the configured text, or the MOTD file read at start and on SIGHUP.

Read once, not at every registration: a registration burst must not make the event loop wait
for the disk, and the welcome burst caches its formatted MOTD by text (``commands/welcome.py``).
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from chinwag.server.config import ServerConfig

__all__ = ["Motd"]

log = logging.getLogger("chinwag.server")


class Motd:
    """The current message of the day.

    Args:
        settings: the ``[server]`` configuration (``motd`` and ``motd_file``).
    """

    def __init__(self, settings: ServerConfig) -> None:
        self.settings = settings
        self.text = settings.motd
        """The text sent now: empty means "no MOTD" (422)."""

    def load(self) -> None:
        """Read the MOTD file when one is configured (an unreadable file means no MOTD)."""
        self.text = self._read()

    async def reload(self) -> None:
        """Read the MOTD file again, off the event loop."""
        self.text = await asyncio.to_thread(self._read)
        log.info("MOTD reloaded")

    def _read(self) -> str:
        path = self.settings.motd_file
        if not path:
            return self.settings.motd
        try:
            return Path(path).read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            log.warning("cannot read MOTD file %s: %s", path, exc)
            return ""
