"""The client session model: feed server lines, check what the client knows and shows."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from chinwag.client.conversation import SERVER_KEY, ConversationKind, PrefixMap
from chinwag.client.ctcp import version_reply
from chinwag.client.handlers import HANDLERS
from chinwag.client.lines import (
    ActionLine,
    ChatLine,
    ErrorLine,
    Posted,
    SystemKind,
    SystemLine,
)
from chinwag.client.session import Session
from chinwag.protocol import Message, parse_line

NOW = 1_700_000_000.0


def feed(session: Session, *lines: str) -> list[Posted]:
    """Feed raw server lines to the session; return every line they posted."""
    out: list[Posted] = []
    for line in lines:
        out.extend(session.feed(parse_line(line)))
    return out


def sent(session: Session) -> list[str]:
    """The queued outgoing lines, as text."""
    return [str(msg) for msg in session.take_outbox()]


def registered(nick: str = "me", **kwargs: object) -> Session:
    """A session that has completed registration and joined #lobby with alice and bob."""
    session = Session(nick, clock=lambda: NOW, **kwargs)  # type: ignore[arg-type]
    session.connect()
    feed(
        session,
        f":srv 001 {nick} :Welcome to chinwag",
        f":srv 005 {nick} PREFIX=(ov)@+ CHANTYPES=# CHANMODES=b,k,l,imnst :are supported",
        f":srv 376 {nick} :End of MOTD",
        f":{nick}!u@h JOIN #lobby",
        f":srv 353 {nick} = #lobby :{nick} @alice +bob",
        f":srv 366 {nick} #lobby :End of NAMES",
    )
    session.take_outbox()
    return session


def members(session: Session, channel: str = "#lobby") -> list[str]:
    """The member list of a room as displayed (prefix + nick), ops first."""
    conv = session.conversations[session.key_of(channel)]
    return [m.display for m in conv.sorted_members(session.prefix_map)]


class TestRegistration:
    def test_connect_queues_cap_nick_user(self) -> None:
        """Connecting asks for capabilities, then sends NICK and USER."""
        session = Session("amy", password="pw")
        session.connect()
        assert sent(session) == ["CAP LS 302", "PASS pw", "NICK amy", "USER amy 0 * :chinwag user"]

    def test_cap_ls_requests_known_caps_and_ends(self) -> None:
        """Only capabilities we know are requested; ACK ends the negotiation."""
        session = Session("amy")
        session.connect()
        session.take_outbox()
        feed(
            session, ":srv CAP * LS * :multi-prefix sasl=PLAIN", ":srv CAP * LS :server-time bogus"
        )
        assert sent(session) == ["CAP REQ :multi-prefix server-time"]
        feed(session, ":srv CAP * ACK :multi-prefix server-time")
        assert session.caps == {"multi-prefix", "server-time"}
        assert sent(session) == ["CAP END"]

    def test_cap_nak_ends_negotiation(self) -> None:
        """A refused request still ends CAP negotiation."""
        session = Session("amy")
        session.connect()
        session.take_outbox()
        feed(session, ":srv CAP * LS :echo-message", ":srv CAP * NAK :echo-message")
        assert sent(session) == ["CAP REQ echo-message", "CAP END"]
        assert session.caps == set()

    def test_welcome_registers_and_takes_nick(self) -> None:
        """001 marks the session registered with the nick the server gives."""
        session = Session("amy")
        feed(session, ":srv 001 Amy :Welcome")
        assert session.registered
        assert session.nick == "Amy"
        assert session.server_name == "srv"

    def test_nick_in_use_before_registration_sets_error(self) -> None:
        """433 before 001 is reported so that the user can choose another nick."""
        session = Session("amy")
        posted = feed(session, ":srv 433 * amy :Nickname is already in use")
        assert session.nick_error == "The nick amy is already taken"
        assert isinstance(posted[0].line, ErrorLine)
        session.change_nick("amy2")
        assert session.nick == "amy2"
        assert sent(session) == ["NICK amy2"]

    def test_ping_is_answered(self) -> None:
        """PING gets a PONG with the same token."""
        session = Session("amy")
        feed(session, "PING :abc123")
        assert sent(session) == ["PONG abc123"]

    def test_end_of_motd_joins_wanted_rooms(self) -> None:
        """Rooms asked for (or open before a reconnect) are joined after the MOTD."""
        session = Session("amy")
        session.want_room("#a")
        session.want_room("#b")
        feed(session, ":srv 001 amy :hi", ":amy!u@h JOIN #a", ":srv 422 amy :No MOTD")
        assert sent(session) == ["JOIN #b"]


class TestChannels:
    def test_join_creates_active_room_with_members(self) -> None:
        """My JOIN opens the room and makes it active; NAMES fills the member list."""
        session = registered()
        assert session.active == "#lobby"
        assert session.current.joined
        assert members(session) == ["@alice", "+bob", "me"]

    def test_multi_prefix_and_userhost_in_names(self) -> None:
        """NAMES entries with several prefixes and full hostmasks are understood."""
        session = registered()
        feed(
            session,
            ":srv 353 me = #lobby :me @+carol!c@host dave!d@h",
            ":srv 366 me #lobby :End",
        )
        conv = session.current
        assert conv.members["carol"].prefixes == "@+"
        assert members(session) == ["@carol", "dave", "me"]

    def test_others_join_part_quit(self) -> None:
        """Joins, parts and quits update members and post system lines."""
        session = registered()
        posted = feed(
            session,
            ":carol!c@h JOIN #lobby",
            ":alice!a@h PART #lobby :bye",
            ":bob!b@h QUIT :gone",
        )
        assert members(session) == ["carol", "me"]
        texts = [p.line.text for p in posted if isinstance(p.line, SystemLine)]
        assert texts == [
            "carol has joined #lobby",
            "alice has left #lobby (bye)",
            "bob has quit (gone)",
        ]
        kinds = [p.line.kind for p in posted if isinstance(p.line, SystemLine)]
        assert kinds == [SystemKind.JOIN, SystemKind.PART, SystemKind.QUIT]

    def test_nick_change_renames_member_and_private(self) -> None:
        """A nick change renames the member and the private conversation, keeping its lines."""
        session = registered()
        feed(session, ":bob!b@h PRIVMSG me :psst")
        feed(session, ":bob!b@h NICK Robert")
        assert members(session) == ["@alice", "+Robert", "me"]
        assert "bob" not in session.conversations
        conv = session.conversations["robert"]
        assert conv.name == "Robert"
        assert [type(line) for line in conv.lines] == [ChatLine, SystemLine]

    def test_my_nick_change(self) -> None:
        """My own NICK changes my nick."""
        session = registered()
        posted = feed(session, ":me!u@h NICK Me2")
        assert session.nick == "Me2"
        assert posted[0].line.text == "You are now known as Me2"

    def test_kick_removes_member_and_me(self) -> None:
        """KICK removes the victim; when it is me the room is left and not rejoined."""
        session = registered()
        feed(session, ":alice!a@h KICK #lobby bob :spam")
        assert members(session) == ["@alice", "me"]
        posted = feed(session, ":alice!a@h KICK #lobby me")
        assert not session.current.joined
        assert "#lobby" not in session.rooms
        assert posted[0].line.text == "You were kicked from #lobby by alice"

    def test_mode_changes_prefixes(self) -> None:
        """MODE +o/-v with other parameterised modes in between updates prefixes."""
        session = registered()
        feed(session, ":alice!a@h MODE #lobby +kov-v key bob me bob")
        assert members(session) == ["@alice", "@bob", "+me"]
        feed(session, ":alice!a@h MODE #lobby -o+l bob 10")
        assert members(session) == ["@alice", "+me", "bob"]

    def test_topic_from_numeric_and_command(self) -> None:
        """The topic comes from 332 on join and from TOPIC afterwards."""
        session = registered()
        feed(session, ":srv 332 me #lobby :Welcome all", ":srv 333 me #lobby alice 0")
        assert session.current.topic == "Welcome all"
        posted = feed(session, ":alice!a@h TOPIC #lobby :New topic")
        assert session.current.topic == "New topic"
        assert posted[0].line.text == "alice changed the topic to: New topic"

    def test_away_notify(self) -> None:
        """AWAY from away-notify marks the member away and back."""
        session = registered()
        feed(session, ":bob!b@h AWAY :lunch")
        assert session.current.members["bob"].away
        feed(session, ":bob!b@h AWAY")
        assert not session.current.members["bob"].away

    def test_part_self_forgets_room(self) -> None:
        """My PART leaves the room and forgets it for rejoin."""
        session = registered()
        feed(session, ":me!u@h PART #lobby")
        assert not session.current.joined
        assert session.rooms == {}


class TestMessages:
    def test_channel_message(self) -> None:
        """A channel PRIVMSG becomes a chat line in that room."""
        session = registered()
        posted = feed(session, ":alice!a@h PRIVMSG #lobby :hi all")
        assert posted == [Posted("#lobby", "#lobby", False, ChatLine(NOW, "alice", "hi all"))]

    def test_server_time_tag_is_used(self) -> None:
        """The server-time tag gives the line its time."""
        session = registered()
        posted = feed(session, "@time=2023-11-14T22:13:20.000Z :alice!a@h PRIVMSG #lobby :x")
        assert posted[0].line.time == 1_700_000_000.0

    def test_private_message_opens_conversation(self) -> None:
        """A private message opens a conversation with the sender, counted as unread mention."""
        session = registered()
        posted = feed(session, ":Carol!c@h PRIVMSG me :psst")
        assert posted[0].private
        conv = session.conversations["carol"]
        assert conv.kind is ConversationKind.PRIVATE
        assert conv.name == "Carol"
        assert (conv.unread, conv.mentions) == (1, 1)
        assert session.active == "#lobby"

    def test_echo_of_my_private_message(self) -> None:
        """With echo-message my own message comes back and lands in the partner's conversation."""
        session = registered()
        session.caps.add("echo-message")
        assert session.own_message("carol", "hello") == []
        posted = feed(session, ":me!u@h PRIVMSG carol :hello")
        assert posted[0].key == "carol"
        assert posted[0].line == ChatLine(NOW, "me", "hello", own=True)

    def test_local_echo_without_echo_message(self) -> None:
        """Without echo-message my message is shown locally."""
        session = registered()
        posted = session.own_message("#lobby", "hello", action=True)
        assert posted[0].line == ActionLine(NOW, "me", "hello", own=True)

    def test_action_and_highlight(self) -> None:
        """CTCP ACTION is an action line; my nick as a word is a mention."""
        session = registered()
        session.set_active(SERVER_KEY)
        posted = feed(
            session,
            ":alice!a@h PRIVMSG #lobby :\x01ACTION waves at ME\x01",
            ":alice!a@h PRIVMSG #lobby :meme time",
            ":alice!a@h PRIVMSG #lobby :hey me, look",
        )
        assert posted[0].line == ActionLine(NOW, "alice", "waves at ME", highlight=True)
        assert not posted[1].line.highlight  # type: ignore[union-attr]
        assert posted[2].line.highlight  # type: ignore[union-attr]
        assert (session.current.unread, session.conversations["#lobby"].mentions) == (0, 2)
        assert session.conversations["#lobby"].unread == 3

    def test_ctcp_version_is_answered(self) -> None:
        """CTCP VERSION gets a NOTICE reply and shows nothing."""
        session = registered()
        assert feed(session, ":alice!a@h PRIVMSG me :\x01VERSION\x01") == []
        assert sent(session) == [f"NOTICE alice :\x01VERSION {version_reply()}\x01"]

    def test_notice_from_server_goes_to_server_conversation(self) -> None:
        """A server NOTICE lands in the server conversation."""
        session = registered()
        posted = feed(session, ":irc.example NOTICE me :*** hello")
        assert posted[0].key == SERVER_KEY

    def test_set_active_clears_unread(self) -> None:
        """Activating a conversation marks it read."""
        session = registered()
        feed(session, ":carol!c@h PRIVMSG me :1", ":carol!c@h PRIVMSG me :2")
        assert session.conversations["carol"].unread == 2
        session.set_active("carol")
        assert session.conversations["carol"].unread == 0

    def test_scrollback_is_bounded(self) -> None:
        """A conversation keeps at most `scrollback` lines."""
        session = registered(scrollback=5)
        for i in range(20):
            feed(session, f":alice!a@h PRIVMSG #lobby :{i}")
        lines = session.current.lines
        assert [line.text for line in lines] == ["15", "16", "17", "18", "19"]


class TestNumerics:
    def test_error_numeric_is_readable(self) -> None:
        """An error numeric becomes a readable error line in the active conversation."""
        session = registered()
        posted = feed(session, ":srv 421 me FOO :Unknown command")
        assert posted[0].key == "#lobby"
        assert posted[0].line == ErrorLine(NOW, "FOO: Unknown command", "421")

    def test_error_about_a_conversation_goes_there(self) -> None:
        """401 about an open private partner lands in that conversation."""
        session = registered()
        session.open_private("ghost")
        session.set_active("#lobby")
        posted = feed(session, ":srv 401 me ghost :No such nick/channel")
        assert posted[0].key == "ghost"
        assert posted[0].line.text == "ghost: No such nick/channel"

    def test_whois_lines(self) -> None:
        """WHOIS replies read as sentences."""
        session = registered()
        posted = feed(
            session,
            ":srv 311 me alice ali host * :Alice A",
            ":srv 319 me alice :@#lobby",
            ":srv 318 me alice :End of WHOIS",
        )
        assert [p.line.text for p in posted] == [
            "alice is alice!ali@host (Alice A)",
            "alice is in @#lobby",
        ]

    def test_away_numerics(self) -> None:
        """306/305 track my away state."""
        session = registered()
        feed(session, ":srv 306 me :You have been marked as being away")
        assert session.away
        feed(session, ":srv 305 me :You are no longer marked as being away")
        assert not session.away

    def test_lusers_keep_their_counts(self) -> None:
        """252 keeps its count; 265 shows only its sentence."""
        session = registered()
        posted = feed(
            session,
            ":srv 252 me 2 :operator(s) online",
            ":srv 265 me 1 1 :Current local users 1, max 1",
        )
        assert [p.line.text for p in posted] == [
            "2 operator(s) online",
            "Current local users 1, max 1",
        ]

    def test_error_after_my_quit_is_silent(self) -> None:
        """The ERROR that answers our own QUIT is not shown; an unexpected one is."""
        session = registered()
        assert feed(session, "ERROR :Closing Link: kicked")[0].key == SERVER_KEY
        session.quitting = True
        assert feed(session, "ERROR :Closing Link: (Quit: bye)") == []

    def test_motd_goes_to_server(self) -> None:
        """MOTD lines go to the server conversation."""
        session = registered()
        posted = feed(session, ":srv 372 me :- hello")
        assert posted[0].key == SERVER_KEY
        assert posted[0].line.text == "- hello"


class TestConnection:
    def test_connection_lost_and_rejoin(self) -> None:
        """After a lost connection the rooms are rejoined once registered again."""
        session = registered()
        posted = session.connection_lost("EOF")
        assert {p.key for p in posted} == {"#lobby", SERVER_KEY}
        assert not session.current.joined
        assert session.current.members == {}
        session.connect()
        session.take_outbox()
        feed(session, ":srv 001 me :hi", ":srv 376 me :End")
        assert sent(session) == ["JOIN #lobby"]

    def test_close_activates_neighbour(self) -> None:
        """Closing the active conversation activates another; the server one stays."""
        session = registered()
        session.open_private("carol")
        session.close("carol")
        assert session.active == "#lobby"
        session.close(SERVER_KEY)
        assert SERVER_KEY in session.conversations

    def test_prefix_map_parse(self) -> None:
        """PREFIX is read, with the RFC default for bad values."""
        assert PrefixMap.parse("(qov)~@+") == PrefixMap("qov", "~@+")
        assert PrefixMap.parse("junk") == PrefixMap()

    def test_unknown_command_is_ignored(self) -> None:
        """Commands the client does not know change nothing."""
        session = registered()
        assert session.feed(Message.of("FROB", "x")) == []


_COMMANDS = sorted(set(HANDLERS) - {"<numeric>"} | {"001", "005", "311", "353", "366", "999"})
_WORDS = st.sampled_from(["me", "#lobby", "alice", "*", "+o", "-v+k", "", ":", "@+bob", "a b"])


@given(
    command=st.sampled_from(_COMMANDS),
    params=st.lists(_WORDS, max_size=6),
    source=st.sampled_from([None, "srv", "me!u@h", "alice!a@h", "bob"]),
)
def test_any_message_is_handled_without_error(
    command: str, params: list[str], source: str | None
) -> None:
    """Whatever the shape of a known command, feeding it never raises."""
    session = registered()
    session.feed(Message(command, tuple(params), source))


class TestSasl:
    def start(self, **kwargs: str) -> Session:
        """A session that asked for caps and got an LS offering sasl."""
        session = Session("amy", **kwargs)  # type: ignore[arg-type]
        session.connect()
        session.take_outbox()
        return session

    def test_plain_login_during_registration(self) -> None:
        """With an account, sasl is requested, PLAIN sent, and CAP END waits for 903."""
        session = self.start(account="amy", account_password="pw")
        feed(session, ":srv CAP * LS :sasl=PLAIN server-time")
        assert sent(session) == ["CAP REQ :sasl server-time"]
        feed(session, ":srv CAP * ACK :sasl server-time")
        assert sent(session) == ["AUTHENTICATE PLAIN"]
        feed(session, "AUTHENTICATE +")
        assert sent(session) == ["AUTHENTICATE YW15AGFteQBwdw=="]  # amy\0amy\0pw
        posted = feed(
            session,
            ":srv 900 amy amy!u@h amy :You are now logged in as amy",
            ":srv 903 amy :SASL authentication successful",
        )
        assert sent(session) == ["CAP END"]
        assert session.logged_in_as == "amy"
        assert posted[0].line.text == "You are now logged in as amy"

    def test_long_credentials_are_chunked(self) -> None:
        """Credentials longer than 400 base64 bytes go in chunks; an exact multiple ends in +."""
        session = self.start(account="amy", account_password="x" * 292)  # 300 raw -> 400 b64
        feed(session, ":srv CAP * LS :sasl", ":srv CAP * ACK :sasl", "AUTHENTICATE +")
        lines = sent(session)
        assert lines[:2] == ["CAP REQ sasl", "AUTHENTICATE PLAIN"]
        assert [len(line) for line in lines[2:]] == [len("AUTHENTICATE ") + 400, 14]
        assert lines[-1] == "AUTHENTICATE +"

    def test_failed_login_is_explained_and_registration_goes_on(self) -> None:
        """904 becomes a readable error and CAP END is still sent."""
        session = self.start(account="amy", account_password="bad")
        feed(session, ":srv CAP * LS :sasl", ":srv CAP * ACK :sasl", "AUTHENTICATE +")
        session.take_outbox()
        posted = feed(session, ":srv 904 amy :SASL authentication failed")
        assert sent(session) == ["CAP END"]
        assert posted[0].line.text == "Could not log in as amy: SASL authentication failed"

    def test_no_sasl_offered(self) -> None:
        """A server without sasl is reported and registration continues."""
        session = self.start(account="amy", account_password="pw")
        posted = feed(session, ":srv CAP * LS :server-time")
        assert "does not offer SASL" in posted[0].line.text
        assert sent(session) == ["CAP REQ server-time"]

    def test_without_account_sasl_is_not_requested(self) -> None:
        """No account: the sasl cap is left alone."""
        session = self.start()
        feed(session, ":srv CAP * LS :sasl")
        assert sent(session) == ["CAP END"]

    def test_standard_replies_and_register(self) -> None:
        """FAIL is an error line, REGISTER SUCCESS logs me in."""
        session = registered()
        posted = feed(
            session,
            ":srv FAIL REGISTER WEAK_PASSWORD amy :Password too short",
            ":srv REGISTER SUCCESS me :Account created; you are logged in",
        )
        assert posted[0].line == ErrorLine(NOW, "REGISTER failed: Password too short", "FAIL")
        assert session.logged_in_as == "me"


def test_replayed_history_is_not_shown_twice() -> None:
    """A message whose msgid was already seen (history replayed on rejoin) is dropped."""
    session = registered()
    line = "@msgid=abc;time=2023-11-14T22:13:20.000Z :alice!a@h PRIVMSG #lobby :hello"
    assert len(feed(session, line)) == 1
    assert feed(session, line) == []
    assert len(feed(session, ":alice!a@h PRIVMSG #lobby :no id")) == 1
    assert len(feed(session, ":alice!a@h PRIVMSG #lobby :no id")) == 1
