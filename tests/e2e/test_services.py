"""NickServ and ChanServ end to end: commands, reserved nicks, nick protection, and registered
channels that keep their topic, modes and bans across a restart on the same data directory."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from .accounts_support import ServeAccounts, fast_hashing, sasl_connect, serve_accounts
from .harness import ANY, Client

__all__ = ["fast_hashing", "serve_accounts"]


async def _ns(client: Client, line: str, pattern: str, service: str = "NickServ") -> None:
    await client.send(f"PRIVMSG {service} :{line}")
    await client.expect("NOTICE", [client.nick, re.compile(pattern)], source=service)


async def test_nickserv_commands(serve_accounts: ServeAccounts) -> None:
    """REGISTER, IDENTIFY, INFO, SET PASSWORD, LOGOUT, DROP and HELP answer as NOTICEs."""
    h = await serve_accounts()
    amy = await h.connect("amy")
    await _ns(amy, "HELP", ".*NickServ lets you register.*")
    await amy.send("PRIVMSG NickServ :REGISTER secret amy@example.org")
    await amy.expect("900", ["amy", "amy!~amy@127.0.0.1", "amy", ANY])
    await amy.expect("NOTICE", ["amy", re.compile("The account amy is registered.*")])
    await _ns(amy, "INFO", "Account amy, registered .*")
    await amy.expect("NOTICE", ["amy", "Logged in now: amy."], source="NickServ")
    await amy.expect("NOTICE", ["amy", "Email: amy@example.org"], source="NickServ")
    await _ns(amy, "SET PASSWORD newsecret", "Your password is changed.")
    await _ns(amy, "LOGOUT", "You are now logged out.")
    await _ns(amy, "IDENTIFY secret", "Login failed: invalid account name or password.")
    await _ns(amy, "IDENTIFY newsecret", "You are now logged in as amy.")
    await _ns(amy, "IDENTIFY newsecret", "You are already logged in as amy.")
    bob = await h.connect("bob")
    await _ns(bob, "INFO amy", "Account amy, registered .*")
    await bob.expect("NOTICE", ["bob", "Logged in now: amy."], source="NickServ")
    await bob.send("PRIVMSG bob :sync")
    await bob.expect("PRIVMSG", ["bob", "sync"])
    assert not [m for m in bob.history if "Email" in m.params[-1]], "email shown to a stranger"
    await _ns(bob, "IDENTIFY amy newsecret", "You are now logged in as amy.")
    await _ns(bob, "FROB", "Unknown command FROB.*")
    await _ns(bob, "SET PASSWORD", "Syntax: SET PASSWORD <new password>")
    await _ns(bob, "IDENTIFY", r"Syntax: IDENTIFY \[account\] <password>")
    await amy.send("PRIVMSG NickServ :DROP")
    await amy.expect("901")
    await amy.expect("NOTICE", ["amy", "The account amy is dropped."], source="NickServ")
    await bob.expect("901")
    await _ns(bob, "INFO amy", "amy is not a registered account.")
    await bob.send("NOTICE NickServ :HELP")
    await bob.alive()


async def test_service_nicks_are_reserved_and_visible(serve_accounts: ServeAccounts) -> None:
    """Nobody can take NickServ or ChanServ; WHOIS shows them; KILL cannot remove them."""
    h = await serve_accounts()
    amy = await h.connect("amy")
    await amy.send("NICK nickserv")
    await amy.expect("433", ["amy", "nickserv", ANY])
    await amy.send("WHOIS ChanServ")
    await amy.expect("311", ["amy", "ChanServ", "ChanServ", "services.", "*", ANY])
    await amy.expect("318")
    raw = await h.open()
    await raw.send("NICK NickServ")
    await raw.expect("433", ["*", "NickServ", ANY])
    await amy.send("PRIVMSG NickServ :REGISTER x")  # a registration named amy: allowed
    await amy.expect("NOTICE", ["amy", ANY], source="NickServ")
    await h.server.store.accounts.register("root", "root", "rootpw", admin=True)
    await amy.send("OPER root rootpw")
    await amy.expect("381")
    await amy.send("KILL NickServ :begone")
    await amy.expect("483", ["amy", ANY])
    await amy.send("WHOIS NickServ")
    await amy.expect("311", ["amy", "NickServ", "NickServ", "services.", "*", ANY])


async def test_nick_protection_renames_after_the_grace(serve_accounts: ServeAccounts) -> None:
    """Someone on a registered nick is warned, then renamed to a guest nick after the grace."""
    h = await serve_accounts(accounts={"nick_protection_grace": 0.3, "guest_prefix": "Anon"})
    amy = await h.connect("amy")
    await _ns(amy, "REGISTER secret", ".*registered.*")
    await amy.send("QUIT")
    await amy.expect_closed()
    imp = await h.connect("amy")
    warning = await imp.expect("NOTICE", ["amy", ANY], source="NickServ")
    assert "IDENTIFY" in warning.params[-1] and "0.3 seconds" in warning.params[-1]
    renamed = await imp.expect("NICK", [re.compile(r"Anon\d{5}")], source="amy", timeout=2.0)
    imp.nick = renamed.params[0]
    await imp.expect("NOTICE", [imp.nick, re.compile(".*did not log in.*")], source="NickServ")


async def test_nick_protection_holds_for_many_arrivals_at_once(
    serve_accounts: ServeAccounts,
) -> None:
    """Clients arriving together share the account look-ups: each one on a registered nick is
    warned, and none of the others is."""
    h = await serve_accounts(accounts={"nick_protection_grace": 30})
    for name in ("amy", "bob"):
        owner = await h.connect(name)
        await _ns(owner, "REGISTER secret", ".*registered.*")
        await owner.send("QUIT")
        await owner.expect_closed()
    nicks = ["amy", *(f"guest{i}" for i in range(10)), "bob"]
    crowd = await asyncio.gather(*(h.connect(nick) for nick in nicks))
    for client in crowd[0], crowd[-1]:
        warning = await client.expect("NOTICE", [client.nick, ANY], source="NickServ")
        assert "is registered" in warning.params[-1]
    for client in crowd[1:-1]:
        await client.sync()
        assert not [m for m in client.history if m.source == "NickServ"]


async def test_nick_protection_ends_with_login_or_a_new_nick(serve_accounts: ServeAccounts) -> None:
    """Logging in within the grace, or leaving the nick, cancels the rename."""
    h = await serve_accounts(accounts={"nick_protection_grace": 0.3})
    amy = await h.connect("amy")
    await _ns(amy, "REGISTER secret", ".*registered.*")
    await amy.send("QUIT")
    await amy.expect_closed()
    again = await h.connect("amy")
    await again.expect("NOTICE", ["amy", ANY], source="NickServ")
    await _ns(again, "IDENTIFY secret", "You are now logged in as amy.")
    other = await h.connect("bob")
    await other.send("NICK amy2", "NICK Amy")
    await other.expect("433")
    await again.send("QUIT")
    await again.expect_closed()
    await other.send("NICK Amy")
    await other.expect("NICK", ["Amy"])
    await other.expect("NOTICE", ["Amy", ANY], source="NickServ")
    await other.send("NICK bob")
    await other.expect("NICK", ["bob"])
    await asyncio.sleep(0.5)
    await other.alive()
    assert not [m for m in other.history if m.command == "NICK" and "Guest" in m.params[0]]
    # SASL straight to the account: no warning at all.
    sasl = await sasl_connect(h, "amy", "secret")
    await asyncio.sleep(0.4)
    await sasl.alive()
    assert not [m for m in sasl.history if m.command == "NOTICE" and m.source == "NickServ"]


async def test_chanserv_keeps_a_channel_across_restarts(
    serve_accounts: ServeAccounts, tmp_path: Path
) -> None:
    """A registered channel keeps topic, modes, key, limit, bans and exceptions after a restart;
    its founder gets op on joining and only the founder may drop it."""
    h = await serve_accounts(data_dir=tmp_path)
    amy = await h.connect("amy")
    await amy.send("JOIN #club")
    await amy.expect("366")
    await _ns(amy, "#club", "Unknown command #CLUB.*", service="ChanServ")
    await _ns(amy, "REGISTER #club", ".*Log in to your account.*", service="ChanServ")
    await _ns(amy, "REGISTER secret", ".*registered.*")
    await _ns(amy, "REGISTER #nowhere", "#nowhere does not exist.", service="ChanServ")
    await _ns(amy, "REGISTER #club", "#club is registered to amy.", service="ChanServ")
    await amy.send("TOPIC #club :members only", "MODE #club +imk-t sesame", "MODE #club +l 9")
    await amy.send("MODE #club +b bad!*@*", "MODE #club +eI ~a:ok bob!*@*")
    await amy.expect("MODE", ["#club", "+b", "bad!*@*"])
    await amy.expect("MODE", ["#club", "+eI", "~a:ok", "bob!*@*"])
    bob = await h.connect("bob")
    await _ns(bob, "DROP #club", "Only the founder of #club may drop it.", service="ChanServ")
    await _ns(bob, "INFO #club", "#club: founder amy, registered .*", service="ChanServ")
    await h.close()
    await h.server.stop()

    h2 = await serve_accounts(data_dir=tmp_path)
    amy = await sasl_connect(h2, "amy", "secret")
    await amy.send("JOIN #club sesame")  # +i and +b do not apply to the founder
    await amy.expect("MODE", ["#club", "+o", "amy"], source="ChanServ")
    await amy.expect("332", ["amy", "#club", "members only"])
    await amy.expect("366")
    await amy.send("MODE #club")
    await amy.expect("324", ["amy", "#club", "+imnkl", "sesame", "9"])
    await amy.send("MODE #club b")
    await amy.expect("367", ["amy", "#club", "bad!*@*", ANY, ANY])
    await amy.send("MODE #club e", "MODE #club I")
    await amy.expect("348", ["amy", "#club", "~a:ok", ANY, ANY])
    await amy.expect("346", ["amy", "#club", "bob!*@*", ANY, ANY])
    carol = await h2.connect("carol")
    await carol.send("JOIN #club sesame")
    await carol.expect("473", ["carol", "#club", ANY])
    await _ns(amy, "DROP #club", "#club is no longer registered.", service="ChanServ")
    await h2.close()
    await h2.server.stop()

    h3 = await serve_accounts(data_dir=tmp_path)
    dave = await h3.connect("dave")
    await dave.send("JOIN #club")
    await dave.expect("353", ["dave", "=", "#club", "@dave"])


async def test_logging_in_elsewhere_keeps_the_protection(serve_accounts: ServeAccounts) -> None:
    """Logging in to one's own account does not make someone else's registered nick yours."""
    h = await serve_accounts(accounts={"nick_protection_grace": 0.3})
    await h.server.store.accounts.register("amy", "amy", "amypw")
    await h.server.store.accounts.register("bob", "bob", "bobpw")
    bob = await h.connect("amy")
    await bob.expect("NOTICE", ["amy", ANY], source="NickServ")
    await _ns(bob, "IDENTIFY bob bobpw", "You are now logged in as bob.")
    await bob.expect("NICK", [re.compile(r"Guest\d{5}")], source="amy", timeout=2.0)
