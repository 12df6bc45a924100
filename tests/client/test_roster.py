"""The people list of a delayed-join room: MODE on joining, WHO when it is +D, silent replies."""

from __future__ import annotations

from chinwag.client.roster import WHO_TOKEN
from chinwag.client.session import Session
from chinwag.protocol import parse_line

from .test_session import NOW, feed, members, sent

_ISUPPORT_D = "PREFIX=(ov)@+ CHANTYPES=# CHANMODES=beI,k,l,Dimnst"


def joined(isupport: str = f"{_ISUPPORT_D} WHOX") -> Session:
    """A session registered on a server announcing ``isupport``, that just joined #big."""
    session = Session("me", clock=lambda: NOW)
    session.connect()
    feed(
        session,
        ":srv 001 me :Welcome",
        f":srv 005 me {isupport} :are supported",
        ":srv 376 me :End of MOTD",
        ":me!u@h JOIN #big",
        ":srv 353 me = #big :me @alice",
        ":srv 366 me #big :End of NAMES",
    )
    return session


def test_joining_asks_the_room_modes_when_the_server_has_delayed_join() -> None:
    """My JOIN queues MODE <room> on a server whose CHANMODES has D, and nothing otherwise."""
    assert "MODE #big" in sent(joined())
    assert not [line for line in sent(joined("CHANMODES=b,k,l,imnst")) if "MODE" in line]


def test_a_delayed_join_room_is_listed_with_whox() -> None:
    """324 +D asks WHOX; the 354 replies become the people list at 315, shown nowhere."""
    session = joined()
    session.take_outbox()
    posted = feed(session, ":srv 324 me #big +Dnt")
    assert sent(session) == [f"WHO #big %tcnf,{WHO_TOKEN}"]
    posted += feed(
        session,
        f":srv 354 me {WHO_TOKEN} #big me H",
        f":srv 354 me {WHO_TOKEN} #big alice H@",
        f":srv 354 me {WHO_TOKEN} #big quiet G+",
        f":srv 354 me {WHO_TOKEN} #big lurker H*",
        ":srv 315 me #big :End of /WHO list",
    )
    assert posted == []
    assert members(session, "#big") == ["@alice", "+quiet", "lurker", "me"]
    assert session.conversations["#big"].members["quiet"].away


def test_plain_who_fills_the_list_without_whox() -> None:
    """Without WHOX the client asks a plain WHO and reads the 352 replies the same way."""
    session = joined(_ISUPPORT_D)
    feed(session, ":srv 324 me #big +D")
    assert sent(session)[-1] == "WHO #big"
    posted = feed(
        session,
        ":srv 352 me #big u h srv quiet H :0 Quiet One",
        ":srv 315 me #big :End of /WHO list",
    )
    assert posted == []
    assert members(session, "#big") == ["me", "quiet"]


def test_a_room_without_delayed_join_keeps_its_names() -> None:
    """324 without D sends no WHO and keeps the NAMES list."""
    session = joined()
    session.take_outbox()
    assert feed(session, ":srv 324 me #big +nt") == []
    assert sent(session) == []
    assert members(session, "#big") == ["@alice", "me"]


def test_what_the_user_asked_is_still_shown() -> None:
    """A /mode or /who the user typed (not the client's own query) posts readable lines."""
    session = joined()
    feed(session, ":srv 324 me #big +Dnt")  # the client's own: silent
    feed(session, f":srv 354 me {WHO_TOKEN} #big me H", ":srv 315 me #big :End")
    modes = feed(session, ":srv 324 me #big +Dnt")
    assert [p.line.text for p in modes] == ["Modes of #big: +Dnt"]
    who = feed(session, ":srv 352 me #big u h srv alice H@ :0 Alice")
    assert [p.line.text for p in who] == ["alice (u@h) in #big: Alice"]


def test_a_silent_member_who_speaks_is_not_announced_twice() -> None:
    """A JOIN for someone WHO listed (revealed when they speak) posts no line; a new one does."""
    session = joined()
    feed(session, ":srv 324 me #big +D")
    feed(session, f":srv 354 me {WHO_TOKEN} #big quiet H", ":srv 315 me #big :End")
    assert feed(session, ":quiet!u@h JOIN #big") == []
    posted = feed(session, ":late!u@h JOIN #big")
    assert [p.line.text for p in posted] == ["late has joined #big"]
    assert members(session, "#big") == ["late", "me", "quiet"]


def test_a_reconnect_forgets_queries_in_flight() -> None:
    """Answers to a query sent on a lost connection change nothing on the next one."""
    session = joined()
    feed(session, ":srv 324 me #big +D")
    session.connection_lost("gone")
    session.connect()
    session.feed(parse_line(f":srv 354 me {WHO_TOKEN} #big ghost H"))
    assert not session.roster.listing and not session.roster.modes_asked
