"""Password guessing is paid for before the argon2 check: concurrent guesses cannot overdraw the
login budget (SASL, NickServ IDENTIFY, OPER, the server password), one connection has at most one
password hash in flight, and account creation is rate-limited per address."""

from __future__ import annotations

import re

from chinwag.server.config import OperConfig

from .accounts_support import (
    FAST_HASHER,
    ServeAccounts,
    fast_hashing,
    plain,
    register,
    serve_accounts,
)
from .harness import ANY, Client, cheap_hash

__all__ = ["fast_hashing", "serve_accounts"]

THROTTLED = re.compile(".*too many failed attempts.*")


async def _burst(clients: list[Client], lines: list[str]) -> None:
    """Write one line to each client without waiting in between: the server sees them at once."""
    for client, line in zip(clients, lines, strict=True):
        client.writer.write(line.encode() + b"\r\n")
    for client in clients:
        await client.writer.drain()


async def _answers(clients: list[Client], command: str, params: list[object]) -> list[str]:
    return [(await c.expect(command, params, timeout=10.0)).params[-1] for c in clients]


async def test_identify_in_one_write_checks_one_password(serve_accounts: ServeAccounts) -> None:
    """Ten IDENTIFY lines in one write (the right password last) run one at a time, in order:
    login_burst (5) are checked, the other five are throttled, and the right one does not slip
    through."""
    h = await serve_accounts()
    await register(h, "victim", "right-one")
    eve = await h.connect("eve")
    guesses = [f"PRIVMSG NickServ :IDENTIFY victim guess{i}\r\n" for i in range(9)]
    right = "PRIVMSG NickServ :IDENTIFY victim right-one\r\n"
    await eve.send("".join([*guesses, right]).encode())  # one write: one read on the server
    answers = [
        (await eve.expect("NOTICE", ["eve", ANY], source="NickServ")).params[-1] for _ in range(10)
    ]
    checked = [a for a in answers if "invalid account name or password" in a]
    assert len(checked) == 5, answers
    assert sum(bool(THROTTLED.match(a)) for a in answers) == 5, answers
    await eve.send("WHOIS eve")
    whois = await eve.collect_until("318")
    assert not [m for m in whois if m.command == "330"], whois


async def test_concurrent_identify_spends_before_checking(serve_accounts: ServeAccounts) -> None:
    """Ten connections guessing at once get login_burst (5) checks: the rest are throttled."""
    h = await serve_accounts()
    await register(h, "victim", "right-one")
    guessers = [await h.connect(f"eve{i}") for i in range(10)]
    await _burst(guessers, [f"PRIVMSG NickServ :IDENTIFY victim guess{i}" for i in range(10)])
    answers = [
        (await c.expect("NOTICE", [c.nick, ANY], source="NickServ", timeout=10.0)).params[-1]
        for c in guessers
    ]
    assert sum(bool(THROTTLED.match(a)) for a in answers) == 5, answers


async def test_concurrent_sasl_spends_before_checking(serve_accounts: ServeAccounts) -> None:
    """Ten SASL PLAIN responses at once for one account: five are checked, five throttled."""
    h = await serve_accounts()
    await register(h, "victim", "right-one")
    raws = [await h.open(f"raw{i}") for i in range(10)]
    for raw in raws:
        await raw.send("CAP REQ sasl", "AUTHENTICATE PLAIN")
        await raw.expect("AUTHENTICATE", ["+"])
    await _burst(raws, [f"AUTHENTICATE {plain('victim', f'guess{i}')}" for i in range(10)])
    answers = await _answers(raws, "904", ["*", ANY])
    assert sum(bool(THROTTLED.match(a)) for a in answers) == 5, answers


async def test_concurrent_oper_spends_before_checking(serve_accounts: ServeAccounts) -> None:
    """Ten OPER guesses at once against a configured operator: five checked, five throttled."""
    h = await serve_accounts()
    h.server.config.opers = [OperConfig("root", FAST_HASHER.hash("hunter2"))]
    guessers = [await h.connect(f"eve{i}") for i in range(10)]
    await _burst(guessers, [f"OPER root guess{i}" for i in range(10)])
    answers = await _answers(guessers, "464", [ANY, ANY])
    assert sum(bool(THROTTLED.match(a)) for a in answers) == 5, answers


async def test_server_password_is_throttled_per_address(serve_accounts: ServeAccounts) -> None:
    """Ten connections sending a wrong PASS at once: five checks, five refused as throttled;
    every one gets 464 and ERROR."""
    h = await serve_accounts(server={"password_hash": cheap_hash("letmein")})
    raws = [await h.open(f"raw{i}") for i in range(10)]
    await _burst(raws, [f"PASS guess{i}\r\nNICK n{i}\r\nUSER u 0 * :U" for i in range(10)])
    answers = await _answers(raws, "464", [ANY, ANY])
    assert sum(bool(THROTTLED.match(a)) for a in answers) == 5, answers
    for raw in raws:
        await raw.expect_error("Bad password")


async def test_one_register_in_flight_per_connection(serve_accounts: ServeAccounts) -> None:
    """Three REGISTER lines in one write hash one password: they run in order, and the two
    after the first are refused before any hashing (the connection is logged in by then)."""
    h = await serve_accounts()
    amy = await h.connect("amy")
    await amy.send(b"REGISTER * * secret1\r\nREGISTER * * secret2\r\nREGISTER * * secret3\r\n")
    await amy.expect("REGISTER", ["SUCCESS", "amy", ANY])
    for _ in range(2):
        await amy.expect("FAIL", ["REGISTER", "ALREADY_AUTHENTICATED", "amy", ANY])


async def test_account_creation_is_rate_limited_per_address(
    serve_accounts: ServeAccounts,
) -> None:
    """Past register_burst accounts from one address, REGISTER and NickServ REGISTER are
    refused with the wait; nothing is created."""
    h = await serve_accounts(accounts={"register_burst": 2, "register_per_hour": 1})
    await register(h, "one", "secret")
    await register(h, "two", "secret")
    three = await h.connect("three")
    await three.send("REGISTER * * secret")
    await three.expect(
        "FAIL", ["REGISTER", "TEMPORARILY_UNAVAILABLE", "three", re.compile(".*try again in.*")]
    )
    await three.send("PRIVMSG NickServ :REGISTER secret")
    await three.expect("NOTICE", ["three", re.compile(".*try again in.*")], source="NickServ")
    assert await h.server.store.accounts.get("three") is None
