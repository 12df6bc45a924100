"""Applying a reloaded configuration to a running server (the SIGHUP path, in process)."""

from __future__ import annotations

import asyncio
import dataclasses
import ssl
from pathlib import Path

import pytest

from chinwag.server import Server, load_config
from chinwag.server.config import Config, ConfigError
from chinwag.server.tls import ensure_self_signed

BASE = {"server": {"port": 0, "name": "test.chinwag", "data_dir": "none"}}


def _config(**sections: dict[str, object]) -> Config:
    merged = {key: {**BASE.get(key, {}), **sections.get(key, {})} for key in {*BASE, *sections}}
    return load_config(None, environ={}, overrides=merged)


async def test_live_settings_change_and_the_rest_waits_for_a_restart() -> None:
    """Limits, MOTD and history retention change live; the port and the name are reported."""
    server = Server(_config())
    await server.start()
    try:
        limits = server.config.limits
        new = _config(
            server={"motd": "new", "port": 7001, "name": "other"},
            limits={"flood_burst": 3, "whowas_length": 5},
            history={"max_age_days": 2.0},
        )
        report = server.reloader.apply(new)
        assert report.ok
        assert set(report.changed) == {
            "server.motd",
            "limits.flood_burst",
            "limits.whowas_length",
            "history.max_age_days",
        }
        assert set(report.needs_restart) == {"server.port", "server.name"}
        assert server.config.limits is limits and limits.flood_burst == 3
        assert server.motd.text == "new"
        assert server.network.whowas.maxlen == 5
        assert server.config.server.name == "test.chinwag"
        assert "needs a restart to change: server.name, server.port" in report.summary()
    finally:
        await server.stop()


async def test_default_channels_follow_the_configuration() -> None:
    """A new default channel exists at once; an empty dropped one goes away."""
    server = Server(_config(server={"default_channels": ["#lobby"]}))
    await server.start()
    try:
        server.reloader.apply(_config(server={"default_channels": ["#news"]}))
        assert server.network.find_channel("#news") is not None
        assert server.network.find_channel("#lobby") is None
    finally:
        await server.stop()


async def test_a_broken_file_changes_nothing(tmp_path: Path) -> None:
    """A reload whose file does not parse is refused with the reason; nothing changes."""
    path = tmp_path / "chinwag.toml"
    path.write_text("[limits]\nflood_burst = 9\n", encoding="utf-8")
    server = Server(_config(), config_source=lambda: load_config(path, environ={}, overrides=BASE))
    assert server.reloader.reload().ok and server.config.limits.flood_burst == 9
    path.write_text("[limits]\nflood_burst = 'many'\n", encoding="utf-8")
    report = server.reloader.reload()
    assert not report.ok and "limits.flood_burst must be a whole number" in report.error
    assert server.config.limits.flood_burst == 9
    no_source = Server(_config())
    assert not no_source.reloader.reload().ok


async def test_new_certificate_for_new_connections(tmp_path: Path) -> None:
    """The TLS context loads the renewed files; unreadable ones refuse the whole reload."""
    first, second = tmp_path / "one", tmp_path / "two"
    cert1, key1 = ensure_self_signed(first, "one.example")
    cert2, key2 = ensure_self_signed(second, "two.example")
    tls = {"tls_cert": str(cert1), "tls_key": str(key1), "tls_port": 0}
    server = Server(_config(server=tls))
    await server.start()
    try:
        assert server.tls_context is not None and server.tls_port is not None
        server.reloader.apply(_config(server={**tls, "tls_cert": str(cert2), "tls_key": str(key2)}))
        client = ssl.create_default_context(cafile=str(cert2))
        client.check_hostname = False
        reader, writer = await asyncio.open_connection("127.0.0.1", server.tls_port, ssl=client)
        writer.close()
        broken = dataclasses.replace(_config(server=tls))
        broken.server.tls_key = str(tmp_path / "missing.pem")
        with pytest.raises(ConfigError, match="TLS certificate or key"):
            server.reloader.apply(broken)
        assert server.config.server.tls_cert == str(cert2)
        assert reader is not None
    finally:
        await server.stop()
