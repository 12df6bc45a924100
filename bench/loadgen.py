"""IRC load generator: many raw asyncio Protocol connections in one uvloop process.

Theory of operation. Each connection is a ``Conn`` in one of four modes:

* ``WAIT``: setup. The stream is scanned for one token (``" 001 "``, ``" 366 "``, a PONG token)
  with a short tail carried across chunks; when it appears the connection's waiter resolves.
* ``COUNT``: measurement. Each received chunk costs one ``bytes.count(MESSAGE)``: the
  scenario's messages are counted, whatever else arrives; nothing is parsed, except on the few
  *probe* connections (which parse lines holding the ``~P`` latency marker) and the *tracker*
  connections (which count ``:nick!`` prefixes to ack closed-loop senders).
* ``DRAIN``: after the senders stop, each receiver sends ``PING :<token>`` and keeps counting
  messages up to the PONG.
* ``IDLE``: data is ignored.

Every receiver passes a PING/PONG barrier after the join burst and before the first PRIVMSG is
sent, and another after the last, so each receiver's count is exactly the scenario's messages
it received (``lost`` compares it with its due: ``scenarios.shortfall``). Other lines may
arrive between the barriers and are not counted: a room past ``large_channel`` members
(delayed join, ``+D``) shows a sender's JOIN to everyone when it first speaks, and a slow
reader that is cut off is seen to QUIT. A message is found by its `` PRIVMSG `` (what no other
line of a run holds), counted across the cut between two chunks (`Conn._messages`), so the
count does not depend on how the stream arrives.

The process is told what to do by a JSON spec (see ``bench/scenarios.py``) and prints one JSON
result object. It measures its own CPU time and the server's (from /proc) over the load phase.

A network of several nodes (``bench/cluster.py``) gives ``ports`` (clients connect to them in
turn), ``server_pids`` (whose CPU is added up as the server's) and ``watch`` (other processes
whose CPU is reported apart, by name: Redis, PostgreSQL).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import socket
import struct
import sys
import time
from collections.abc import Awaitable, Iterable
from typing import Any, cast

from bench.servers import proc_rss_kib, proc_tree_cpu_seconds

WAIT, COUNT, DRAIN, IDLE = 0, 1, 2, 3
PROBE = b"~P"
FILLER = b"x" * 48
MESSAGE = b" PRIVMSG "
"""What marks a line as one of the scenario's messages (`Conn._messages`)."""
_CARRY = len(MESSAGE) - 1
"""The bytes of a chunk kept for the next: a `MESSAGE` cut between the two is found there."""
_LINGER0 = struct.pack("ii", 1, 0)
ARRIVAL_PROBE_EVERY = 1000
"""In a storm into a room where people talk, one arrival in this many measures the talk's
latency too: the bystanders were in the room first, so they are the first served of its
members; these are served later and later as the room grows."""


class Conn(asyncio.Protocol):
    """One IRC client connection, tuned for cheap counting of received lines."""

    def __init__(self, gen: Generator, nick: str) -> None:
        self.gen = gen
        self.nick = nick
        self.port = 0
        self.transport: asyncio.Transport | None = None
        self.mode = IDLE
        self.token = b""
        self.tail = b""
        self.mcarry = b""  # the last bytes counted for messages (see `_messages`)
        self.waiter: asyncio.Future[None] | None = None
        self.count = 0
        self.probe = False
        self.samples = gen.latencies  # where this connection's probes go
        self.since_ns = 0  # probes stamped earlier are history replayed on join: not counted
        self.pcarry = b""
        self.track: list[tuple[bytes, Sender]] = []
        self.tcarry = b""
        self.closed = False
        self.aborted = False
        self.then = IDLE
        self.last = b""
        self.keep_last = False
        self.watch_quit = False

    # asyncio callbacks -------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
        self.transport = cast(asyncio.Transport, transport)
        sock = transport.get_extra_info("socket")
        if sock is not None:
            # Reset instead of FIN on close: no TIME_WAIT pile-up across thousands of runs.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER0)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if not self.aborted:
            self.gen.disconnects.append((self.nick, self.last[-300:].decode("utf-8", "replace")))
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionError(f"{self.nick}: connection lost"))

    def data_received(self, data: bytes) -> None:
        # Keeping a reference to the last chunk is free and shows the ERROR line on disconnects.
        self.last = (self.last + data)[-600:] if self.keep_last else data
        mode = self.mode
        if mode == COUNT:
            self.count += self._messages(data)
            if self.watch_quit and b" QUIT " in data:
                self._quit(data)
            if self.probe:
                self._probes(data)
            if self.track:
                self._track(data)
            return
        if mode == IDLE:
            return
        buf = self.tail + data
        i = buf.find(self.token)
        if mode == DRAIN:
            if self.watch_quit and b" QUIT " in data:
                self._quit(data)
            if self.probe:
                self._probes(data)
            # Up to the PONG: the token starts ``len(tail)`` bytes before ``data`` does.
            self.count += self._messages(data if i < 0 else data[: max(0, i - len(self.tail))])
        if i < 0:
            self.tail = buf[-40:]
            return
        self.tail = b""
        self.mode = self.then
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    # measurement helpers -----------------------------------------------------------------------
    def _messages(self, data: bytes) -> int:
        """The scenario's messages in ``data``: those inside it, and the one (if any) cut
        between the previous chunk and this (a `MESSAGE` is longer than the carry, so no match
        is counted twice)."""
        carry = self.mcarry
        found = data.count(MESSAGE)
        if carry:
            found += (carry + data[:_CARRY]).count(MESSAGE)
        self.mcarry = data[-_CARRY:] if len(data) >= _CARRY else (carry + data)[-_CARRY:]
        return found

    def _probes(self, data: bytes) -> None:
        buf = self.pcarry + data
        end = buf.rfind(b"\n") + 1
        self.pcarry = buf[end:]
        if PROBE not in buf:
            return
        now = time.monotonic_ns()
        lat = self.samples
        since = self.since_ns
        i = buf.find(PROBE, 0, end)
        while i >= 0:
            j = buf.find(b" ", i)
            with contextlib.suppress(ValueError):
                stamp = int(buf[i + 2 : j])
                if stamp >= since:
                    lat.append(now - stamp)
            i = buf.find(PROBE, j, end)

    def _quit(self, data: bytes) -> None:
        i = data.find(b" QUIT ")
        start = data.rfind(b"\n", 0, i) + 1
        end = data.find(b"\n", i)
        self.gen.quits.append(
            data[start : end if end >= 0 else len(data)].decode("utf-8", "replace")
        )

    def _track(self, data: bytes) -> None:
        buf = self.tcarry + data
        end = buf.rfind(b"\n") + 1
        self.tcarry = buf[end:]
        if end == 0:
            return
        part = buf[:end] if end != len(buf) else buf
        # A room past ``large_channel`` shows a sender's JOIN when it first speaks: rare, so
        # only a chunk holding one pays for telling its lines apart.
        shown = b" JOIN " in part
        for pattern, sender in self.track:
            n = part.count(pattern)
            if n and shown:
                n -= _joins(part, pattern)
            if n:
                sender.acked += n
                sender.pump()

    # actions -----------------------------------------------------------------------------------
    def send(self, data: bytes) -> None:
        """Write raw bytes unless the connection is gone."""
        if self.transport is not None and not self.closed:
            self.transport.write(data)

    def expect(self, token: bytes, mode: int = WAIT, then: int = IDLE) -> asyncio.Future[None]:
        """Return a future resolved when ``token`` next appears; switch to ``then`` after it."""
        self.token = token
        self.tail = b""
        self.mode = mode
        self.then = then
        self.waiter = asyncio.get_running_loop().create_future()
        if self.closed:
            self.waiter.set_exception(ConnectionError(f"{self.nick}: connection lost"))
        return self.waiter


def _joins(lines: bytes, prefix: bytes) -> int:
    """How many of ``lines`` are a JOIN from the source ``prefix`` (``:nick!``)."""
    found = 0
    i = lines.find(prefix)
    while i >= 0:
        space = lines.find(b" ", i)
        if space < 0:
            break
        if lines.startswith(b"JOIN ", space + 1):
            found += 1
        i = lines.find(prefix, space)
    return found


class Sender:
    """A client sending PRIVMSG to one target, closed loop with ``window`` lines in flight."""

    def __init__(self, conn: Conn, target: str, window: int, probe_every: int) -> None:
        self.conn = conn
        self.head = f"PRIVMSG {target} :".encode()
        self.line = self.head + FILLER + b"\r\n"
        self.window = window
        self.min_batch = max(1, window // 4)
        self.probe_every = probe_every
        self.sent = 0
        self.acked = 0
        self.running = False
        self.budget: float | None = None  # open loop: lines allowed so far

    def pump(self) -> None:
        """Send as many lines as the window (and the open-loop budget, if any) allows."""
        if not self.running:
            return
        n = self.window - (self.sent - self.acked)
        if self.budget is not None:
            n = min(n, int(self.budget) - self.sent)
        elif n < self.min_batch and self.sent:
            return  # closed loop: refill in batches of a quarter window, not line by line
        if n <= 0:
            return
        parts: list[bytes] = []
        seq = self.sent
        every = self.probe_every
        line = self.line
        for k in range(seq, seq + n):
            if k % every == 0:
                parts.append(b"%s~P%d %s\r\n" % (self.head, time.monotonic_ns(), FILLER[:28]))
            else:
                parts.append(line)
        self.sent += n
        self.conn.send(b"".join(parts))


def percentile(values: list[int] | list[float], q: float) -> float | None:
    """Nearest-rank percentile ``q`` (0..100) of ``values``, or None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return float(ordered[k])


class Generator:
    """Owns all connections of one load-generator process and runs one scenario spec."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        self.port: int = spec["port"]
        self.server_pid: int = spec["server_pid"]
        self.ports: list[int] = list(spec.get("ports") or [self.port])
        self.server_pids: list[int] = list(spec.get("server_pids") or [self.server_pid])
        self.watch: dict[str, int] = dict(spec.get("watch") or {})
        self._connects = 0
        self.latencies: list[int] = []
        self.arrival_latencies: list[int] = []  # the lobby storm: what some newcomers see
        self.disconnects: list[tuple[str, str]] = []
        self.quits: list[str] = []
        self.result: dict[str, Any] = {"errors": []}
        self._nick_seq = 0
        self._arrived = 0  # registrations completed

    def nick(self, prefix: str) -> str:
        """Return a fresh unique nickname (short enough for every server)."""
        self._nick_seq += 1
        return f"{prefix}{self._nick_seq}"

    async def connect(self, nick: str, rcvbuf: int | None = None, retry: bool = False) -> Conn:
        """Open one connection and send NICK/USER (does not wait for the welcome).

        ``rcvbuf`` fixes the socket's receive buffer before the handshake, so that the kernel
        cannot absorb megabytes on behalf of a reader that stopped. ``retry`` gives up on a
        handshake after 0.3 s and tries again with a new socket, instead of waiting 1 s, 3 s,
        7 s ... for the kernel's SYN retransmits when the server's accept queue is full (ngircd
        listens with a backlog of 10, miniircd with 5). Only setup uses it; the connect
        scenarios measure what a plain client sees.
        """
        loop = asyncio.get_running_loop()
        conn = Conn(self, nick)
        conn.port = port = self.ports[self._connects % len(self.ports)]
        self._connects += 1
        conn.mode = WAIT
        # A server that joins everyone itself sends the channel's 366 after the welcome: wait
        # for that. Otherwise a join storm sends JOIN once welcomed (see `register`).
        autojoined = self.spec.get("join") and not self.spec.get("send_join", True)
        conn.token = b" 366 " if autojoined else b" 001 "
        conn.waiter = loop.create_future()
        if retry:
            for _attempt in range(100):
                try:
                    await asyncio.wait_for(
                        loop.create_connection(lambda: conn, "127.0.0.1", port), 0.3
                    )
                    break
                except TimeoutError:
                    continue
            else:
                raise ConnectionError(f"{nick}: no handshake after 100 attempts")
        elif rcvbuf is None:
            await loop.create_connection(lambda: conn, "127.0.0.1", port)
        else:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
            sock.setblocking(False)
            await loop.sock_connect(sock, ("127.0.0.1", port))
            await loop.create_connection(lambda: conn, sock=sock)
        conn.send(f"NICK {nick}\r\nUSER {nick} 0 * :{nick}\r\n".encode())
        return conn

    async def register(
        self,
        nick: str,
        times: list[tuple[float, float]] | None = None,
        rcvbuf: int | None = None,
        retry: bool = False,
    ) -> Conn:
        """Connect and wait for RPL_WELCOME; append (start, welcome) times to ``times``."""
        t0 = time.monotonic()
        conn = await self.connect(nick, rcvbuf, retry)
        assert conn.waiter is not None
        await conn.waiter
        join = self.spec.get("join")
        if join and self.spec.get("send_join", True):
            # Only now: some servers drop a JOIN that arrives before registration completes.
            # Registration, for a join storm, ends when the client is in the room (its 366).
            joined = conn.expect(b" 366 ", WAIT, IDLE)
            conn.send(f"JOIN {join}\r\n".encode())
            await joined
        self._arrived += 1
        if join and self.spec.get("talk") and self._arrived % ARRIVAL_PROBE_EVERY == 0:
            conn.samples = self.arrival_latencies  # hears the talk from inside the crowd
            conn.since_ns = time.monotonic_ns()  # what came with the join was history
            conn.mode = COUNT
            conn.probe = True
        if times is not None:
            times.append((t0, time.monotonic()))
        return conn

    async def open_many(
        self,
        count: int,
        rate: float,
        prefix: str,
        times: list[tuple[float, float]] | None = None,
        retry: bool = False,
    ) -> tuple[list[Conn], int]:
        """Register ``count`` clients arriving at ``rate`` per second; return (conns, failures)."""
        tasks: list[asyncio.Task[Conn]] = []
        start = time.monotonic()
        for i in range(count):
            delay = start + i / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            coro = self.register(self.nick(prefix), times, retry=retry)
            tasks.append(asyncio.create_task(coro))
        timeout = 30.0 + count / 500
        done, pending = await asyncio.wait(tasks, timeout=timeout)
        for task in pending:
            task.cancel()
        conns: list[Conn] = []
        failures = len(pending)
        for task in tasks:  # in the order they connected (``ports`` may place them by it)
            if task not in done:
                continue
            if task.exception() is None:
                conns.append(task.result())
            else:
                failures += 1
                if len(self.result["errors"]) < 5:
                    self.result["errors"].append(f"register: {task.exception()!r}")
        return conns, failures

    async def barrier(
        self, conns: Iterable[Conn], name: str, mode: int, then: int, timeout: float
    ) -> int:
        """PING every connection and wait for its PONG; return how many did not answer."""
        waits: list[Awaitable[None]] = []
        token = f"zz{name}zz".encode()
        for conn in conns:
            if conn.closed:
                continue
            fut = conn.expect(token, mode, then)
            conn.send(b"PING :" + token + b"\r\n")
            waits.append(fut)
        if not waits:
            return 0
        done, pending = await asyncio.wait(
            [asyncio.ensure_future(w) for w in waits], timeout=timeout
        )
        for fut in pending:
            fut.cancel()
        return len(pending) + sum(1 for f in done if f.exception() is not None)

    async def ask(self, conn: Conn, line: str, end: bytes) -> str:
        """Send ``line`` on ``conn`` (in setup) and return the tail of what arrived up to the
        ``end`` token of its reply (the last 600 bytes)."""
        conn.keep_last, conn.last = True, b""
        done = conn.expect(end, WAIT, IDLE)
        conn.send(line.encode() + b"\r\n")
        await done
        conn.keep_last = False
        return conn.last.decode("utf-8", "replace")

    def close_all(self, conns: Iterable[Conn]) -> None:
        """Abort every connection (RST, no TIME_WAIT)."""
        for conn in conns:
            if conn.transport is not None and not conn.closed:
                conn.mode = IDLE
                conn.aborted = True
                conn.transport.abort()

    def cpu_mark(self) -> tuple[float, float, float, float, dict[str, float]]:
        """Return (wall, own CPU seconds, server CPU seconds, its children's CPU seconds, the
        watched processes' CPU seconds by name); a server of several nodes adds them up."""
        server = children = 0.0
        for pid in self.server_pids:
            try:
                own, kids = proc_tree_cpu_seconds(pid)
            except OSError:
                own = kids = float("nan")
            server += own
            children += kids
        watched: dict[str, float] = {}
        for name, pid in self.watch.items():
            try:
                watched[name] = sum(proc_tree_cpu_seconds(pid))
            except OSError:
                watched[name] = float("nan")
        return time.monotonic(), time.process_time(), server, children, watched

    def cpu_fill(self, start: tuple[float, float, float, float, dict[str, float]]) -> None:
        """Record generator and server CPU% since ``start``: ``server_cpu_pct`` counts every
        process of the server (chinwag's indexer too), ``helper_cpu_pct`` the children alone."""
        end = self.cpu_mark()
        wall = max(end[0] - start[0], 1e-9)
        helpers = end[3] - start[3]
        self.result["gen_cpu_pct"] = round(100 * (end[1] - start[1]) / wall, 1)
        server = end[2] - start[2] + helpers
        self.result["server_cpu_pct"] = round(100 * server / wall, 1)
        self.result["server_cpu_s"] = round(server, 3)
        self.result["helper_cpu_pct"] = round(100 * helpers / wall, 1)
        self.result["helper_cpu_s"] = round(helpers, 3)
        for name, seconds in end[4].items():
            self.result[f"{name}_cpu_s"] = round(seconds - start[4][name], 3)

    def server_rss(self) -> int | None:
        """Server RSS in KiB, or None when it is gone."""
        try:
            return proc_rss_kib(self.server_pid)
        except OSError:
            return None


def main(argv: list[str] | None = None) -> int:
    """Run one scenario spec (JSON file) and print the result as JSON on stdout."""
    from bench import scenarios

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("spec", help="JSON file with the scenario spec")
    parser.add_argument("--core", type=int, default=1, help="CPU core to pin to (-1: none)")
    args = parser.parse_args(argv)
    with open(args.spec) as fh:
        spec = json.load(fh)
    if args.core >= 0:
        os.sched_setaffinity(0, {args.core})
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    try:
        import uvloop

        runner: Any = uvloop.run
    except ImportError:  # pragma: no cover - bench extra not installed
        runner = asyncio.run
    gen = Generator(spec)
    try:
        runner(asyncio.wait_for(scenarios.execute(gen), timeout=spec.get("hard_timeout", 180)))
    except TimeoutError:
        gen.result["errors"].append("generator hard timeout")
    except Exception as exc:
        gen.result["errors"].append(f"generator crashed: {exc!r}")
    json.dump(gen.result, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    # Run the importable copy so that bench.scenarios and this entry point share one module.
    from bench.loadgen import main as _main

    raise SystemExit(_main())
