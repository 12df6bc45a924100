"""The shipped chinwag.example.toml loads, and documents every key the server knows."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from chinwag.server.config import (
    AccountsConfig,
    ClusterConfig,
    Config,
    HistoryConfig,
    LimitsConfig,
    LoggingConfig,
    MetricsConfig,
    PrivacyConfig,
    ServerConfig,
    WebSocketConfig,
    load_config,
)

EXAMPLE = Path(__file__).resolve().parent.parent / "chinwag.example.toml"


def test_example_loads() -> None:
    """The example file is valid configuration."""
    config = load_config(EXAMPLE, environ={})
    assert config.server.default_channels == ["#lobby"]


def test_example_has_every_key_with_a_comment() -> None:
    """Each setting of each section appears in the example, with a comment above it."""
    text = EXAMPLE.read_text(encoding="utf-8")
    sections = (
        ServerConfig,
        LimitsConfig,
        HistoryConfig,
        AccountsConfig,
        WebSocketConfig,
        ClusterConfig,
        PrivacyConfig,
        MetricsConfig,
        LoggingConfig,
    )
    for section in sections:
        for field in dataclasses.fields(section):
            match = re.search(rf"^{field.name} = ", text, re.MULTILINE)
            assert match, f"{field.name} is missing from chinwag.example.toml"
            before = text[: match.start()].rstrip("\n").splitlines()
            while before and re.match(r"\w+ = ", before[-1]):
                before.pop()  # keys grouped under one comment
            assert before and before[-1].startswith("#"), f"{field.name} has no comment"


def test_example_limits_are_the_defaults() -> None:
    """The example shows the real default of every limit, so it never lies."""
    config = load_config(EXAMPLE, environ={})
    defaults = Config()
    assert config.limits == defaults.limits
    assert config.history == defaults.history
    assert config.accounts == defaults.accounts
    assert config.websocket == defaults.websocket
    assert config.privacy == defaults.privacy
    assert config.metrics == defaults.metrics
    assert config.logging == defaults.logging
