"""The client's view of an IRC session, sans I/O: feed parsed messages in, read the state out.

Theory of operation
-------------------
`Session` is the one model that the Textual app and plain mode share. It never touches a socket,
an event loop or a widget (the h11 / ircstates style): the network layer calls `Session.feed` with
every `Message` the server sends and writes out whatever `Session.take_outbox` returns (PONG, CAP
negotiation, rejoins); a frontend renders the `Posted` lines that `feed` returns and reads
conversations, members and topics straight from the session.

Registration: `Session.connect` queues ``CAP LS 302``, ``NICK`` and ``USER``. The CAP reply is
answered with a ``CAP REQ`` for the capabilities we both know, then ``CAP END``. A nick that the
server refuses before ``001`` sets `Session.nick_error`; the network layer asks the user (or picks
one) and calls `Session.change_nick`. After the end of the MOTD, rooms that were open before a
reconnect (or asked for with ``--join``) are joined again, unless the server already put us there.

Lines go to conversations keyed by casefolded name. A line added to a conversation that is not the
active one counts as unread; mentions of my nick and private lines also count as mentions.

History: with ``draft/chathistory`` the session asks ``CHATHISTORY LATEST <target> * 50`` when a
conversation opens (my JOIN, a new private conversation, private conversations again after a
reconnect) and ``BEFORE <target> msgid=<oldest>`` when a frontend wants an older page
(`Session.request_older`). Answers come in ``BATCH +ref chathistory <target>`` ... ``-ref``;
without ``draft/chathistory`` a server may send the same kind of batch on join by itself (join
replay). Lines inside such a batch are collected, dropped when their msgid was already seen, and
merged into the batch target's conversation by time when the batch ends, marked ``history``: they
never count as unread or as mentions. One request per conversation is in flight at a time; a
page that brings nothing new means there is nothing older.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from chinwag.client.conversation import (
    DEFAULT_SCROLLBACK,
    SERVER_KEY,
    Conversation,
    ConversationKind,
    PrefixMap,
    rekey,
)
from chinwag.client.ctcp import CtcpReplies
from chinwag.client.handlers import HANDLERS
from chinwag.client.lines import (
    ActionLine,
    ChatLine,
    ErrorLine,
    Line,
    Posted,
    SystemLine,
)
from chinwag.client.nickserv import NickProbe
from chinwag.client.roster import Roster
from chinwag.protocol import Message, fold, folder_for, mask_matches
from chinwag.protocol.timestamps import format_server_time, parse_server_time

__all__ = ["HISTORY_PAGE", "MSGID_MEMORY", "WANTED_CAPS", "Session"]

WANTED_CAPS = frozenset(
    {
        "multi-prefix",
        "server-time",
        "message-tags",
        "echo-message",
        "away-notify",
        "userhost-in-names",
        "cap-notify",
        "batch",
        "draft/chathistory",
    }
)
HISTORY_PAGE = 50
"""Lines asked for per CHATHISTORY request (less when ISUPPORT CHATHISTORY says so)."""
_DEFAULT_CHANMODES = ("beI", "k", "l", "imnpst")
# Message ids remembered to drop history replayed on rejoin (chinwag replays recent lines).
MSGID_MEMORY = 20_000
_NICK_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789[]\\`_^{|}-")


@dataclass(slots=True)
class _HistoryBatch:
    """A ``chathistory`` batch being received: its target and the new lines so far."""

    target: str
    lines: list[Line] = field(default_factory=list)
    older: bool = False


class Session:
    """Everything the client knows about one IRC connection and its conversations.

    Args:
        nick: the nick to register with.
        username: the USER name (defaults to the nick).
        realname: the USER real name.
        password: sent as PASS before registering, when given (a server password).
        account: log in to this account with SASL PLAIN while registering.
        account_password: the account's password.
        scrollback: lines kept per conversation.
        clock: seconds since the epoch, for lines without a ``server-time`` tag.
    """

    def __init__(
        self,
        nick: str,
        *,
        username: str | None = None,
        realname: str = "chinwag user",
        password: str | None = None,
        account: str | None = None,
        account_password: str | None = None,
        scrollback: int = DEFAULT_SCROLLBACK,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.nick = nick
        self.username = username or nick
        self.realname = realname
        self.password = password
        self.account = account
        self.account_password = account_password
        self.logged_in_as: str | None = None
        self.scrollback = scrollback
        self.clock = clock
        self.registered = False
        self.server_name = ""
        self.isupport: dict[str, str] = {}
        self.fold: Callable[[str], str] = fold  # the server's CASEMAPPING: every key comes from it
        self.caps: set[str] = set()
        self.away = False
        self.quitting = False
        self.closing_reason = ""
        self.nick_error: str | None = None
        self.conversations: dict[str, Conversation] = {}
        self.active = SERVER_KEY
        self.rooms: dict[str, str] = {}
        self.listing: list[str] = []
        self.notify = "bell"  # /notify: one of attention.NOTIFY_MODES
        self.ignores: list[str] = []  # /ignore: nick!user@host globs whose lines are not shown
        # Lines typed while they could not be sent, by conversation key: (text, is an action).
        self.pending: dict[str, list[tuple[str, bool]]] = {}
        self.focus_on_join: str | None = None
        self.changed = True
        self.ctcp_replies = CtcpReplies()
        self._outbox: list[Message] = []
        self._cap_offered: set[str] = set()
        self._cap_negotiating = False
        self._names: dict[str, Conversation] = {}
        self._msgids: dict[str, None] = {}
        self._batches: dict[str, _HistoryBatch] = {}
        self.nick_probe = NickProbe.IDLE
        self.nick_hinted = False
        self._older_pending: set[str] = set()
        self.roster = Roster()  # the automatic MODE and WHO queries of delayed-join rooms
        self.conversations[SERVER_KEY] = Conversation(
            "server", ConversationKind.SERVER, self.scrollback
        )

    # -- the connection ------------------------------------------------------------------------

    def connect(self) -> None:
        """Start registering on a fresh connection: queue CAP LS, PASS, NICK and USER."""
        self.registered = False
        self.nick_error = None
        self.closing_reason = ""
        self.caps.clear()
        self._cap_offered.clear()
        self._cap_negotiating = True
        self.nick_probe = NickProbe.IDLE
        self._batches.clear()
        self._older_pending.clear()
        self.roster.clear()
        for conv in self.conversations.values():
            conv.history_loading = False
        self.send(Message.of("CAP", "LS", "302"))
        if self.password:
            self.send(Message.of("PASS", self.password))
        self.send(Message.of("NICK", self.nick))
        self.send(Message.of("USER", self.username, "0", "*", self.realname))

    def connection_lost(self, reason: str) -> list[Posted]:
        """Forget what only lasts as long as a connection; say so in every open conversation."""
        self.registered = False
        self._names.clear()
        out: list[Posted] = []
        for key, conv in self.conversations.items():
            conv.members.clear()
            if conv.joined or key in (SERVER_KEY, self.active):
                out.append(self.post(key, SystemLine(self.clock(), f"Disconnected: {reason}")))
            conv.joined = False
        self.changed = True
        return out

    def change_nick(self, nick: str) -> None:
        """Ask the server for another nick (before registration this is the nick to register)."""
        self.nick_error = None
        if not self.registered:
            self.nick = nick
        self.send(Message.of("NICK", nick))

    def send(self, msg: Message) -> None:
        """Queue a message for the server."""
        self._outbox.append(msg)

    def take_outbox(self) -> list[Message]:
        """Return and forget every queued message, oldest first."""
        out, self._outbox = self._outbox, []
        return out

    # -- server features -----------------------------------------------------------------------

    def set_casemapping(self, casemapping: str) -> None:
        """Fold names as ISUPPORT ``CASEMAPPING`` says, keying what is known again by it.

        Under ``ascii``, ``x[1`` and ``x{1`` are two people; under rfc1459 they are one.
        """
        fold_new = folder_for(casemapping)
        if fold_new is self.fold:
            return
        self.fold = fold_new
        self.conversations, renamed = rekey(self.conversations, fold_new)
        self.rooms = {self.fold(name): name for name in self.rooms.values()}
        self.active = renamed.get(self.active, SERVER_KEY)
        if self.focus_on_join is not None:
            self.focus_on_join = renamed.get(self.focus_on_join, self.focus_on_join)
        self._names = {self.fold(b.name): b for b in self._names.values()}
        self.changed = True

    @property
    def prefix_map(self) -> PrefixMap:
        """ISUPPORT PREFIX, or the RFC default."""
        return PrefixMap.parse(self.isupport.get("PREFIX", ""))

    @property
    def chanmodes(self) -> tuple[str, str, str, str]:
        """ISUPPORT CHANMODES as its four classes (list, always-param, set-param, no-param)."""
        parts = self.isupport.get("CHANMODES", "").split(",")
        if len(parts) < 4:
            return _DEFAULT_CHANMODES
        return parts[0], parts[1], parts[2], parts[3]

    @property
    def nicklen(self) -> int:
        """ISUPPORT NICKLEN (30 when not announced)."""
        value = self.isupport.get("NICKLEN", "")
        return int(value) if value.isdigit() else 30

    def offers(self, cap: str) -> bool:
        """True when the server offered capability ``cap`` on this connection."""
        return cap in self._cap_offered

    def is_channel(self, name: str) -> bool:
        """True when ``name`` is a channel name by the server's CHANTYPES."""
        return bool(name) and name[0] in (self.isupport.get("CHANTYPES") or "#&")

    def strip_statusmsg(self, target: str) -> str:
        """Drop STATUSMSG prefixes (``@#chan`` is a message to the ops of ``#chan``)."""
        return target.lstrip(self.isupport.get("STATUSMSG", ""))

    def is_me(self, nick: str | None) -> bool:
        """True when ``nick`` is my nick (case-insensitively)."""
        return nick is not None and self.fold(nick) == self.fold(self.nick)

    def mentions_me(self, text: str) -> bool:
        """True when ``text`` names my nick as a whole word."""
        nick_folded = self.fold(self.nick)
        text_folded = self.fold(text)
        start = text_folded.find(nick_folded)
        while start >= 0:
            end = start + len(nick_folded)
            before = text_folded[start - 1] if start else " "
            after = text_folded[end] if end < len(text_folded) else " "
            if before not in _NICK_CHARS and after not in _NICK_CHARS:
                return True
            start = text_folded.find(nick_folded, start + 1)
        return False

    def ignoring(self, source: str | None) -> bool:
        """True when messages from ``source`` (``nick!user@host``) are ignored; never the server."""
        if not source or "!" not in source or not self.ignores:
            return False
        return any(mask_matches(mask, source) for mask in self.ignores)

    def seen_before(self, msgid: str) -> bool:
        """Remember a message id; True when it was already seen (a replay after a rejoin).

        Only the last `MSGID_MEMORY` ids are kept, oldest forgotten first.
        """
        if not msgid:
            return False
        if msgid in self._msgids:
            return True
        self._msgids[msgid] = None
        if len(self._msgids) > MSGID_MEMORY:
            del self._msgids[next(iter(self._msgids))]
        return False

    def time_of(self, msg: Message) -> float:
        """The ``server-time`` of a message, or now."""
        stamp = msg.tags.get("time")
        if stamp:
            try:
                return parse_server_time(stamp)
            except ValueError:
                pass
        return self.clock()

    # -- conversations -------------------------------------------------------------------------

    def conversation(self, name: str, kind: ConversationKind | None = None) -> Conversation:
        """Return the conversation named ``name``, creating it if needed."""
        key = SERVER_KEY if name == SERVER_KEY else self.fold(name)
        conv = self.conversations.get(key)
        if conv is None:
            if kind is None:
                kind = (
                    ConversationKind.CHANNEL if self.is_channel(name) else ConversationKind.PRIVATE
                )
            conv = Conversation(name, kind, self.scrollback)
            self.conversations[key] = conv
            self.changed = True
        return conv

    def key_of(self, name: str) -> str:
        """The casefolded key of a conversation name."""
        return SERVER_KEY if name == SERVER_KEY else self.fold(name)

    @property
    def current(self) -> Conversation:
        """The active conversation."""
        return self.conversations[self.active]

    def set_active(self, key: str) -> None:
        """Make the conversation ``key`` the active one and mark it read."""
        conv = self.conversations.get(key)
        if conv is None:
            return
        self.active = key
        conv.unread = 0
        conv.mentions = 0
        self.changed = True

    def open_private(self, nick: str) -> Conversation:
        """Open (or find) the private conversation with ``nick`` and make it active.

        A conversation opened here for the first time asks the server for its recent history.
        """
        new = self.fold(nick) not in self.conversations
        conv = self.conversation(nick, ConversationKind.PRIVATE)
        self.set_active(self.fold(nick))
        if new:
            self.request_latest(nick)
        return conv

    def close(self, key: str) -> None:
        """Forget a conversation (never the server one) and activate a neighbour."""
        if key == SERVER_KEY or key not in self.conversations:
            return
        keys = list(self.conversations)
        index = keys.index(key)
        del self.conversations[key]
        self.rooms.pop(key, None)
        if self.active == key:
            remaining = list(self.conversations)
            self.set_active(remaining[min(index, len(remaining) - 1)])
        self.changed = True

    def post(self, key: str, line: Line) -> Posted:
        """Add a line to a conversation, counting it as unread when it is not the active one."""
        conv = self.conversations[key]
        conv.lines.append(line)
        conv.total += 1
        if key != self.active and isinstance(line, ChatLine | ActionLine) and not line.own:
            conv.unread += 1
            if line.highlight or conv.is_private:
                conv.mentions += 1
            self.changed = True
        return Posted(key, conv.name, conv.is_private, line)

    def post_to(self, name: str, line: Line) -> Posted:
        """Add a line to the conversation named ``name`` (created when needed)."""
        self.conversation(name)
        return self.post(self.key_of(name), line)

    def note(self, text: str, key: str | None = None) -> Posted:
        """Add an informational line to ``key`` (default: the active conversation)."""
        return self.post(key or self.active, SystemLine(self.clock(), text))

    def error(self, text: str, key: str | None = None) -> Posted:
        """Add an error line to ``key`` (default: the active conversation)."""
        return self.post(key or self.active, ErrorLine(self.clock(), text))

    def own_message(self, target: str, text: str, *, action: bool = False) -> list[Posted]:
        """Show what I just sent, unless the server will echo it back (``echo-message``)."""
        if "echo-message" in self.caps:
            return []
        now = self.clock()
        line: Line = (
            ActionLine(now, self.nick, text, own=True)
            if action
            else ChatLine(now, self.nick, text, own=True)
        )
        return [self.post_to(target, line)]

    def channels(self) -> list[Conversation]:
        """Rooms I am in right now."""
        return [c for c in self.conversations.values() if c.is_channel and c.joined]

    # -- history -------------------------------------------------------------------------------

    @property
    def history_page(self) -> int:
        """Lines per CHATHISTORY request: `HISTORY_PAGE`, or less if ISUPPORT CHATHISTORY says."""
        cap = self.isupport.get("CHATHISTORY", "")
        return min(HISTORY_PAGE, int(cap)) if cap.isdigit() and int(cap) > 0 else HISTORY_PAGE

    @property
    def has_chathistory(self) -> bool:
        """True when the server answers CHATHISTORY on this connection."""
        return "draft/chathistory" in self.caps and "batch" in self.caps

    def request_latest(self, name: str) -> bool:
        """Ask for the latest lines of conversation ``name`` (it just opened).

        Returns:
            True when a request was sent (the server offers chathistory and we are registered).
        """
        if not (self.has_chathistory and self.registered):
            return False
        conv = self.conversation(name)
        conv.history_loading = True
        self.changed = True
        self.send(Message.of("CHATHISTORY", "LATEST", name, "*", str(self.history_page)))
        return True

    def request_older(self, key: str) -> bool:
        """Ask for the page of lines before the oldest one shown in conversation ``key``.

        Nothing is sent while a request for it is unanswered, after a page came back empty,
        for the server conversation, or when the server has no chathistory.

        Returns:
            True when a request was sent.
        """
        conv = self.conversations.get(key)
        if conv is None or key == SERVER_KEY or not (self.has_chathistory and self.registered):
            return False
        if conv.history_loading or conv.history_done:
            return False
        msgid = conv.oldest_msgid()
        if msgid:
            selector = f"msgid={msgid}"
        elif conv.lines:
            selector = f"timestamp={format_server_time(conv.lines[0].time)}"
        else:
            selector = f"timestamp={format_server_time(self.clock())}"
        conv.history_loading = True
        self._older_pending.add(key)
        self.changed = True
        self.send(Message.of("CHATHISTORY", "BEFORE", conv.name, selector, str(self.history_page)))
        return True

    def batch_started(self, ref: str, kind: str, params: list[str]) -> None:
        """``BATCH +ref kind params...``: note a chathistory batch (other kinds are shown live)."""
        if kind == "chathistory" and params:
            key = self.key_of(params[0])
            older = key in self._older_pending
            self._older_pending.discard(key)
            self._batches[ref] = _HistoryBatch(params[0], older=older)

    def history_batch(self, msg: Message) -> _HistoryBatch | None:
        """The chathistory batch ``msg`` belongs to, if it belongs to one."""
        ref = msg.tags.get("batch")
        return self._batches.get(ref) if ref else None

    def batch_ended(self, ref: str) -> list[Posted]:
        """``BATCH -ref``: merge a chathistory batch's lines into its conversation.

        Returns:
            The new history lines, oldest first (a frontend may print them).
        """
        batch = self._batches.pop(ref, None)
        key = self.key_of(batch.target) if batch is not None else ""
        conv = self.conversations.get(key)
        if batch is None or conv is None:
            return []  # closed while the answer was on its way
        conv.history_loading = False
        if batch.older and not batch.lines:
            conv.history_done = True
        lines = sorted(batch.lines, key=lambda line: line.time)
        conv.merge_history(lines)
        self.changed = True
        return [Posted(key, conv.name, conv.is_private, line) for line in lines]

    def history_failed(self, target: str) -> None:
        """A CHATHISTORY request for ``target`` failed: stop asking for that conversation."""
        key = self.key_of(target)
        conv = self.conversations.get(key)
        self._older_pending.discard(key)
        if conv is not None:
            conv.history_loading = False
            conv.history_done = True
            self.changed = True

    # -- incoming ------------------------------------------------------------------------------

    def feed(self, msg: Message) -> list[Posted]:
        """Apply one message from the server.

        Returns:
            The lines it added to conversations, in order (possibly none).
        """
        handler = HANDLERS.get(msg.command)
        if handler is None:
            if msg.command.isdigit():
                handler = HANDLERS["<numeric>"]
            else:
                return []
        return handler(self, msg)

    # -- used by the handlers ------------------------------------------------------------------

    def cap_finish(self) -> None:
        """End CAP negotiation (once)."""
        if self._cap_negotiating:
            self._cap_negotiating = False
            self.send(Message.of("CAP", "END"))

    def cap_offered(self, caps: list[str], final: bool) -> list[Posted]:
        """Record caps from a CAP LS reply; request ours when the list is complete."""
        for cap in caps:
            self._cap_offered.add(cap.split("=", 1)[0])
        if not final:
            return []
        wanted = set(WANTED_CAPS & self._cap_offered - self.caps)
        posted: list[Posted] = []
        if self.account and self._cap_negotiating:
            if "sasl" in self._cap_offered:
                wanted.add("sasl")
            else:
                text = f"This server does not offer SASL: not logged in as {self.account}"
                posted.append(self.error(text, SERVER_KEY))
        if wanted:
            self.send(Message.of("CAP", "REQ", " ".join(sorted(wanted))))
        else:
            self.cap_finish()
        return posted

    def caps_acknowledged(self, caps: list[str]) -> None:
        """Enable acknowledged caps; start SASL when it is one of them, else end CAP."""
        for cap in caps:
            if cap.startswith("-"):
                self.caps.discard(cap[1:])
            else:
                self.caps.add(cap)
        if "sasl" in caps and self.account and self._cap_negotiating:
            self.send(Message.of("AUTHENTICATE", "PLAIN"))
        else:
            self.cap_finish()

    def sasl_response(self) -> None:
        """Send the PLAIN credentials, base64 in 400-byte chunks (IRCv3 SASL)."""
        account = self.account or ""
        raw = f"{account}\0{account}\0{self.account_password or ''}".encode()
        encoded = base64.b64encode(raw).decode("ascii")
        chunks = [encoded[i : i + 400] for i in range(0, len(encoded), 400)]
        for chunk in chunks:
            self.send(Message.of("AUTHENTICATE", chunk))
        if not chunks or len(chunks[-1]) == 400:
            self.send(Message.of("AUTHENTICATE", "+"))

    def names_buffer(self, channel: str) -> Conversation:
        """The member list being filled by 353 replies for ``channel``."""
        key = self.fold(channel)
        buffer = self._names.get(key)
        if buffer is None:
            buffer = Conversation(channel, ConversationKind.CHANNEL, 1)
            self._names[key] = buffer
        return buffer

    def names_done(self, channel: str) -> None:
        """Replace a room's members with the names collected since the last 366."""
        key = self.fold(channel)
        buffer = self._names.pop(key, None)
        conv = self.conversations.get(key)
        if buffer is not None and conv is not None:
            conv.members = buffer.members
            self.changed = True

    def rejoin(self) -> None:
        """Join the rooms I should be in but am not (after a reconnect, or ``--join``)."""
        missing = [
            name
            for key, name in self.rooms.items()
            if not (key in self.conversations and self.conversations[key].joined)
        ]
        if missing:
            self.send(Message.of("JOIN", ",".join(missing)))

    def want_room(self, name: str) -> None:
        """Remember a room to join (and to rejoin after a reconnect)."""
        self.rooms[self.fold(name)] = name
