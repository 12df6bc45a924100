"""Handlers and the fan-out rules run on real parts with no socket and no `Server`.

The parts are the ones the server builds (network, history, accounts, a memory store); the
connections are real `Connection` objects that never get a transport, so what they would write
stays in their pending output, where the test reads it.
"""

from __future__ import annotations

import asyncio
import time
from typing import cast

from hypothesis import given, settings
from hypothesis import strategies as st

from chinwag.protocol import DecodeError, Message, parse_line
from chinwag.server.accounts import Accounts
from chinwag.server.commands import dispatch
from chinwag.server.commands.base import Context
from chinwag.server.config import Config, load_config
from chinwag.server.connection import Connection
from chinwag.server.fanout import Batch, Outgoing, send_to_channel
from chinwag.server.history import History
from chinwag.server.motd import Motd
from chinwag.server.network import Network
from chinwag.server.state import Cap, Channel, Client
from chinwag.server.tasks import Tasks
from chinwag.store import MemoryStore


class _Owner:
    """Stands where the server does for a connection: remembers who has output."""

    def __init__(self) -> None:
        self.dirty: list[Connection] = []

    def admission_refusal(self, ip: str) -> str | None:
        return None

    def dispatch(self, client: Client, item: Message | DecodeError) -> None:
        raise AssertionError("these tests dispatch themselves")

    def mark_dirty(self, conn: Connection) -> None:
        self.dirty.append(conn)

    def mark_lazy(self, conn: Connection) -> None:
        self.dirty.append(conn)

    def finish(self, conn: Connection, data: bytes) -> None:
        """Nothing to do: no test here closes a connection."""

    def client_gone(self, client: Client, reason: str) -> None:
        """Nothing to do: no test here closes a connection."""


class _Forgetting(_Owner):
    """A server that forgets a user when its connection ends."""

    def __init__(self, network: Network) -> None:
        super().__init__()
        self.network = network

    def client_gone(self, client: Client, reason: str) -> None:
        self.network.remove(client, reason)


class _Parts:
    """The parts of one server, built the way ``app.py`` builds them."""

    def __init__(self, **history: object) -> None:
        self.config: Config = load_config(
            None,
            environ={},
            overrides={
                "server": {"name": "t.chinwag", "data_dir": "none"},
                "history": history,
                "privacy": {"cloak_hosts": False},  # the users' hosts are spelled out below
            },
        )
        self.store = MemoryStore()
        self.tasks = Tasks()
        self.network = Network(self.config)
        self.history = History(
            self.config.history, self.store.history, self.network, self.tasks.spawn
        )
        self.accounts = Accounts(
            self.config, self.network, self.store, self.tasks.spawn, lambda: None
        )
        self.motd = Motd(self.config.server)
        self.owner = _Owner()

    def user(self, nick: str) -> Client:
        """A registered user on a connection without a socket."""
        conn = Connection(self.owner, self.network, self.config.limits)
        client = Client(conn=conn, host="h", ip="127.0.0.1", user="~" + nick)
        conn.client = client
        self.network.add_connection(client)
        self.network.claim_nick(client, nick)
        self.network.mark_registered(client)
        return client

    def context(self, client: Client) -> Context:
        return Context(
            self.network,
            self.history,
            self.accounts,
            self.store,
            self.config,
            self.motd,
            self.tasks.spawn,
            client,
        )

    def run(self, client: Client, line: str) -> None:
        """Dispatch one line from ``client``."""
        message = parse_line(line)
        assert message is not None
        dispatch(self.context(client), message)


def _sent(client: Client) -> bytes:
    """What ``client`` would be sent at the end of this loop turn."""
    conn = client.conn
    assert isinstance(conn, Connection)
    return b"".join(
        item if isinstance(item, bytes) else item.share_of(client) for item in conn.pending
    )


async def test_privmsg_to_a_channel_reaches_the_other_members() -> None:
    """PRIVMSG #room reaches every other member once, and not its sender."""
    parts = _Parts(enabled=False)
    amy, bob = parts.user("amy"), parts.user("bob")
    parts.network.join(amy, "#room")
    parts.network.join(bob, "#room")
    for client in (amy, bob):
        assert isinstance(client.conn, Connection)
        client.conn.pending.clear()  # the JOIN lines
    parts.run(amy, "PRIVMSG #room :hello")
    assert _sent(bob) == b":amy!~amy@h PRIVMSG #room :hello\r\n"
    assert _sent(amy) == b""


async def test_a_handler_error_becomes_its_numeric() -> None:
    """A PRIVMSG to nobody answers 401 to the sender, through the same dispatch."""
    parts = _Parts(enabled=False)
    amy = parts.user("amy")
    parts.run(amy, "PRIVMSG ghost :hi")
    assert _sent(amy) == b":t.chinwag 401 amy ghost :No such nick/channel\r\n"


async def test_open_batches_close_on_join_on_other_output_and_when_written() -> None:
    """A channel's open batches close when someone joins, when a holder is sent anything else,
    and when they are written out: the three cases of `Channel.close_batches`."""
    parts = _Parts(enabled=False)
    amy, bob = parts.user("amy"), parts.user("bob")
    channel = parts.network.join(amy, "#room")
    parts.network.join(bob, "#room")

    def say(text: str) -> None:
        send_to_channel(channel, Outgoing(amy.prefix, "PRIVMSG", "#room", text), amy)

    say("one")
    assert channel.batches is not None
    parts.network.join(parts.user("cat"), "#room")
    assert channel.batches is None

    say("two")
    assert channel.batches is not None
    parts.network.notice(bob, "a private line after the batch")
    assert channel.batches is None

    say("three")
    assert channel.batches is not None
    _sent(bob)
    assert channel.batches is None


async def test_a_batch_whose_holders_are_all_gone_closes() -> None:
    """When every member holding a permanent room's open batch is reset in the same turn, the
    batch closes with the last of them: it keeps neither their lines nor the departed users."""
    parts = _Parts(enabled=False)
    parts.owner = _Forgetting(parts.network)
    parts.network.set_default_channels(["#lobby"])
    members = [parts.user(nick) for nick in ("amy", "bob", "cat")]
    for member in members:
        channel = parts.network.join(member, "#lobby")
        _sent(member)
    assert channel.permanent
    send_to_channel(channel, Outgoing(members[0].prefix, "PRIVMSG", "#lobby", "hi"), members[0])
    for member in members:
        assert isinstance(member.conn, Connection)
        member.conn.connection_lost(None)
    assert channel.members == {}
    held = list(cast(dict[int, Batch], channel.batches or {}).values())
    assert [line for batch in held for line in batch.lines] == []
    assert [author for batch in held for author in batch.authors] == []


async def test_a_window_of_arrivals_whose_holders_are_all_gone_closes() -> None:
    """A window's batch of arrivals is held by the members from before it and, as tails, by
    those who joined during it: once all of them are reset it closes, with the last."""
    parts = _Parts(enabled=False)
    parts.owner = _Forgetting(parts.network)
    parts.network.set_default_channels(["#lobby"])
    amy, bob, cat = (parts.user(nick) for nick in ("amy", "bob", "cat"))
    channel = parts.network.join(amy, "#lobby")
    _sent(amy)
    parts.network.join(bob, "#lobby")  # opens the window, held by amy
    parts.network.join(cat, "#lobby")  # bob and cat hold tails of it
    assert channel.arrivals is not None
    assert [batch.holders for batch in channel.arrivals.values()] == [3]
    for member in (amy, bob, cat):
        assert isinstance(member.conn, Connection)
        member.conn.connection_lost(None)
    assert channel.arrivals is None


_NAMES_ACTIONS = [
    "JOIN #room",
    "PART #room",
    "NICK {fresh}",
    "MODE #room +o {other}",
    "MODE #room -o {other}",
    "MODE #room +v {other}",
    "MODE #room +D",
    "MODE #room -D",
    "PRIVMSG #room :hi",
]


def _names_by_hand(viewer: Client, channel: Channel) -> list[str]:
    """What a member's NAMES lists, worked out from the members (the definition)."""
    multi = viewer.has(Cap.MULTI_PREFIX)
    return [
        membership.prefixes(multi) + member.nick
        for member, membership in channel.members.items()
        if member is viewer or member not in channel.hidden
    ]


@settings(max_examples=150)
@given(
    st.lists(
        st.tuples(st.integers(0, 3), st.sampled_from(_NAMES_ACTIONS), st.integers(0, 3)),
        max_size=40,
    ),
    st.booleans(),
)
def test_names_kept_by_the_channel_match_the_members(
    steps: list[tuple[int, str, int]], delayed: bool
) -> None:
    """Whatever joins, parts, renames, status changes, delayed join and its reveals happen,
    the NAMES the channel keeps up to date is what its members make it, for every member."""

    async def scenario() -> None:
        parts = _Parts(enabled=False)
        users = [parts.user(f"u{i}") for i in range(4)]
        users[1].caps |= Cap.MULTI_PREFIX
        for user in users:  # u0 first: the channel's operator
            parts.run(user, "JOIN #room")
            if delayed and user is users[0]:
                parts.run(user, "MODE #room +D")  # the others arrive silent
        for number, (who, action, other) in enumerate(steps):
            line = action.format(fresh=f"n{number}", other=users[other].nick)
            parts.run(users[who], line)
            channel = parts.network.find_channel("#room")
            for viewer in users:
                if channel is None or viewer not in channel.members:
                    continue
                listed = b" ".join(parts.network.names_lines(viewer, channel)).decode().split()
                # In any order (NAMES has none): a silent member is listed last, for one.
                assert sorted(listed) == sorted(_names_by_hand(viewer, channel)), line
            if channel is not None:  # nothing packed from entries the channel dropped
                kept = channel.packed_names.items()
                assert all(
                    packed.entries is channel.names.get(multi) for (multi, _), packed in kept
                )

    asyncio.run(scenario())


def test_a_change_of_members_drops_every_packing_of_the_names() -> None:
    """Members of 3 nick lengths ask NAMES (3 line sizes, 3 packings), one leaves: no packing
    of the old entries stays (a 5k room kept one per line size, 5 MB); the next NAMES packs
    the new entries once."""

    async def scenario() -> None:
        parts = _Parts(enabled=False)
        users = [parts.user(nick) for nick in ("amy", "bobby", "charlotte", "dan")]
        for user in users:
            parts.run(user, "JOIN #room")
        channel = parts.network.find_channel("#room")
        assert channel is not None
        for asker in users[:3]:
            parts.network.names_lines(asker, channel)
        assert len(channel.packed_names) == 3
        parts.run(users[3], "PART #room")
        assert channel.packed_names == {}
        assert b" ".join(parts.network.names_lines(users[0], channel)).split() == [
            b"@amy",
            b"bobby",
            b"charlotte",
        ]
        assert len(channel.packed_names) == 1

    asyncio.run(scenario())


def _written(client: Client) -> bytes:
    """What ``client``'s connection writes now: its output, taken as the outbox takes it."""
    conn = client.conn
    assert isinstance(conn, Connection)
    return conn.take()


async def test_arrivals_share_one_batch_and_the_late_read_it_from_their_own_join() -> None:
    """The JOINs of a window's arrivals reach the members from before it through one lazy batch
    (one append per arrival), and whoever joined during it holds the same batch from its own
    JOIN on: no line is queued per late member."""
    parts = _Parts(enabled=False)
    amy, bob = parts.user("amy"), parts.user("bob")
    channel = parts.network.join(amy, "#room")
    parts.network.join(bob, "#room")
    for client in (amy, bob):
        _written(client)
    cat, dan, eve = parts.user("cat"), parts.user("dan"), parts.user("eve")
    parts.network.join(cat, "#room")
    arrivals = channel.arrivals
    assert arrivals is not None and channel.late == []
    parts.network.join(dan, "#room")
    parts.network.join(eve, "#room")
    assert channel.arrivals is arrivals and len(arrivals) == 1  # one batch, three arrivals
    joins = b":cat!~cat@h JOIN #room\r\n:dan!~dan@h JOIN #room\r\n:eve!~eve@h JOIN #room\r\n"
    assert _written(amy) == joins
    assert channel.arrivals is None  # written: closed
    assert _written(bob) == joins
    assert _written(cat) == joins
    assert _written(dan) == joins[joins.index(b":dan") :]
    assert _written(eve) == b":eve!~eve@h JOIN #room\r\n"


async def test_a_late_member_sent_something_else_keeps_its_place_and_the_window_stays_open() -> (
    None
):
    """A line for one late member in the middle of a window comes after the JOINs before it
    and before those after it, and the window stays open for everyone else."""
    parts = _Parts(enabled=False)
    amy, bob = parts.user("amy"), parts.user("bob")
    channel = parts.network.join(amy, "#room")
    parts.network.join(bob, "#room")
    for client in (amy, bob):
        _written(client)
    cat, dan, eve = parts.user("cat"), parts.user("dan"), parts.user("eve")
    parts.network.join(cat, "#room")
    assert isinstance(cat.conn, Connection)
    cat.conn.take_due()  # its own JOIN and NAMES; its part of the window stays queued
    parts.network.join(dan, "#room")
    arrivals = channel.arrivals
    parts.run(amy, "PRIVMSG cat :psst")
    assert channel.arrivals is arrivals  # not closed by a line to one late member
    parts.network.join(eve, "#room")
    assert _written(cat) == (
        b":dan!~dan@h JOIN #room\r\n:amy!~amy@h PRIVMSG cat :psst\r\n:eve!~eve@h JOIN #room\r\n"
    )
    assert _written(bob) == (
        b":cat!~cat@h JOIN #room\r\n:dan!~dan@h JOIN #room\r\n:eve!~eve@h JOIN #room\r\n"
    )


async def test_a_slice_writes_what_is_due_and_leaves_the_arrivals_open_for_the_others() -> None:
    """A member written before the lazy flush (the outbox's slice of a big room) gets what was
    due, a closed batch included, without closing the window's arrivals: the next arrival is
    one more append to the same batch, and the lazy flush brings both JOINs."""
    parts = _Parts(enabled=False)
    amy, bob, cat = parts.user("amy"), parts.user("bob"), parts.user("cat")
    channel = parts.network.join(amy, "#room")
    for client in (bob, cat):
        parts.network.join(client, "#room")
    for client in (amy, bob, cat):
        _written(client)
    parts.run(amy, "PRIVMSG #room :one")
    assert _written(bob) == b":amy!~amy@h PRIVMSG #room :one\r\n"  # closes that batch
    parts.network.join(parts.user("dan"), "#room")
    arrivals = channel.arrivals
    assert arrivals is not None
    assert isinstance(cat.conn, Connection)
    assert cat.conn.take_due() == b":amy!~amy@h PRIVMSG #room :one\r\n"
    assert channel.arrivals is arrivals  # still open: cat still holds it, lazily
    parts.network.join(parts.user("eve"), "#room")
    assert channel.arrivals is arrivals
    assert cat.conn.due_lazily()  # the lazy flush: due now, and the window closes
    assert channel.arrivals is None
    joins = b":dan!~dan@h JOIN #room\r\n:eve!~eve@h JOIN #room\r\n"
    assert cat.conn.take_due() == joins
    assert _written(bob) == joins


async def test_a_channel_message_closes_the_arrivals_batches() -> None:
    """A line said in the channel after an arrival is not overtaken by a later arrival."""
    parts = _Parts(enabled=False)
    amy, bob = parts.user("amy"), parts.user("bob")
    channel = parts.network.join(amy, "#room")
    parts.network.join(bob, "#room")
    for client in (amy, bob):
        _written(client)
    parts.network.join(parts.user("cat"), "#room")
    parts.run(amy, "PRIVMSG #room :hi")
    assert channel.arrivals is None
    parts.network.join(parts.user("dan"), "#room")
    assert _written(bob) == (
        b":cat!~cat@h JOIN #room\r\n:amy!~amy@h PRIVMSG #room :hi\r\n:dan!~dan@h JOIN #room\r\n"
    )


_ORDER_ACTIONS = ["JOIN #room", "PART #room", "PRIVMSG #room :m{n}", "PRIVMSG u{other} :p{n}"]


@settings(max_examples=150)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 4),
            st.sampled_from([*_ORDER_ACTIONS, "write", "slice", "lazy flush"]),
            st.integers(0, 4),
        ),
        max_size=50,
    )
)
def test_everyone_gets_joins_parts_and_messages_in_the_order_they_happened(
    steps: list[tuple[int, str, int]],
) -> None:
    """Whatever arrivals, departures, channel and private messages happen, and whenever each
    member's output is written (all of it, or what is due in an outbox slice, which leaves the
    window's open arrivals for the lazy flush), every member receives exactly its lines, in the
    order they happened: the arrivals' lazy batches, the late joiners and the message batches
    agree with a member-by-member delivery."""

    async def scenario() -> None:
        parts = _Parts(enabled=False)
        users = [parts.user(f"u{i}") for i in range(5)]
        got: dict[Client, list[bytes]] = {user: [] for user in users}
        expected: dict[Client, list[bytes]] = {user: [] for user in users}

        def write(user: Client, data: bytes | None = None) -> None:
            got[user] += [
                line + b"\r\n"
                for line in (_written(user) if data is None else data).split(b"\r\n")
                if line and not line.startswith(b":t.chinwag ")  # replies: not the point here
            ]

        for number, (who, action, other) in enumerate(steps):
            user = users[who]
            if action == "write":
                write(user)
                continue
            if action == "slice":
                assert isinstance(user.conn, Connection)
                write(user, user.conn.take_due())
                continue
            if action == "lazy flush":
                for each in users:
                    assert isinstance(each.conn, Connection)
                    each.conn.due_lazily()
                continue
            channel = parts.network.find_channel("#room")
            members = list(channel.members) if channel is not None else []
            line = action.format(n=number, other=other)
            source = f":{user.prefix} ".encode()
            if action.startswith("JOIN") and user not in members:
                for member in [*members, user]:
                    expected[member].append(source + b"JOIN #room\r\n")
            elif action.startswith("PART") and user in members:
                for member in members:
                    expected[member].append(source + b"PART #room\r\n")
            elif action.startswith("PRIVMSG #room") and user in members:
                for member in members:
                    if member is not user:
                        expected[member].append(source + line.encode() + b"\r\n")
            elif action.startswith("PRIVMSG u"):
                expected[users[other]].append(source + line.encode() + b"\r\n")
            parts.run(user, line)
        for user in users:
            write(user)
        assert got == expected

    asyncio.run(scenario())


async def test_joiners_of_one_round_share_a_look_up_and_each_gets_its_own_past() -> None:
    """Arrivals of one loop turn share one replay look-up; each joiner is replayed the room's
    lines from before its own arrival, not those said after it."""
    parts = _Parts(enabled=True, replay_on_join=10)
    amy, bob, cat = parts.user("amy"), parts.user("bob"), parts.user("cat")
    parts.run(amy, "JOIN #room")

    def then(line: str, client: Client = amy) -> None:
        # History is split at the millisecond: each step in a millisecond of its own (a blocking
        # wait, so that all of it stays in one loop turn and the joiners in one round).
        time.sleep(0.003)
        parts.run(client, line)

    then("PRIVMSG #room :one")
    then("JOIN #room", bob)
    then("PRIVMSG #room :two")
    then("JOIN #room", cat)
    assert len(parts.tasks.running) == 1  # one look-up for both
    await asyncio.wait(set(parts.tasks.running))

    def replayed(client: Client) -> list[str]:
        """The texts it was replayed (shown as ``[HH:MM:SS] text`` without server-time)."""
        lines = _written(client).decode().split("\r\n")
        texts = [line.split(" PRIVMSG #room :", 1)[1] for line in lines if "PRIVMSG" in line]
        return [text.split("] ", 1)[1] for text in texts if text.startswith("[")]

    assert replayed(bob) == ["one"]
    assert replayed(cat) == ["one", "two"]
