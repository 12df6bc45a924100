"""Reloading the configuration of a running server (SIGHUP, ``REHASH``, ``chinwag admin reload``).

Theory of operation
-------------------
The new configuration is read the way the server first read it (the same file, environment and
command-line flags: the ``source`` the command line gives), so a reload only ever picks up edits
of the file.
Everything that can fail is tried before anything changes: the file must parse and validate, and
a new TLS certificate must load. A refused reload changes nothing and says why in the log.

Then the new values are copied *into* the live `Config` objects, field by field, rather than
swapping the objects: every part of the server holds the section it reads (`Network`, the
connections, the history), and each sees the new value at its next read without being told.
What only takes effect when a socket is opened or the store started (listen addresses, the data
directory, turning TLS or the history on and off) keeps its running value and is logged as
needing a restart. The few settings that were copied into objects at start (the login throttle,
the WHOWAS length, the permanent default channels, the TLS certificate) are refreshed here.
"""

from __future__ import annotations

import dataclasses
import logging
import ssl
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from chinwag.logs import fields
from chinwag.server.accounts import Accounts
from chinwag.server.config import SECTIONS, Config, ConfigError
from chinwag.server.history import History
from chinwag.server.motd import Motd
from chinwag.server.network import Network
from chinwag.server.password_budget import PasswordBudget
from chinwag.server.tasks import Spawn
from chinwag.server.tls import ensure_self_signed, server_context

__all__ = ["RESTART_KEYS", "ReloadReport", "Reloader", "tls_files"]

log = logging.getLogger("chinwag.reload")

RESTART_KEYS = frozenset(
    {
        "server.host",
        "server.port",
        "server.name",
        "server.data_dir",
        "server.tls",
        "server.tls_port",
        "history.enabled",
        "history.durable_delivery",
        "history.fsync",
        "accounts.enabled",
        "metrics.listen",
        "websocket.listen",
    }
)
"""Settings read once, when a socket is opened or the store is started."""


@dataclass(slots=True)
class ReloadReport:
    """What a reload did: the settings changed live, and those that wait for a restart."""

    ok: bool = True
    error: str = ""
    changed: list[str] = field(default_factory=list)
    needs_restart: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One line for the log, an operator's notice or ``chinwag admin reload``."""
        if not self.ok:
            return f"configuration NOT reloaded, the running one stays: {self.error}"
        changed = ", ".join(self.changed) or "nothing changed"
        text = f"configuration reloaded: {changed}"
        if self.needs_restart:
            text += f"; needs a restart to change: {', '.join(self.needs_restart)}"
        return text


def tls_files(config: Config) -> tuple[Path, Path] | None:
    """The certificate and key files ``config`` serves TLS with, or None without TLS."""
    settings = config.server
    if settings.tls_cert:
        return Path(settings.tls_cert), Path(settings.tls_key)
    if settings.tls and settings.data_dir.strip().lower() not in ("", "none"):
        return ensure_self_signed(Path(settings.data_dir), settings.name)
    return None


class Reloader:
    """Applies a re-read configuration to the parts of a running server.

    Args:
        config: the running configuration (changed in place).
        source: reads the configuration again (None: this server was not started from one).
        network: the network state (default channels, WHOWAS).
        accounts: the account parts (the login throttle, registered channels).
        history: the history (its retention timer).
        motd: the message of the day (its file is read again).
        spawn: runs the MOTD file read off the event loop.
    """

    def __init__(
        self,
        config: Config,
        source: Callable[[], Config] | None,
        *,
        network: Network,
        accounts: Accounts,
        history: History,
        motd: Motd,
        spawn: Spawn,
    ) -> None:
        self.config = config
        self.source = source
        self.network = network
        self.accounts = accounts
        self.history = history
        self.motd = motd
        self.spawn = spawn
        self.tls_context: ssl.SSLContext | None = None
        """The context of the TLS listener, once there is one: it is given new certificates."""
        self.on_reload: Callable[[Config], None] | None = None
        """Called with the running configuration after each reload (logging settings)."""

    def reload(self) -> ReloadReport:
        """Read the configuration again and apply it; log and return what happened.

        A configuration that does not load is refused: the report says why and nothing changes.
        """
        if self.source is None:
            report = ReloadReport(ok=False, error="this server was not started from a file")
        else:
            try:
                report = self.apply(self.source())
            except ConfigError as exc:
                report = ReloadReport(ok=False, error=str(exc))
        if report.ok:
            log.info(report.summary(), extra=fields("reload"))
        else:
            log.error(report.summary(), extra=fields("reload_refused", reason=report.error))
        return report

    def apply(self, new: Config) -> ReloadReport:
        """Make ``new`` the running configuration, as far as it can change live.

        Raises:
            ConfigError: when the new TLS certificate or key cannot be loaded (nothing changed).
        """
        live = self.config
        report = ReloadReport()
        self._reload_certificate(new)  # the one step that can still fail: first
        old_defaults = list(live.server.default_channels)
        old_throttle = _budget_settings(live)
        restart = RESTART_KEYS
        if self.tls_context is None:  # no TLS listener to give a certificate to
            restart = restart | {"server.tls_cert", "server.tls_key"}
        for section in SECTIONS:
            running, wanted = getattr(live, section), getattr(new, section)
            for item in dataclasses.fields(running):
                key = f"{section}.{item.name}"
                before, after = getattr(running, item.name), getattr(wanted, item.name)
                if before == after:
                    continue
                if key in restart:
                    report.needs_restart.append(key)
                else:
                    setattr(running, item.name, after)
                    report.changed.append(key)
        if live.opers != new.opers:
            live.opers = list(new.opers)
            report.changed.append("opers")
        self._refresh(old_defaults, old_throttle)
        if self.on_reload is not None:
            self.on_reload(live)
        return report

    def _refresh(
        self, old_defaults: list[str], old_throttle: tuple[int, float, int, float]
    ) -> None:
        """Update what was copied out of the configuration at start."""
        live = self.config
        if live.server.default_channels != old_defaults:
            registry = self.accounts.channels
            registry.set_defaults(live.server.default_channels)
            self.network.set_default_channels(
                live.server.default_channels, keep=registry.registered
            )
        if _budget_settings(live) != old_throttle:
            # New buckets with the new sizes (what the old ones counted is forgotten); the
            # password checks running now keep their place.
            fresh = PasswordBudget(live.accounts)
            budget = self.accounts.passwords.budget
            budget.logins, budget.creations = fresh.logins, fresh.creations
        whowas = self.network.whowas
        if whowas.maxlen != max(1, live.limits.whowas_length):
            self.network.whowas = deque(whowas, maxlen=max(1, live.limits.whowas_length))
        self.history.stop()
        self.history.start()  # retention may have been turned on: prune on the new terms now
        if live.server.motd_file:
            self.spawn(self.motd.reload())  # a file: read off the event loop
        else:
            self.motd.load()  # the text itself: new users get it from now on

    def _reload_certificate(self, new: Config) -> None:
        """Load the new certificate into the running TLS context: new connections get it.

        The files are read even when their names did not change: a renewal (certbot) replaces
        them in place.
        """
        context = self.tls_context
        if context is None:
            return
        live = self.config
        kept = dataclasses.replace(new, server=dataclasses.replace(new.server, tls=live.server.tls))
        try:
            files = tls_files(kept)
            if files is None:
                return  # TLS turned off: that waits for a restart (server.tls or tls_cert)
            server_context(*files)  # the whole check on a scratch context first
            context.load_cert_chain(*files)
        except (OSError, ssl.SSLError, ValueError) as exc:
            raise ConfigError(f"TLS certificate or key cannot be loaded: {exc}") from None


def _budget_settings(config: Config) -> tuple[int, float, int, float]:
    """The settings the password budget's buckets are built from."""
    accounts = config.accounts
    return (
        accounts.login_burst,
        accounts.login_per_minute,
        accounts.register_burst,
        accounts.register_per_hour,
    )
