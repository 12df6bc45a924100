"""CTCP requests: VERSION, PING, TIME answered like irssi, rate-limited; nothing shown raw."""

from __future__ import annotations

import re

from chinwag.client.ctcp import REPLY_BURST, REPLY_INTERVAL, CtcpReplies, version_reply
from chinwag.client.session import Session
from chinwag.protocol import encode_message, parse_line


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def registered() -> Session:
    """A session past registration, in #lobby, with nothing queued."""
    session = Session("me", clock=lambda: 1_700_000_000.0)
    for line in (":srv 001 me :Welcome", ":me!u@h JOIN #lobby"):
        session.feed(parse_line(line))
    session.take_outbox()
    return session


def sent(session: Session) -> list[str]:
    """What the session queued, as raw lines."""
    return [encode_message(m).decode().rstrip("\r\n") for m in session.take_outbox()]


def test_version_ping_time_answers() -> None:
    """VERSION names chinwag, PING echoes its argument, TIME gives the local time."""
    replies = CtcpReplies(clock=Clock(), wall_clock=lambda: 0.0)
    assert replies.answer("VERSION", "") == version_reply()
    assert replies.answer("PING", "1234 5678") == "1234 5678"
    time_reply = replies.answer("TIME", "")
    assert time_reply is not None and re.fullmatch(
        r"\w{3} \w{3} \d\d \d\d:\d\d:\d\d 19\d\d", time_reply
    )


def test_other_requests_are_ignored() -> None:
    """FINGER, DCC, CLIENTINFO and the like get no answer."""
    replies = CtcpReplies(clock=Clock())
    assert [replies.answer(v, "x") for v in ("FINGER", "DCC", "USERINFO", "SOURCE")] == [None] * 4


def test_answers_are_rate_limited() -> None:
    """A burst of requests gets REPLY_BURST answers, then one per REPLY_INTERVAL."""
    clock = Clock()
    replies = CtcpReplies(clock=clock)
    answers = [replies.answer("PING", str(i)) for i in range(REPLY_BURST + 5)]
    assert sum(a is not None for a in answers) == REPLY_BURST
    clock.now += REPLY_INTERVAL
    assert replies.answer("PING", "later") == "later"
    assert replies.answer("PING", "again") is None


def test_session_answers_with_a_notice_and_shows_nothing() -> None:
    """A CTCP TIME to me is answered by NOTICE; no line with \\x01 is posted."""
    session = registered()
    assert session.feed(parse_line(":bob!b@h PRIVMSG me :\x01TIME\x01")) == []
    [reply] = sent(session)
    assert reply.startswith("NOTICE bob :\x01TIME ") and reply.endswith("\x01")


def test_session_ignores_ctcp_replies_and_unknown_requests() -> None:
    """A CTCP reply (in a NOTICE) and an unknown request post nothing and send nothing."""
    session = registered()
    assert session.feed(parse_line(":bob!b@h NOTICE me :\x01VERSION irssi\x01")) == []
    assert session.feed(parse_line(":bob!b@h PRIVMSG #lobby :\x01FINGER\x01")) == []
    assert sent(session) == []


def test_a_room_of_requests_cannot_make_a_flood() -> None:
    """Fifty CTCP PINGs in a room get at most REPLY_BURST answers."""
    session = registered()
    for i in range(50):
        session.feed(parse_line(f":u{i}!u@h PRIVMSG #lobby :\x01PING {i}\x01"))
    assert len(sent(session)) == REPLY_BURST


def test_action_is_still_an_action() -> None:
    """/me from others stays an action line."""
    session = registered()
    [posted] = session.feed(parse_line(":bob!b@h PRIVMSG #lobby :\x01ACTION waves\x01"))
    assert posted.line.text == "waves"
