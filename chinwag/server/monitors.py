"""MONITOR lists (IRCv3 ``monitor``): who wants to know when a nick comes and goes.

Kept both ways: the watchers of each folded nick (to notify them in one look-up when a user
registers, renames or leaves) and the folded nicks each client watches (for ``MONITOR L``,
``C``, the limit, and to forget a client that leaves). A nick nobody watches costs nothing,
so the hooks in `Network` are one dictionary look-up for everybody else.
"""

from __future__ import annotations

from collections.abc import Iterable

from chinwag.protocol import MAX_BODY_BYTES, fold
from chinwag.protocol.numerics import RPL_MONOFFLINE, RPL_MONONLINE
from chinwag.server.state import Cap, Client

__all__ = ["Monitors", "token_lines"]


def token_lines(items: Iterable[str], overhead: int) -> list[str]:
    """``items`` joined by commas into lines that fit 512 bytes after ``overhead`` bytes."""
    budget = MAX_BODY_BYTES - overhead
    lines: list[str] = []
    line = ""
    for item in items:
        if line and len(line.encode()) + 1 + len(item.encode()) > budget:
            lines.append(line)
            line = ""
        line = f"{line},{item}" if line else item
    if line:
        lines.append(line)
    return lines


class Monitors:
    """Every client's MONITOR list.

    Args:
        server_name: the source of the 730/731 notifications.
    """

    def __init__(self, server_name: str) -> None:
        self.server_name = server_name
        self._watchers: dict[str, set[Client]] = {}
        self._watching: dict[Client, dict[str, str]] = {}  # folded -> as the client wrote it

    def watching(self, client: Client) -> dict[str, str]:
        """The nicks ``client`` watches: folded -> as given."""
        return self._watching.get(client, {})

    def add(self, client: Client, nick: str) -> None:
        """Watch ``nick`` for ``client``."""
        folded = fold(nick)
        self._watching.setdefault(client, {})[folded] = nick
        self._watchers.setdefault(folded, set()).add(client)

    def remove(self, client: Client, nick: str) -> None:
        """Stop watching ``nick`` for ``client`` (nothing if it was not watched)."""
        folded = fold(nick)
        mine = self._watching.get(client)
        if mine is None or mine.pop(folded, None) is None:
            return
        if not mine:
            del self._watching[client]
        watchers = self._watchers[folded]
        watchers.discard(client)
        if not watchers:
            del self._watchers[folded]

    def clear(self, client: Client) -> None:
        """Forget ``client``'s whole list (MONITOR C, or the client left)."""
        for folded in list(self._watching.get(client, {})):
            self.remove(client, folded)

    def watchers(self, nick_folded: str) -> set[Client]:
        """Who watches this folded nick."""
        return self._watchers.get(nick_folded, set())

    def extended_watchers(self, client: Client) -> set[Client]:
        """Watchers of ``client``'s nick that negotiated ``extended-monitor`` (they get its
        AWAY, ACCOUNT and SETNAME as if they shared a channel)."""
        watchers = self._watchers.get(client.nick_folded)
        if not watchers:
            return set()
        return {w for w in watchers if w.caps & Cap.EXTENDED_MONITOR and w is not client}

    def online(self, client: Client) -> None:
        """``client`` is now on the network under its nick: tell its watchers (730)."""
        watchers = self._watchers.get(client.nick_folded)
        if watchers:
            self._notify(watchers, RPL_MONONLINE, client.prefix)

    def offline(self, nick: str) -> None:
        """Nobody uses ``nick`` any more: tell its watchers (731)."""
        watchers = self._watchers.get(fold(nick))
        if watchers:
            self._notify(watchers, RPL_MONOFFLINE, nick)

    def _notify(self, watchers: set[Client], numeric: str, target: str) -> None:
        # Nicks and prefixes need no checks to be put in a line (the server validated them).
        head = f":{self.server_name} {numeric} "
        tail = f" :{target}\r\n"
        for watcher in watchers:
            if watcher.registered:
                watcher.send((head + watcher.nick + tail).encode())
