"""Lines typed while they cannot be sent are held, shown as pending, and said after reconnecting."""

from __future__ import annotations

from chinwag.client.command_runner import execute
from chinwag.client.lines import ErrorLine, SystemLine
from chinwag.client.session import Session
from chinwag.client.user_commands import parse_input

from .test_session import feed, registered, sent


def type_line(session: Session, text: str) -> list[str]:
    """Run a typed line on the session; return the text of the lines it posted."""
    command = parse_input(text)
    assert command is not None
    return [p.line.text for p in execute(session, command).posted]


def reconnect(session: Session, nick: str = "me") -> list[str]:
    """A new connection: registration, MOTD end and my JOIN of #lobby; return the lines posted."""
    session.connect()
    posted = feed(
        session,
        f":srv 001 {nick} :Welcome",
        f":srv 376 {nick} :End of MOTD",
        f":{nick}!u@h JOIN #lobby",
    )
    return [p.line.text for p in posted]


def test_line_typed_while_disconnected_is_sent_after_the_reconnect() -> None:
    """A room line typed while disconnected waits, shown as pending, and goes out after the JOIN."""
    session = registered()
    session.connection_lost("reset")
    shown = type_line(session, "are you there?")
    assert shown == ["pending, sent once connected again: <me> are you there?"]
    assert sent(session) == []
    assert not any(isinstance(line, ErrorLine) for line in session.current.lines)
    type_line(session, "/me waits")
    reconnect(session)
    out = sent(session)
    assert out[-2:] == ["PRIVMSG #lobby :are you there?", "PRIVMSG #lobby :\x01ACTION waits\x01"]
    assert out.index("JOIN #lobby") < out.index("PRIVMSG #lobby :are you there?")
    assert session.pending == {}


def test_pending_lines_go_only_once() -> None:
    """After they went out, another JOIN sends nothing again."""
    session = registered()
    session.connection_lost("reset")
    type_line(session, "once")
    reconnect(session)
    sent(session)
    feed(session, ":me!u@h PART #lobby", ":me!u@h JOIN #lobby")
    assert not any("PRIVMSG" in line for line in sent(session))


def test_private_line_typed_while_disconnected_is_sent_once_registered() -> None:
    """A private line waits for registration, then goes out at the end of the MOTD."""
    session = registered()
    type_line(session, "/query alice")
    session.connection_lost("reset")
    type_line(session, "psst")
    assert session.pending == {"alice": [("psst", False)]}
    reconnect(session)
    assert "PRIVMSG alice psst" in sent(session)


def test_msg_while_disconnected_is_held_too() -> None:
    """/msg NICK text while disconnected is held under that private conversation."""
    session = registered()
    session.connection_lost("reset")
    type_line(session, "/msg bob later")
    assert "bob" in session.pending
    reconnect(session)
    assert "PRIVMSG bob later" in sent(session)


def test_a_room_i_left_is_still_refused() -> None:
    """In a room I left on purpose, a line is refused with the reason, not held."""
    session = registered()
    feed(session, ":me!u@h PART #lobby")
    session.set_active("#lobby")
    shown = type_line(session, "hello?")
    assert shown == ["You are not in #lobby (/join #lobby)"]
    assert session.pending == {}


def test_a_room_i_never_joined_gets_msg_at_once() -> None:
    """/msg to a room I am not in is sent at once while connected (the server decides)."""
    session = registered()
    type_line(session, "/msg #elsewhere hi")
    assert sent(session) == ["PRIVMSG #elsewhere hi"]


def test_pending_note_is_a_system_line_in_that_conversation() -> None:
    """The pending note sits in the conversation the line was typed in."""
    session = registered()
    session.connection_lost("reset")
    type_line(session, "hi")
    assert isinstance(session.conversations["#lobby"].lines[-1], SystemLine)


def test_a_room_that_refuses_the_rejoin_drops_its_pending_lines_visibly() -> None:
    """Banned meanwhile: the held lines are reported as not sent, and the room is not retried."""
    session = registered()
    session.connection_lost("reset")
    type_line(session, "hello again")
    session.connect()
    feed(session, ":srv 001 me :Welcome", ":srv 376 me :End of MOTD")
    posted = feed(session, ":srv 474 me #lobby :Cannot join channel (+b)")
    texts = [p.line.text for p in posted]
    assert texts[-1] == "Not sent (1 pending line(s)): hello again"
    assert session.pending == {}
    assert "#lobby" not in session.rooms
    assert not any("PRIVMSG" in line for line in sent(session))
