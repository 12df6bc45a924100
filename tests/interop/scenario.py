"""The shared scenario: who is in #lobby, and polled expectations about clients."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from .clients import ClientDriver
from .observer import Line, Observer, parse_line
from .servers import ServerProcess
from .waiting import DEFAULT_TIMEOUT, wait_until
from .wiretap import Wiretap

_ERROR_NUMERIC = re.compile(r"[45]\d\d")


@dataclass
class Lobby:
    """Everyone in #lobby: the server, three real clients and a bystander.

    Attributes:
        server: the server under test.
        watcher: raw-socket observer, in #lobby before anyone else.
        clients: weechat, irssi and ii, in the order they arrived.
    """

    server: ServerProcess
    watcher: Observer
    clients: list[ClientDriver] = field(default_factory=list)

    def others(self, client: ClientDriver) -> list[ClientDriver]:
        """Every client except ``client``."""
        return [other for other in self.clients if other is not client]

    def by_name(self, name: str) -> ClientDriver:
        """The client whose driver is called ``name`` ("weechat-headless", "irssi", "ii")."""
        return next(client for client in self.clients if client.name == name)


def expect(
    client: ClientDriver,
    check: Callable[[], bool],
    expectation: str,
    timeout: float = DEFAULT_TIMEOUT,
) -> None:
    """Wait, polled and bounded, until ``check`` holds for what ``client`` shows.

    Args:
        client: whose view is checked (its logs are dumped on failure).
        check: predicate over the client's view.
        expectation: what the client should show, for the failure message.
        timeout: seconds before failing.
    """
    wait_until(
        check,
        timeout,
        lambda: f"{client.name} ({client.nick}) to show {expectation}\n{client.describe()}",
    )


def is_join(line: Line, nick: str, channel: str) -> bool:
    """Whether ``line`` is ``nick`` joining ``channel``."""
    return line.command == "JOIN" and line.nick == nick and line.params[:1] == (channel,)


def sync(observer: Observer) -> None:
    """Round-trip a PING so that everything queued for ``observer`` has arrived.

    Used before asserting that the observer did NOT get something: the server
    handles the PING after it queued whatever it would have sent before.
    """
    token = f"sync-{len(observer.snapshot())}"
    observer.send(f"PING :{token}")
    observer.wait_for(
        lambda line: line.command == "PONG" and token in line.params,
        what=f"PONG {token}",
    )


def refusals(wire: Wiretap) -> list[str]:
    """Every error numeric (4xx/5xx) the server sent this client, with what preceded it.

    One refusal is expected and skipped: a 451 before the welcome, which is the
    right answer to irssi's ``JOIN :`` probe sent before it registers.

    Returns:
        ``"after C> <last client line>: S< <numeric line>"`` strings; the last
        client line is a hint (clients pipeline), the wire transcript is exact.
    """
    found: list[str] = []
    registered = False
    last_sent = "(nothing yet)"
    for wire_line in wire.lines():
        if wire_line.outgoing:
            last_sent = wire_line.text
            continue
        line = parse_line(wire_line.text)
        if line.command == "001":
            registered = True
        if not _ERROR_NUMERIC.fullmatch(line.command):
            continue
        if line.command == "451" and not registered:
            continue
        found.append(f"after C> {last_sent}: S< {wire_line.text}")
    return found
