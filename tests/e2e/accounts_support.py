"""Helpers for the account, services and ban tests: servers with ``[accounts]`` settings, cheap
argon2, and clients that register or log in by SASL PLAIN or SCRAM-SHA-256."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any

import pytest

from chinwag.server import Server, load_config
from chinwag.store import passwords

from .harness import ANY, FAST_HASHER, Client, Clients, Harness

__all__ = [
    "FAST_HASHER",
    "ScramClient",
    "ServeAccounts",
    "connect_oper",
    "fast_hashing",
    "finish_burst",
    "plain",
    "register",
    "sasl_connect",
    "serve_accounts",
]

ServeAccounts = Callable[..., Awaitable[Harness]]


@pytest.fixture
def fast_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Hash and verify with a cheap argon2id profile in this process (the server's store too)."""
    monkeypatch.setattr(passwords, "_DEFAULT_HASHER", FAST_HASHER)


def make_accounts_server(
    *,
    data_dir: Path | None = None,
    accounts: dict[str, Any] | None = None,
    server: dict[str, Any] | None = None,
    limits: dict[str, Any] | None = None,
    privacy: dict[str, Any] | None = None,
) -> Server:
    """A server on a free port with a SQLite store in ``data_dir`` (memory when None); host
    cloaking off unless ``privacy`` turns it on (as in `harness.make_server`)."""
    overrides: dict[str, dict[str, Any]] = {
        "server": {
            "port": 0,
            "name": "test.chinwag",
            "data_dir": str(data_dir) if data_dir is not None else "none",
            **(server or {}),
        },
        "limits": {"flood_rate": 0, **(limits or {})},
        "accounts": accounts or {},
        "privacy": {"cloak_hosts": False, **(privacy or {})},
    }
    return Server(load_config(None, environ={}, overrides=overrides))


@pytest.fixture
async def serve_accounts(fast_hashing: None) -> AsyncIterator[ServeAccounts]:
    """Start servers made by `make_accounts_server`; each is stopped after the test."""
    started: list[Harness] = []

    async def start(**kwargs: Any) -> Harness:
        server = make_accounts_server(**kwargs)
        await server.start()
        harness = Harness(server)
        started.append(harness)
        return harness

    yield start
    for harness in started:
        await harness.close()
        if not harness.server._stopped.is_set():
            await harness.server.stop()
    for harness in started:
        assert not harness.violations(), harness.violations()


def plain(authcid: str | bytes, password: str | bytes, authzid: str | bytes = b"") -> str:
    """The base64 SASL PLAIN response ``authzid NUL authcid NUL password``."""

    def raw(value: str | bytes) -> bytes:
        return value.encode() if isinstance(value, str) else value

    return base64.b64encode(raw(authzid) + b"\0" + raw(authcid) + b"\0" + raw(password)).decode()


def chunks(payload: str) -> list[str]:
    """The AUTHENTICATE parameters for ``payload``: 400-byte chunks, ``+`` after a full one."""
    out = [payload[i : i + 400] for i in range(0, len(payload), 400)] or ["+"]
    if len(out[-1]) == 400:
        out.append("+")
    return out


async def finish_burst(client: Client, channels: Iterable[str] = ("#lobby",)) -> None:
    """Read up to the end of the welcome burst (MOTD and the default channels' 366)."""
    await client.expect("001", timeout=5.0)
    while (await client.next()).command not in ("376", "422"):
        pass
    for _ in channels:
        await client.expect("366")


async def sasl_connect(
    h: Clients,
    nick: str,
    password: str,
    *,
    account: str | None = None,
    caps: Iterable[str] = (),
) -> Client:
    """Connect ``nick``, log in to ``account`` (default: the nick) by SASL PLAIN, register."""
    client = await h.open(nick)
    await client.send("CAP LS 302")
    await client.expect("CAP", [ANY, "LS", ANY])
    wanted = " ".join(["sasl", *caps])
    await client.send(f"CAP REQ :{wanted}", f"NICK {nick}", f"USER {nick} 0 * :{nick}")
    await client.expect("CAP", [ANY, "ACK", wanted])
    await client.send("AUTHENTICATE PLAIN")
    await client.expect("AUTHENTICATE", ["+"])
    for chunk in chunks(plain(account or nick, password)):
        await client.send(f"AUTHENTICATE {chunk}")
    await client.expect("900", [nick, ANY, ANY, ANY])
    await client.expect("903")
    await client.send("CAP END")
    await finish_burst(client, h.default_channels)
    return client


async def register(h: Clients, nick: str, password: str, caps: Iterable[str] = ()) -> Client:
    """Connect ``nick`` and register it as an account with the REGISTER command."""
    client = await h.connect(nick, caps=caps)
    await client.send(f"REGISTER * * :{password}")
    await client.expect("REGISTER", ["SUCCESS", nick, ANY])
    return client


async def connect_oper(h: Harness, nick: str = "boss") -> Client:
    """Connect ``nick`` as a server operator (the ``root`` admin account, made if missing)."""
    if await h.server.store.accounts.get("root") is None:
        await h.server.store.accounts.register("root", "root", "rootpw", admin=True)
    boss = await h.connect(nick)
    await boss.send("OPER root rootpw")
    await boss.expect("381")
    return boss


class ScramClient:
    """The client side of SCRAM-SHA-256, written from RFC 5802's formulas for the tests."""

    def __init__(self, user: str, password: str) -> None:
        self.password = password.encode()
        self.bare = f"n={user},r={base64.b64encode(os.urandom(12)).decode()}"
        self.server_signature = b""

    def first(self) -> str:
        """client-first, base64."""
        return base64.b64encode(f"n,,{self.bare}".encode()).decode()

    def final(self, server_first_b64: str) -> str:
        """client-final for the server's base64 server-first, base64."""
        server_first = base64.b64decode(server_first_b64).decode()
        attrs = dict(part.split("=", 1) for part in server_first.split(","))
        salted = hashlib.pbkdf2_hmac(
            "sha256", self.password, base64.b64decode(attrs["s"]), int(attrs["i"])
        )
        client_key = hmac.digest(salted, b"Client Key", "sha256")
        without_proof = f"c=biws,r={attrs['r']}"
        auth = f"{self.bare},{server_first},{without_proof}".encode()
        signature = hmac.digest(hashlib.sha256(client_key).digest(), auth, "sha256")
        proof = bytes(a ^ b for a, b in zip(client_key, signature, strict=True))
        server_key = hmac.digest(salted, b"Server Key", "sha256")
        self.server_signature = hmac.digest(server_key, auth, "sha256")
        final = f"{without_proof},p={base64.b64encode(proof).decode()}"
        return base64.b64encode(final.encode()).decode()

    def verify(self, server_final_b64: str) -> bool:
        """Whether the server's signature proves it knew the password."""
        server_final = base64.b64decode(server_final_b64).decode()
        return server_final == "v=" + base64.b64encode(self.server_signature).decode()
