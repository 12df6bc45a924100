"""SASL SCRAM-SHA-256 end to end: a login without sending the password, the server's proof,
wrong passwords and unknown accounts refused alike."""

from __future__ import annotations

from .accounts_support import (
    ScramClient,
    ServeAccounts,
    fast_hashing,
    register,
    serve_accounts,
)
from .harness import ANY, Client, Harness

__all__ = ["fast_hashing", "serve_accounts"]


async def _start(h: Harness, name: str) -> Client:
    raw = await h.open(name)
    await raw.send("CAP LS 302", "CAP REQ sasl", "NICK " + name, "USER u 0 * :U")
    caps = await raw.expect("CAP", [ANY, "LS", ANY])
    assert "sasl=PLAIN,SCRAM-SHA-256" in caps.params[-1].split()
    await raw.expect("CAP", [ANY, "ACK", "sasl"])
    await raw.send("AUTHENTICATE SCRAM-SHA-256")
    await raw.expect("AUTHENTICATE", ["+"])
    return raw


async def test_scram_login(serve_accounts: ServeAccounts) -> None:
    """client-first, server-first, client-final, server-final (verified), +, then 900/903."""
    h = await serve_accounts()
    amy = await register(h, "amy", "correct horse")
    await amy.send("QUIT")
    raw = await _start(h, "raw")
    client = ScramClient("amy", "correct horse")
    await raw.send(f"AUTHENTICATE {client.first()}")
    server_first = await raw.expect("AUTHENTICATE")
    await raw.send(f"AUTHENTICATE {client.final(server_first.params[0])}")
    server_final = await raw.expect("AUTHENTICATE")
    assert client.verify(server_final.params[0])
    await raw.send("AUTHENTICATE +")
    await raw.expect_numeric("900", ANY, "amy", ANY)
    await raw.expect("903")
    await raw.send("CAP END")
    await raw.expect("001")


async def test_scram_wrong_password_and_unknown_account(serve_accounts: ServeAccounts) -> None:
    """A wrong password and an unknown account both get a server-first, then 904."""
    h = await serve_accounts()
    amy = await register(h, "amy", "correct horse")
    await amy.send("QUIT")
    for name, password in (("amy", "wrong horse"), ("nobody", "anything")):
        raw = await _start(h, "raw" + name)
        client = ScramClient(name, password)
        await raw.send(f"AUTHENTICATE {client.first()}")
        server_first = await raw.expect("AUTHENTICATE")
        await raw.send(f"AUTHENTICATE {client.final(server_first.params[0])}")
        await raw.expect("904")


async def test_scram_malformed_first_message(serve_accounts: ServeAccounts) -> None:
    """A client-first asking for channel binding is refused with 904 and a reason."""
    h = await serve_accounts()
    raw = await _start(h, "raw")
    await raw.send("AUTHENTICATE cD10bHMtdW5pcXVlLCxuPWFteSxyPWFiYw==")  # p=tls-unique,,n=amy,r=abc
    failed = await raw.expect("904")
    assert "channel-bindings-not-supported" in failed.params[-1]
