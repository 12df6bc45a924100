"""What Redis refuses for good, on a real Redis: a corrupt key (one of the wrong type, put there
by the test) costs the one operation of a call that needs it, whole, and nothing else.

`TURN` skips the operation before any of its writes and applies the rest of the call once; the
bus hands the skipped one back (`RedisBus` ``on_refused``): a message with its line (its history
record, its other destinations), a change of state as a change. A call the bus must send again
is answered as the first time. The claims and the reaper refuse, resp. pass over, a corrupt key
before they write; an ``enter`` leaves the room its history identity. And, against a model of
TURN (hypothesis): any call over any corrupt keys applies exactly the operations none stops.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from redis.exceptions import ResponseError

from chinwag.cluster import scripts
from chinwag.cluster.events import quit_event, room_message
from chinwag.cluster.redis_bus import RedisBus
from chinwag.server.fanout import Outgoing

from .relay import LateAnswerRelay

if TYPE_CHECKING:  # the fixtures' module (a pytest plugin: tests/conftest.py loads it)
    from services import RedisServer

WAIT = 10.0
N1 = "n1.test"
N2 = "n2.test"


class Peer:
    """A bus node in this process, and what it was handed."""

    def __init__(self, url: str, name: str, timeout: float = 1.5) -> None:
        self.events: list[bytes] = []
        self.refused: list[bytes] = []
        self.changes_refused = 0
        self.reports: list[BaseException | None] = []
        self._changed = asyncio.Event()
        self.bus = RedisBus(
            url,
            name,
            on_events=self._on_events,
            on_split=self._ignore,
            on_fenced=self._ignore,
            on_unreachable=self._on_unreachable,
            on_refused=self._on_refused,
            lease=30.0,  # the test must not cost a lease: that is another test's subject
            renew_interval=10.0,  # no renewal's script call takes a late answer (the relay)
            timeout=timeout,
        )

    def _ignore(self, *args: object) -> None:
        """Nothing to do."""

    def _on_events(self, events: Sequence[bytes]) -> None:
        # (A later node's request for the network's state is a replica's to answer: apart.)
        self.events.extend(event for event in events if b"\0sync\0" not in event)
        self._changed.set()

    def _on_unreachable(self, error: BaseException | None) -> None:
        self.reports.append(error)
        self._changed.set()

    def _on_refused(self, events: list[bytes], changes: bool) -> None:
        self.refused.extend(events)
        self.changes_refused += changes
        self._changed.set()

    async def until(self, *, events: int = 0, refused: int = 0, changes: int = 0) -> None:
        """Wait until at least that many events, refused events and refused changes came."""
        async with asyncio.timeout(WAIT):
            while (
                len(self.events) < events
                or len(self.refused) < refused
                or self.changes_refused < changes
            ):
                self._changed.clear()
                await self._changed.wait()


@pytest.fixture
async def admin(redis_url: str) -> AsyncIterator[redis.Redis]:
    """A plain client of this test's Redis, to look at and break keys."""
    client = redis.Redis.from_url(redis_url)
    try:
        yield client
    finally:
        client.close()


def _line(msgid: str, channel: str = "#broken") -> tuple[bytes, str]:
    """A room message event of user 1 of n1, and its history record (msgid first)."""
    said = Outgoing("amy!~amy@host", "PRIVMSG", channel, "hello", msgid=msgid)
    event = room_message(N1, "1", said, command="PRIVMSG", channel_folded=channel)
    return event, f"{msgid}\0{channel}\n"


def _history(admin: redis.Redis) -> list[bytes]:
    """The records in cw:history."""
    entries: Any = admin.xrange(scripts.HISTORY)
    return [record for _id, fields in entries for record in fields[b"h"].split(b"\n") if record]


async def test_a_message_over_a_corrupt_key_is_refused_alone_and_the_rest_of_its_call_applied(
    redis_url: str, admin: redis.Redis
) -> None:
    """One call: amy leaves #a, releases her nick and QUITs, a line of hers goes to #broken
    (its key a string) and another to #fine. Only the #broken line is refused (handed back,
    its history record gone with it); the leave, the release, the QUIT (on both nodes) and
    the #fine line are applied once."""
    n1, n2 = Peer(redis_url, N1), Peer(redis_url, N2)
    await n1.bus.start()
    await n2.bus.start()
    try:
        assert await n1.bus.claim_nick("1", "amy")
        n1.bus.enter("#a")
        n1.bus.enter("#fine")
        n2.bus.enter("#fine")
        await n1.bus.flush()
        await n2.bus.flush()
        admin.set("cw:chan:#broken", "not a hash")
        broken, broken_record = _line("m-broken")
        fine, fine_record = _line("m-fine", "#fine")
        bye = quit_event(N1, "1", "bye")
        n1.bus.leave("#a")
        n1.bus.release("amy")
        n1.bus.to_all(bye)
        n1.bus.keep(broken_record)
        n1.bus.to_channel("#broken", broken)
        n1.bus.keep(fine_record)
        n1.bus.to_channel("#fine", fine)
        await n1.until(refused=1, events=2)
        await n2.until(events=2)
        await n1.bus.flush()
        assert n1.refused == [broken] and n1.changes_refused == 0
        assert n1.events == [bye, fine] and n2.events == [bye, fine]
        assert admin.hgetall("cw:chan:#a") == {} and not admin.sismember("cw:joined:n1.test", "#a")
        assert admin.hget("cw:nicks", "amy") is None
        assert _history(admin) == [fine_record.encode().rstrip(b"\n")]
        assert n1.reports == []  # no outage: the next line goes through as usual
    finally:
        await n1.bus.stop()
        await n2.bus.stop()


async def test_a_change_over_a_corrupt_key_is_refused_whole_and_reported_as_a_change(
    redis_url: str, admin: redis.Redis
) -> None:
    """``enter`` of a room whose count is a string, and ``leave`` of one whose count is no
    number: each is refused before any of its writes (the node is not counted in anywhere), and
    reported as a refused change; the event in the same call arrives."""
    n1 = Peer(redis_url, N1)
    await n1.bus.start()
    try:
        admin.set("cw:chan:#broken", "not a hash")
        admin.hset("cw:chan:#odd", N1, "many")
        admin.sadd("cw:joined:n1.test", "#odd")
        n1.bus.enter("#broken", "#broken!1")
        n1.bus.leave("#odd")
        n1.bus.to(N1, b"still here\n")
        await n1.until(events=1, changes=1)
        assert n1.events == [b"still here\n"] and n1.refused == []
        assert admin.smembers("cw:joined:n1.test") == {b"#odd"}
        assert admin.get("cw:chan:#broken") == b"not a hash"
        assert admin.hgetall("cw:chan:#odd") == {N1.encode(): b"many"}
        assert not admin.exists("cw:ident:#broken")
    finally:
        await n1.bus.stop()


async def test_a_corrupt_history_stream_refuses_the_lines_to_keep_and_nothing_else(
    redis_url: str, admin: redis.Redis
) -> None:
    """cw:history a string: a line kept there cannot be, so it is not delivered either (a
    line is in history exactly when it is in an inbox); an event with nothing to keep is."""
    n1 = Peer(redis_url, N1)
    await n1.bus.start()
    try:
        admin.set(scripts.HISTORY, "not a stream")
        line, record = _line("m-kept", "#fine")
        n1.bus.enter("#fine")
        n1.bus.keep(record)
        n1.bus.to_channel("#fine", line)
        n1.bus.to(N1, b"not kept\n")
        await n1.until(events=1, refused=1)
        assert n1.refused == [line] and n1.events == [b"not kept\n"]
        assert n1.changes_refused == 0
    finally:
        await n1.bus.stop()


async def test_a_call_refused_whole_changes_nothing_and_the_next_goes_through(
    redis_url: str, admin: redis.Redis
) -> None:
    """The node's call counter a string: Redis refuses the whole call before its first write.
    Its events and its change are handed back (nothing of it was applied), the bus reports it,
    and once the key is repaired the next call goes through."""
    n1 = Peer(redis_url, N1)
    await n1.bus.start()
    try:
        admin.delete("cw:turn")
        admin.set("cw:turn", "not a hash")
        n1.bus.enter("#a")
        n1.bus.to(N1, b"lost\n")
        await n1.until(refused=1, changes=1)
        assert n1.refused == [b"lost\n"] and isinstance(n1.reports[0], ResponseError)
        assert not admin.exists("cw:chan:#a", "cw:joined:n1.test")
        admin.delete("cw:turn")
        n1.bus.to(N1, b"after\n")
        await n1.until(events=1)
        assert n1.events == [b"after\n"]
    finally:
        await n1.bus.stop()


async def test_a_refusal_whose_answer_is_lost_is_told_once_when_the_call_goes_again(
    own_redis: RedisServer, tmp_path: Path
) -> None:
    """Redis applies a call with a refused operation but its answer comes late: the bus sends
    the call again, which Redis skips (nothing twice) but answers as the first time, so the
    refused line is still handed back, once."""
    admin = redis.Redis(unix_socket_path=str(own_redis.socket_path))
    admin.script_load(scripts.TURN)  # the delayed call is the TURN, not a NOSCRIPT
    async with LateAnswerRelay(own_redis.socket_path, tmp_path / "relay.sock") as relay:
        n1 = Peer(relay.url, N1, timeout=0.3)
        await n1.bus.start()
        try:
            admin.set("cw:chan:#broken", "not a hash")
            broken, _ = _line("m-late")
            relay.delay_next()
            n1.bus.to_channel("#broken", broken)
            n1.bus.to(N1, b"applied once\n")
            await n1.until(events=1, refused=1)
            await n1.bus.flush()
            n1.bus.to(N1, b"next\n")
            await n1.until(events=2)
            assert n1.refused == [broken]
            assert n1.events == [b"applied once\n", b"next\n"]
        finally:
            await n1.bus.stop()
            admin.close()


async def test_a_room_entered_without_a_claim_keeps_the_identity_the_node_knows(
    redis_url: str, admin: redis.Redis
) -> None:
    """n1 enters a room it knows through another node's members (no claim), after the
    network forgot the room's identity: Redis keeps the identity n1 gave, a later claim on n2
    gets it (one history for the room), and a later ``enter`` does not replace it."""
    n1, n2 = Peer(redis_url, N1), Peer(redis_url, N2)
    await n1.bus.start()
    await n2.bus.start()
    try:
        n1.bus.enter("#room", "#room!old")
        await n1.bus.flush()
        assert admin.get("cw:ident:#room") == b"#room!old"
        assert await n2.bus.claim_channel("2", "#room", "#room!new") == (False, "#room!old")
        n2.bus.enter("#room", "#room!other")
        await n2.bus.flush()
        assert admin.get("cw:ident:#room") == b"#room!old"
        assert admin.hgetall("cw:chan:#room") == {N1.encode(): b"1", N2.encode(): b"2"}
    finally:
        await n1.bus.stop()
        await n2.bus.stop()


async def test_a_channel_claim_over_a_corrupt_key_is_refused_before_any_write(
    redis_url: str, admin: redis.Redis
) -> None:
    """The room's member count a string: the claim is refused (an error the node answers with
    437) and leaves no identity behind."""
    n1 = Peer(redis_url, N1)
    await n1.bus.start()
    try:
        admin.set("cw:chan:#broken", "not a hash")
        with pytest.raises(ResponseError, match="WRONGTYPE"):
            await n1.bus.claim_channel("1", "#broken", "#broken!1")
        assert not admin.exists("cw:ident:#broken", "cw:joined:n1.test")
    finally:
        await n1.bus.stop()


async def test_a_node_with_a_corrupt_room_key_leaves_the_network_all_the_same(
    redis_url: str, admin: redis.Redis
) -> None:
    """A room n1 is in gets a corrupt key; n1 stops: the reaper passes over that key and
    removes the rest of n1 (its place, its nick, its other room), instead of failing halfway."""
    n1 = Peer(redis_url, N1)
    await n1.bus.start()
    assert await n1.bus.claim_nick("1", "amy")
    n1.bus.enter("#broken")
    n1.bus.enter("#fine")
    await n1.bus.flush()
    admin.delete("cw:chan:#broken")
    admin.set("cw:chan:#broken", "not a hash")
    await n1.bus.stop()
    assert admin.hkeys("cw:nodes") == []
    assert admin.hgetall("cw:nicks") == {}
    assert not admin.exists("cw:chan:#fine", "cw:joined:n1.test", "cw:owned:n1.test")


async def test_a_corrupt_inbox_refuses_what_goes_to_its_node_alone(
    redis_url: str, admin: redis.Redis
) -> None:
    """n2's inbox a string: a private line to n2 is refused (its echo to n1 withdrawn with
    it), but a room line and a QUIT for every node reach n1 as usual: one broken node does not
    stop the others' lines."""
    n1, n2 = Peer(redis_url, N1), Peer(redis_url, N2)
    await n1.bus.start()
    await n2.bus.start()
    try:
        n1.bus.enter("#room")
        n2.bus.enter("#room")
        await n1.bus.flush()
        await n2.bus.flush()
        admin.delete("cw:inbox:n2.test")
        admin.set("cw:inbox:n2.test", "not a stream")
        private, _ = _line("m-private")
        room, _ = _line("m-room", "#room")
        bye = quit_event(N1, "2", "bye")
        n1.bus.to(N2, private)
        n1.bus.to(N1, private)
        n1.bus.to_channel("#room", room)
        n1.bus.to_all(bye)
        await n1.until(refused=2, events=2)
        await n1.bus.flush()
        assert n1.refused == [private, private]  # both of its operations: the node tells once
        assert n1.changes_refused == 0 and n1.events == [room, bye]
    finally:
        await n1.bus.stop()
        await n2.bus.stop()


async def test_a_rooms_destinations_follow_an_enter_and_a_leave_in_the_same_call(
    redis_url: str,
) -> None:
    """One call: a line to #r (nobody there), n1 enters it, a line, n1 leaves it, a line. TURN
    reads a room's destinations once per call but again after each change of them: only the
    line between the enter and the leave reaches n1."""
    n1 = Peer(redis_url, N1)
    await n1.bus.start()
    try:
        n1.bus.to_channel("#r", b"before\n")
        n1.bus.enter("#r")
        n1.bus.to_channel("#r", b"while in\n")
        n1.bus.leave("#r")
        n1.bus.to_channel("#r", b"after\n")
        n1.bus.to(N1, b"end\n")
        await n1.until(events=2)
        assert n1.events == [b"while in\n", b"end\n"]
    finally:
        await n1.bus.stop()


# -- TURN against a model of it ------------------------------------------------------------------

OTHER = "other.test"
"""A second node, whose inbox the property test may break."""
_CHANNELS = ("#a", "#b")
_NICKS = ("amy", "bob")
_CORRUPTIBLE = (
    "cw:chan:#a",
    "cw:chan:#b",
    "cw:joined:n1.test",
    "cw:owned:n1.test",
    "cw:nicks",
    "cw:inbox:other.test",
)
_op = st.one_of(
    st.tuples(st.sampled_from(["enter", "leave", "chan"]), st.sampled_from(_CHANNELS)),
    st.tuples(st.sampled_from(["take", "release"]), st.sampled_from(_NICKS)),
    st.tuples(st.just("to"), st.sampled_from([N1, OTHER])),
)


class _Model:
    """What TURN must do with one call of node n1's, alone on its rooms, some keys corrupt."""

    def __init__(self, corrupt: set[str]) -> None:
        self.corrupt = corrupt
        self.counts: dict[str, int] = {}
        self.nicks: dict[str, str] = {}
        self.skipped: list[int] = []
        self.inbox: list[bytes] = []  # n1's

    def apply(self, index: int, op: str, arg: str) -> None:
        event = f"e{index}\n".encode()
        broken = self.corrupt
        if op in ("enter", "leave"):
            if {f"cw:chan:{arg}", "cw:joined:n1.test"} & broken:
                self.skipped.append(index)
                return
            count = self.counts.get(arg, 0) + (1 if op == "enter" else -1)
            self.counts[arg] = count
            if count <= 0:
                del self.counts[arg]
        elif op in ("take", "release"):
            if {"cw:nicks", "cw:owned:n1.test"} & broken:
                self.skipped.append(index)
            elif op == "take":
                self.nicks[arg] = f"{N1}/1"
            else:
                self.nicks.pop(arg, None)
        elif op == "chan":
            if f"cw:chan:{arg}" in broken:
                self.skipped.append(index)
            elif self.counts.get(arg, 0) > 0:
                self.inbox.append(event)
        elif arg == OTHER and "cw:inbox:other.test" in broken:
            self.skipped.append(index)
        elif arg == N1:
            self.inbox.append(event)


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ops=st.lists(_op, max_size=12), corrupt=st.sets(st.sampled_from(_CORRUPTIBLE)))
def test_turn_applies_exactly_the_operations_no_corrupt_key_stops(
    redis_url: str, ops: list[tuple[str, str]], corrupt: set[str]
) -> None:
    """Any call over any corrupt keys: TURN skips exactly the operations that need one, and
    the state, the nicks and n1's inbox end as those of the other operations alone."""
    client = redis.Redis.from_url(redis_url)
    try:
        client.flushall()
        client.hset("cw:nodes", mapping={N1: "1", OTHER: "1"})
        for key in corrupt:
            client.set(key, "not what TURN wants")
        model = _Model(corrupt)
        lines = []
        for index, (op, arg) in enumerate(ops):
            model.apply(index, op, arg)
            if op in ("chan", "to"):
                lines.append(f"{op} {arg} e{index}\n")
            elif op == "take":
                lines.append(f"take {arg} {N1}/1\n")
            else:
                lines.append(f"{op} {arg} \n")
        turn = client.register_script(scripts.TURN)
        answer = turn(args=[N1, "1", 1, "".join(lines), len(ops)])
        assert answer[1:] == model.skipped
        for channel in _CHANNELS:
            if f"cw:chan:{channel}" not in corrupt:
                count = model.counts.get(channel)
                assert client.hget(f"cw:chan:{channel}", N1) == (
                    None if count is None else str(count).encode()
                )
        if "cw:joined:n1.test" not in corrupt:
            joined = {channel.encode() for channel, count in model.counts.items() if count > 0}
            assert client.smembers("cw:joined:n1.test") == joined
        if not {"cw:nicks", "cw:owned:n1.test"} & corrupt:
            held = {nick.encode(): owner.encode() for nick, owner in model.nicks.items()}
            assert client.hgetall("cw:nicks") == held
        inbox: Any = client.xrange(f"cw:inbox:{N1}")
        events = [event for _id, fields in inbox for event in fields[b"e"].splitlines(True)]
        assert events == model.inbox
    finally:
        client.close()
