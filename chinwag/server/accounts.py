"""Accounts at run time: the parts that make them, built together and started together.

Theory of operation
-------------------
The store keeps what survives a restart (accounts with argon2id hashes, channel records, server
bans); these parts are the event-loop side of it, one job each:

* `PasswordChecks` (``password_checks.py``): where passwords may be sent, and checking one
  within the failed-login budget per name and per IP.
* `Logins` (``logins.py``): logging in and out, SASL exchanges, creating accounts.
* `NickProtection` (``nick_protection.py``): renaming whoever keeps a registered nick without
  logging in to it.
* `ServerBans` (``server_bans.py``): the KLINEs in force, checked at registration and login.
* `ChannelRegistry` (``channel_registry.py``): registered channels, restored at start.

Everything that waits for the store or for argon2 runs in a task started with the `Spawn` they
were given, and re-checks the client's state when it resumes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from chinwag.server.channel_registry import ChannelRegistry
from chinwag.server.config import Config
from chinwag.server.logins import Logins
from chinwag.server.network import Network
from chinwag.server.nick_protection import NickProtection
from chinwag.server.password_checks import PasswordChecks
from chinwag.server.server_bans import ServerBans
from chinwag.server.services import create_services
from chinwag.server.state import Client
from chinwag.server.tasks import Spawn
from chinwag.store import Store

__all__ = ["Accounts"]

log = logging.getLogger("chinwag.accounts")


class Accounts:
    """The account parts of one server.

    Args:
        config: the configuration.
        network: the network state.
        store: the open store.
        spawn: starts background work.
        tls_port: the port of the TLS listener, when there is one.
    """

    def __init__(
        self,
        config: Config,
        network: Network,
        store: Store,
        spawn: Spawn,
        tls_port: Callable[[], int | None],
    ) -> None:
        self.config = config
        self.network = network
        self.store = store
        self.passwords = PasswordChecks(config.accounts, store.accounts, tls_port)
        self.bans = ServerBans(network)
        self.channels = ChannelRegistry(
            network,
            store.channels,
            config.server.default_channels,
            config.server.default_channel_owner,
        )
        self.protection = NickProtection(config, network, store.accounts, spawn)
        self.logins = Logins(
            config,
            network,
            accounts=store.accounts,
            passwords=self.passwords,
            bans=self.bans,
            protection=self.protection,
        )

    @property
    def enabled(self) -> bool:
        """Whether accounts are enabled in the configuration."""
        return self.config.accounts.enabled

    async def start(self) -> None:
        """Load server bans and registered channels from the store; create the services."""
        await self.bans.load(self.store.bans)
        await self.channels.load()
        if self.enabled:
            create_services(self.network, self.config.limits)
        log.info(
            "loaded %d server bans, %d registered channels",
            len(self.bans),
            len(self.channels.registered),
        )

    def client_gone(self, client: Client) -> None:
        """Forget a client that quit: its protection timer and its SASL exchange."""
        self.protection.cancel_protection(client)
        self.logins.client_gone(client)

    def stop(self) -> None:
        """Cancel every timer."""
        self.protection.stop()
