"""Configuration: defaults, the TOML file, CHINWAG__SECTION__KEY variables, flags, validation."""

from __future__ import annotations

import dataclasses
import re
import tomllib
from pathlib import Path

import pytest

from chinwag.server import ConfigError, load_config
from chinwag.server.config import LimitsConfig, ServerConfig, default_server_name, parse_listen
from chinwag.server.passwords import hash_password, verify_password

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "chinwag.example.toml"


@pytest.fixture(scope="module")
def oper_hash() -> str:
    """One argon2id hash of "hunter2"."""
    return hash_password("hunter2")


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "chinwag.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_are_safe() -> None:
    """With nothing given: loopback, port 6667, #lobby, 32-char nicks, loopback exempt."""
    config = load_config(None, environ={})
    assert config.server.host == "127.0.0.1"
    assert config.server.port == 6667
    assert config.server.default_channels == ["#lobby"]
    assert config.server.password_hash == ""
    assert config.limits.nick_length == 32
    assert config.limits.exempt_loopback is True
    assert config.opers == []


def test_file_with_every_section(tmp_path: Path, oper_hash: str) -> None:
    """A file with [server], [limits] and [[opers]] sets each value it names."""
    path = _write(
        tmp_path,
        f"""
[server]
name = "irc.example.org"
network = "ExampleNet"
port = 7000
motd = "hi"
default_channels = ["#a", "#b"]
password_hash = "{oper_hash}"

[limits]
nick_length = 16
sendq_bytes = 65536
flood_rate = 2.5
exempt_loopback = false

[[opers]]
name = "root"
password_hash = "{oper_hash}"
""",
    )
    config = load_config(path, environ={})
    assert config.server.name == "irc.example.org"
    assert config.server.network == "ExampleNet"
    assert config.server.port == 7000
    assert config.server.default_channels == ["#a", "#b"]
    assert config.limits.nick_length == 16
    assert config.limits.sendq_bytes == 65536
    assert config.limits.flood_rate == 2.5
    assert config.limits.exempt_loopback is False
    assert [o.name for o in config.opers] == ["root"]
    assert verify_password(config.opers[0].password_hash, "hunter2")
    assert config.limits.ping_timeout == LimitsConfig().ping_timeout


def test_example_file_loads_and_names_every_key() -> None:
    """chinwag.example.toml loads as it is and mentions every [server] and [limits] key."""
    config = load_config(EXAMPLE, environ={})
    assert config.limits == LimitsConfig()
    text = EXAMPLE.read_text(encoding="utf-8")
    data = tomllib.loads(text)
    for section, cls in (("server", ServerConfig), ("limits", LimitsConfig)):
        for f in dataclasses.fields(cls):
            assert f.name in data[section], f"{section}.{f.name} is missing from the example"
    assert re.search(r"^# \[\[opers\]\]", text, re.M)


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("[limits]\nsendq = 5\n", "limits.sendq"),
        ("[server]\nnmae = 'x'\n", "server.nmae"),
        ("[serverz]\nname = 'x'\n", "serverz"),
        ("[[opers]]\nname = 'a'\npassword_hash = '$argon2id$x'\nhost = '*'\n", "opers"),
    ],
)
def test_unknown_key_is_an_error(tmp_path: Path, text: str, where: str) -> None:
    """A misspelt key or section is refused with its name, never silently ignored."""
    with pytest.raises(ConfigError, match=re.escape(where)):
        load_config(_write(tmp_path, text), environ={})


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("[server]\nport = 70000\n", "server.port"),
        ("[server]\nport = 'many'\n", "server.port"),
        ("[limits]\nsendq_bytes = 100\n", "limits.sendq_bytes"),
        ("[limits]\nnick_length = 0\n", "limits.nick_length"),
        ("[limits]\nexempt_loopback = 'perhaps'\n", "limits.exempt_loopback"),
        ("[server]\ndefault_channels = ['lobby']\n", "default_channels"),
        ("[server]\nname = 5\n", "server.name"),
        (f"[server]\nname = '{'a' * 64}.org'\n", "server.name must be 1 to 63 bytes"),
        ("[server]\nname = 'irc example'\n", "server.name must be 1 to 63 bytes"),
        ("[server]\nname = ''\n", "server.name must be 1 to 63 bytes"),
        ("[cluster]\nstore = 'sqlite:///x.db'\n", "cluster.store"),
        ("[cluster]\nstore = 'postgresql:///c'\nredis = 'localhost:6379'\n", "cluster.redis"),
        ("[cluster]\nredis = 'redis://r/0'\n", "cluster.redis needs cluster.store"),
        ("[cluster]\nnode_name = 'n1'\n", "cluster.node_name"),
    ],
)
def test_bad_values_are_errors(tmp_path: Path, text: str, where: str) -> None:
    """A value of the wrong type or out of range is refused, naming the key."""
    with pytest.raises(ConfigError, match=re.escape(where)):
        load_config(_write(tmp_path, text), environ={})


def test_cluster_urls_in_every_documented_form(tmp_path: Path) -> None:
    """[cluster] takes redis://, rediss:// and unix:// for Redis, libpq URLs for the store."""
    for redis_url in ("redis://r:6379/0", "rediss://r:6380/1", "unix:///run/redis.sock"):
        text = (
            "[cluster]\nstore = 'postgresql://chinwag@/chinwag?host=/run/postgresql'\n"
            f"redis = '{redis_url}'\nnode_name = 'n1.example.org'\n"
        )
        config = load_config(_write(tmp_path, text), environ={})
        assert (config.cluster.redis, config.cluster.node_name) == (redis_url, "n1.example.org")


def test_missing_file_and_broken_toml(tmp_path: Path) -> None:
    """A missing file or one that is not TOML is a ConfigError, not a traceback."""
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.toml", environ={})
    with pytest.raises(ConfigError):
        load_config(_write(tmp_path, "[server\nname = "), environ={})


def test_env_override() -> None:
    """CHINWAG__LIMITS__SENDQ_BYTES overrides the default, converted to the key's type."""
    config = load_config(None, environ={"CHINWAG__LIMITS__SENDQ_BYTES": "2097152"})
    assert config.limits.sendq_bytes == 2097152


def test_env_beats_file_and_flags_beat_env(tmp_path: Path) -> None:
    """Order of precedence: defaults < file < environment < flags."""
    path = _write(tmp_path, "[server]\nport = 7000\nname = 'file'\n")
    environ = {"CHINWAG__SERVER__PORT": "7001", "CHINWAG__SERVER__NAME": "env"}
    config = load_config(path, environ=environ, overrides={"server": {"port": 7002, "name": None}})
    assert config.server.port == 7002
    assert config.server.name == "env"


def test_env_types() -> None:
    """Booleans, floats and lists are read from environment strings."""
    config = load_config(
        None,
        environ={
            "CHINWAG__LIMITS__EXEMPT_LOOPBACK": "false",
            "CHINWAG__LIMITS__FLOOD_RATE": "0.5",
            "CHINWAG__SERVER__DEFAULT_CHANNELS": "#a, #b",
            "UNRELATED": "x",
        },
    )
    assert config.limits.exempt_loopback is False
    assert config.limits.flood_rate == 0.5
    assert config.server.default_channels == ["#a", "#b"]


@pytest.mark.parametrize(
    "name", ["CHINWAG__LIMITS__NOPE", "CHINWAG__OTHER__PORT", "CHINWAG__LIMITS"]
)
def test_bad_env_names_are_errors(name: str) -> None:
    """A CHINWAG__ variable that names no key is refused (a typo must not pass unnoticed)."""
    with pytest.raises(ConfigError):
        load_config(None, environ={name: "1"})


def test_env_bad_value_is_an_error() -> None:
    """A CHINWAG__ variable with a value of the wrong type is refused, naming the key."""
    with pytest.raises(ConfigError, match=re.escape("limits.sendq_bytes")):
        load_config(None, environ={"CHINWAG__LIMITS__SENDQ_BYTES": "lots"})


def test_plain_text_oper_password_is_refused(tmp_path: Path) -> None:
    """An operator with a plain-text password (or the wrong key for it) is refused."""
    text = "[[opers]]\nname = 'root'\npassword_hash = 'hunter2'\n"
    with pytest.raises(ConfigError, match="plain-text"):
        load_config(_write(tmp_path, text), environ={})
    text = "[[opers]]\nname = 'root'\npassword = 'hunter2'\n"
    with pytest.raises(ConfigError):
        load_config(_write(tmp_path, text), environ={})


def test_plain_text_server_password_is_refused() -> None:
    """server.password_hash must be an argon2 hash, never the password itself."""
    with pytest.raises(ConfigError, match="password_hash"):
        load_config(None, environ={"CHINWAG__SERVER__PASSWORD_HASH": "letmein"})


def test_opers_must_be_an_array_of_tables(tmp_path: Path) -> None:
    """[opers] as a plain table is refused with a hint."""
    with pytest.raises(ConfigError, match=re.escape("[[opers]]")):
        load_config(_write(tmp_path, "[opers]\nname = 'root'\n"), environ={})


def test_password_hash_round_trip() -> None:
    """hash_password makes an argon2id hash that verifies only the same password."""
    hashed = hash_password("s3cret")
    assert hashed.startswith("$argon2id$")
    assert verify_password(hashed, "s3cret")
    assert not verify_password(hashed, "S3cret")
    assert not verify_password("not a hash", "s3cret")


@pytest.mark.parametrize(
    ("variable", "value", "complaint"),
    [
        ("CHINWAG__PRIVACY__CLOAK_SUFFIX", "bad suffix!", "privacy.cloak_suffix"),
        ("CHINWAG__METRICS__LISTEN", "9108", "metrics.listen must be HOST:PORT"),
        ("CHINWAG__METRICS__LISTEN", "localhost:99999", "metrics.listen must be HOST:PORT"),
        ("CHINWAG__LOGGING__FORMAT", "xml", "logging.format"),
        ("CHINWAG__LOGGING__LEVEL", "loud", "logging.level"),
    ],
)
def test_operations_settings_are_checked(variable: str, value: str, complaint: str) -> None:
    """Bad privacy, metrics and logging values are refused, naming the key."""
    with pytest.raises(ConfigError, match=re.escape(complaint)):
        load_config(None, environ={variable: value})


def test_operations_settings_from_the_environment() -> None:
    """[privacy], [metrics] and [logging] take CHINWAG__SECTION__KEY overrides too."""
    config = load_config(
        None,
        environ={
            "CHINWAG__PRIVACY__CLOAK_HOSTS": "false",
            "CHINWAG__METRICS__LISTEN": "[::1]:9108",
            "CHINWAG__LOGGING__FORMAT": "json",
        },
    )
    assert not config.privacy.cloak_hosts
    assert config.metrics.listen == "[::1]:9108"
    assert config.logging.format == "json"
    assert parse_listen(config.metrics.listen) == ("::1", 9108)


def test_a_host_name_too_long_for_a_server_name_gives_the_default() -> None:
    """The default server name is the host's name when it fits RFC 2812's 63, else chinwag.local."""
    assert default_server_name("chat.example.org") == "chat.example.org"
    assert default_server_name("h" * 64) == "chinwag.local"
    assert default_server_name("") == "chinwag.local"
