"""What every handler receives: the `Context` of one command, and the `CommandSpec` table entry."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from chinwag.protocol import Message
from chinwag.protocol.numerics import ERR_NOPRIVILEGES
from chinwag.server.errors import IrcError
from chinwag.server.network import Network
from chinwag.server.state import Client

if TYPE_CHECKING:
    from chinwag.server.app import Server
    from chinwag.server.commands.labels import LateReply
    from chinwag.server.config import LimitsConfig

__all__ = ["CommandSpec", "Context", "Handler"]


@dataclass(slots=True)
class Context:
    """The server and the client a command runs for, with shortcuts for replying."""

    server: Server
    client: Client
    label: str | None = None
    """The ``label`` tag of the command (``labeled-response``), set by `dispatch`."""
    late: LateReply | None = None
    """Set by `labels.defer_reply` when the reply comes after the handler returns."""

    @property
    def network(self) -> Network:
        """The network state."""
        return self.server.network

    @property
    def limits(self) -> LimitsConfig:
        """The configured limits."""
        return self.server.config.limits

    def reply(self, numeric: str, *params: str) -> None:
        """Send a numeric to the client; its nick is added as the first parameter."""
        self.network.numeric(self.client, numeric, *params)

    def send(self, command: str, *params: str) -> None:
        """Send a line from the server to the client (``PONG``, ``CAP``...)."""
        self.network.send_from_server(self.client, command, *params)

    def wait_for(self, work: Coroutine[Any, Any, Any]) -> None:
        """Run the rest of this command in the background (a password check, a store query);
        the client's later lines wait until it is done, so they are answered in order."""
        self.client.conn.wait_for(self.server.spawn(work))

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
