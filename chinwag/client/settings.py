"""The client's own settings, kept between runs in ``$XDG_CONFIG_HOME/chinwag/client.toml``.

Two things live there today, both changed from inside the client and written back at once: how a
mention or a private message in another conversation gets your attention (``/notify``), and the
people you ignore (``/ignore``, ``/unignore``). The file is TOML, so it can be edited by hand::

    notify = "bell"                 # bell, osc9, osc777 or off
    ignore = ["spammer!*@*", "*!*@203.0.113.*"]

A file that cannot be read is never overwritten: the problem is reported, the defaults are used
for this run, and the file is moved aside (``client.toml.broken``) only when a change is saved.
"""

from __future__ import annotations

import json
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from chinwag.client.attention import NOTIFY_MODES

__all__ = ["Settings"]


@dataclass(slots=True)
class Settings:
    """The settings, and where they are saved (``path`` None: nowhere, for tests and --plain)."""

    notify: str = "bell"
    ignore: list[str] = field(default_factory=list)
    path: Path | None = None
    problem: str = ""

    @classmethod
    def load(cls, path: Path) -> Settings:
        """Read the file at ``path``; defaults when it does not exist or cannot be read."""
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return cls(path=path)
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            return cls(path=path, problem=f"could not read {path} ({exc}): using the defaults")
        settings = cls(path=path)
        notify = data.get("notify", "bell")
        if notify in NOTIFY_MODES:
            settings.notify = notify
        else:
            settings.problem = (
                f"{path}: notify = {notify!r} is not one of {', '.join(NOTIFY_MODES)}"
            )
        ignore = data.get("ignore", [])
        if isinstance(ignore, list):
            settings.ignore = [mask for mask in ignore if isinstance(mask, str) and mask]
        return settings

    def save(self) -> None:
        """Write the settings (atomically); an unreadable old file is kept as ``.broken``.

        Raises:
            OSError: the file could not be written.
        """
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.problem and self.path.exists():
            os.replace(self.path, self.path.with_name(self.path.name + ".broken"))
            self.problem = ""
        masks = ", ".join(json.dumps(mask, ensure_ascii=False) for mask in self.ignore)
        text = (
            "# chinwag client settings, written by /notify and /ignore (editing by hand is fine)\n"
            f"notify = {json.dumps(self.notify)}  # {' | '.join(NOTIFY_MODES)}\n"
            f"ignore = [{masks}]\n"
        )
        temporary = self.path.with_name(self.path.name + ".tmp")
        temporary.write_text(text, encoding="utf-8")
        os.replace(temporary, self.path)
