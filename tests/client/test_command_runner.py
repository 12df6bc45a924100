"""The commands people expect from irssi and WeeChat: what each sends, shows, and refuses."""

from __future__ import annotations

import pytest

from chinwag.client.command_runner import LASTLOG_MAX, execute
from chinwag.client.conversation import SERVER_KEY
from chinwag.client.lines import ErrorLine
from chinwag.client.session import Session
from chinwag.client.user_commands import Invalid, is_secret, parse_input

from .test_session import feed, registered, sent


def run(session: Session, text: str) -> list[str]:
    """Run a typed line; return the text of the lines it posted."""
    command = parse_input(text)
    assert command is not None
    return [p.line.text for p in execute(session, command).posted]


SENT_CASES = [
    ("/list", ["LIST"]),
    ("/list #d*", ["LIST #d*"]),
    ("/kick bob", ["KICK #lobby bob"]),
    ("/kick bob too loud", ["KICK #lobby bob :too loud"]),
    ("/ban bob", ["MODE #lobby +b bob!*@*"]),
    ("/ban *!*@10.0.*", ["MODE #lobby +b *!*@10.0.*"]),
    ("/unban bob!*@*", ["MODE #lobby -b bob!*@*"]),
    ("/op bob", ["MODE #lobby +o bob"]),
    ("/deop alice", ["MODE #lobby -o alice"]),
    ("/voice bob carol", ["MODE #lobby +vv bob carol"]),
    ("/devoice a b c d", ["MODE #lobby -vvv a b c", "MODE #lobby -v d"]),
    ("/mode", ["MODE #lobby"]),
    ("/mode +m", ["MODE #lobby +m"]),
    ("/mode +l 10", ["MODE #lobby +l 10"]),
    ("/mode #dev +t", ["MODE #dev +t"]),
    ("/mode me +i", ["MODE me +i"]),
    ("/invite bob", ["INVITE bob #lobby"]),
    ("/invite bob #dev", ["INVITE bob #dev"]),
    ("/oper root s3cret", ["OPER root s3cret"]),
]


@pytest.mark.parametrize(("typed", "expected"), SENT_CASES)
def test_command_sends(typed: str, expected: list[str]) -> None:
    """Each command sends what irssi would, about the current room unless one is named."""
    session = registered()
    assert run(session, typed) == []
    assert sent(session) == expected


@pytest.mark.parametrize("typed", ["/kick", "/ban", "/unban", "/op", "/invite", "/oper root"])
def test_missing_arguments_are_explained(typed: str) -> None:
    """A command without what it needs is refused with its usage, and nothing is sent."""
    assert isinstance(parse_input(typed), Invalid)


@pytest.mark.parametrize("typed", ["/kick bob", "/op bob", "/ban bob", "/invite bob", "/mode +m"])
def test_room_commands_outside_a_room_are_refused(typed: str) -> None:
    """In the server window a room command says it needs a room and sends nothing."""
    session = registered()
    session.set_active(SERVER_KEY)
    shown = run(session, typed)
    assert shown == ["This is not a room: go to one, or name it (#room)"]
    assert sent(session) == []


def test_ignore_hides_messages_until_unignored() -> None:
    """/ignore NICK hides that nick's messages (any user@host); /unignore shows them again."""
    session = registered()
    assert run(session, "/ignore bob")[0].startswith("Ignoring bob!*@*")
    feed(session, ":bob!b@h PRIVMSG #lobby :spam", ":bob!b@h PRIVMSG me :more spam")
    feed(session, ":alice!a@h PRIVMSG #lobby :hello")
    texts = [getattr(line, "text", "") for line in session.conversations["#lobby"].lines]
    assert "spam" not in texts
    assert "hello" in texts
    assert "bob" not in session.conversations
    run(session, "/unignore bob")
    feed(session, ":bob!b@h PRIVMSG #lobby :back")
    assert session.conversations["#lobby"].lines[-1].text == "back"


def test_ignore_by_host_mask() -> None:
    """/ignore *!*@spam.example hides everyone from that host, whatever the nick."""
    session = registered()
    run(session, "/ignore *!*@spam.example")
    feed(session, ":x1!u@spam.example PRIVMSG #lobby :buy", ":x2!v@spam.example NOTICE me :now")
    feed(session, ":x3!w@good.example PRIVMSG #lobby :real")
    texts = [getattr(line, "text", "") for line in session.conversations["#lobby"].lines]
    assert "buy" not in texts and "now" not in texts and "real" in texts


def test_ignore_lists_and_marks_settings_changed() -> None:
    """/ignore alone lists the masks; adding or removing one asks the frontend to save."""
    session = registered()
    assert run(session, "/ignore") == ["Nobody is ignored (/ignore NICK|MASK, /unignore NICK|MASK)"]
    command = parse_input("/ignore bob")
    assert command is not None
    assert execute(session, command).settings_changed
    assert run(session, "/ignore")[0].startswith("Ignoring: bob!*@*")
    assert run(session, "/unignore carol") == ["carol is not ignored (/ignore lists who is)"]


def test_server_lines_are_never_ignored() -> None:
    """A mask matching everything still lets server notices through."""
    session = registered()
    run(session, "/ignore *")
    posted = feed(session, ":irc.example NOTICE me :server speaking")
    assert [p.line.text for p in posted] == ["server speaking"]


def test_lastlog_finds_lines_of_the_conversation() -> None:
    """/lastlog TEXT shows the matching lines of this conversation, ignoring case."""
    session = registered()
    feed(session, ":alice!a@h PRIVMSG #lobby :the Deploy is done", ":bob!b@h PRIVMSG #lobby :ok")
    shown = run(session, "/lastlog deploy")
    assert shown[0] == "lastlog 'deploy': 1 line(s)"
    assert shown[1].startswith("| ") and shown[1].endswith("<alice> the Deploy is done")


def test_lastlog_shows_at_most_the_newest_lines() -> None:
    """A lastlog with more matches than LASTLOG_MAX shows the newest ones and says so."""
    session = registered()
    for i in range(LASTLOG_MAX + 5):
        feed(session, f":alice!a@h PRIVMSG #lobby :line {i}")
    shown = run(session, "/lastlog line")
    assert shown[0] == f"lastlog 'line': {LASTLOG_MAX + 5} line(s), the last {LASTLOG_MAX} shown"
    assert shown[-1].endswith(f"line {LASTLOG_MAX + 4}")


@pytest.mark.parametrize(
    ("typed", "secret"),
    [
        ("/register hunter2", True),
        ("/identify hunter2", True),
        ("/login amy hunter2", True),
        ("/oper root pw", True),
        ("/quote PASS pw", True),
        ("/msg NickServ IDENTIFY pw", True),
        ("/msg nickserv register pw", True),
        ("/msg bob identify yourself", False),
        ("hello", False),
        ("/join #dev", False),
    ],
)
def test_is_secret(typed: str, secret: bool) -> None:
    """Lines that carry a password are recognised, so they never go into the input history."""
    assert is_secret(typed) is secret


def test_list_replies_are_readable() -> None:
    """A 322 LIST reply reads as the room, how many are in it, and its topic."""
    session = registered()
    posted = feed(session, ":srv 322 me #dev 3 :Work talk", ":srv 323 me :End of /LIST")
    assert [p.line.text for p in posted] == ["#dev (3): Work talk", "End of /LIST"]
    assert not any(isinstance(p.line, ErrorLine) for p in posted)


def test_notify_sets_shows_and_refuses() -> None:
    """/notify MODE sets it (to be saved); alone it says which; an unknown mode is refused."""
    session = registered()
    command = parse_input("/notify osc777")
    assert command is not None
    outcome = execute(session, command)
    assert session.notify == "osc777" and outcome.settings_changed
    assert run(session, "/notify") == [
        "Mentions and private lines elsewhere: osc777 (/notify bell|osc9|osc777|off)"
    ]
    shown = run(session, "/notify loud")
    assert shown[0] == "/notify loud: choose one of bell|osc9|osc777|off"
    assert session.notify == "osc777"


def test_paste_without_a_box_says_so() -> None:
    """/paste where no box can open (plain mode) explains itself instead of doing nothing."""
    session = registered()
    assert run(session, "/paste") == [
        "/paste opens a box in the full-screen client; here every line is a message"
    ]
    command = parse_input("/paste")
    assert command is not None
    assert execute(session, command, paste_box=True).paste
