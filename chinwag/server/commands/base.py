"""What every handler receives: the `Context` of one command, and the `CommandSpec` table entry."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, Protocol

from chinwag.protocol import Message
from chinwag.protocol.numerics import ERR_NOPRIVILEGES
from chinwag.server.accounts import Accounts
from chinwag.server.config import Config, LimitsConfig
from chinwag.server.errors import IrcError
from chinwag.server.history import History
from chinwag.server.motd import Motd
from chinwag.server.network import Network
from chinwag.server.reload import ReloadReport
from chinwag.server.state import Client
from chinwag.server.stats import Stats
from chinwag.server.tasks import Spawn
from chinwag.store import Store

__all__ = ["CommandSpec", "Context", "DeferredReply", "Handler"]


class DeferredReply(Protocol):
    """A reply that comes after the handler returns (``labels.LateReply``)."""

    def handler_done(self, early: list[bytes]) -> None:
        """The handler returned having queued ``early`` (for a labeled command)."""


@dataclass(slots=True)
class Context:
    """What one command may use: the parts of the server it needs, and the client it runs for.

    A handler gets no `Server`: a test can build a Context from real parts and no sockets.
    """

    network: Network
    history: History
    accounts: Accounts
    store: Store
    config: Config
    motd: Motd
    """The message of the day, read at start and on SIGHUP."""
    spawn: Spawn
    """Runs background work (password checks, store queries) and keeps it referenced."""
    client: Client
    label: str | None = None
    """The ``label`` tag of the command (``labeled-response``), set by `dispatch`."""
    late: DeferredReply | None = None
    """Set by `labels.defer_reply` when the reply comes after the handler returns."""
    stats: Stats = field(default_factory=Stats)
    """The server's counters (STATS m and l)."""
    reload: Callable[[], ReloadReport] | None = None
    """Re-reads the configuration (REHASH); None where there is nothing to reload from."""

    @property
    def limits(self) -> LimitsConfig:
        """The configured limits."""
        return self.config.limits

    def reply(self, numeric: str, *params: str) -> None:
        """Send a numeric to the client; its nick is added as the first parameter."""
        self.network.numeric(self.client, numeric, *params)

    def send(self, command: str, *params: str) -> None:
        """Send a line from the server to the client (``PONG``, ``CAP``...)."""
        self.network.send_from_server(self.client, command, *params)

    def wait_for(self, work: Coroutine[Any, Any, Any]) -> None:
        """Run the rest of this command in the background (a password check, a store query);
        the client's later lines wait until it is done, so they are answered in order."""
        self.client.conn.wait_for(self.spawn(work))

    def require_oper(self) -> None:
        """Raise 481 unless the client is a server operator."""
        if not self.client.is_oper:
            raise IrcError(ERR_NOPRIVILEGES, "Permission Denied- You're not an IRC operator")


Handler = Callable[[Context, Message], None]


@dataclass(frozen=True, slots=True)
class CommandSpec:
    """How to run one command: the handler and the checks `dispatch` makes before it."""

    handler: Handler
    min_params: int = 0
    before_registration: bool = False
