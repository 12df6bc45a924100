"""Logging in: saved credentials (0600, plain text), /identify, and NickServ's word on my nick."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from chinwag.client.command_runner import execute
from chinwag.client.credentials import Credentials
from chinwag.client.lines import SystemLine
from chinwag.client.session import Session
from chinwag.client.user_commands import Identify, parse_input

from .conftest import RawClient, Server
from .test_plain import Plain, launch, plains, server_args
from .test_session import NOW, feed, sent
from .test_trust import env_with_config

__all__ = ["plains"]

NICKSERV = ":NickServ!NickServ@services."


class TestCredentials:
    def test_saved_in_a_0600_file_and_found_again(self, tmp_path: Path) -> None:
        """A saved login is one line in a file only its owner can read; spaces survive."""
        path = tmp_path / "chinwag" / "credentials"
        store = Credentials(path)
        assert store.get("h:6697") is None
        store.save("h:6697", "amy", "correct horse battery")
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert store.get("h:6697") == ("amy", "correct horse battery")
        assert store.get("h:6697", "AMY") == ("amy", "correct horse battery")
        assert store.get("h:6697", "bob") is None and store.get("h:6667") is None
        store.save("h:6697", "amy", "new")
        assert path.read_text() == "h:6697 amy new\n"

    def test_existing_file_is_tightened_and_line_breaks_refused(self, tmp_path: Path) -> None:
        """Saving makes a too-open file 0600 again; a password with a line break is refused."""
        path = tmp_path / "credentials"
        path.write_text("")
        os.chmod(path, 0o644)
        store = Credentials(path)
        store.save("h:1", "amy", "pw")
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        with pytest.raises(ValueError):
            store.save("h:1", "amy", "two\nlines")
        assert store.forget("h:1") and not store.forget("h:1")
        assert store.get("h:1") is None


class TestIdentify:
    def test_identify_parses_with_and_without_account(self) -> None:
        """/identify PASSWORD and /identify ACCOUNT PASSWORD."""
        assert parse_input("/identify s3cret") == Identify("s3cret")
        assert parse_input("/identify amy s3cret") == Identify("s3cret", "amy")

    def test_identify_sends_nickserv_identify(self) -> None:
        """/identify talks to NickServ (which every chinwag server has)."""
        session = Session("amy")
        execute(session, Identify("s3cret", "amy"))
        assert [str(m) for m in session.take_outbox()] == ["PRIVMSG NickServ :IDENTIFY amy s3cret"]


def connected(*, offered: str = "draft/account-registration", logged_in: bool = False) -> Session:
    """A session registered as amy and offered ``offered``; the outbox: what the MOTD end sent."""
    session = Session("amy", clock=lambda: NOW)
    session.connect()
    feed(session, f":srv CAP * LS :{offered} batch", ":srv CAP * ACK :batch")
    if logged_in:
        feed(session, ":srv 900 amy amy!a@h amy :You are now logged in as amy")
    feed(session, ":srv 001 amy :Welcome")
    session.take_outbox()
    feed(session, ":srv 376 amy :End of MOTD")
    return session


def system_texts(session: Session) -> list[str]:
    """Every system line of every conversation."""
    return [
        line.text
        for conv in session.conversations.values()
        for line in conv.lines
        if isinstance(line, SystemLine)
    ]


class TestNickHints:
    def test_free_nick_gets_a_one_time_register_hint(self) -> None:
        """NickServ's quiet answer "not registered" becomes a hint to /register, once."""
        session = connected()
        assert sent(session) == ["PRIVMSG NickServ :INFO amy"]
        posted = feed(session, f"{NICKSERV} NOTICE amy :amy is not a registered account.")
        assert len(posted) == 1 and "/register PASSWORD" in posted[0].line.text
        assert not any("not a registered account" in t for t in system_texts(session))
        session.connect()
        feed(session, ":srv 001 amy :Welcome", ":srv 376 amy :End of MOTD")
        assert "PRIVMSG NickServ :INFO amy" not in sent(session), "only once a session"

    def test_registered_nick_answer_is_swallowed(self) -> None:
        """The quiet INFO about a registered nick shows nothing (the protection notice does)."""
        session = connected()
        posted = feed(
            session,
            f"{NICKSERV} NOTICE amy :Account amy, registered 2026-01-01 10:00 UTC.",
            f"{NICKSERV} NOTICE amy :Logged in now: nobody.",
        )
        assert posted == []
        later = feed(session, f"{NICKSERV} NOTICE amy :Logged in now: bob.")
        assert len(later) == 1, "only the answer to our own question is hidden"

    def test_protection_notice_offers_identify(self) -> None:
        """The nick-protection notice is followed by an offer to /identify or change nick."""
        session = connected()
        text = "The nick amy is registered. Log in with /msg NickServ IDENTIFY <password>"
        posted = feed(session, f"{NICKSERV} NOTICE amy :{text} within 60 seconds.")
        assert len(posted) == 2
        offer = posted[1].line.text
        assert "/identify PASSWORD" in offer and "/nick" in offer and "--save-password" in offer

    def test_no_probe_nor_offer_when_logged_in(self) -> None:
        """Logged in (SASL): no question to NickServ and no offer."""
        session = connected(logged_in=True)
        assert sent(session) == []
        text = "The nick amy is registered. Log in with /msg NickServ IDENTIFY <password>"
        assert len(feed(session, f"{NICKSERV} NOTICE amy :{text}")) == 1

    def test_no_probe_without_accounts(self) -> None:
        """A server without draft/account-registration (no accounts) is not asked."""
        assert sent(connected(offered="sasl")) == []


async def run_plain(server: Server, env: dict[str, str], *args: str) -> tuple[Plain, int, str]:
    """Run plain mode as amy until it has joined, then end its input; return status and stderr."""
    client = await launch(*server_args(server, "--nick", "amy", *args), env=env)
    await client.expect(r"You have joined #lobby")
    return client, *(await finish(client))


async def finish(client: Plain) -> tuple[int, str]:
    """End the input and wait for the exit."""
    client.close_stdin()
    return await client.wait()


async def test_register_save_and_log_in_with_the_saved_password(
    irc_server: Server, raw_clients: list[RawClient], plains: list[Plain], tmp_path: Path
) -> None:
    """A free nick gets the hint; /register; --save-password after a login; then no flags."""
    if irc_server.kind != "chinwag":
        pytest.skip("needs chinwag's accounts")
    env = env_with_config(tmp_path / "xdg")
    saved = tmp_path / "xdg" / "chinwag" / "credentials"

    amy = await launch(*server_args(irc_server, "--nick", "amy"), env=env)
    plains.append(amy)
    await amy.expect(r"Tip: nobody has registered the nick amy")
    amy.type("/register s3cret-pass")
    await amy.expect(r"Account created")
    status, _ = await finish(amy)
    assert status == 0

    wrong = await launch(
        *server_args(irc_server, "--nick", "amy", "--account", "amy"),
        "--password",
        "wrong",
        "--save-password",
        env=env,
    )
    plains.append(wrong)
    await wrong.expect(r"Could not log in as amy")
    await finish(wrong)
    assert not saved.exists(), "a refused password is not saved"

    right = await launch(
        *server_args(irc_server, "--nick", "amy", "--account", "amy"),
        "--password",
        "s3cret-pass",
        "--save-password",
        env=env,
    )
    plains.append(right)
    await right.expect(r"You are now logged in as amy")
    status, err = await finish(right)
    assert status == 0 and "plain text" in err
    assert saved.read_text().endswith(" amy s3cret-pass\n")
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600

    again = await launch(*server_args(irc_server, "--nick", "amy"), env=env)
    plains.append(again)
    await again.expect(r"You are now logged in as amy")
    status, err = await finish(again)
    assert status == 0 and "saved password" in err


async def test_registered_nick_without_login_gets_the_offer(
    irc_server: Server, plains: list[Plain], tmp_path: Path
) -> None:
    """Using a registered nick without logging in shows how to /identify."""
    if irc_server.kind != "chinwag":
        pytest.skip("needs chinwag's accounts")
    env = env_with_config(tmp_path / "xdg")
    owner = await launch(*server_args(irc_server, "--nick", "amy"), env=env)
    plains.append(owner)
    await owner.expect(r"You have joined #lobby")
    owner.type("/register s3cret")
    await owner.expect(r"Account created")
    await finish(owner)
    other = await launch(*server_args(irc_server, "--nick", "amy"), env=env)
    plains.append(other)
    line = await other.expect(r"amy is a registered nick")
    assert "/identify PASSWORD" in line
    other.type("/identify s3cret")
    await other.expect(r"You are now logged in as amy")
    await finish(other)
    assert not any("s3cret" in row for row in other.lines), "the password is never shown"
