"""Accounts end to end: REGISTER, SASL PLAIN, wrong passwords, throttling, account-tag,
account-notify, extended-join, and OPER with an admin account."""

from __future__ import annotations

import re

from .accounts_support import (
    ServeAccounts,
    chunks,
    fast_hashing,
    finish_burst,
    plain,
    register,
    sasl_connect,
    serve_accounts,
)
from .harness import ANY

__all__ = ["fast_hashing", "serve_accounts"]


async def test_register_command_then_sasl_login(serve_accounts: ServeAccounts) -> None:
    """REGISTER creates the account and logs in (900); a later connection logs in by SASL."""
    h = await serve_accounts()
    amy = await register(h, "amy", "correct horse")
    await amy.send("WHOIS amy")
    await amy.expect("330", ["amy", "amy", "amy", ANY])
    await amy.send("QUIT")
    again = await sasl_connect(h, "amy", "correct horse")
    await again.send("WHOIS amy")
    await again.expect("330", ["amy", "amy", "amy", ANY])


async def test_cap_ls_advertises_sasl_plain_and_registration(serve_accounts: ServeAccounts) -> None:
    """CAP LS 302 shows sasl=PLAIN,SCRAM-SHA-256 and draft/account-registration=before-connect;
    old clients see bare names."""
    h = await serve_accounts()
    raw = await h.open()
    await raw.send("CAP LS 302")
    offered = (await raw.expect("CAP", [ANY, "LS", ANY])).params[-1].split()
    wanted = ("sasl=PLAIN,SCRAM-SHA-256", "draft/account-registration=before-connect")
    for cap in (*wanted, "account-notify"):
        assert cap in offered
    assert "extended-join" in offered
    old = await h.open("old")
    await old.send("CAP LS")
    assert "sasl" in (await old.expect("CAP", [ANY, "LS", ANY])).params[-1].split()


async def test_accounts_disabled_hides_the_caps(serve_accounts: ServeAccounts) -> None:
    """With accounts off, sasl is neither offered nor accepted, and NickServ is not there."""
    h = await serve_accounts(accounts={"enabled": False})
    raw = await h.open()
    await raw.send("CAP LS 302")
    offered = (await raw.expect("CAP", [ANY, "LS", ANY])).params[-1]
    assert "sasl" not in offered
    await raw.send("CAP REQ sasl")
    await raw.expect("CAP", [ANY, "NAK", "sasl"])
    amy = await h.connect("amy")
    await amy.send("PRIVMSG NickServ :HELP")
    await amy.expect("401", ["amy", "NickServ", ANY])


async def test_register_failures(serve_accounts: ServeAccounts) -> None:
    """REGISTER answers FAIL with the spec's codes, and the connection goes on."""
    h = await serve_accounts()
    early = await h.open("early")
    await early.send("REGISTER * * pw")
    await early.expect("FAIL", ["REGISTER", "COMPLETE_CONNECTION_REQUIRED", ANY])
    amy = await register(h, "amy", "secret-1")
    await amy.send("QUIT")
    await amy.expect_closed()
    bob = await h.connect("bob")
    await bob.send("REGISTER carol * secret")
    await bob.expect("FAIL", ["REGISTER", "ACCOUNT_NAME_MUST_BE_NICK", "carol", ANY])
    await bob.send("REGISTER * nomail secret")
    await bob.expect("FAIL", ["REGISTER", "INVALID_EMAIL", "bob", ANY])
    await bob.send("REGISTER * * :")
    await bob.expect("FAIL", ["REGISTER", "WEAK_PASSWORD", "bob", ANY])
    await bob.send("REGISTER *")
    await bob.expect("461", ["bob", "REGISTER", ANY])
    await bob.send("NICK AMY")
    await bob.expect("NICK", ["AMY"])
    await bob.send("REGISTER * * other")
    await bob.expect("FAIL", ["REGISTER", "ACCOUNT_EXISTS", "AMY", ANY])
    await bob.send("NICK bob")
    await bob.send("REGISTER * bob@example.org secret-2")
    await bob.expect("REGISTER", ["SUCCESS", "bob", ANY])
    await bob.send("REGISTER * * again")
    await bob.expect("FAIL", ["REGISTER", "ALREADY_AUTHENTICATED", "bob", ANY])
    await bob.send("VERIFY bob 1234")
    await bob.expect("FAIL", ["VERIFY", "ALREADY_AUTHENTICATED", "bob", ANY])
    await bob.alive()


async def test_registration_closed(serve_accounts: ServeAccounts) -> None:
    """registration_open = false refuses REGISTER and NickServ REGISTER alike."""
    h = await serve_accounts(accounts={"registration_open": False})
    amy = await h.connect("amy")
    await amy.send("REGISTER * * secret")
    await amy.expect("FAIL", ["REGISTER", "TEMPORARILY_UNAVAILABLE", "amy", ANY])
    await amy.send("PRIVMSG NickServ :REGISTER secret")
    await amy.expect("NOTICE", ["amy", re.compile(".*closed.*")], source="NickServ")


async def test_sasl_long_password_in_chunks(serve_accounts: ServeAccounts) -> None:
    """A response longer than 400 bytes arrives in chunks; one of exactly 400 ends with +; a
    592-byte password works."""
    h = await serve_accounts()
    long_password = "p" * 295  # base64 of NUL amy NUL + 295 bytes: 400 bytes exactly
    assert len(plain("amy", long_password)) == 400
    amy = await h.connect("amy")
    await amy.send(f"PRIVMSG NickServ :REGISTER {long_password}")
    await amy.expect("NOTICE", ["amy", re.compile(".*registered.*")], source="NickServ")
    await amy.send("QUIT")
    await sasl_connect(h, "amy", long_password)
    longer = "q" * 450
    bob = await h.connect("bob")
    await bob.send(f"REGISTER * * {longer}")
    await bob.expect("REGISTER", ["SUCCESS", "bob", ANY])
    await bob.send("QUIT")
    await sasl_connect(h, "bob", longer)
    # Longer than a line can carry: such an account comes from elsewhere (the admin CLI),
    # and its password arrives in chunks of 400 and a last shorter one.
    longest = "r" * 592
    await h.server.store.accounts.register("cid", "cid", longest)
    assert len(plain("cid", longest)) > 400
    await sasl_connect(h, "cid", longest)


async def test_sasl_bad_input(serve_accounts: ServeAccounts) -> None:
    """Wrong password, bad base64, missing NULs, another authzid, non-UTF-8 or huge password,
    an unknown mechanism, a chunk over 400 bytes and an abort: each a clear numeric."""
    h = await serve_accounts()
    await register(h, "amy", "secret")
    eve = await h.open("eve")
    await eve.send("AUTHENTICATE PLAIN")
    await eve.expect("904", ["*", re.compile(".*sasl capability.*")])
    await eve.send("CAP REQ sasl", "NICK eve", "USER eve 0 * :Eve")
    await eve.expect("CAP", [ANY, "ACK", "sasl"])
    cases = [
        (plain("amy", "wrong"), "904", "invalid account name or password"),
        ("!!!notbase64", "904", "not valid base64"),
        ("YW15c2VjcmV0", "904", "authzid NUL authcid NUL password"),
        (plain("amy", "secret", authzid="bob"), "904", "only log in as yourself"),
        (plain("amy", b"\xff\xfe"), "904", "not valid UTF-8"),
        (plain("amy", b"a\x00b"), "904", "authzid NUL authcid NUL password"),
        (plain(b"\xff", "secret"), "904", "not valid UTF-8"),
        ("+", "904", "authzid NUL authcid NUL password"),
    ]
    for payload, numeric, text in cases:
        await eve.send("AUTHENTICATE PLAIN")
        await eve.expect("AUTHENTICATE", ["+"])
        await eve.send(f"AUTHENTICATE {payload}")
        reply = await eve.expect(numeric)
        assert text in reply.params[-1], (payload, reply)
    await eve.send("AUTHENTICATE PLAIN")
    await eve.expect("AUTHENTICATE", ["+"])
    for chunk in chunks(plain("amy", "x" * 1100)):
        await eve.send(f"AUTHENTICATE {chunk}")
    await eve.expect("904", ["eve", re.compile(".*password refused.*too long.*")])
    await eve.send("AUTHENTICATE PLAIN")
    await eve.expect("AUTHENTICATE", ["+"])
    for _ in range(6):
        await eve.send("AUTHENTICATE " + "A" * 400)
    await eve.expect("905")
    await eve.send("AUTHENTICATE PLAIN")
    await eve.expect("AUTHENTICATE", ["+"])
    await eve.send("AUTHENTICATE " + "A" * 401)
    await eve.expect("905")
    await eve.send("AUTHENTICATE EXTERNAL")
    await eve.expect("908", ["eve", "PLAIN,SCRAM-SHA-256", ANY])
    await eve.expect("904")
    await eve.send("AUTHENTICATE PLAIN")
    await eve.expect("AUTHENTICATE", ["+"])
    await eve.send("AUTHENTICATE *")
    await eve.expect("906")
    await eve.send("AUTHENTICATE PLAIN")
    await eve.expect("AUTHENTICATE", ["+"])
    await eve.send(f"AUTHENTICATE {plain('amy', 'secret')}")
    await eve.expect("900", ["eve", ANY, "amy", ANY])
    await eve.expect("903")
    await eve.send("AUTHENTICATE PLAIN")
    await eve.expect("907")
    await eve.send("CAP END")
    await finish_burst(eve)


async def test_registration_waits_for_the_sasl_check(serve_accounts: ServeAccounts) -> None:
    """CAP END right after the SASL response: 903 comes first, then the welcome, logged in."""
    h = await serve_accounts()
    await register(h, "amy", "secret")
    amy = await h.open("amy2")
    await amy.send("CAP REQ sasl", "NICK amy2", "USER amy 0 * :Amy", "AUTHENTICATE PLAIN")
    await amy.expect("AUTHENTICATE", ["+"])
    await amy.send(f"AUTHENTICATE {plain('amy', 'secret')}", "CAP END")
    lines = await amy.collect_until("001")
    assert [m.command for m in lines if m.command in ("900", "903", "001")] == [
        "900",
        "903",
        "001",
    ]


async def test_cap_end_mid_exchange_aborts_sasl(serve_accounts: ServeAccounts) -> None:
    """CAP END while the exchange waits for the client's response: 906, then registered."""
    h = await serve_accounts()
    amy = await h.open("amy")
    await amy.send("CAP REQ sasl", "NICK amy", "USER amy 0 * :Amy", "AUTHENTICATE PLAIN")
    await amy.expect("AUTHENTICATE", ["+"])
    await amy.send("CAP END")
    await amy.expect("906")
    await finish_burst(amy)


async def test_failed_logins_are_throttled(serve_accounts: ServeAccounts) -> None:
    """After login_burst failures even the right password is refused for a while."""
    h = await serve_accounts(accounts={"login_burst": 2, "login_per_minute": 1})
    await register(h, "amy", "secret")
    eve = await h.connect("eve")
    for _ in range(2):
        await eve.send("PRIVMSG NickServ :IDENTIFY amy guess")
        await eve.expect("NOTICE", ["eve", re.compile(".*invalid account.*")], source="NickServ")
    await eve.send("PRIVMSG NickServ :IDENTIFY amy secret")
    await eve.expect("NOTICE", ["eve", re.compile(".*too many failed attempts.*")])
    # The same account from the same address by SASL: throttled too.
    raw = await h.open("raw")
    await raw.send("CAP REQ sasl", "AUTHENTICATE PLAIN")
    await raw.expect("AUTHENTICATE", ["+"])
    await raw.send(f"AUTHENTICATE {plain('amy', 'secret')}")
    await raw.expect("904", ["*", re.compile(".*too many failed attempts.*")])


async def test_account_tag_notify_and_extended_join(serve_accounts: ServeAccounts) -> None:
    """Peers with the caps see ACCOUNT on login and logout, account= tags and extended JOIN."""
    h = await serve_accounts()
    caps = ["account-notify", "account-tag", "extended-join"]
    watcher = await h.connect("watcher", caps=caps)
    plainy = await h.connect("plainy")
    amy = await h.connect("amy", caps=["account-notify"])
    await amy.send("REGISTER * * secret")
    await watcher.expect("ACCOUNT", ["amy"], source="amy")
    await amy.expect("ACCOUNT", ["amy"], source="amy")
    await amy.send("PRIVMSG #lobby :hello")
    await watcher.expect("PRIVMSG", ["#lobby", "hello"], tags={"account": "amy"})
    msg = await plainy.expect("PRIVMSG", ["#lobby", "hello"])
    assert "account" not in msg.tags
    await amy.send("JOIN #room")
    await watcher.send("JOIN #room")
    await watcher.expect("JOIN", ["#room", "*", "Watcher"], source="watcher")
    await amy.send("PART #room", "JOIN #room")
    await watcher.expect("JOIN", ["#room", "amy", "Amy"], source="amy")
    await amy.send("PRIVMSG NickServ :LOGOUT")
    await amy.expect("901")
    await watcher.expect("ACCOUNT", ["*"], source="amy")
    await plainy.send("PRIVMSG #lobby :sync")
    await watcher.expect("PRIVMSG", ["#lobby", "sync"])
    assert not [m for m in watcher.history if m.command == "ACCOUNT" and m.source == "plainy"]


async def test_oper_with_an_admin_account(serve_accounts: ServeAccounts) -> None:
    """OPER with an admin account's name and password works; a plain account's does not."""
    h = await serve_accounts()
    server = h.server
    await server.store.accounts.register("boss", "boss", "bosspw", admin=True)
    await server.store.accounts.register("pleb", "pleb", "plebpw")
    amy = await h.connect("amy")
    await amy.send("OPER pleb plebpw")
    await amy.expect("464")
    await amy.send("OPER boss wrong")
    await amy.expect("464")
    await amy.send("OPER boss bosspw")
    await amy.expect("381")
    await amy.expect("MODE", ["amy", "+o"])
    await amy.send("STATS c")
    await amy.expect("249", ["amy", re.compile(r"\d+ connections, .*")])
    await amy.expect("219", ["amy", "c", ANY])


async def test_labeled_register_and_sasl(serve_accounts: ServeAccounts) -> None:
    """With labeled-response, the late replies of REGISTER and AUTHENTICATE carry the label."""
    h = await serve_accounts()
    caps = ["labeled-response", "batch"]
    amy = await h.connect("amy", caps=caps)
    await amy.send("@label=r1 REGISTER * * secret")
    await amy.expect("BATCH", [re.compile(r"\+.*"), "labeled-response"], tags={"label": "r1"})
    await amy.expect("900")
    await amy.expect("REGISTER", ["SUCCESS", "amy", ANY])
    await amy.expect("BATCH", [re.compile("-.*")])
    raw = await h.open("raw")
    await raw.send("CAP REQ :sasl labeled-response", "@label=s1 AUTHENTICATE PLAIN")
    await raw.expect("AUTHENTICATE", ["+"], tags={"label": "s1"})
    await raw.send(f"@label=s2 AUTHENTICATE {plain('amy', 'wrong')}")
    await raw.expect("904", tags={"label": "s2"})


async def test_an_abort_behind_the_password_waits_for_the_check(
    serve_accounts: ServeAccounts,
) -> None:
    """AUTHENTICATE * right behind the password is handled after the check, in order: the
    login succeeds (903), then the abort finds nothing to abort (907)."""
    h = await serve_accounts()
    await register(h, "amy", "secret")
    raw = await h.open("raw")
    await raw.send("CAP REQ sasl", "NICK amy2", "USER amy 0 * :Amy", "AUTHENTICATE PLAIN")
    await raw.expect("AUTHENTICATE", ["+"])
    # One write, so that the server reads the abort before the password check can finish.
    payload = plain("amy", "secret")
    await raw.send(f"AUTHENTICATE {payload}\r\nAUTHENTICATE *\r\nCAP END\r\n".encode())
    lines = await raw.collect_until("907")
    assert [m.command for m in lines if m.command in ("900", "903", "906", "907")] == [
        "900",
        "903",
        "907",
    ]
    await finish_burst(raw)


async def test_register_before_connect(serve_accounts: ServeAccounts) -> None:
    """draft/account-registration=before-connect: NICK, REGISTER, USER, CAP END in one packet
    create the account, log in, then welcome the user (its lines wait for the account)."""
    h = await serve_accounts()
    raw = await h.open("raw")
    await raw.send("CAP LS 302")
    caps = await raw.expect("CAP", [ANY, "LS", ANY])
    assert "draft/account-registration=before-connect" in caps.params[-1].split()
    await raw.send(b"NICK early\r\nREGISTER * * :long-enough\r\nUSER e 0 * :Early\r\nCAP END\r\n")
    lines = await raw.collect_until("001")
    commands = [m.command for m in lines]
    assert commands.index("900") < commands.index("REGISTER") < commands.index("001")
    await raw.expect("366")
