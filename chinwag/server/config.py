"""Server configuration: embedded safe defaults, a TOML file, environment variables, then flags.

Every setting has a default that is right for ``chinwag serve`` on a laptop: loopback only, the
common room ``#lobby``, limits that stop abuse without getting in a real user's way. A TOML file
(``--config``) overrides the defaults section by section (see ``chinwag.example.toml`` for every
key); an environment variable ``CHINWAG__SECTION__KEY`` overrides the file (``CHINWAG__LIMITS__
SENDQ_BYTES=2097152``); command-line flags override everything.
"""

from __future__ import annotations

import dataclasses
import os
import socket
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "FSYNC_POLICIES",
    "SECTIONS",
    "AccountsConfig",
    "ClusterConfig",
    "Config",
    "ConfigError",
    "HistoryConfig",
    "LimitsConfig",
    "LoggingConfig",
    "MetricsConfig",
    "OperConfig",
    "PrivacyConfig",
    "ServerConfig",
    "WebSocketConfig",
    "load_config",
    "parse_listen",
]

ENV_PREFIX = "CHINWAG__"
SECTIONS = (
    "server",
    "limits",
    "history",
    "accounts",
    "websocket",
    "privacy",
    "metrics",
    "logging",
    "cluster",
)
"""The sections of settings (each a dataclass attribute of `Config`); ``opers`` is a list apart."""
LOG_FORMATS = ("text", "json")
LOG_LEVELS = ("debug", "info", "warning", "error")
MAX_WORKERS = 128
"""Most node processes ``cluster.workers`` may start on one machine."""


class ConfigError(ValueError):
    """The configuration file or an override is invalid; the message says which key and why."""


MAX_SERVER_NAME = 63
"""RFC 2812 1.1: a server's name is at most 63 characters. It is in every line the server sends
(twice in 004), so a longer one would push replies past the 512 bytes of a line."""


def default_server_name(hostname: str) -> str:
    """This machine's host name, or ``chinwag.local`` when it has none that fits a server name."""
    if 1 <= len(hostname.encode()) <= MAX_SERVER_NAME and hostname.isprintable():
        return hostname
    return "chinwag.local"


@dataclass(slots=True)
class ServerConfig:
    """Identity and listeners."""

    name: str = field(default_factory=lambda: default_server_name(socket.gethostname()))
    network: str = "chinwag"
    host: str = "127.0.0.1"
    port: int = 6667
    motd_file: str = ""
    motd: str = "Welcome to chinwag. Say hello in #lobby!"
    admin: str = ""
    default_channels: list[str] = field(default_factory=lambda: ["#lobby"])
    default_channel_owner: str = ""
    password_hash: str = ""
    data_dir: str = "chinwag-data"
    tls: bool = False
    tls_port: int = 6697
    tls_cert: str = ""
    tls_key: str = ""


@dataclass(slots=True)
class LimitsConfig:
    """Sizes, rates and timeouts. ``0`` disables a limit where it says so."""

    nick_length: int = 32
    channel_length: int = 64
    topic_length: int = 390
    away_length: int = 200
    kick_length: int = 255
    realname_length: int = 128
    max_channels_per_user: int = 50
    max_list_modes: int = 100
    max_targets: int = 4
    max_clients: int = 10000
    large_channel: int = 500
    max_clients_per_ip: int = 10
    exempt_loopback: bool = True
    sendq_bytes: int = 1_048_576
    socket_send_buffer: int = 65_536
    flood_burst: int = 20
    flood_rate: float = 5.0
    flood_queue: int = 50
    registration_timeout: float = 30.0
    tls_handshake_timeout: float = 5.0
    max_registration_lines: int = 64
    ping_interval: float = 120.0
    ping_timeout: float = 60.0
    whowas_length: int = 500


FSYNC_POLICIES = ("never", "turn")
"""The values of ``[history] fsync``."""


@dataclass(slots=True)
class HistoryConfig:
    """What is kept of conversations, and for how long."""

    enabled: bool = True
    replay_on_join: int = 50
    max_age_days: float = 0.0
    max_lines_per_target: int = 0
    durable_delivery: bool = True
    chathistory_max: int = 100
    fsync: str = "never"
    """``never`` (a journal write survives SIGKILL, not power loss) or ``turn`` (fsync each
    loop turn's journal frame: survives power loss too)."""


@dataclass(slots=True)
class AccountsConfig:
    """Accounts: registration, logins and nick protection."""

    enabled: bool = True
    registration_open: bool = True
    require_tls_for_auth: bool = False
    nick_protection_grace: float = 60.0
    guest_prefix: str = "Guest"
    login_burst: int = 5
    login_per_minute: float = 5.0
    register_burst: int = 3
    register_per_hour: float = 10.0


@dataclass(slots=True)
class WebSocketConfig:
    """IRC over WebSocket, and the web client, on an address of their own (off when empty)."""

    listen: str = ""
    allowed_origins: list[str] = field(default_factory=list)


@dataclass(slots=True)
class ClusterConfig:
    """What several nodes of one network share (README: "Running a network")."""

    store: str = ""
    """A PostgreSQL URL for accounts, channels, bans and history; empty: SQLite in data_dir."""
    redis: str = ""
    """The network's Redis (redis://, rediss://, unix://); empty: a server on its own."""
    node_name: str = ""
    """This node's name in the network (a server name with a dot); empty: server.name."""
    workers: int = 1
    """Node processes on this machine sharing the listening ports (SO_REUSEPORT); over 1
    needs redis and store (README: "Running a network")."""


@dataclass(slots=True)
class PrivacyConfig:
    """What others may learn of a user's address."""

    cloak_hosts: bool = True
    cloak_suffix: str = "chinwag"
    account_cloaks: bool = False


@dataclass(slots=True)
class MetricsConfig:
    """The Prometheus endpoint."""

    listen: str = ""


@dataclass(slots=True)
class LoggingConfig:
    """What the server writes to stderr, and how."""

    format: str = "text"
    level: str = "info"


@dataclass(slots=True)
class OperConfig:
    """A server operator: a name and an argon2id hash made by ``chinwag passwd``."""

    name: str
    password_hash: str


@dataclass(slots=True)
class Config:
    """The whole configuration."""

    server: ServerConfig = field(default_factory=ServerConfig)
    limits: LimitsConfig = field(default_factory=LimitsConfig)
    history: HistoryConfig = field(default_factory=HistoryConfig)
    accounts: AccountsConfig = field(default_factory=AccountsConfig)
    websocket: WebSocketConfig = field(default_factory=WebSocketConfig)
    privacy: PrivacyConfig = field(default_factory=PrivacyConfig)
    metrics: MetricsConfig = field(default_factory=MetricsConfig)
    logging: LoggingConfig = field(default_factory=LoggingConfig)
    cluster: ClusterConfig = field(default_factory=ClusterConfig)
    opers: list[OperConfig] = field(default_factory=list)

    def validate(self) -> None:
        """Check values that the types alone do not.

        Raises:
            ConfigError: naming the first bad key.
        """
        if not 0 <= self.server.port <= 65535:
            raise ConfigError("server.port must be between 0 and 65535")
        if not 0 <= self.server.tls_port <= 65535:
            raise ConfigError("server.tls_port must be between 0 and 65535")
        if bool(self.server.tls_cert) != bool(self.server.tls_key):
            raise ConfigError("server.tls_cert and server.tls_key go together")
        if (
            self.server.tls
            and not self.server.tls_cert
            and self.server.data_dir.strip().lower() in ("", "none")
        ):
            raise ConfigError(
                "server.tls without tls_cert keeps its generated certificate in data_dir: "
                "set data_dir, or give tls_cert and tls_key"
            )
        name = self.server.name
        if not 1 <= len(name.encode()) <= MAX_SERVER_NAME or not name.isprintable() or " " in name:
            raise ConfigError(
                f"server.name must be 1 to {MAX_SERVER_NAME} bytes with no spaces"
                f" (RFC 2812), not {name!r}"
            )
        for channel in self.server.default_channels:
            if not channel.startswith("#") or " " in channel or "," in channel:
                raise ConfigError(f"server.default_channels: {channel!r} is not a channel name")
        if not 1 <= self.limits.nick_length <= 64:
            raise ConfigError("limits.nick_length must be between 1 and 64")
        if self.limits.sendq_bytes < 4096:
            raise ConfigError("limits.sendq_bytes must be at least 4096")
        if self.limits.flood_rate < 0 or self.limits.flood_burst < 1:
            raise ConfigError("limits.flood_rate must be >= 0 and limits.flood_burst >= 1")
        if self.history.fsync not in FSYNC_POLICIES:
            choices = ", ".join(FSYNC_POLICIES)
            raise ConfigError(f"history.fsync must be one of {choices}: {self.history.fsync!r}")
        if self.limits.socket_send_buffer < 0:
            raise ConfigError("limits.socket_send_buffer must be 0 (the kernel's choice) or more")
        if self.limits.tls_handshake_timeout <= 0:
            raise ConfigError("limits.tls_handshake_timeout must be more than 0 seconds")
        if self.websocket.listen:
            parse_listen(self.websocket.listen, "websocket.listen")
        redis_url = self.cluster.redis.strip()
        if redis_url and not redis_url.startswith(("redis://", "rediss://", "unix://")):
            raise ConfigError(
                f"cluster.redis must be redis://host:port/db, rediss://... or unix:///path,"
                f" not {redis_url!r}"
            )
        node_name = self.cluster.node_name.strip()
        if node_name and ("." not in node_name or " " in node_name):
            raise ConfigError(
                f"cluster.node_name must be a server name with a dot (n1.example.org),"
                f" not {node_name!r}"
            )
        if redis_url and not self.cluster.store.strip():
            raise ConfigError(
                "cluster.redis needs cluster.store: the nodes of a network share accounts and"
                " history through PostgreSQL"
            )
        if not 1 <= self.cluster.workers <= MAX_WORKERS:
            raise ConfigError(f"cluster.workers must be between 1 and {MAX_WORKERS}")
        if self.cluster.workers > 1 and not (redis_url and self.cluster.store.strip()):
            raise ConfigError(
                f"cluster.workers = {self.cluster.workers} needs cluster.redis and cluster.store"
                " (--redis URL --store URL): the workers are nodes of one network"
            )
        store = self.cluster.store.strip()
        if store and not store.startswith(("postgresql://", "postgres://")):
            raise ConfigError(
                f"cluster.store must be a PostgreSQL URL (postgresql://user@host/db), not {store!r}"
            )
        for oper in self.opers:
            if not oper.password_hash.startswith("$argon2"):
                raise ConfigError(
                    f"opers: {oper.name!r} needs password_hash from `chinwag passwd`, "
                    "never a plain-text password"
                )
        if self.server.password_hash and not self.server.password_hash.startswith("$argon2"):
            raise ConfigError("server.password_hash must be an argon2 hash from `chinwag passwd`")
        suffix = self.privacy.cloak_suffix
        if not suffix or not all(c.isalnum() or c in "-." for c in suffix):
            raise ConfigError("privacy.cloak_suffix must be letters, digits, '-' and '.' only")
        if self.metrics.listen:
            parse_listen(self.metrics.listen, "metrics.listen")
        if self.logging.format not in LOG_FORMATS:
            raise ConfigError(f"logging.format must be one of {', '.join(LOG_FORMATS)}")
        if self.logging.level not in LOG_LEVELS:
            raise ConfigError(f"logging.level must be one of {', '.join(LOG_LEVELS)}")


def parse_listen(value: str, where: str = "the address") -> tuple[str, int]:
    """Split ``HOST:PORT`` (``[::1]:8080`` for IPv6) into host and port.

    Args:
        value: the address.
        where: the key it comes from, for the error (``metrics.listen``).

    Raises:
        ConfigError: the value has no port, or the port is not a number from 0 to 65535.
    """
    host, sep, port = value.strip().rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ConfigError(f"{where} must be HOST:PORT, not {value!r}")
    return host, int(port)


def _coerce(section: str, key: str, current: Any, value: Any) -> Any:
    """Convert ``value`` to the type of the default ``current``, or explain why not."""
    where = f"{section}.{key}"
    if isinstance(current, bool):
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in {"1", "true", "yes", "on", "0", "false"}:
            return value.lower() in {"1", "true", "yes", "on"}
        raise ConfigError(f"{where} must be true or false")
    if isinstance(current, int):
        try:
            return int(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{where} must be a whole number") from None
    if isinstance(current, float):
        try:
            return float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{where} must be a number") from None
    if isinstance(current, list):
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        if isinstance(value, list) and all(isinstance(item, str) for item in value):
            return value
        raise ConfigError(f"{where} must be a list of strings")
    if not isinstance(value, str):
        raise ConfigError(f"{where} must be a string")
    return value


def _apply_section(target: Any, section: str, values: Mapping[str, Any]) -> None:
    known = {f.name for f in dataclasses.fields(target)}
    for key, value in values.items():
        if key not in known:
            raise ConfigError(f"unknown key {section}.{key}")
        setattr(target, key, _coerce(section, key, getattr(target, key), value))


def load_config(
    path: str | Path | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
) -> Config:
    """Build the configuration from defaults, a TOML file, the environment and overrides.

    Args:
        path: a TOML file, or None for the embedded defaults only.
        environ: where to look for ``CHINWAG__SECTION__KEY`` (``os.environ`` when None).
        overrides: ``{"server": {"port": 7000}}`` from command-line flags; None values are skipped.

    Returns:
        A validated `Config`.

    Raises:
        ConfigError: the file is missing, is not TOML, or has an unknown key or a bad value.
    """
    config = Config()
    if path is not None:
        try:
            data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"configuration file {path} does not exist") from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: {exc}") from None
        for section, values in data.items():
            if section == "opers":
                if not isinstance(values, list):
                    raise ConfigError("opers must be an array of tables ([[opers]])")
                config.opers = [_parse_oper(entry) for entry in values]
            elif section in SECTIONS and isinstance(values, dict):
                _apply_section(getattr(config, section), section, values)
            else:
                raise ConfigError(f"unknown section [{section}]")
    env = os.environ if environ is None else environ
    for name, value in env.items():
        if not name.startswith(ENV_PREFIX):
            continue
        section, _, key = name[len(ENV_PREFIX) :].lower().partition("__")
        if section not in SECTIONS or not key:
            raise ConfigError(f"{name}: expected CHINWAG__SECTION__KEY, SECTION one of {SECTIONS}")
        _apply_section(getattr(config, section), section, {key: value})
    for section, values in (overrides or {}).items():
        _apply_section(
            getattr(config, section),
            section,
            {key: value for key, value in values.items() if value is not None},
        )
    config.validate()
    return config


def _parse_oper(entry: Any) -> OperConfig:
    if not isinstance(entry, dict) or set(entry) != {"name", "password_hash"}:
        raise ConfigError("each [[opers]] entry needs exactly name and password_hash")
    return OperConfig(name=str(entry["name"]), password_hash=str(entry["password_hash"]))
