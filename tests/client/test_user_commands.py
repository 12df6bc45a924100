"""Input-bar commands: parsing typed text, and the IRC lines and local lines they produce."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chinwag.client.command_runner import execute
from chinwag.client.conversation import SERVER_KEY
from chinwag.client.lines import ChatLine, ErrorLine
from chinwag.client.outgoing import split_text
from chinwag.client.session import Session
from chinwag.client.user_commands import (
    Away,
    Back,
    Clear,
    Close,
    Command,
    Help,
    Invalid,
    Join,
    Me,
    Msg,
    Nick,
    Part,
    Query,
    Quit,
    Raw,
    Register,
    Say,
    Topic,
    Users,
    Who,
    Whois,
    help_lines,
    parse_input,
)

from .test_session import feed, registered, sent

PARSE_CASES: list[tuple[str, Command | None]] = [
    ("", None),
    ("   ", None),
    ("hello there", Say("hello there")),
    ("//slash at start", Say("/slash at start")),
    ("/join #room", Join("#room")),
    ("/join #room key", Join("#room", "key")),
    ("/JOIN #a,#b", Join("#a,#b")),
    ("/part", Part()),
    ("/part #room bye now", Part("#room", "bye now")),
    ("/part see you", Part("", "see you")),
    ("/msg carol psst there", Msg("carol", "psst there")),
    ("/msg 3 hi", Msg("3", "hi")),
    ("/query carol", Query("carol")),
    ("/me waves", Me("waves")),
    ("/nick newme", Nick("newme")),
    ("/away", Away("away")),
    ("/away lunch break", Away("lunch break")),
    ("/back", Back()),
    ("/topic", Topic()),
    ("/topic New topic", Topic("", "New topic")),
    ("/topic #r New", Topic("#r", "New")),
    ("/users", Users()),
    ("/who", Who()),
    ("/who *.example", Who("*.example")),
    ("/whois 2", Whois("2")),
    ("/close", Close()),
    ("/clear", Clear()),
    ("/help", Help()),
    ("/quit", Quit("Leaving")),
    ("/quit gone fishing", Quit("gone fishing")),
    ("/quote PRIVMSG x :y", Raw("PRIVMSG x :y")),
    ("/register s3cret", Register("s3cret")),
    ("/register s3cret me@example.org", Register("s3cret", "me@example.org")),
    ("/frobnicate", Invalid("Unknown command /frobnicate (type /help for the list)")),
    ("/msg carol", Invalid("Usage: /msg NICK|N text")),
    ("/join", Invalid("Usage: /join #room")),
    ("/nick a b", Invalid("Usage: /nick NAME")),
]


@pytest.mark.parametrize(("text", "expected"), PARSE_CASES)
def test_parse_input(text: str, expected: Command | None) -> None:
    """Typed text parses into the expected command."""
    assert parse_input(text) == expected


def run(session: Session, text: str) -> list[str]:
    """Execute typed text; return the IRC lines it queued."""
    command = parse_input(text)
    assert command is not None
    execute(session, command)
    return sent(session)


class TestExecute:
    def test_say_in_room(self) -> None:
        """Text goes to the current room and is shown locally without echo-message."""
        session = registered()
        command = parse_input("hello")
        assert command is not None
        outcome = execute(session, command)
        assert sent(session) == ["PRIVMSG #lobby hello"]
        assert outcome.posted[0].line == ChatLine(outcome.posted[0].line.time, "me", "hello", True)

    def test_say_in_server_window_is_an_error(self) -> None:
        """Text typed in the server window explains what to do instead."""
        session = registered()
        session.set_active(SERVER_KEY)
        assert run(session, "hello") == []
        assert isinstance(session.current.lines[-1], ErrorLine)

    def test_me_sends_ctcp_action(self) -> None:
        """/me sends a CTCP ACTION."""
        session = registered()
        assert run(session, "/me waves") == ["PRIVMSG #lobby :\x01ACTION waves\x01"]

    def test_msg_by_number_after_users(self) -> None:
        """/users numbers the room; /msg N sends to that user only."""
        session = registered()
        outcome = execute(session, Users())
        texts = [p.line.text for p in outcome.posted]
        assert texts[1:] == ["1. @alice", "2. +bob", "3. me"]
        assert run(session, "/msg 2 psst") == ["PRIVMSG bob psst"]
        assert session.conversations["bob"].lines[-1].text == "psst"

    def test_msg_bad_number(self) -> None:
        """A number not in the listing is explained."""
        session = registered()
        assert run(session, "/msg 9 hi") == []
        assert "type /users first" in session.current.lines[-1].text

    def test_query_opens_and_activates(self) -> None:
        """/query opens the private conversation and makes it current."""
        session = registered()
        assert run(session, "/query carol") == []
        assert session.active == "carol"
        assert run(session, "hi carol") == ["PRIVMSG carol :hi carol"]

    def test_join_focuses_room_when_joined(self) -> None:
        """/join sends JOIN and the room becomes current once the server confirms."""
        session = registered()
        assert run(session, "/join dev") == ["JOIN #dev"]
        feed(session, ":me!u@h JOIN #dev")
        assert session.active == "#dev"
        assert "#dev" in session.rooms

    def test_part_current_room(self) -> None:
        """/part leaves the current room and forgets it for rejoin."""
        session = registered()
        assert run(session, "/part bye") == ["PART #lobby bye"]
        assert "#lobby" not in session.rooms

    def test_close_private(self) -> None:
        """/close forgets a private conversation without sending anything."""
        session = registered()
        run(session, "/query carol")
        assert run(session, "/close") == []
        assert "carol" not in session.conversations

    def test_close_room_parts(self) -> None:
        """/close on a room leaves it."""
        session = registered()
        assert run(session, "/close") == ["PART #lobby"]
        assert session.active == SERVER_KEY

    def test_server_window_cannot_be_closed(self) -> None:
        """/close in the server window explains instead of closing."""
        session = registered()
        session.set_active(SERVER_KEY)
        assert run(session, "/close") == []
        assert SERVER_KEY in session.conversations
        assert "stays open" in session.current.lines[-1].text

    def test_nick_validated_locally(self) -> None:
        """An invalid nick is refused before it reaches the server."""
        session = registered()
        assert run(session, "/nick 9lives") == []
        assert run(session, "/nick Lives") == ["NICK Lives"]

    def test_away_back_topic_whois_who(self) -> None:
        """Simple commands map to their IRC lines."""
        session = registered()
        assert run(session, "/away lunch") == ["AWAY lunch"]
        assert run(session, "/back") == ["AWAY"]
        assert run(session, "/topic") == ["TOPIC #lobby"]
        assert run(session, "/topic Hello all") == ["TOPIC #lobby :Hello all"]
        assert run(session, "/whois alice") == ["WHOIS alice"]
        assert run(session, "/who *") == ["WHO *"]

    def test_quit(self) -> None:
        """/quit sends QUIT and tells the frontend to leave."""
        session = registered()
        outcome = execute(session, Quit("bye all"))
        assert sent(session) == ["QUIT :bye all"]
        assert outcome.quit == "bye all"

    def test_clear_and_help(self) -> None:
        """/clear empties the scrollback; /help asks for the help screen."""
        session = registered()
        assert execute(session, Clear()).clear
        assert len(session.current.lines) == 0
        assert execute(session, Help()).help
        assert any(line.startswith("/msg") for line in help_lines())

    def test_unknown_command_posts_error(self) -> None:
        """An unknown command becomes an error line, nothing is sent."""
        session = registered()
        assert run(session, "/frob") == []
        assert session.current.lines[-1].text.startswith("Unknown command /frob")

    def test_long_message_is_split(self) -> None:
        """A message too long for one IRC line is sent as several."""
        session = registered()
        lines = run(session, "word " * 200)
        assert len(lines) > 1
        assert all(len(line.encode()) + 80 < 512 for line in lines)

    def test_register(self) -> None:
        """/register asks the server for an account named after my nick."""
        session = registered()
        assert run(session, "/register s3cret") == ["REGISTER * * s3cret"]

    def test_raw(self) -> None:
        """/quote sends the line as typed."""
        session = registered()
        assert run(session, "/quote MODE #lobby +m") == ["MODE #lobby +m"]


@given(st.text(min_size=1, max_size=600), st.integers(min_value=4, max_value=100))
def test_split_text_bounds(text: str, budget: int) -> None:
    """Every piece fits the byte budget, and no non-space text is lost."""
    pieces = split_text(text, budget)
    assert all(len(piece.encode("utf-8")) <= budget for piece in pieces)
    assert "".join(pieces).replace(" ", "") == text.replace(" ", "")


def test_users_outside_a_room_lists_everyone_in_my_rooms() -> None:
    """/users in a private conversation numbers everyone from all my rooms, once each."""
    session = registered()
    feed(session, ":me!u@h JOIN #dev", ":srv 353 me = #dev :me bob dave", ":srv 366 me #dev :End")
    run(session, "/query carol")
    outcome = execute(session, Users())
    texts = [p.line.text for p in outcome.posted]
    assert texts[0].startswith("4 users in your rooms")
    assert texts[1:] == ["1. alice", "2. bob", "3. dave", "4. me"]
    assert run(session, "/msg 3 hi") == ["PRIVMSG dave hi"]
