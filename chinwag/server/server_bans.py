"""Server bans (KLINE) at run time: the bans in force, kept in memory so that the check at
registration and at login is synchronous and cheap.

They are loaded from the store at start and kept in step with KLINE and UNKLINE, which write
the store themselves (``commands/bans.py``).
"""

from __future__ import annotations

import logging
import time

from chinwag.protocol import fold, mask_matches
from chinwag.protocol.numerics import ERR_YOUREBANNEDCREEP
from chinwag.server.network import Network
from chinwag.server.state import Client
from chinwag.store import BanKind, BanStore, ServerBan

__all__ = ["ServerBans"]

log = logging.getLogger("chinwag.accounts")


class ServerBans(dict[tuple[BanKind, str], ServerBan]):
    """The server bans in force, by (kind, target), and the checks made against them.

    Args:
        network: where a refused client is told why.
    """

    def __init__(self, network: Network) -> None:
        super().__init__()
        self.network = network

    async def load(self, store: BanStore) -> None:
        """Load the bans that have not expired."""
        for ban in await store.list_active(time.time()):
            self[ban.kind, ban.target] = ban

    def ban_for(self, client: Client) -> ServerBan | None:
        """The active server ban matching ``client`` (by mask or by account), if any."""
        now = time.time()
        for key, ban in list(self.items()):
            if ban.expired(now):
                del self[key]
                continue
            if ban.kind is BanKind.ACCOUNT:
                if client.account is not None and fold(client.account) == ban.target:
                    return ban
            elif mask_matches(ban.target, client.prefix) or mask_matches(
                ban.target, f"{client.nick}!{client.user}@{client.ip}"
            ):
                return ban
        return None

    def refuse_banned(self, client: Client) -> bool:
        """Disconnect ``client`` with 465 and ERROR if a server ban matches; True if it did."""
        ban = self.ban_for(client)
        if ban is None:
            return False
        log.info("banned client %s (%s): %s", client.prefix, client.account, ban.reason)
        self.network.numeric(
            client, ERR_YOUREBANNEDCREEP, f"You are banned from this server: {ban.reason}"
        )
        client.conn.close(f"K-Lined: {ban.reason}")
        return True
