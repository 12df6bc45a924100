"""Format a line once, send the same bytes to many recipients.

Theory of operation
-------------------
Fan-out is what a chat server exists for, so it is the one place where chinwag is careful about
cost. An `Outgoing` holds one event (source, command, parameters and the tags that go with it).
Each recipient needs one of a few *variants* of the line, decided only by which tag capabilities it
negotiated (server-time, message-tags, account-tag): at most eight variants, usually one or two.
`Outgoing.line_for` builds a variant the first time a recipient needs it and returns the cached
bytes after that, so sending to a thousand members is a thousand dict look-ups and a thousand
non-blocking `enqueue` calls, with no formatting and no ``await`` in the loop.

Channel messages go one step further (`send_to_channel`). A busy channel gets many messages in
one loop turn, and appending each to each member's output would cost members x messages list
appends. Instead the first message of a turn opens a `Batch` per variant and puts it in every
member's output (one append per member per turn); each further message of that turn is one
append to each batch, whatever the channel's size. At the end of the turn each batch is joined
once and the same bytes go to every member that holds it. The speaker does hold the batch (it
gets what the others say) but not its own lines, its share is joined without them, unless it
negotiated ``echo-message``: then its own lines are its echoes, in their place.

A batch may only grow while it is the last thing in every holder's output, or a member would
get a later channel line before an earlier private one. So it is *closed* (`Channel.batches`
set to None, `Batch.open` False; the next message opens a new one) as soon as anything else is
queued for any holder (`Connection.tail_owner` tells whose batch ends a connection's output),
when anybody joins or leaves (but a user whose connection is gone: it holds nothing any more,
so a room's QUITs of one turn share one batch, `Network.remove`; the last holder to go closes
it, `Channel.let_go`), and when the first holder's share is written. A closed batch never
changes again, so the holders written in later turns (the outbox writes a room of thousands over
a few turns: ``server/outbox.py``) take their share of it without touching the batch the
channel has open by then.

Arrivals work the same way over a longer time. Others may learn of an arrival a few
milliseconds late (``LAZY_FLUSH`` in ``app.py``), so one write carries the JOINs of every arrival
of that time; but queuing each JOIN for each member would still cost members x arrivals, which
is what a join storm is made of. So the first arrival of such a window opens a batch per variant
that every member holds lazily (`announce_arrival`), and each further arrival is one append per
batch. The rule above still holds, with three exceptions. Somebody joining does not close these
batches: whoever joins while they are open is *late* (the batch's first lines are JOINs from
before its own) and holds a `Tail` of its variant's batch instead, which reads the lines added
after its JOIN. Something else queued for a late member does not close them either: its tail
is cut there for it alone (`Tail.cut`). And a holder written before the window ends (it had
other output due) does not close them: it is written up to the open batch, which stays at the
end of its output until the lazy flush closes the window (`Connection.take_due`); otherwise, while
the outbox writes a big room over several turns, every arrival would find the batches closed by
the last slice and open new ones for every member. Anything else for a holder, a channel
message, anybody leaving, and the lazy flush close them as before.
"""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType

from chinwag.protocol import MAX_BODY_BYTES, Message, fit_utf8, format_server_time, format_tags
from chinwag.protocol.message import format_line
from chinwag.server.state import Cap, Channel, ChannelBatch, Client
from chinwag.server.stats import SENT

__all__ = [
    "STATUS_PREFIXES",
    "TAG_CAPS",
    "Batch",
    "Outgoing",
    "Tail",
    "add_plain_line",
    "add_plain_lines",
    "add_tag",
    "announce_arrival",
    "deliver_to_channel",
    "new_msgid",
    "send_to_all",
    "send_to_channel",
]

TAG_CAPS = Cap.SERVER_TIME | Cap.MESSAGE_TAGS | Cap.ACCOUNT_TAG

# Commands whose last parameter other servers always send in the ``:trailing`` form, with the
# parameter count that includes it. Valid either way per RFC, but naive clients (ii, regex bots)
# look for " :" to find the text, and ii shows a nick change only in the ``NICK :new`` form.
_TRAILING_FORM = {
    "PRIVMSG": 2,
    "NOTICE": 2,
    "TOPIC": 2,
    "KICK": 3,
    "PART": 2,
    "QUIT": 1,
    "AWAY": 1,
    "NICK": 1,
    "WALLOPS": 1,
    "SETNAME": 1,
}


def add_tag(line: bytes, tag: bytes) -> bytes:
    """Add one ``key=value`` tag (already escaped) to a formatted line."""
    if line.startswith(b"@"):
        return b"@" + tag + b";" + line[1:]
    return b"@" + tag + b" " + line


# Read only: shared by every Outgoing that carries no client tags.
_NO_CLIENT_TAGS: Mapping[str, str] = MappingProxyType({})

_msgid_prefix = os.urandom(6).hex()
_msgid_counter = itertools.count(1)


def _cut_text(line: bytes) -> bytes:
    """Cut the trailing text of ``line`` (CR LF included) to 512 bytes, on a character boundary.

    The sender's own line fitted in 512 bytes, but the ``nick!user@host`` source added here can
    push full-length text past it, and a longer line is cut or refused by other parsers.
    """
    head, _, text = line[:-2].partition(b" :")
    return head + b" :" + fit_utf8(text, MAX_BODY_BYTES - len(head) - 4) + b"\r\n"


def new_msgid() -> str:
    """A network-unique message id: a per-process random prefix and a counter (cheap, unique)."""
    return f"{_msgid_prefix}{next(_msgid_counter):x}"


class Outgoing:
    """One event to deliver, formatted lazily once per tag variant.

    Args:
        source: the prefix (``nick!user@host`` or the server name).
        command: the IRC command.
        params: its parameters.
        msgid: the message id, sent to message-tags clients (None for none).
        account: the sender's account, sent to account-tag clients.
        client_tags: tags from the sender (``+draft/reply`` ...), relayed to message-tags clients.
        when: the server time of the event (now by default).
    """

    __slots__ = ("_variants", "account", "client_tags", "msgid", "plain", "time")

    def __init__(
        self,
        source: str,
        command: str,
        *params: str,
        msgid: str | None = None,
        account: str | None = None,
        client_tags: Mapping[str, str] | None = None,
        when: float | None = None,
    ) -> None:
        count = len(params)
        if count == _TRAILING_FORM.get(command):
            # The hot path (PRIVMSG, NOTICE...): the leading parameters are names the server
            # already validated (channels, nicks) and the text came through the decoder, which
            # lets no CR, LF or NUL in, so the line can be put together without re-checking.
            if count == 2:
                line = f":{source} {command} {params[0]} :{params[1]}\r\n"
            else:
                head = "".join([":", source, " ", command, " ", *(p + " " for p in params[:-1])])
                line = head + ":" + params[-1] + "\r\n"
            plain = line.encode("utf-8")
            if len(plain) > MAX_BODY_BYTES:
                plain = _cut_text(plain)
        else:
            plain = format_line(Message(command, params, source)).encode("utf-8") + b"\r\n"
        self.plain = plain
        """The line without any tags (what the journal stores, ``store/journal_records.py``)."""
        self._variants: dict[int, bytes] = {0: plain}
        self.msgid = msgid
        self.account = account
        self.client_tags = client_tags or {}
        self.time = time.time() if when is None else when

    @classmethod
    def message(
        cls, source: str, command: str, target: str, text: str, *, msgid: str, account: str | None
    ) -> Outgoing:
        """``Outgoing(source, command, target, text, msgid=msgid, account=account)`` for a
        PRIVMSG or NOTICE without client tags, built without the general constructor's argument
        handling: the fast path builds one per message, and the general constructor was 0.32 us
        per private message in the profile; this one takes 55-65% of its time (timeit)."""
        self = cls.__new__(cls)
        base = f":{source} {command} {target} :{text}\r\n".encode()
        if len(base) > MAX_BODY_BYTES:
            base = _cut_text(base)
        self.plain = base
        self._variants = {0: base}
        self.msgid = msgid
        self.account = account
        self.client_tags = _NO_CLIENT_TAGS
        self.time = time.time()
        return self

    @classmethod
    def relayed(
        cls,
        plain: bytes,
        *,
        msgid: str,
        account: str | None,
        client_tags: Mapping[str, str] | None,
        when: float,
    ) -> Outgoing:
        """A line another node of the network formatted (``plain``, what its sender's node
        built): delivered here as it is, with the tags each recipient asked for added."""
        self = cls.__new__(cls)
        self.plain = plain
        self._variants = {0: plain}
        self.msgid = msgid
        self.account = account
        self.client_tags = client_tags or _NO_CLIENT_TAGS
        self.time = when
        return self

    def tags_for(self, caps: int) -> dict[str, str]:
        """The tags a client with ``caps`` gets on this line."""
        tags: dict[str, str] = {}
        if caps & (Cap.SERVER_TIME | Cap.MESSAGE_TAGS):
            tags["time"] = format_server_time(self.time)
        if caps & Cap.MESSAGE_TAGS:
            if self.msgid:
                tags["msgid"] = self.msgid
            tags.update(self.client_tags)
        if caps & Cap.ACCOUNT_TAG and self.account:
            tags["account"] = self.account
        return tags

    def line_for(self, client: Client) -> bytes:
        """The bytes for ``client``: built once per tag variant, then shared."""
        return self.variant(client.caps & TAG_CAPS)

    def variant(self, key: int) -> bytes:
        """The bytes for clients whose tag capabilities are ``key`` (``caps & TAG_CAPS``)."""
        line = self._variants.get(key)
        if line is None:
            tags = self.tags_for(key)
            line = (format_tags(tags) + " ").encode("utf-8") + self.plain if tags else self.plain
            self._variants[key] = line
        return line


def send_to_all(
    recipients: Iterable[Client], outgoing: Outgoing, exclude: Client | None = None
) -> None:
    """Queue ``outgoing`` for every recipient but ``exclude``: no awaits, no formatting.

    For lines to a list of people (a QUIT to everyone who shares a channel, a JOIN, a MODE);
    channel messages, the busy case, go through `send_to_channel`. Each recipient costs one
    variant look-up (inlined) and one `Connection.enqueue`.
    """
    variants = outgoing._variants
    variant = outgoing.variant
    count = 0
    for client in recipients:
        if client is exclude:
            continue
        key = client.caps & TAG_CAPS
        line = variants.get(key)
        client.conn.enqueue(variant(key) if line is None else line)
        count += 1
    SENT.count += count


class Batch:
    """The lines a channel sends, during one loop turn, to the members of one tag variant.

    Every holder has this same object in its pending output (see the module header); at flush
    time `share_of` turns it into bytes, joined once for everyone but the speakers.
    """

    __slots__ = (
        "_joined",
        "authors",
        "channel",
        "holders",
        "key",
        "lazy",
        "lines",
        "open",
        "speakers",
    )

    def __init__(self, channel: Channel, key: int, *, lazy: bool = False) -> None:
        self.channel = channel
        self.key = key
        """The tag variant (``caps & TAG_CAPS``) of every line here."""
        self.lazy = lazy
        """A batch of arrivals (`announce_arrival`): due with the lazy flush only."""
        self.open = True
        """Still growing; set False once by `Channel.close_batches`, and never changes after."""
        self.holders = 0
        """Connections whose output holds it (`Connection.hold`) and did not let go of it."""
        self.lines: list[bytes] = []
        self.authors: list[Client | None] = []
        """Who said each line."""
        self.speakers: set[Client] = set()
        """Authors who do not get their own lines (those without ``echo-message``)."""
        self._joined: bytes | None = None

    def add(self, line: bytes, author: Client | None, *, muted: bool) -> None:
        """Append ``line`` said by ``author``; ``muted``: the author does not get it back."""
        self.lines.append(line)
        self.authors.append(author)
        if muted and author is not None:
            self.speakers.add(author)

    def extend(self, lines: list[bytes], author: Client) -> None:
        """Append ``lines``, all said by ``author``, who does not get them back."""
        self.lines += lines
        self.authors += [author] * len(lines)
        self.speakers.add(author)

    def share_of(self, client: Client | None) -> bytes:
        """The bytes for holder ``client``: every line but those it must not get back.

        Seals the batch, if it is still open: it is being written out and must not grow any
        more. A batch closed already is left alone, and so is whatever the channel has open now.
        """
        if self.open:
            self.channel.close_batches()
        if client not in self.speakers:
            joined = self._joined
            if joined is None:
                joined = self._joined = b"".join(self.lines)
            return joined
        lines, authors = self.lines, self.authors
        return b"".join([lines[i] for i in range(len(lines)) if authors[i] is not client])

    def share_so_far(self, client: Client | None) -> bytes:
        """The bytes for holder ``client`` as the batch stands, leaving it open: the last bytes
        of a connection that is closing, while the others' share goes on growing (a room's
        QUITs of one turn; `Connection.close`). Not kept: the batch may grow after this."""
        if client not in self.speakers:
            return b"".join(self.lines)
        lines, authors = self.lines, self.authors
        return b"".join([lines[i] for i in range(len(lines)) if authors[i] is not client])

    def cut(self) -> None:
        """None: a batch is shared, so it cannot be cut for one holder (it closes instead)."""
        return None

    def tail(self) -> Tail:
        """A part of this batch for one more holder: the lines added from now on."""
        return Tail(self)


class Tail:
    """One late holder's part of a batch of arrivals: the lines added after it joined.

    Whoever joins while a window of arrivals is open holds none of its batches (their first
    lines are earlier arrivals, which it gets in NAMES instead), but must get every JOIN after
    its own. Queuing each later JOIN to each of them cost late members x arrivals calls per
    window (half a window's arrivals squared: a 1k join storm with every JOIN shown made 27,000
    such calls with 50 ms windows, and it grows with the window). A tail is one object in the
    late member's output that reads the batch from where it stood when the member joined: the
    JOINs added later cost nothing more for it, and it is joined once when written.

    It belongs to one holder, so when something else is queued for that holder after it, it
    does not close the batch for every holder: it is cut (`cut`), what it holds so far goes
    first as bytes, and the holder goes on with a new tail from there.
    """

    __slots__ = ("_batch", "_start", "channel")

    lazy = True
    """Part of a batch of arrivals: due with the lazy flush only."""

    def __init__(self, batch: Batch) -> None:
        self._batch = batch
        self._start = len(batch.lines)
        self.channel = batch.channel

    @property
    def open(self) -> bool:
        """Still growing: while its batch is open."""
        return self._batch.open

    @open.setter
    def open(self, value: bool) -> None:
        self._batch.open = value

    def add(self, line: bytes, author: Client | None, *, muted: bool) -> None:
        """Lines go in the batch, never in one holder's part of it."""
        raise TypeError("a Tail reads its batch; add lines to the batch")

    def extend(self, lines: list[bytes], author: Client) -> None:
        """Lines go in the batch, as with `add`."""
        raise TypeError("a Tail reads its batch; add lines to the batch")

    @property
    def holders(self) -> int:
        """Its batch's holders: a late member writes the batch too (the lazy flush closes it)."""
        return self._batch.holders

    @holders.setter
    def holders(self, value: int) -> None:
        self._batch.holders = value

    def share_of(self, client: Client | None) -> bytes:
        """The lines of the batch from where this tail starts; seals the batch when it is still
        open (it is being written out), as `Batch.share_of` does."""
        batch = self._batch
        if batch.open:
            self.channel.close_batches()
        return b"".join(batch.lines[self._start :])

    def share_so_far(self, client: Client | None) -> bytes:
        """The lines of the batch from where this tail starts, leaving it open (a closing
        holder's last bytes: `Batch.share_so_far`)."""
        return b"".join(self._batch.lines[self._start :])

    def cut(self) -> tuple[bytes, Tail]:
        """What this tail holds so far, and the tail to hold from here on (the batch stays
        open for everyone else)."""
        lines = self._batch.lines
        return b"".join(lines[self._start :]), Tail(self._batch)

    def tail(self) -> Tail:
        """A part of the same batch for one more holder: the lines added from now on."""
        return Tail(self._batch)


def send_to_channel(
    channel: Channel, outgoing: Outgoing, speaker: Client | None = None, *, echo: bool = False
) -> bool:
    """Queue ``outgoing`` for every member of ``channel``; for ``speaker`` only with ``echo``.

    Within one loop turn, every message after the first costs one append per tag variant,
    not one per member (see the module header).

    Args:
        channel: where it was said.
        outgoing: what was said.
        speaker: who said it: a member gets what the others say, not its own lines...
        echo: ...unless it wants them echoed (``echo-message``), which then come in its batch.

    Returns:
        True when ``speaker`` got the echo here (else the caller sends it, if it should).
    """
    muted = not echo  # the speaker must not get its own line
    members = channel.members
    SENT.count += len(members) - (muted and speaker in members)  # once per message, not member
    batches = channel.batches
    if batches is not None:  # open since an earlier message of this turn: every member holds it
        variants = outgoing._variants
        for key, batch in batches.items():
            line = variants.get(key)
            batch.add(outgoing.variant(key) if line is None else line, speaker, muted=muted)
        return echo and speaker in channel.members
    if channel.arrivals is not None:  # this line must not be overtaken by a later arrival
        channel.close_batches()
    opened: dict[int, ChannelBatch] = {}
    keep_open = True
    echoed = False
    for client in channel.members:
        conn = client.conn
        if conn.closing:
            continue
        key = client.caps & TAG_CAPS
        if not conn.can_hold():
            # Replies for a label are being collected here: no batch in there, and the channel
            # cannot keep one open that this member would miss.
            keep_open = False
            if client is not speaker:
                conn.enqueue(outgoing.variant(key))
            continue
        held = opened.get(key)
        if held is None:
            held = opened[key] = Batch(channel, key)
            held.add(outgoing.variant(key), speaker, muted=muted)
        conn.hold(held)
        if client is speaker:
            echoed = echo
    if keep_open:
        channel.batches = opened
    else:
        channel.close_batches()
    return echoed


def add_plain_line(channel: Channel, line: bytes, speaker: Client) -> bool:
    """Add ``line``, a channel message without tags (as another node formatted it), to the
    channel's open batches when they are all of the plain variant: no member here asked for
    tags, so no `Outgoing` is needed. True when done; False when nothing was done (no batch
    open, or some member needs tags): the caller then uses `send_to_channel`.

    ``speaker`` is a user of another node: it gets nothing here, as in `send_to_channel`."""
    batches = channel.batches
    if batches is None or len(batches) != 1:
        return False
    plain = batches.get(0)
    if plain is None:
        return False
    members = channel.members
    SENT.count += len(members) - (speaker in members)
    plain.add(line, speaker, muted=True)
    return True


def add_plain_lines(channel: Channel, lines: list[bytes], speaker: Client) -> bool:
    """`add_plain_line` for several lines of one speaker in a row, at once."""
    batches = channel.batches
    if batches is None or len(batches) != 1:
        return False
    plain = batches.get(0)
    if plain is None:
        return False
    members = channel.members
    SENT.count += (len(members) - (speaker in members)) * len(lines)
    plain.extend(lines, speaker)
    return True


def announce_arrival(
    channel: Channel, newcomer: Client, line_for: Callable[[int], bytes], mask: int
) -> None:
    """Queue ``newcomer``'s JOIN for every other member of ``channel``, to be written with the
    next lazy flush: while the window's batches are open, one append per variant and one line
    per member who joined since (see the module header).

    Args:
        channel: the channel joined (``newcomer`` is already a member).
        newcomer: who joined; it gets its own JOIN from the caller, at once.
        line_for: the JOIN line for the members whose ``caps & mask`` is the argument.
        mask: the capabilities that decide which line a member gets.
    """
    arrivals = channel.arrivals
    if arrivals is not None:
        for key, batch in arrivals.items():
            batch.add(line_for(key), None, muted=False)
        for member in channel.late:
            member.conn.enqueue_lazy(line_for(member.caps & mask))
        _hold_later_arrivals(channel, newcomer, arrivals, mask)
        return
    opened: dict[int, ChannelBatch] = {}
    late: list[Client] = []
    for member in channel.members:
        conn = member.conn
        if member is newcomer or conn.closing:
            continue
        key = member.caps & mask
        if not conn.can_hold():  # collecting a labeled response: it gets its lines one by one
            conn.enqueue_lazy(line_for(key))
            late.append(member)
            continue
        held = opened.get(key)
        if held is None:
            held = opened[key] = Batch(channel, key, lazy=True)
            held.add(line_for(key), None, muted=False)
        conn.hold_lazily(held)
    if opened:  # nobody holds anything (a new channel): the next arrival opens them
        channel.arrivals = opened
        channel.late = late
        _hold_later_arrivals(channel, newcomer, opened, mask)


def _hold_later_arrivals(
    channel: Channel, newcomer: Client, arrivals: dict[int, ChannelBatch], mask: int
) -> None:
    """Give ``newcomer``, who joined while ``arrivals`` are open, the JOINs of the window that
    come after its own: a `Tail` of its variant's batch (opened, empty, if it is the first of
    its variant), or, while it collects a labeled response, each line as it comes (`late`)."""
    conn = newcomer.conn
    if conn.closing:
        return
    if not conn.can_hold():
        channel.late.append(newcomer)
        return
    key = newcomer.caps & mask
    batch = arrivals.get(key)
    if batch is None:
        batch = arrivals[key] = Batch(channel, key, lazy=True)
    conn.hold_lazily(batch.tail())


STATUS_PREFIXES = {"@": "op", "+": "voice"}
"""The target prefixes of a message to a channel's operators (``@#room``) or voiced
(``+#room``, operators included): ISUPPORT ``STATUSMSG``."""


def deliver_to_channel(
    sender: Client,
    channel: Channel,
    outgoing: Outgoing,
    status: str | None,
    tags_only: bool,
    *,
    echo: bool,
) -> bool:
    """Send a message to the members of ``channel`` who must get it: all of them, or those of
    ``status`` (``"op"``, ``"voice"``), or for a TAGMSG (``tags_only``) those with
    ``message-tags``. True when the sender's echo went with it."""
    if status is None and not tags_only:  # the common case: every member
        return send_to_channel(channel, outgoing, sender, echo=echo)
    wanted = (
        member
        for member, membership in channel.members.items()
        if (status != "op" or membership.op)
        and (status != "voice" or membership.op or membership.voice)
        and (not tags_only or member.caps & Cap.MESSAGE_TAGS)
    )
    send_to_all(wanted, outgoing, exclude=sender)
    return False
