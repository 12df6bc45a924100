"""History in the session model: chathistory batches, requests when conversations open, paging."""

from __future__ import annotations

from chinwag.client.conversation import Conversation, ConversationKind
from chinwag.client.lines import ChatLine, SystemLine, is_history
from chinwag.client.plain import format_block
from chinwag.client.session import WANTED_CAPS, Session

from .test_session import NOW, feed, sent

CAPS = "batch draft/chathistory server-time message-tags echo-message"


def with_history(nick: str = "me", isupport: str = "") -> Session:
    """A registered session that negotiated batch + draft/chathistory, not in any room yet."""
    session = Session(nick, clock=lambda: NOW)
    session.connect()
    feed(
        session,
        f":srv CAP * LS :{CAPS} sasl",
        f":srv CAP * ACK :{CAPS}",
        f":srv 001 {nick} :Welcome",
        f":srv 005 {nick} CHANTYPES=# {isupport} :are supported",
        f":srv 376 {nick} :End of MOTD",
    )
    session.take_outbox()
    return session


def stamp(seconds: int) -> str:
    """A server-time tag value ``seconds`` after 12:00."""
    return f"2023-11-14T12:{seconds // 60:02d}:{seconds % 60:02d}.000Z"


def history_batch(ref: str, target: str, *lines: tuple[int, str, str, str]) -> list[str]:
    """A chathistory batch of (seconds, msgid, source nick, text) lines to ``target``."""
    out = [f":srv BATCH +{ref} chathistory {target}"]
    for seconds, msgid, nick, text in lines:
        to = target if target.startswith("#") else "me" if nick != "me" else target
        out.append(
            f"@batch={ref};msgid={msgid};time={stamp(seconds)} :{nick}!u@h PRIVMSG {to} :{text}"
        )
    out.append(f":srv BATCH -{ref}")
    return out


def texts(session: Session, name: str) -> list[str]:
    """What a conversation holds, as text (chat lines as ``<nick> text``, history with ``~``)."""
    out = []
    for line in session.conversations[session.key_of(name)].lines:
        if isinstance(line, ChatLine):
            out.append(("~" if line.history else "") + f"<{line.nick}> {line.text}")
        elif isinstance(line, SystemLine):
            out.append(f"-- {line.text}")
    return out


def join_lobby(session: Session, seconds: int = 600) -> None:
    """My JOIN of #lobby at 12:00 + ``seconds``, with its NAMES."""
    feed(
        session,
        f"@time={stamp(seconds)} :me!u@h JOIN #lobby",
        ":srv 353 me = #lobby :me alice",
        ":srv 366 me #lobby :End of NAMES",
    )


class TestRequests:
    def test_batch_and_chathistory_are_requested(self) -> None:
        """The client asks for batch and draft/chathistory (history comes in batches)."""
        assert {"batch", "draft/chathistory"} <= WANTED_CAPS

    def test_joining_asks_for_the_latest_lines(self) -> None:
        """My JOIN asks CHATHISTORY LATEST <room> * 50 and marks the room as loading."""
        session = with_history()
        join_lobby(session)
        assert "CHATHISTORY LATEST #lobby * 50" in sent(session)
        assert session.conversations["#lobby"].history_loading

    def test_server_maximum_lowers_the_page(self) -> None:
        """ISUPPORT CHATHISTORY=20 caps each request at 20 lines."""
        session = with_history(isupport="CHATHISTORY=20")
        join_lobby(session)
        assert "CHATHISTORY LATEST #lobby * 20" in sent(session)

    def test_no_request_without_the_capability(self) -> None:
        """A server without draft/chathistory is not asked (it may replay on join by itself)."""
        session = Session("me", clock=lambda: NOW)
        session.connect()
        feed(session, ":srv CAP * LS :batch server-time", ":srv CAP * ACK :batch server-time")
        feed(session, ":srv 001 me :Welcome", ":srv 376 me :End")
        join_lobby(session)
        assert not any(line.startswith("CHATHISTORY") for line in sent(session))
        assert not session.request_older("#lobby")

    def test_opening_a_private_conversation_asks_once(self) -> None:
        """/query of someone new asks for our history with them; opening it again does not."""
        session = with_history()
        session.open_private("Carol")
        assert sent(session) == ["CHATHISTORY LATEST Carol * 50"]
        session.open_private("carol")
        assert sent(session) == []

    def test_private_line_from_someone_new_asks_for_history(self) -> None:
        """A first private line from someone opens the conversation and asks for its history."""
        session = with_history()
        feed(session, "@msgid=m1 :carol!c@h PRIVMSG me :psst")
        assert sent(session) == ["CHATHISTORY LATEST carol * 50"]

    def test_reconnect_asks_again_for_private_conversations(self) -> None:
        """After a reconnect, private conversations ask for what was said meanwhile."""
        session = with_history()
        session.open_private("carol")
        session.connection_lost("gone")
        session.connect()
        feed(session, f":srv CAP * LS :{CAPS}", f":srv CAP * ACK :{CAPS}")
        feed(session, ":srv 001 me :Welcome", ":srv 376 me :End")
        assert "CHATHISTORY LATEST carol * 50" in sent(session)


class TestBatches:
    def test_history_goes_before_the_join_dimmed_and_not_unread(self) -> None:
        """Lines of the LATEST batch are merged before my join, marked, and never unread."""
        session = with_history()
        join_lobby(session)
        session.set_active("*")
        posted = feed(
            session,
            *history_batch("h1", "#lobby", (1, "a", "alice", "hi"), (2, "b", "alice", "me: ping")),
        )
        assert texts(session, "#lobby") == [
            "~<alice> hi",
            "~<alice> me: ping",
            "-- You have joined #lobby",
        ]
        conv = session.conversations["#lobby"]
        assert (conv.unread, conv.mentions, conv.history_loading) == (0, 0, False)
        assert [p.line.text for p in posted if isinstance(p.line, ChatLine)] == ["hi", "me: ping"]
        assert all(is_history(p.line) for p in posted)
        assert conv.rewrites == 1 and conv.prepended == 2

    def test_lines_already_shown_are_not_repeated(self) -> None:
        """A msgid seen live is dropped from history, and a live copy of a history line too."""
        session = with_history()
        join_lobby(session, seconds=0)
        feed(session, f"@msgid=b;time={stamp(2)} :alice!u@h PRIVMSG #lobby :live")
        feed(
            session,
            *history_batch("h1", "#lobby", (1, "a", "alice", "old"), (2, "b", "alice", "live")),
        )
        feed(session, f"@msgid=a;time={stamp(1)} :alice!u@h PRIVMSG #lobby :old")
        assert texts(session, "#lobby") == [
            "-- You have joined #lobby",
            "~<alice> old",
            "<alice> live",
        ]

    def test_private_history_goes_to_the_batch_target(self) -> None:
        """Both sides of a private conversation go to the partner named by the batch."""
        session = with_history()
        session.open_private("carol")
        feed(
            session,
            *history_batch("h2", "carol", (1, "x", "carol", "psst"), (2, "y", "me", "yes?")),
        )
        assert texts(session, "carol") == ["~<carol> psst", "~<me> yes?"]
        own = session.conversations["carol"].lines[1]
        assert isinstance(own, ChatLine) and own.own

    def test_join_replay_without_chathistory_is_history_too(self) -> None:
        """A server that replays on join (batch, no draft/chathistory) gets the same treatment."""
        session = Session("me", clock=lambda: NOW)
        session.connect()
        feed(session, ":srv CAP * LS :batch server-time", ":srv CAP * ACK :batch server-time")
        feed(session, ":srv 001 me :Welcome", ":srv 376 me :End")
        join_lobby(session)
        feed(session, *history_batch("r", "#lobby", (1, "a", "alice", "before you came")))
        assert texts(session, "#lobby")[0] == "~<alice> before you came"

    def test_other_batches_are_shown_live(self) -> None:
        """Lines of a batch type we do not know are ordinary lines."""
        session = with_history()
        join_lobby(session, seconds=0)
        feed(
            session,
            ":srv BATCH +n netjoin",
            f"@batch=n;time={stamp(5)} :alice!u@h PRIVMSG #lobby :hello",
            ":srv BATCH -n",
        )
        assert texts(session, "#lobby")[-1] == "<alice> hello"


class TestOlderPages:
    def test_older_page_before_the_oldest_msgid_until_empty(self) -> None:
        """Paging asks BEFORE msgid=<oldest>, one request at a time, and stops at an empty page."""
        session = with_history()
        join_lobby(session)
        feed(session, *history_batch("h1", "#lobby", (10, "m10", "alice", "ten")))
        sent(session)
        assert session.request_older("#lobby")
        assert not session.request_older("#lobby"), "one request at a time"
        assert sent(session) == ["CHATHISTORY BEFORE #lobby msgid=m10 50"]
        feed(session, *history_batch("h2", "#lobby", (5, "m5", "alice", "five")))
        assert texts(session, "#lobby")[:2] == ["~<alice> five", "~<alice> ten"]
        assert session.request_older("#lobby")
        assert sent(session) == ["CHATHISTORY BEFORE #lobby msgid=m5 50"]
        feed(session, *history_batch("h3", "#lobby"))
        conv = session.conversations["#lobby"]
        assert conv.history_done and not conv.history_loading
        assert not session.request_older("#lobby")
        assert sent(session) == []

    def test_without_msgid_the_oldest_time_is_the_bound(self) -> None:
        """A conversation without any msgid pages from the time of its oldest line."""
        session = with_history()
        join_lobby(session, seconds=61)
        sent(session)
        session.conversations["#lobby"].history_loading = False
        assert session.request_older("#lobby")
        assert sent(session) == ["CHATHISTORY BEFORE #lobby timestamp=2023-11-14T12:01:01.000Z 50"]

    def test_failure_stops_the_loading(self) -> None:
        """FAIL CHATHISTORY for a target ends its loading state and further requests."""
        session = with_history()
        join_lobby(session)
        feed(
            session,
            ":srv FAIL CHATHISTORY INVALID_TARGET LATEST #lobby :Messages could not be retrieved",
        )
        conv = session.conversations["#lobby"]
        assert not conv.history_loading and conv.history_done
        assert not session.request_older("#lobby")

    def test_server_conversation_has_no_history(self) -> None:
        """The server conversation never asks for history."""
        assert not with_history().request_older("*")


class TestMerge:
    def test_newer_lines_are_appended_without_a_rewrite(self) -> None:
        """History newer than everything shown is appended (the view only appends)."""
        conv = Conversation("#c", ConversationKind.CHANNEL)
        conv.lines.append(SystemLine(1.0, "joined"))
        conv.total = 1
        conv.merge_history([ChatLine(2.0, "a", "x", history=True)])
        assert (conv.total, conv.rewrites, len(conv.lines)) == (2, 0, 2)

    def test_lines_in_the_middle_rewrite_without_prepending(self) -> None:
        """History between shown lines rewrites the scrollback; nothing counts as prepended."""
        conv = Conversation("#c", ConversationKind.CHANNEL)
        conv.lines.extend([SystemLine(1.0, "a"), SystemLine(3.0, "c")])
        conv.merge_history([ChatLine(2.0, "n", "b", history=True)])
        assert [line.time for line in conv.lines] == [1.0, 2.0, 3.0]
        assert (conv.rewrites, conv.prepended) == (1, 0)


class TestPlainBlock:
    def test_history_is_printed_between_markers_with_times(self) -> None:
        """Plain mode prints a history run between two markers, private lines with their time."""
        session = with_history()
        join_lobby(session)
        posted = feed(session, *history_batch("h1", "#lobby", (60, "a", "alice", "hi")))
        session.open_private("carol")
        posted += feed(session, *history_batch("h2", "carol", (120, "b", "carol", "psst")))
        lines = format_block(posted, "#lobby")
        assert lines[0] == "-- history of #lobby --"
        assert lines[1].endswith("<alice> hi") and lines[1].startswith("[")
        assert lines[2:4] == ["-- end of history --", "-- history of carol --"]
        assert lines[4].startswith("[") and lines[4].endswith("<- carol: psst")
        assert lines[5] == "-- end of history --"
