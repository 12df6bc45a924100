"""NickServ and ChanServ as users: pseudo-clients that classic clients talk to with ``/msg``.

They are `Client` objects with a connection that discards everything sent to it, registered in
the nick index, so that nobody can take their nicks and WHOIS, ISON and WHO show them like
anyone else. What they answer is in ``commands/services.py``; every answer is a NOTICE from
``NickServ!NickServ@services.`` (or ChanServ) to the asker.
"""

from __future__ import annotations

from chinwag.protocol import DecodeError, Message, fold
from chinwag.server.config import LimitsConfig
from chinwag.server.connection import Connection
from chinwag.server.fanout import Outgoing
from chinwag.server.network import Network
from chinwag.server.state import ChannelBatch, Client, RegState

__all__ = [
    "SERVICES_HOST",
    "SERVICE_NICKS",
    "ServiceConnection",
    "create_services",
    "is_service_nick",
    "nickserv_notice",
    "service_notice",
]

SERVICES_HOST = "services."
SERVICE_NICKS = ("NickServ", "ChanServ")
_RESERVED_FOLDED = frozenset(fold(nick) for nick in SERVICE_NICKS)


def is_service_nick(nick: str) -> bool:
    """True for the nicks of the services, which nobody may take or register."""
    return fold(nick) in _RESERVED_FOLDED


class _NoOwner:
    """The owner of a connection without a socket: nothing ever reaches it."""

    def admission_refusal(self, ip: str) -> str | None:
        return None

    def dispatch(self, client: Client, item: Message | DecodeError) -> None:
        """A service sends no commands."""

    def mark_dirty(self, conn: Connection) -> None:
        """A service has no output to flush."""

    def mark_lazy(self, conn: Connection) -> None:
        """A service has no output to flush."""

    def finish(self, conn: Connection, data: bytes) -> None:
        """A service is never closed."""

    def client_gone(self, client: Client, reason: str) -> None:
        """A service never goes."""


class ServiceConnection(Connection):
    """The connection of a service: it has no socket and discards what it is sent."""

    def __init__(self, network: Network, limits: LimitsConfig) -> None:
        super().__init__(_NoOwner(), network, limits)

    def enqueue(self, data: bytes) -> None:
        """Lines sent to a service are dropped (PRIVMSG is routed before it gets here)."""

    def enqueue_lazy(self, data: bytes) -> None:
        """Dropped too."""

    def hold(self, batch: ChannelBatch) -> None:
        """Dropped too."""

    def hold_lazily(self, batch: ChannelBatch) -> None:
        """Dropped too."""

    def flush(self) -> None:
        """Nothing to write."""

    def close(self, reason: str, *, abort: bool = False, quit_message: str | None = None) -> None:
        """A service cannot be disconnected (KILL NickServ does nothing)."""


def create_services(network: Network, limits: LimitsConfig) -> None:
    """Put NickServ and ChanServ in the nick index of ``network``."""
    for nick in SERVICE_NICKS:
        if network.find(nick) is not None:
            continue
        conn = ServiceConnection(network, limits)
        service = Client(
            conn=conn,
            host=SERVICES_HOST,
            ip=SERVICES_HOST,
            user=nick,
            realname=f"{nick[:-4]} services",
            modes={"i"},  # out of WHO listings; WHOIS still shows them
        )
        conn.client = service
        network.claim_nick(service, nick)
        service.state = RegState.REGISTERED


def service_notice(service_nick: str, client: Client, text: str) -> None:
    """Send ``text`` to ``client`` as a NOTICE from the service ``service_nick``."""
    if client.state is RegState.CLOSED:
        return
    source = f"{service_nick}!{service_nick}@{SERVICES_HOST}"
    outgoing = Outgoing(source, "NOTICE", client.nick, text)
    client.send(outgoing.line_for(client))


def nickserv_notice(client: Client, text: str) -> None:
    """Send ``text`` to ``client`` as a NOTICE from NickServ."""
    service_notice("NickServ", client, text)
