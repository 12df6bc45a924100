"""The bus of a network of nodes, on Redis: nick ownership, routing, leases and netsplits.

Theory of operation
===================

Sending. Sends during an event-loop turn are buffered; the first one schedules a flush for the
end of the turn (``call_soon``). The flush is ONE script call (``scripts.TURN``) carrying every
operation of the turn, which appends one packed entry per destination node to that node's inbox
Stream. Flushes never overlap: while one is in Redis, later turns accumulate and go in the next
call, so under load one call carries many turns (one round trip per busy period, not per line).
A script is atomic, so events that two nodes both receive are in the same order in both inboxes:
every member of a room sees its lines in one order, on every node.

Retries. A call that fails because Redis cannot be reached (restarting, cut off: a call with no
answer within `COMMAND_TIMEOUT` fails too, since a cut network is silent) is sent again, the
same call with the same number, until it goes through: its events may or may not have been
applied (Redis may have gone away before replying, or answer late), and the script skips a
number it already applied, so nothing is lost and nothing is delivered twice. Meanwhile the bus
tells ``on_unreachable`` (the server refuses new messages, their senders told) and later turns
wait. A call that fails while the inbox received entries is no sign of that: Redis took writes
meanwhile (often this call's own, whose answer came too late), so it is only sent again.
The nick and channel claims (``claim_nick``, ``claim_channel``) are sent again the same way
until answered (a claim applied twice answers as the first time); only one that never left this
process is certainly not applied, and fails at once.

Refusals. Redis may answer a call with an error instead (``redis_errors.py`` tells which).
One that passes (out of memory, a read-only replica after a failover, a busy script, a dump
that cannot be written) is an outage by another name: reported the same way, and the same call
sent again until Redis takes it. One that cannot pass (a key the call must write holds another
type, a bug in a script: the same call would fail again forever) drops the call, which changed
nothing (the scripts look before they write), and its operations are handed to
``on_refused``; it is reported as an outage too, so that the node refuses new lines until a
call goes through again.
Within a call that goes through, TURN skips each operation that a corrupt key would make fail
(whole: none of its writes is made) and applies the others; the skipped ones are handed to
``on_refused`` the same way (its events, and whether a change of the network's state was
among them), without an outage: the node tells the senders of refused lines, and joins the
network again when a change was refused (``node.py``).

Receiving. A reader task blocks on ``XREAD`` of this node's inbox and hands each entry's events
to ``on_events`` on the loop, in Stream order. A node receives its own events too: an event is
applied when it comes back, never when it is sent, so this node's users see the network's order.

Durability. A line is in Redis once the script call returns; with ``appendfsync always`` Redis
writes it to its append-only file before replying, so a kill -9 of Redis loses no line any node
has read. (With ``everysec`` Redis may reply up to two seconds before writing: README.) The
lines to keep travel in the same call (`keep`) into ``cw:history`` (``history_feed.py``).

Liveness. A node holds a lease key with a TTL (``lease`` seconds) that it renews every
``renew_interval``; every node also runs the reaper script on that tick (atomic: a dead node is
removed once, whoever notices first). A dead node's nicks and memberships are removed, and every
other node gets a ``split`` entry naming it: its users QUIT there, with a netsplit reason. With
the defaults (3 s lease, 1 s tick) a node killed with SIGKILL is reaped within 4 s. A node that
stops in order does not wait for that: `stop` removes it the same way (``LEAVE_NODE``), after
its users' QUITs.

Fencing. Each node incarnation has an epoch (``JOIN_NODE``), checked by every script. A node
that could not renew in time (stopped, cut off) was reaped: its next call fails with ``FENCED``
and the bus calls ``on_fenced`` so that the node closes its clients ("Lost contact with the
network"). It never writes after being declared dead. A node that cannot reach Redis for longer
than its lease fences itself, without waiting to hear it.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import logging
import time
from asyncio import FIRST_COMPLETED
from collections.abc import Callable, Iterable
from typing import Any

import redis.asyncio as aioredis
from redis.commands.core import AsyncScript
from redis.exceptions import RedisError, ResponseError

from chinwag.cluster import scripts
from chinwag.cluster.bus import OnEvents, OnSplit
from chinwag.cluster.redis_errors import is_fenced, is_transient, not_sent
from chinwag.cluster.roster import NodeInfo, read_roster

__all__ = [
    "DEFAULT_LEASE",
    "DEFAULT_RENEW_INTERVAL",
    "FLUSH_BUCKETS",
    "FencedError",
    "OnRefused",
    "RedisBus",
    "split_reason",
]

_log = logging.getLogger("chinwag.cluster")

DEFAULT_LEASE = 3.0
"""Seconds a node stays alive without renewing its lease."""
DEFAULT_RENEW_INTERVAL = 1.0
"""Seconds between lease renewals (and reaper runs)."""
READ_BLOCK_MS = 1_000
"""How long one XREAD waits for entries before asking again (lets the reader notice a stop)."""
READ_COUNT = 512
"""Inbox entries taken per XREAD at most."""
FLUSH_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)
"""Upper bounds (seconds) of the flush-latency histogram (one script call, there and back)."""
RETRY_INTERVAL = 0.1
"""Seconds between two tries of a call that could not reach Redis."""
CLAIM_MEMORY = 60.0
"""Seconds Redis keeps a channel claim's answer, for a call sent again (`RedisBus.claim_channel`):
far past the lease, after which a node's calls stop."""
COMMAND_TIMEOUT = 1.5
"""Seconds a call to Redis may take before Redis counts as unreachable: a network cut, or a
stopped Redis, is a silence, not an error (a blocking read gets this on top of its block)."""


class FencedError(Exception):
    """This node was declared dead by the network: it must stop serving its users."""


_ROUTING = (b"to ", b"chan ", b"all ")
"""How the operations that carry an event begin (the others change state, or keep a history
record)."""
_KEEP = b"keep "
"""How the operation that keeps a history record begins."""

OnRefused = Callable[[list[bytes], bool], None]
"""Called with the events of the operations Redis refused for good (not applied), and whether
a change of the network's state (``enter``, ``leave``, ``take``, ``release``) was refused."""


def _tell_nobody(error: BaseException | None) -> None:
    """Nobody to tell that Redis cannot be reached (tests)."""


def _drop(events: list[bytes], changes: bool) -> None:
    """Nobody to tell that operations were refused (tests)."""


class RedisBus:
    """One node's connection to the network (see the module header).

    Args:
        url: ``redis://host:port/db``, ``rediss://...`` or ``unix:///path/redis.sock``.
        node: this node's name (a server name with a dot).
        on_events: called on the loop with the events of each inbox entry, in order.
        on_split: called with the name of each node declared dead.
        on_fenced: called once when this node has been declared dead itself.
        on_unreachable: called with the error when a call cannot reach Redis, or Redis refuses
            it, and with None when calls go through again.
        on_refused: called with what Redis refused for good (`OnRefused`): a call, or
            operations of a call.
        lease: seconds of the lease.
        renew_interval: seconds between renewals and reaper runs.
        timeout: seconds a call may take before Redis counts as unreachable.
    """

    def __init__(
        self,
        url: str,
        node: str,
        *,
        on_events: OnEvents,
        on_split: OnSplit,
        on_fenced: Callable[[], None],
        on_unreachable: Callable[[BaseException | None], None] = _tell_nobody,
        on_refused: OnRefused = _drop,
        lease: float = DEFAULT_LEASE,
        renew_interval: float = DEFAULT_RENEW_INTERVAL,
        timeout: float = COMMAND_TIMEOUT,
    ) -> None:
        self._url = url
        self._node = node
        self._on_events = on_events
        self._on_split = on_split
        self._on_fenced = on_fenced
        self._on_unreachable = on_unreachable
        self._on_refused = on_refused
        self._unreachable = False
        self._lease_ms = int(lease * 1000)
        self._lease = lease
        self._renew_interval = renew_interval
        self._redis: aioredis.Redis = aioredis.from_url(
            url, socket_timeout=timeout, socket_connect_timeout=timeout
        )
        self._reader_redis: aioredis.Redis = aioredis.from_url(
            url, socket_timeout=READ_BLOCK_MS / 1000 + timeout, socket_connect_timeout=timeout
        )
        self._join = self._redis.register_script(scripts.JOIN_NODE)
        self._renew = self._redis.register_script(scripts.RENEW)
        self._reap = self._redis.register_script(scripts.REAP)
        self._leave = self._redis.register_script(scripts.LEAVE_NODE)
        self._claim = self._redis.register_script(scripts.CLAIM_NICK)
        self._claim_channel = self._redis.register_script(scripts.CLAIM_CHANNEL)
        self._turn = self._redis.register_script(scripts.TURN)
        self._epoch = ""
        self._claims = 0  # channel claims made (each one's token)
        self._ops: list[bytes] = []  # the turn's operations, pieces of one argument (TURN)
        self._op_count = 0
        self._calls = 0  # script calls numbered so far (TURN skips a number already applied)
        self._unsent: tuple[int, list[bytes], int] | None = None  # the call (number, its
        # operations' pieces, how many operations) being sent, or to send again
        self._done = 0  # the number of the last call done with (applied, or refused for good)
        self._progress: asyncio.Future[None] | None = None  # resolved when a call is done with
        self._flush_scheduled = False
        self._flushing: asyncio.Task[None] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._fenced = False
        self._stopping = False
        self._left = False  # `stop` has sent its last call
        self._renewed_at = 0.0
        self._heard = 0  # inbox reads that brought entries: each one proves Redis takes writes
        self.last_error: RedisError | None = None
        """Why the last call that failed did (what `unreachable` is about)."""
        self.turns = 0
        """How many script calls carried events (to observe the batching)."""
        self.events_out = 0
        """Events sent (a routed event counts once, whatever the nodes it goes to)."""
        self.events_in = 0
        """Events received from this node's inbox (its own coming back included)."""
        self.flush_seconds = 0.0
        """Time spent in script calls that carried events, in total."""
        self.flush_buckets = [0] * (len(FLUSH_BUCKETS) + 1)
        """Script calls per `FLUSH_BUCKETS` latency bucket (the last: slower than all)."""

    @property
    def node(self) -> str:
        """This node's name."""
        return self._node

    @property
    def epoch(self) -> str:
        """This incarnation's epoch (empty before :meth:`start`)."""
        return self._epoch

    @property
    def fenced(self) -> bool:
        """Whether this node has been declared dead (it must not serve anyone)."""
        return self._fenced

    async def start(self) -> str | None:
        """Join the network (a new epoch, a lease) and start reading the inbox.

        A node of the same name that was still registered (an earlier incarnation that died)
        is reaped first: its users QUIT on the other nodes.

        Returns:
            The node that was asked for the network's state (its ``snapshot`` event will come
            in the inbox), or None when no other node is alive. The inbox is read from the
            caller's next await on, so the caller can get ready for it first.

        Raises:
            RedisError: when Redis cannot be reached.
        """
        epoch, *peer = await self._join(args=[self._node, self._lease_ms])
        self._epoch = epoch.decode()
        self._renewed_at = time.monotonic()
        self._tasks = [
            asyncio.create_task(self._read_inbox(), name=f"bus-read-{self._node}"),
            asyncio.create_task(self._keep_lease(), name=f"bus-lease-{self._node}"),
        ]
        return peer[0].decode() if peer and peer[0] else None

    async def stop(self) -> None:
        """Send what is buffered, stop the tasks, leave the network and close the connections
        (not a netsplit: the server quits its users first, and this node is off the network's
        list at once, not when its lease runs out)."""
        with contextlib.suppress(RedisError, FencedError, TimeoutError):
            await asyncio.wait_for(self.flush(), self._lease)  # Redis may be gone for good
        # A cancelled XREAD may swallow its cancellation (redis-py reads on): the flag ends the
        # reader's loop at its next turn whatever happens, within one blocking read.
        self._stopping = True
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=READ_BLOCK_MS / 1000 + 1.0)
            # What was sent meanwhile (the QUITs of connections cut just before: theirs come on
            # the next loop turn) goes before this node leaves, after which it would be refused.
            with contextlib.suppress(RedisError, FencedError, TimeoutError):
                await asyncio.wait_for(self.flush(), self._lease)
            self._left = True  # from now on, nothing more is sent
            if self._flushing is not None:
                self._flushing.cancel()
            if not self._fenced:  # the lease is no longer renewed: leave before it runs out
                with contextlib.suppress(RedisError, TimeoutError):
                    await self._leave(args=[self._node, self._epoch])
        await self._redis.aclose()
        await self._reader_redis.aclose()

    async def roster(self) -> list[NodeInfo]:
        """The nodes of the network now (`roster.read_roster`).

        Raises:
            RedisError: Redis cannot be reached.
        """
        return await read_roster(self._redis)

    @property
    def lease(self) -> float:
        """Seconds of a node's lease."""
        return self._lease

    # -- nicks --------------------------------------------------------------------------------

    async def claim_nick(self, uid: str, wanted: str, held: str = "") -> bool:
        """Claim folded nick ``wanted`` for user ``uid`` of this node, releasing ``held``.

        Returns:
            True when the nick is now theirs; False when someone (anywhere) holds it.

        Raises:
            FencedError: this node was declared dead.
            ResponseError: Redis refused the claim (not applied).
        """
        # The same claim again gives the same answer (the nick is already the owner's).
        owner = f"{self._node}/{uid}"
        answer = await self._until_answered(
            self._claim, [self._node, self._epoch, owner, wanted, held]
        )
        return bool(answer == 1)

    async def claim_channel(self, uid: str, channel_folded: str, identity: str) -> tuple[bool, str]:
        """User ``uid`` of this node joins a channel this node has no member of: counted in,
        and the network says whether it creates it (``scripts.CLAIM_CHANNEL``).

        Returns:
            (True, ``identity``) when nobody was in it (the user is its operator), else (False,
            the identity of the channel's history its creator gave it).

        Raises:
            FencedError: this node was declared dead.
            ResponseError: Redis refused the claim (not applied).
        """
        # A token of its own: the same call again gets the first call's answer, not a second
        # member counted in (Redis keeps the answer `CLAIM_MEMORY` seconds).
        self._claims += 1
        token = f"{self._epoch}.{self._claims}"
        memory_ms = int(CLAIM_MEMORY * 1000)
        args: list[str | int] = [
            self._node,
            self._epoch,
            channel_folded,
            identity,
            token,
            memory_ms,
        ]
        created, given = await self._until_answered(self._claim_channel, args)
        return created == 1, given.decode()

    async def _until_answered(self, script: AsyncScript, args: list[str | int]) -> Any:
        """Call a claim script until Redis answers it. A call without an answer (a timeout, a
        cut connection) may have been applied all the same: it is sent again, and the claim
        scripts answer a call they already applied as the first time. Only while no try left
        this process (``redis_errors.NOT_SENT``: Redis stopped, say) is the claim certainly
        not applied, and the error raised at once. Past the lease this node has been declared
        dead, its claims with it: that ends the tries.

        Raises:
            FencedError: this node was declared dead.
            ResponseError: Redis refused the call (a script refuses before its first write).
            RedisError: no try reached Redis (not applied).
        """
        reached = False
        while True:
            try:
                return await script(args=args)
            except ResponseError as exc:
                raise self._fence(exc) from None
            except RedisError as exc:
                reached = reached or not not_sent(exc)
                if not reached:
                    raise
                if self._fenced:
                    raise FencedError(self._node) from None
                if time.monotonic() - self._renewed_at > self._lease:
                    raise self._fence(None) from None  # the network has declared us dead
                _log.info("bus: a claim had no answer (%s); sending it again", exc)
                await asyncio.sleep(RETRY_INTERVAL)

    # -- sending (the Bus protocol) -----------------------------------------------------------

    def to(self, node: str, event: bytes) -> None:
        """See :meth:`Bus.to`."""
        self._add(b"to " + node.encode() + b" ", event)

    def to_channel(self, channel_folded: str, event: bytes) -> None:
        """See :meth:`Bus.to_channel`."""
        self._add(b"chan " + channel_folded.encode() + b" ", event)

    def to_all(self, event: bytes) -> None:
        """See :meth:`Bus.to_all`."""
        self._add(b"all - ", event)

    def enter(self, channel_folded: str, identity: str = "") -> None:
        """See :meth:`Bus.enter`."""
        self._add(f"enter {channel_folded} {identity}\n".encode(), b"")

    def leave(self, channel_folded: str) -> None:
        """See :meth:`Bus.leave`."""
        self._add(b"leave " + channel_folded.encode() + b" \n", b"")

    def release(self, nick_folded: str) -> None:
        """See :meth:`Bus.release`."""
        self._add(b"release " + nick_folded.encode() + b" \n", b"")

    def take(self, nick_folded: str, uid: str) -> None:
        """See :meth:`Bus.take`."""
        self._add(f"take {nick_folded} {self._node}/{uid}\n".encode(), b"")

    def keep(self, record: str) -> None:
        """Append a history record (a line ending in a newline) to ``cw:history``, in the same
        call as this turn's events: a line is in history exactly when it is in an inbox."""
        self._add(b"keep - ", record.encode())

    async def ping(self) -> None:
        """Return when Redis answers.

        Raises:
            RedisError: when it cannot be reached.
        """
        await self._redis.ping()

    def _add(self, head: bytes, event: bytes) -> None:
        """Buffer one operation (its line in TURN's argument: ``head`` then ``event``)."""
        if self._fenced or self._left:
            return  # declared dead, or gone: nothing this node says may reach the network
        self._ops += (head, event)  # joined once per call, not copied per operation
        self._op_count += 1
        if event:
            self.events_out += 1
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._start_flush)

    def _start_flush(self) -> None:
        self._flush_scheduled = False
        if self._flushing is None or self._flushing.done():
            self._flushing = asyncio.create_task(self._flush_loop())

    async def _flush_loop(self) -> None:
        """Send buffered operations, one script call at a time, until none are left."""
        while (self._ops or self._unsent) and not self._fenced:
            if self._unsent is None:
                self._calls += 1
                self._unsent = (self._calls, self._ops, self._op_count)
                self._ops, self._op_count = [], 0
            number, ops, count = self._unsent
            heard = self._heard
            try:
                began = time.perf_counter()
                answer = await self._turn(
                    args=[self._node, self._epoch, number, b"".join(ops), count]
                )
                took = time.perf_counter() - began
            except ResponseError as exc:
                if is_fenced(exc):
                    self._unsent = None
                    self._fence(exc)
                    continue
                self._report(exc, count)
                if is_transient(exc):
                    await asyncio.sleep(RETRY_INTERVAL)  # the same call goes again
                    continue
                # It would be refused again forever: dropped, and its senders told.
                self._unsent = None
                self._finished(number)
                _log.error("bus: Redis refused a call of node %s for good: %s", self._node, exc)
                # Nothing waits any more: the node's next probe (a ping) ends the episode.
                self._unreachable = False
                self._refused(ops, range(count))
            except RedisError as exc:
                # Perhaps applied, perhaps not: the same call goes again (see the header).
                if self._heard != heard:
                    # The inbox got entries while this call was out, so Redis takes writes
                    # (often this very call's: only its answer was lost or late). Saying it
                    # cannot be reached would refuse the next line of a user whose echo has
                    # just come back: the call is only sent again.
                    _log.info("bus: a call's answer was lost (%s); sending it again", exc)
                else:
                    self._report(exc, count)
                await asyncio.sleep(RETRY_INTERVAL)
            else:
                self._unsent = None
                self._finished(number)
                self.turns += 1
                self.flush_seconds += took
                self.flush_buckets[bisect.bisect_left(FLUSH_BUCKETS, took)] += 1
                self._reached()
                if len(answer) > 1:  # {appended, then the operations skipped}
                    _log.error(
                        "bus: Redis refused %d operations of a call of node %s (a key of the "
                        "wrong type?): %s",
                        len(answer) - 1,
                        self._node,
                        b"; ".join(
                            ops[2 * i].strip() for i in answer[1:] if 2 * i < len(ops)
                        ).decode(errors="replace"),
                    )
                    self._refused(ops, answer[1:])

    def _refused(self, ops: list[bytes], indices: Iterable[int]) -> None:
        """Hand the operations at ``indices`` of a call, which Redis refused, to
        ``on_refused``."""
        events: list[bytes] = []
        changes = False
        for index in indices:
            if not 0 <= 2 * index < len(ops):
                continue
            head, event = ops[2 * index], ops[2 * index + 1]
            if head.startswith(_ROUTING):
                events.append(event)
            elif not head.startswith(_KEEP):  # (a record goes with its line: TURN)
                changes = True
        self._on_refused(events, changes)

    def _report(self, exc: RedisError, waiting: int) -> None:
        """A call could not reach Redis, or Redis refused it: said once per episode."""
        self.last_error = exc
        if not self._unreachable:
            self._unreachable = True
            _log.warning("bus: Redis does not take writes (%s); %d ops wait", exc, waiting)
            self._on_unreachable(exc)

    @property
    def unreachable(self) -> bool:
        """Whether calls fail now (Redis cannot be reached, or refuses them)."""
        return self._unreachable

    def _reached(self) -> None:
        """Redis took a write: if it could not be reached until now, say that it can."""
        if self._unreachable:
            self._unreachable = False
            _log.warning("bus: Redis can be reached again")
            self._on_unreachable(None)

    def _finished(self, number: int) -> None:
        """Call ``number`` is done with: wake whoever waits for it (`flush`)."""
        self._done = number
        if self._progress is not None:
            self._progress.set_result(None)
            self._progress = None

    async def flush(self) -> None:
        """Wait until everything sent so far is in Redis (or refused for good), and no longer:
        a busy node sends new calls all the time, and later ones are not waited for.

        Raises:
            FencedError: this node was declared dead.
        """
        # The operations buffered now go in the next call; those of the call out, in it.
        last = self._calls + 1 if self._ops else self._calls
        while self._done < last:
            if self._fenced:
                raise FencedError(self._node)
            if self._flushing is None or self._flushing.done():
                self._flushing = asyncio.create_task(self._flush_loop())
            if self._progress is None:
                self._progress = asyncio.get_running_loop().create_future()
            # A call done with, or the loop ended (fenced, or a stop): look again.
            await asyncio.wait((self._progress, self._flushing), return_when=FIRST_COMPLETED)
        if self._fenced:
            raise FencedError(self._node)

    # -- receiving and liveness ----------------------------------------------------------------

    async def _read_inbox(self) -> None:
        inbox = f"cw:inbox:{self._node}"
        last = "0-0"  # JOIN_NODE emptied it: all it holds was sent to this incarnation
        while not self._fenced and not self._stopping:
            try:
                answer: Any = await self._reader_redis.xread(
                    {inbox: last}, count=READ_COUNT, block=READ_BLOCK_MS
                )
            except RedisError as exc:
                _log.warning("bus: reading the inbox failed (%s); retrying", exc)
                await asyncio.sleep(RETRY_INTERVAL)
                continue
            if answer:
                self._heard += 1
            if answer and self._unreachable:
                # Entries are only written by script calls that worked: Redis takes writes
                # again. Said now, not when our own call's reply comes: its events (a user's
                # echo, say) may arrive first, and that user's next line must not be refused.
                self._reached()
            for _stream, entries in answer or ():
                for entry_id, fields in entries:
                    last = entry_id.decode()
                    self._deliver(fields)

    def _deliver(self, fields: dict[bytes, bytes]) -> None:
        events = fields.get(b"e")
        try:
            if events is not None:
                # Each event is a line (``events.py``): one C call cuts them all, CR LF kept.
                batch = events.splitlines(keepends=True)
                self.events_in += len(batch)
                self._on_events(batch)
            split = fields.get(b"split")
            if split is not None:
                self._on_split(split.decode())
        except Exception:
            _log.exception("bus: applying events failed")

    async def _keep_lease(self) -> None:
        while not self._fenced and not self._stopping:
            await asyncio.sleep(self._renew_interval)
            try:
                await self._renew(args=[self._node, self._epoch, self._lease_ms])
                self._renewed_at = time.monotonic()
                for dead in await self._reap():
                    _log.warning("bus: node %s lost its lease: reaped", dead.decode())
            except RedisError as exc:
                if isinstance(exc, ResponseError) and is_fenced(exc):
                    self._fence(exc)
                    continue
                _log.warning("bus: cannot renew the lease (%s)", exc)
                if time.monotonic() - self._renewed_at > self._lease:
                    self._fence(None)  # the network has declared us dead by now

    def fence(self) -> None:
        """Send nothing more, as a node declared dead: this node fell out of step with the
        network (Redis refused a change it made), and must join it again as a new
        incarnation."""
        self._fence(None)

    def _fence(self, exc: ResponseError | None) -> Exception:
        """Declare this node dead (once) when ``exc`` is the FENCED refusal; return what to
        raise for ``exc``."""
        if exc is not None and not is_fenced(exc):
            return exc
        if not self._fenced:
            self._fenced = True
            self._ops.clear()
            self._op_count = 0
            self._unsent = None
            if self._progress is not None:  # whoever waits in `flush` hears it now
                self._progress.set_result(None)
                self._progress = None
            _log.error("bus: node %s was declared dead by the network", self._node)
            self._on_fenced()
        return FencedError(self._node)


def split_reason(lost: str, here: str) -> str:
    """The QUIT reason of a lost node's users, as irssi and weechat recognise a netsplit."""
    return f"{lost} {here}"
