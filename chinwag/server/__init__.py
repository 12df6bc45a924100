"""The chinwag IRC server: configuration, connections, network state and command handlers."""

from __future__ import annotations

from chinwag.server.app import Server, run_server
from chinwag.server.config import Config, ConfigError, load_config

__all__ = ["Config", "ConfigError", "Server", "load_config", "run_server"]
