"""The client folds names as the server's ISUPPORT CASEMAPPING says (pure session tests)."""

from __future__ import annotations

import pytest

from chinwag.client.conversation import SERVER_KEY
from chinwag.client.session import Session
from chinwag.protocol import folder_for

from .test_session import NOW, feed


def session_on(casemapping: str) -> Session:
    """A registered session on a server announcing ``casemapping``, in #lobby with x[1 and x{1."""
    session = Session("me", clock=lambda: NOW)
    session.connect()
    feed(
        session,
        ":srv 001 me :Welcome",
        f":srv 005 me CASEMAPPING={casemapping} CHANTYPES=# :are supported",
        ":srv 376 me :End of MOTD",
        ":me!u@h JOIN #lobby",
        ":srv 353 me = #lobby :me x[1 x{1",
        ":srv 366 me #lobby :End of NAMES",
    )
    session.take_outbox()
    return session


def test_ascii_keeps_brackets_and_braces_apart() -> None:
    """Under ascii, x[1 and x{1 are two people with two private conversations."""
    session = session_on("ascii")
    assert sorted(m.nick for m in session.conversations["#lobby"].members.values()) == [
        "me",
        "x[1",
        "x{1",
    ]
    feed(session, ":x[1!a@h PRIVMSG me :from brackets", ":x{1!b@h PRIVMSG me :from braces")
    assert "x[1" in session.conversations
    assert "x{1" in session.conversations
    assert session.conversations["x[1"].lines[-1].text == "from brackets"


def test_rfc1459_makes_them_one_person() -> None:
    """Under rfc1459 (the default), x[1 and x{1 are the same nick."""
    session = session_on("rfc1459")
    assert len(session.conversations["#lobby"].members) == 2


def test_ascii_quit_removes_only_that_person() -> None:
    """A QUIT of x{1 under ascii leaves x[1 in the room."""
    session = session_on("ascii")
    feed(session, ":x{1!b@h QUIT :bye")
    assert [m.nick for m in session.conversations["#lobby"].members.values()] == ["me", "x[1"]


def test_ascii_still_ignores_letter_case() -> None:
    """ascii still folds A-Z: #Lobby and #lobby are one room."""
    session = session_on("ascii")
    feed(session, ":alice!a@h PRIVMSG #Lobby :hi")
    assert list(session.conversations) == [SERVER_KEY, "#lobby"]


def test_conversations_opened_before_005_are_keyed_again() -> None:
    """A room wanted (and a conversation opened) before CASEMAPPING is known is found after it."""
    session = Session("me", clock=lambda: NOW)
    session.want_room("#A[b]")
    session.conversation("#A[b]")
    session.set_active(session.key_of("#A[b]"))
    session.connect()
    feed(session, ":srv 001 me :Welcome", ":srv 005 me CASEMAPPING=ascii :are supported")
    assert session.active == "#a[b]"
    assert list(session.rooms) == ["#a[b]"]
    assert "#a[b]" in session.conversations


def test_my_nick_is_recognised_by_the_mapping() -> None:
    """is_me and mentions follow the mapping: under ascii, me{ is not me[."""
    session = Session("me[", clock=lambda: NOW)
    session.set_casemapping("ascii")
    assert session.is_me("ME[")
    assert not session.is_me("me{")
    assert not session.mentions_me("hi me{")
    assert session.mentions_me("hi ME[")


@pytest.mark.parametrize(
    ("casemapping", "name", "folded"),
    [
        ("ascii", "X[]\\~", "x[]\\~"),
        ("rfc1459", "X[]\\~", "x{}|^"),
        ("strict-rfc1459", "X[]\\~", "x{}|~"),
        ("rfc7613", "X[]", "x{}"),  # unknown: rfc1459
        ("ASCII", "X[", "x["),
    ],
)
def test_folder_for(casemapping: str, name: str, folded: str) -> None:
    """folder_for folds by each known mapping, and by rfc1459 for an unknown one."""
    assert folder_for(casemapping)(name) == folded
