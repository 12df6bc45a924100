"""Registration: CAP negotiation, the welcome burst, LUSERS, MOTD, and the server password."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from chinwag.protocol import parse_isupport

from .conftest import Serve
from .harness import ANY, Client, Harness, cheap_hash


async def _ls(client: Client) -> list[str]:
    await client.send("CAP LS 302")
    msg = await client.expect("CAP", [ANY, "LS", ANY])
    return msg.params[-1].split()


async def test_cap_ls_offers_the_promised_capabilities(h: Harness) -> None:
    """CAP LS 302 lists (at least) the capabilities the issue promises, with * as the nick."""
    raw = await h.open()
    offered = await _ls(raw)
    assert raw.history[-1].params[0] == "*"
    for cap in (
        "multi-prefix",
        "server-time",
        "message-tags",
        "echo-message",
        "away-notify",
        "userhost-in-names",
        "labeled-response",
        "batch",
    ):
        assert cap in offered


async def test_cap_suspends_registration_until_end(h: Harness) -> None:
    """After CAP LS, NICK and USER do not register; CAP END does (IRCv3 capability negotiation)."""
    raw = await h.open()
    await _ls(raw)
    await raw.send("NICK amy", "USER amy 0 * :Amy")
    await raw.assert_nothing(0.3)
    await raw.send("CAP END")
    await raw.expect("001", ["amy", ANY])


async def test_cap_req_ack_and_list(h: Harness) -> None:
    """CAP REQ of known caps is ACKed whole; CAP LIST shows them; -cap removes one."""
    raw = await h.open()
    await raw.send("CAP REQ :server-time multi-prefix")
    await raw.expect("CAP", ["*", "ACK", "server-time multi-prefix"])
    await raw.send("CAP LIST")
    listed = await raw.expect("CAP", ["*", "LIST", ANY])
    assert sorted(listed.params[-1].split()) == ["multi-prefix", "server-time"]
    await raw.send("CAP REQ :-server-time")
    await raw.expect("CAP", ["*", "ACK", "-server-time"])
    await raw.send("CAP LIST")
    await raw.expect("CAP", ["*", "LIST", "multi-prefix"])


async def test_cap_req_with_an_unknown_cap_is_naked_whole(h: Harness) -> None:
    """A REQ naming one unknown cap is NAKed and none of it is enabled (all or nothing)."""
    raw = await h.open()
    await raw.send("CAP REQ :server-time no-such-cap")
    await raw.expect("CAP", ["*", "NAK", "server-time no-such-cap"])
    await raw.send("CAP LIST")
    await raw.expect("CAP", ["*", "LIST", ""])


async def test_cap_bad_subcommand_gets_410(h: Harness) -> None:
    """CAP FROB gets 410 ERR_INVALIDCAPCMD and the connection goes on."""
    raw = await h.open()
    await raw.send("CAP FROB")
    await raw.expect("410", ["*", "FROB", ANY])
    await raw.alive()


async def test_cap_after_registration_acks_and_does_not_reregister(h: Harness) -> None:
    """A registered client may still CAP REQ; CAP END then does nothing."""
    amy = await h.connect("amy")
    await amy.send("CAP REQ :echo-message", "CAP END")
    await amy.expect("CAP", ["amy", "ACK", "echo-message"])
    lines = await amy.sync()
    assert not [m for m in lines if m.command == "001"]


async def test_welcome_burst_contents(h: Harness) -> None:
    """001-004 name the user and server; 005 announces honest ISUPPORT tokens."""
    amy = await h.connect("amy")
    by = {m.command: m for m in amy.history}
    assert by["001"].params[0] == "amy"
    assert "amy!~amy@127.0.0.1" in by["001"].params[-1]
    assert "test.chinwag" in by["002"].params[-1]
    assert by["004"].params[1] == "test.chinwag"
    tokens: dict[str, str] = {}
    for msg in amy.history:
        if msg.command == "005":
            assert msg.params[-1] == "are supported by this server"
            tokens.update(parse_isupport(msg.params[1:-1]))
    limits = h.server.config.limits
    assert tokens["CASEMAPPING"] in ("rfc1459", "ascii", "rfc1459-strict")
    assert tokens["CHANTYPES"] == "#"
    assert tokens["PREFIX"] == "(ov)@+"
    assert tokens["CHANMODES"] == "Ibe,k,l,Dimnst"
    assert tokens["NICKLEN"] == str(limits.nick_length)
    assert tokens["CHANNELLEN"] == str(limits.channel_length)
    assert tokens["TOPICLEN"] == str(limits.topic_length)
    assert tokens["NETWORK"] == "chinwag"
    targmax = dict(item.split(":") for item in tokens["TARGMAX"].split(","))
    assert targmax["PRIVMSG"] == str(limits.max_targets)


async def test_nicklen_is_configurable_and_enforced(serve: Serve) -> None:
    """NICKLEN follows limits.nick_length; a longer nick gets 432."""
    h = await serve(limits={"nick_length": 9})
    amy = await h.connect("amy")
    assert any("NICKLEN=9" in m.params for m in amy.history if m.command == "005")
    await amy.send("NICK abcdefghij")
    await amy.expect_numeric("432", "abcdefghij", ANY)
    await amy.send("NICK abcdefghi")
    await amy.expect("NICK", ["abcdefghi"])


async def test_nicklen_advertised_after_reloads_is_the_configured_one(serve: Serve) -> None:
    """NICKLEN 30 lowered to 20 by a reload (with a new MOTD), a 30-character nick asks for
    LUSERS, NICKLEN raised back to 30: the next arrival is told NICKLEN=30, not 20."""
    h = await serve(limits={"nick_length": 30})
    server = h.server

    def reload(nick_length: int, motd: str) -> None:
        config = server.config
        server.reloader.apply(
            dataclasses.replace(
                config,
                limits=dataclasses.replace(config.limits, nick_length=nick_length),
                server=dataclasses.replace(config.server, motd=motd),
            )
        )

    long_nick = await h.connect("a" * 30)
    reload(20, "new motd")
    await long_nick.send("LUSERS")
    await long_nick.expect("266")
    reload(30, "new motd")
    bob = await h.connect("bob")
    assert [t for m in bob.history if m.command == "005" for t in m.params if "NICKLEN" in t] == [
        "NICKLEN=30"
    ]


async def test_default_nick_length_is_32(h: Harness) -> None:
    """Nicks up to 32 characters are accepted by default, 33 are not."""
    amy = await h.connect("amy")
    await amy.send("NICK " + "a" * 33)
    await amy.expect_numeric("432")
    await amy.send("NICK " + "a" * 32)
    await amy.expect("NICK", ["a" * 32])


async def test_lusers_counts(h: Harness) -> None:
    """LUSERS gives 251-255 with honest counts (two users, one unregistered connection)."""
    await h.connect("amy")
    bob = await h.connect("bob")
    await h.open("lurker")
    await bob.sync()
    await bob.send("LUSERS")
    lines = await bob.collect_until("255")
    by = {m.command: m for m in lines}
    assert "There are 2 users" in by["251"].params[-1]
    assert by["252"].params[1] == "0"
    assert by["253"].params[1] == "1"
    assert by["254"].params[1] == "1"
    assert "2 clients" in by["255"].params[-1]


async def test_motd_text(serve: Serve) -> None:
    """The MOTD text comes as 375, one 372 per line, 376; MOTD repeats it on demand."""
    h = await serve(server={"motd": "line one\nline two"})
    amy = await h.connect("amy")
    motd = [m.params[-1] for m in amy.history if m.command == "372"]
    assert motd == ["- line one", "- line two"]
    await amy.send("MOTD")
    await amy.expect("375")
    await amy.expect("372", ["amy", "- line one"])
    await amy.expect("376")


async def test_motd_file(serve: Serve, tmp_path: Path) -> None:
    """server.motd_file is read for the MOTD."""
    path = tmp_path / "motd.txt"
    path.write_text("from a file\n", encoding="utf-8")
    h = await serve(server={"motd_file": str(path)})
    amy = await h.connect("amy")
    assert [m.params[-1] for m in amy.history if m.command == "372"] == ["- from a file"]


@pytest.mark.parametrize("motd_file", ["", "/nonexistent/chinwag-motd.txt"])
async def test_no_motd_gives_422(serve: Serve, motd_file: str) -> None:
    """An empty MOTD and no file (or an unreadable one) gives 422 ERR_NOMOTD, not 375/376."""
    h = await serve(server={"motd": "", "motd_file": motd_file})
    amy = await h.connect("amy")
    commands = [m.command for m in amy.history]
    assert "422" in commands
    assert "375" not in commands
    await amy.send("MOTD")
    await amy.expect_numeric("422")


@pytest.fixture(scope="module")
def secret_hash() -> str:
    """One argon2 hash of "s3cret", made once (argon2 is slow on purpose)."""
    return cheap_hash("s3cret")


async def test_server_password_right(serve: Serve, secret_hash: str) -> None:
    """With a server password, PASS with the right one registers."""
    h = await serve(server={"password_hash": secret_hash})
    amy = await h.connect("amy", password="s3cret")
    await amy.alive()


async def test_server_password_wrong(serve: Serve, secret_hash: str) -> None:
    """A wrong PASS gets 464 ERR_PASSWDMISMATCH, then ERROR, then the socket closes."""
    h = await serve(server={"password_hash": secret_hash})
    raw = await h.open()
    await raw.send("PASS nope", "NICK amy", "USER amy 0 * :Amy")
    lines = await raw.expect_closed()
    assert [m.command for m in lines][-2:] == ["464", "ERROR"]
    assert "001" not in [m.command for m in lines]


async def test_server_password_missing(serve: Serve, secret_hash: str) -> None:
    """Registering without PASS on a passworded server gets 464 and ERROR."""
    h = await serve(server={"password_hash": secret_hash})
    raw = await h.open()
    await raw.send("NICK amy", "USER amy 0 * :Amy")
    lines = await raw.expect_closed()
    assert [m.command for m in lines][-2:] == ["464", "ERROR"]


async def test_pass_without_server_password_is_accepted(h: Harness) -> None:
    """PASS on a server without a password is ignored, as clients often send one anyway."""
    amy = await h.connect("amy", password="whatever")
    await amy.alive()


async def test_commands_before_registration_get_451(h: Harness) -> None:
    """JOIN before registration gets 451 ERR_NOTREGISTERED; PING is answered already."""
    raw = await h.open()
    await raw.send("JOIN #c")
    await raw.expect("451", ["*", ANY])
    await raw.alive()


async def test_user_then_nick_order_registers(h: Harness) -> None:
    """USER before NICK registers just as well."""
    raw = await h.open()
    await raw.send("USER amy 0 * :Amy", "NICK amy")
    await raw.expect("001")


async def test_nick_change_before_registration(h: Harness) -> None:
    """A second NICK before USER replaces the first; the old one is free for others."""
    raw = await h.open()
    await raw.send("NICK first", "NICK second", "USER x 0 * :X")
    await raw.expect("001", ["second", ANY])
    other = await h.connect("first")
    await other.alive()


async def test_nick_in_use_before_registration(h: Harness) -> None:
    """A taken nick before registration gets 433 with * as the target, and a retry works."""
    await h.connect("amy")
    raw = await h.open()
    await raw.send("NICK amy")
    await raw.expect("433", ["*", "amy", ANY])
    await raw.send("NICK amy_", "USER amy 0 * :Amy")
    await raw.expect("001", ["amy_", ANY])


async def test_nick_is_case_insensitive(h: Harness) -> None:
    """AMY collides with amy (CASEMAPPING)."""
    await h.connect("amy")
    raw = await h.open()
    await raw.send("NICK AMY")
    await raw.expect("433", ["*", "AMY", ANY])


async def test_empty_default_channels_disables_autojoin(serve: Serve) -> None:
    """server.default_channels = [] registers users without joining any room."""
    h = await serve(server={"default_channels": []})
    amy = await h.connect("amy")
    assert "JOIN" not in [m.command for m in amy.history]
    await amy.send("WHOIS amy")
    lines = await amy.collect_until("318")
    assert "319" not in [m.command for m in lines]


async def test_several_default_channels(serve: Serve) -> None:
    """Every channel of server.default_channels is joined on registration."""
    h = await serve(server={"default_channels": ["#lobby", "#help"]})
    amy = await h.connect("amy")
    assert [m.params[0] for m in amy.history if m.command == "JOIN"] == ["#lobby", "#help"]
