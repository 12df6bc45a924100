"""History on a network, on a real Redis and PostgreSQL: lines kept with their script call,
moved into PostgreSQL through the consumer group (taken over from a dead consumer, never
doubled), and read exactly before they are moved."""

from __future__ import annotations

import asyncio
import string
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import redis
from argon2 import PasswordHasher
from hypothesis import given
from hypothesis import strategies as st

from chinwag.cluster import scripts
from chinwag.cluster.history_feed import HistoryFeed, decode_record
from chinwag.cluster.network_history import NetworkHistory
from chinwag.cluster.redis_bus import RedisBus
from chinwag.store import ChannelTarget, DirectTarget, HistoryEntry, HistoryStore, StoreError
from chinwag.store.journal_records import encode_entry
from chinwag.store.postgres import PostgresStore

from .relay import LateAnswerRelay

if TYPE_CHECKING:  # the fixtures' module (a pytest plugin: tests/conftest.py loads it)
    from services import PostgresServer, RedisServer

WAIT = 10.0
FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=64, parallelism=1)
T0 = 1_700_000_000.0
LOBBY = ChannelTarget("#lobby")


def entry(msgid: str, when: float, target: ChannelTarget | DirectTarget = LOBBY) -> HistoryEntry:
    """A PRIVMSG line of amy's."""
    return HistoryEntry(msgid, when, target, "#lobby", "amy!a@h", None, "PRIVMSG", f"{msgid}!")


def ids(entries: list[HistoryEntry]) -> list[str]:
    """The msgids of ``entries``, in order."""
    return [item.msgid for item in entries]


def _ignore(*args: object) -> None:
    """Nothing to do with what the bus hands back here."""


def _record(item: HistoryEntry) -> str:
    return encode_entry(item)


class Parts:
    """A bus node, its PostgreSQL store and a feed, on this test's Redis and database."""

    def __init__(self, redis_url: str, postgres_url: str) -> None:
        self.redis_url = redis_url
        self.store = PostgresStore(postgres_url, hasher=FAST_HASHER)
        self.bus = RedisBus(
            redis_url, "n1.test", on_events=_ignore, on_split=_ignore, on_fenced=_ignore
        )
        self.feeds: list[HistoryFeed] = []
        self.redis: Any = redis.Redis.from_url(redis_url)

    def feed(self, node: str = "n1.test", claim_idle: float = 3.0) -> HistoryFeed:
        """A feed for consumer ``node`` (not started)."""
        made = HistoryFeed(self.redis_url, node, self.store.history, claim_idle=claim_idle)
        self.feeds.append(made)
        return made

    def kept(self) -> list[list[str]]:
        """The msgids of each ``cw:history`` entry, in order."""
        return [
            [decode_record(line).msgid for line in fields[b"h"].decode().split("\n") if line]
            for _, fields in self.redis.xrange(scripts.HISTORY)
        ]

    def stream_length(self) -> int:
        """How many entries ``cw:history`` holds."""
        return int(self.redis.xlen(scripts.HISTORY))

    async def stored(self, target: ChannelTarget | DirectTarget) -> list[str]:
        """The msgids PostgreSQL has for ``target`` (no tail involved)."""
        return ids(await self.store.history.latest(target, None, 1000))


@pytest.fixture
async def parts(redis_url: str, postgres_url: str) -> AsyncIterator[Parts]:
    """A started bus on a clean Redis, a PostgreSQL store; everything closed after."""
    made = Parts(redis_url, postgres_url)
    await made.bus.start()
    try:
        yield made
    finally:
        for feed in made.feeds:
            await feed.stop()
        await made.bus.stop()
        await made.store.close()
        made.redis.close()


async def _until(check: Callable[[], Awaitable[bool]], timeout: float = WAIT) -> None:
    """Wait until ``check()`` holds (PostgreSQL and Redis have no event to await)."""
    async with asyncio.timeout(timeout):
        while not await check():
            await asyncio.sleep(0.02)


texts = st.text(st.characters(codec="utf-8", exclude_characters="\0\r\n"), max_size=50)
names = st.text(string.ascii_lowercase + "#_-[]", min_size=1, max_size=20)


targets = st.one_of(st.builds(ChannelTarget, names), st.builds(DirectTarget, names, names))
entries = st.builds(
    HistoryEntry,
    msgid=st.text(string.ascii_letters + string.digits, min_size=1, max_size=30),
    time=st.floats(min_value=0, max_value=4e9, allow_nan=False),
    target=targets,
    target_name=names,
    sender=st.just("amy!a@h"),
    account=st.one_of(st.none(), names),
    command=st.sampled_from(["PRIVMSG", "NOTICE"]),
    text=texts,
    tags=st.dictionaries(st.sampled_from(["+draft/reply", "+x"]), texts, max_size=2),
)


@given(entries)
def test_a_record_decodes_to_the_entry_it_was_made_from(original: HistoryEntry) -> None:
    """encode_entry then decode_record gives back the same entry, time exact to the bit."""
    assert decode_record(encode_entry(original).rstrip("\n")) == original


def _fields(**changed: str) -> str:
    """A well-formed record's fields, some of them changed, joined as a record."""
    fields = {"msgid": "m1", "time": "0x1p+0", "conv": "#lobby", "a": "", "b": "", "shown": "#l"}
    fields |= {"sender": "a", "account": "", "command": "PRIVMSG", "text": "hi", "tags": ""}
    fields |= changed
    return "\x00".join(fields.values())


@pytest.mark.parametrize(
    ("record", "why"),
    [
        ("m1\x000x1p+0\x00#lobby", "fields"),
        (_fields(time="noon"), "hexadecimal"),
        (_fields(conv=""), "empty"),
        (_fields(tags="{"), "property name"),
    ],
    ids=["cut short", "bad time", "no conversation", "bad tags"],
)
def test_a_malformed_record_is_refused(record: str, why: str) -> None:
    """A record cut short, or with a field that cannot be read, raises ValueError (the feed
    logs and skips it) rather than guessing."""
    with pytest.raises(ValueError, match=why):
        decode_record(record)


async def test_a_turn_keeps_its_lines_in_the_same_call_as_its_events(parts: Parts) -> None:
    """Records kept during a turn go into one cw:history entry, with that turn's inbox entry."""
    parts.bus.to(parts.bus.node, b"event\n")
    parts.bus.keep(_record(entry("m1", T0)))
    parts.bus.keep(_record(entry("m2", T0 + 1)))
    await parts.bus.flush()
    assert parts.bus.turns == 1
    assert parts.kept() == [["m1", "m2"]]
    [(_, fields)] = parts.redis.xrange(f"cw:inbox:{parts.bus.node}")
    assert fields[b"e"] == b"event\n"


async def test_a_call_sent_again_is_applied_once(parts: Parts) -> None:
    """The same call number twice (a retry after Redis went away): the second changes nothing."""
    node, epoch = parts.bus.node, parts.bus.epoch
    turn = parts.redis.register_script(scripts.TURN)
    ops = f"to {node} once\nkeep - {_record(entry('m1', T0))}"
    args: list[str | int] = [node, epoch, 1, ops, 2]
    assert turn(args=args) == [1]
    assert turn(args=args) == [-1]
    assert parts.redis.xlen(f"cw:inbox:{node}") == 1
    assert parts.stream_length() == 1


async def test_a_damaged_operation_is_skipped_with_everything_after_it(parts: Parts) -> None:
    """Operations cut short (no line end, no argument) cannot be read, nor can what follows
    them: TURN skips them all and says which (their indices, after the count of inbox
    entries); what came before is applied, its line in history exactly when in an inbox."""
    node, epoch = parts.bus.node, parts.bus.epoch
    turn = parts.redis.register_script(scripts.TURN)
    damaged = [  # the operations, how many, TURN's answer
        (f"to {node} fine\nto {node} cut", 2, [1, 1]),
        (f"keep - r\nto {node} also fine\nenter", 3, [1, 2]),
        ("chan", 1, [0, 0]),
    ]
    for number, (ops, count, answer) in enumerate(damaged, 1):
        assert turn(args=[node, epoch, number, ops, count]) == answer
    inbox = parts.redis.xrange(f"cw:inbox:{node}")
    assert [fields[b"e"] for _id, fields in inbox] == [b"fine\n", b"also fine\n"]
    assert parts.stream_length() == 1


async def test_the_feed_moves_lines_into_postgresql_and_empties_the_stream(parts: Parts) -> None:
    """Kept lines reach PostgreSQL in order; once acknowledged they leave Redis."""
    for i in range(5):
        parts.bus.keep(_record(entry(f"m{i}", T0 + i)))
    await parts.bus.flush()
    feed = parts.feed()
    await feed.start()

    async def moved() -> bool:
        return await parts.stored(LOBBY) == [f"m{i}" for i in range(5)]

    await _until(moved)
    await _until(lambda: asyncio.sleep(0, parts.stream_length() == 0))
    assert feed.moved == 5


async def test_a_dead_consumers_pending_lines_are_taken_over(
    parts: Parts, caplog: pytest.LogCaptureFixture
) -> None:
    """Lines a consumer read and never acknowledged (its node died) are moved by another,
    which says so in its log (a warning, no error)."""
    parts.bus.keep(_record(entry("m1", T0)))
    await parts.bus.flush()
    await parts.feed("ghost.test").start()  # only to make the group
    await parts.feeds.pop().stop()
    parts.redis.xreadgroup(scripts.HISTORY_GROUP, "ghost.test", {scripts.HISTORY: ">"})
    await asyncio.sleep(0.2)  # the entry must be idle for longer than claim_idle
    survivor = parts.feed("n2.test", claim_idle=0.1)
    await survivor.start()

    async def moved() -> bool:
        return await parts.stored(LOBBY) == ["m1"] and parts.stream_length() == 0

    await _until(moved)
    assert "took over 1 pending" in caplog.text
    assert not [record for record in caplog.records if record.levelname == "ERROR"]


async def test_a_lost_consumer_group_is_made_again(
    parts: Parts, caplog: pytest.LogCaptureFixture
) -> None:
    """Redis lost the group (started again without its data): the feed says so, makes it again
    and moves what is kept afterwards."""
    feed = parts.feed()
    await feed.start()
    parts.redis.xgroup_destroy(scripts.HISTORY, scripts.HISTORY_GROUP)
    parts.bus.keep(_record(entry("m1", T0)))
    await parts.bus.flush()

    async def moved() -> bool:
        return await parts.stored(LOBBY) == ["m1"]

    await _until(moved)
    assert "consumer group was gone" in caplog.text


async def test_lines_moved_twice_are_stored_once(parts: Parts) -> None:
    """Inserting the same lines again (a retry, or two consumers) leaves one row each."""
    feed = parts.feed()
    lines = [entry("m1", T0), entry("m2", T0 + 1)]
    await feed.insert(lines)
    await feed.insert(lines)
    assert await parts.stored(LOBBY) == ["m1", "m2"]


async def test_a_read_sees_lines_no_feed_has_moved_yet(parts: Parts) -> None:
    """With no consumer running, a query still answers with every kept line of its target,
    and stores them (that conversation only); TARGETS stores the whole tail."""
    history: HistoryStore = NetworkHistory(parts.store.history, parts.feed())
    assert isinstance(history, NetworkHistory)
    history.attach(parts.bus)
    private = DirectTarget("amy", "bob")
    history.append(entry("c1", T0))
    history.append(entry("p1", T0 + 1, private))
    history.append(entry("c2", T0 + 2))
    await history.flush()
    assert ids(await history.latest(LOBBY, None, 10)) == ["c1", "c2"]
    assert await parts.stored(private) == []
    found = await history.targets("amy", ["#lobby"], T0 - 1, T0 + 10, 10)
    assert ids(found) == ["p1", "c2"]
    assert await parts.stored(private) == ["p1"]


async def test_a_read_fails_clearly_when_the_feed_is_far_behind(parts: Parts) -> None:
    """More unmoved lines than a read may look through: the read fails with a StoreError that
    says history is catching up (Redis is not held up scanning them), and works once moved."""
    feed = parts.feed()
    feed.tail_limit = 3
    history = NetworkHistory(parts.store.history, feed)
    history.attach(parts.bus)
    for i in range(4):
        history.append(entry(f"m{i}", T0 + i))
    await history.flush()
    with pytest.raises(StoreError, match="catching up"):
        await history.latest(LOBBY, None, 10)
    await feed.start()
    await _until(lambda: asyncio.sleep(0, parts.stream_length() == 0))
    assert ids(await history.latest(LOBBY, None, 10)) == ["m0", "m1", "m2", "m3"]


async def test_lines_wait_in_redis_while_postgresql_is_away(
    redis_url: str, own_postgres: PostgresServer
) -> None:
    """PostgreSQL stopped: the feed's inserts fail, the lines stay in cw:history (and reads
    fail clearly); PostgreSQL back: the feed moves them all, once, and the stream empties."""
    database = own_postgres.url()
    parts = Parts(redis_url, database)
    await parts.bus.start()
    feed = parts.feed()
    await feed.start()
    try:
        own_postgres.halt()
        for i in range(3):
            parts.bus.keep(_record(entry(f"m{i}", T0 + i)))
        await parts.bus.flush()
        await asyncio.sleep(0.5)  # the feed tries, and fails, meanwhile
        assert parts.stream_length() == 1
        history = NetworkHistory(parts.store.history, feed)
        with pytest.raises(StoreError, match="not stored in PostgreSQL"):
            await history.latest(LOBBY, None, 10)
        own_postgres.resume()
        await _until(lambda: asyncio.sleep(0, parts.stream_length() == 0))
        assert await parts.stored(LOBBY) == ["m0", "m1", "m2"]
    finally:
        await feed.stop()
        await parts.bus.stop()
        await parts.store.close()
        parts.redis.close()


async def test_a_read_racing_a_stop_keeps_the_lines_it_read_pending(
    own_redis: RedisServer, postgres_url: str, tmp_path: Path
) -> None:
    """A consumer that stops with nothing pending leaves the group, and a read of its that
    comes at that moment (one on its way) is not lost with it: whether the read comes first
    or after, the lines it read stay pending, for another node to move."""
    admin: Any = redis.Redis(unix_socket_path=str(own_redis.socket_path))
    store = PostgresStore(postgres_url, hasher=FAST_HASHER)
    bus = RedisBus(own_redis.url, "n1.test", on_events=_ignore, on_split=_ignore, on_fenced=_ignore)
    await bus.start()
    try:
        async with LateAnswerRelay(own_redis.socket_path, tmp_path / "relay.sock") as relay:
            feed = HistoryFeed(relay.url, "n1.test", store.history)
            await feed.start()
            relay.delay_next(b"XPENDING", b"EVALSHA")  # the stop's look at what is pending
            stopping = asyncio.create_task(feed.stop())
            await asyncio.wait_for(relay.holding.wait(), WAIT)
            bus.keep(_record(entry("m1", T0)))
            await bus.flush()
            read = admin.xreadgroup(scripts.HISTORY_GROUP, "n1.test", {scripts.HISTORY: ">"})
            assert len(read[0][1]) == 1
            await stopping
        assert admin.xpending(scripts.HISTORY, scripts.HISTORY_GROUP)["pending"] == 1
    finally:
        await bus.stop()
        await store.close()
        admin.close()
