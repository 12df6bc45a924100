"""Stored account passwords (``--save-password``), in plain text in a file only the user can read.

Like many IRC clients (irssi, WeeChat without a passphrase, HexChat), chinwag keeps a saved
password in plain text; what protects it is the file's mode, 0600, set when the file is created and
again at every write. The file is ``$XDG_CONFIG_HOME/chinwag/credentials`` with one
``host:port account password`` line per login (the password is the rest of the line, so it may
contain spaces; a password with a line break cannot be saved).
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["Credentials"]


class Credentials:
    """The saved logins, by ``host:port``.

    Args:
        path: the file; it need not exist yet.
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    def _entries(self) -> list[tuple[str, str, str]]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        entries = []
        for line in text.splitlines():
            key, _, rest = line.partition(" ")
            account, _, password = rest.partition(" ")
            if key and account and password and not line.startswith("#"):
                entries.append((key, account, password))
        return entries

    def get(self, key: str, account: str | None = None) -> tuple[str, str] | None:
        """The saved ``(account, password)`` for ``host:port`` (for ``account`` when given)."""
        for entry_key, entry_account, password in self._entries():
            if entry_key == key and (
                account is None or entry_account.casefold() == account.casefold()
            ):
                return entry_account, password
        return None

    def save(self, key: str, account: str, password: str) -> None:
        """Save the login for ``host:port`` (replacing the saved one for that account).

        Raises:
            ValueError: the password (or account) holds a line break, or the account a space.
        """
        if any(c in password + account for c in "\r\n\0") or " " in account or not password:
            raise ValueError("this password cannot be saved (line break or empty)")
        kept = [
            e
            for e in self._entries()
            if not (e[0] == key and e[1].casefold() == account.casefold())
        ]
        kept.append((key, account, password))
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(self.path.name + ".tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            os.fchmod(out.fileno(), 0o600)
            out.write("".join(f"{k} {a} {p}\n" for k, a, p in kept))
        os.replace(temporary, self.path)

    def forget(self, key: str) -> bool:
        """Forget every saved login for ``host:port``; True when there was one."""
        entries = self._entries()
        kept = [e for e in entries if e[0] != key]
        if len(kept) == len(entries):
            return False
        fd = os.open(self.path, os.O_WRONLY | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write("".join(f"{k} {a} {p}\n" for k, a, p in kept))
        return True
