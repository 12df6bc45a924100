"""The benchmark scenarios: their parameters (full and ``--quick``) and how the generator runs them.

Two kinds of spec reach the generator:

* ``connect``: ``clients`` registrations arriving at ``rate`` per second. Measures the time until
  the last RPL_WELCOME, registration latency (connect start to 001) and the server's RSS growth
  per connection one second after the last welcome. With ``join``, each arrival is in that
  channel before it counts as registered (its 366: the join storm). With ``talk`` too, a few
  *bystanders* are in the channel before the storm, and some of them keep talking through it
  (open loop, every line a latency probe) while the others measure how long their lines take
  and count them (``lost``: lines the listening bystanders never received).
* ``drop``: ``clients`` arrive in the ``join`` room, then all of them are reset at once; measures
  how long the server takes to see them out and the CPU it pays (``bench.turns`` for the
  longest stretch of its loop meanwhile).
* ``traffic``: ``groups`` of clients, each a channel (``C`` members, the last ``S`` of them
  sending) or a private pair (one sender, one receiver), plus optional idle clients. Senders run
  closed loop with ``window`` lines in flight each (acked by a tracker member that counts the
  sender's ``:nick!`` prefixes), or open loop at a fixed total ``rate``. One member may stop
  reading (``slow_reader``). Measures delivered and sent lines/s, latency, and lost lines (the
  scenario's messages only: see ``bench/loadgen.py``; more than were sent is an accounting
  error, never a negative loss).
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from bench.loadgen import COUNT, DRAIN, IDLE, WAIT, Conn, Generator, Sender, percentile

WINDOW = 64  # closed-loop lines in flight per sender
TALK: dict[str, Any] = {"bystanders": 10, "senders": 2, "rate": 5.0}
"""The lobby storm's bystanders: ten in the room before the storm, two of them saying five
lines a second between them (every line a probe) to everyone there, newcomers included (up to
10,000 recipients a line); the other eight measure the latency."""
TALK_TICK = 0.01  # seconds between two rounds of the talkers' open-loop pacing
PROBE_EVERY = 16  # every 16th line a sender writes carries a latency probe
PROBE_RECEIVERS = 10  # receivers (spread over all groups) that parse probes


@dataclass(frozen=True)
class Scenario:
    """One benchmark scenario as the runner sees it."""

    name: str
    family: str  # connect | fanout | pm | rooms | mixed | slow | rate
    spec: dict[str, Any]
    clients: int  # connections needed (servers with a lower limit skip it)
    members: int | None = None  # channel size, for the fan-out plot
    senders: int | None = None
    tags: dict[str, Any] = field(default_factory=dict)


def _channel(members: int, senders: int) -> dict[str, Any]:
    return {"channel": True, "members": members, "senders": senders}


def _pair() -> dict[str, Any]:
    return {"channel": False, "members": 2, "senders": 1}


def _traffic(groups: list[dict[str, Any]], duration: float, **extra: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "kind": "traffic",
        "groups": groups,
        "duration": duration,
        "window": WINDOW,
        "probe_every": PROBE_EVERY,
        "connect_rate": 1000,
        "idle": 0,
        "rate": None,
        "slow_reader": False,
    }
    spec.update(extra)
    return spec


STORM = "#storm"
"""The channel of the join-storm scenarios (``chinwag-autojoin`` puts everyone in it itself)."""


def build(quick: bool) -> list[Scenario]:
    """Return the scenario list in run order (``rate`` must come after fan-out C=100 S=10)."""
    dur = 2.0 if quick else 3.0
    out: list[Scenario] = []
    for n in (1000,) if quick else (1000, 5000, 10000):
        spec = {"kind": "connect", "clients": n, "rate": 1000}
        out.append(Scenario(f"connect {n // 1000}k @1000/s", "connect", spec, n))
    for n in (1000,) if quick else (1000, 5000, 10000):
        # Every client JOINs one channel right after NICK/USER; registration ends at its 366.
        spec = {"kind": "connect", "clients": n, "rate": 1000, "join": STORM}
        out.append(Scenario(f"join storm {n // 1000}k @1000/s", "join", spec, n))
    if not quick:
        # The same storm into a room where people are talking: what its bystanders notice.
        spec = {"kind": "connect", "clients": 10000, "rate": 1000, "join": STORM, "talk": TALK}
        clients = 10000 + TALK["bystanders"]
        out.append(Scenario("lobby storm 10k @1000/s + talk", "lobby", spec, int(clients)))
    if not quick:
        # Everyone of a full room gone at once (a network outage, a NAT reset): what the loop
        # pays, and for how long at a stretch (``python -m bench.turns``), to see them out.
        spec = {"kind": "drop", "clients": 10000, "rate": 1000, "join": STORM}
        out.append(Scenario("mass disconnect 10k", "drop", spec, 10000))
    combos = (
        [(10, 1), (100, 10), (500, 10)]
        if quick
        else [(c, s) for c in (10, 100, 500, 1000) for s in (1, 10)]
    )
    for c, s in combos:
        spec = _traffic([_channel(c, s)], dur)
        out.append(Scenario(f"fanout C={c} S={s}", "fanout", spec, c, members=c, senders=s))
    for pairs in (100,) if quick else (100, 200, 1000):
        spec = _traffic([_pair() for _ in range(pairs)], dur)
        out.append(Scenario(f"privmsg {pairs} pairs", "pm", spec, 2 * pairs))
    if not quick:
        # Small rooms, as most chat is: the mixed scenario's busy part without its idle crowd.
        spec = _traffic([_channel(10, 10) for _ in range(10)], dur)
        out.append(Scenario("rooms 10x10", "rooms", spec, 100, members=10, senders=10))
    idle = 1000 if quick else 5000
    spec = _traffic([_channel(10, 10) for _ in range(10)], dur, idle=idle)
    out.append(Scenario(f"mixed {idle} idle + 100 busy", "mixed", spec, idle + 100))
    spec = _traffic([_channel(100, 10)], dur + 5.0, slow_reader=True, slow_lines=100_000)
    out.append(Scenario("slow reader C=100 S=10", "slow", spec, 100, members=100, senders=10))
    spec = _traffic([_channel(100, 10)], dur, window=4096)
    out.append(
        Scenario("open loop C=100 S=10 @ half ngircd", "rate", spec, 100, members=100, senders=10)
    )
    return out


async def execute(gen: Generator) -> None:
    """Run the spec held by ``gen`` and fill ``gen.result``."""
    kind = gen.spec["kind"]
    if kind == "connect":
        await _run_connect(gen)
    elif kind == "traffic":
        await _run_traffic(gen)
    elif kind == "drop":
        await _run_drop(gen)
    else:
        raise ValueError(f"unknown scenario kind {kind!r}")


async def _run_connect(gen: Generator) -> None:
    spec, res = gen.spec, gen.result
    talk: dict[str, Any] | None = spec.get("talk")
    bystanders: list[Conn] = []
    if talk is not None:
        bystanders, failed = await gen.open_many(talk["bystanders"], 100, "b", retry=True)
        if failed:
            res["errors"].append(f"{failed} bystanders failed to join; not run")
            gen.close_all(bystanders)
            return
    base = gen.server_rss()
    mark = gen.cpu_mark()
    times: list[tuple[float, float]] = []
    talking, talkers = _talk(gen, bystanders, talk) if talk is not None else (None, [])
    conns, failures = await gen.open_many(spec["clients"], spec["rate"], "u", times)
    gen.cpu_fill(mark)
    res["server_cpu_s"] = round(gen.cpu_mark()[2] - mark[2], 2)
    if talking is not None:
        talking.cancel()
        await _count_talk(gen, bystanders, talkers)
        lat_ms = [v / 1e6 for v in gen.latencies]
        arrivals_ms = [v / 1e6 for v in gen.arrival_latencies]
        res.update(
            talk_sent=sum(s.sent for s in talkers),
            lat_samples=len(lat_ms),
            lat_p50_ms=percentile(lat_ms, 50),
            lat_p99_ms=percentile(lat_ms, 99),
            lat_max_ms=max(lat_ms) if lat_ms else None,
            arrival_lat_samples=len(arrivals_ms),
            arrival_lat_p99_ms=percentile(arrivals_ms, 99),
        )
    await asyncio.sleep(1.0)
    rss = gen.server_rss()
    regs = [(end - start) * 1000 for start, end in times]
    res.update(
        registered=len(conns),
        failures=failures,
        total_s=round(max(e for _, e in times) - min(s for s, _ in times), 3) if times else None,
        reg_p50_ms=percentile(regs, 50),
        reg_p99_ms=percentile(regs, 99),
        reg_max_ms=max(regs) if regs else None,
        rss_base_kib=base,
        rss_kib=rss,
        rss_per_conn_bytes=(
            round((rss - base) * 1024 / len(conns)) if conns and rss and base else None
        ),
        disconnects=len(gen.disconnects),
    )
    gen.close_all(conns + bystanders)


DROP_TIMEOUT = 60.0
"""Seconds the server gets to see every dropped client out."""
DROP_POLL = 0.005
_USERS = re.compile(r"There are (\d+) users(?: and (\d+) invisible)?")


async def _users(gen: Generator, watcher: Conn) -> int:
    """How many users the server counts (LUSERS 251, the invisible included)."""
    found = _USERS.search(await gen.ask(watcher, "LUSERS", b" 266 "))
    if found is None:
        raise ValueError("no user count in the LUSERS reply")
    return int(found.group(1)) + int(found.group(2) or 0)


async def _run_drop(gen: Generator) -> None:
    """``clients`` arrive in the room (as in the join storm), then all of their connections
    are reset at once. A watcher who stays asks LUSERS until it is the only user left: the
    drop phase (``window_start``..``window_end``, monotonic seconds, for ``bench.turns``)
    runs from the first reset to that answer, and its server CPU is what the departures
    cost."""
    spec, res = gen.spec, gen.result
    watcher = await gen.register(gen.nick("w"), retry=True)
    # Out of the room: its only input is then the answers it asks for (LUSERS in one piece).
    await gen.ask(watcher, f"PART {spec['join']}", b" PART ")
    conns, failures = await gen.open_many(spec["clients"], spec["rate"], "u", retry=True)
    res.update(registered=len(conns), failures=failures)
    if failures:
        res["errors"].append(f"{failures} clients failed to join; not run")
        gen.close_all([watcher, *conns])
        return
    settle_by = time.monotonic() + DROP_TIMEOUT
    while (counted := await _users(gen, watcher)) != len(conns) + 1:  # every arrival, settled
        if time.monotonic() > settle_by:  # one was cut before the reset, or a stranger came
            res["errors"].append(
                f"the server counted {counted} users, not {len(conns) + 1}, after "
                f"{DROP_TIMEOUT:g} s; not run"
            )
            gen.close_all([watcher, *conns])
            return
        await asyncio.sleep(DROP_POLL)
    mark = gen.cpu_mark()
    gen.close_all(conns)
    deadline = mark[0] + DROP_TIMEOUT
    left = len(conns) + 1
    while (left := await _users(gen, watcher)) > 1 and time.monotonic() < deadline:
        await asyncio.sleep(DROP_POLL)
    end = time.monotonic()
    gen.cpu_fill(mark)
    if left > 1:
        res["errors"].append(f"{left - 1} dropped clients still counted after {DROP_TIMEOUT:g} s")
    drop_s = end - mark[0]
    res.update(
        window_start=mark[0],
        window_end=end,
        drop_s=round(drop_s, 3),
        drop_us_per_client=round(res["server_cpu_s"] * 1e6 / len(conns), 1) if conns else None,
        disconnects=len(gen.disconnects),  # the watcher's, if it was cut: the others were reset
    )
    gen.close_all([watcher])


def _talk(
    gen: Generator, bystanders: list[Conn], talk: dict[str, Any]
) -> tuple[asyncio.Task[None], list[Sender]]:
    """Start the bystanders' talk: the first ``senders`` of them say ``rate`` lines a second
    between them to the storm's channel until the task is cancelled, each line a probe that the
    others (parsing their input) turn into latency samples. Returns the task and the senders."""
    talkers = []
    for conn in bystanders[: talk["senders"]]:
        # Open loop: the budget paces the lines; the window never limits them.
        sender = Sender(conn, gen.spec["join"], window=1 << 30, probe_every=1)
        sender.budget = 0.0
        sender.running = True
        talkers.append(sender)
    for conn in bystanders[talk["senders"] :]:
        conn.mode = COUNT
        conn.probe = True
    per_sender = talk["rate"] / len(talkers)

    async def pace() -> None:
        t0 = time.monotonic()
        while True:
            elapsed = time.monotonic() - t0
            for sender in talkers:
                sender.budget = per_sender * elapsed
                sender.pump()
            await asyncio.sleep(TALK_TICK)

    return asyncio.create_task(pace()), talkers


async def _count_talk(gen: Generator, bystanders: list[Conn], talkers: list[Sender]) -> None:
    """After the talk: every line the talkers sent is due to each listening bystander. The
    talkers pass a barrier first (the server has read all their lines), then the listeners
    (they have received everything the server sent before), so ``lost`` is exact."""
    res = gen.result
    listeners = [conn for conn in bystanders if conn.mode == COUNT]
    missed = await gen.barrier([s.conn for s in talkers], "talked", WAIT, IDLE, timeout=20)
    missed += await gen.barrier(listeners, "heard", DRAIN, IDLE, timeout=20)
    if missed:
        res["errors"].append(f"{missed} bystanders missed the barrier after the talk")
    said = sum(s.sent for s in talkers)
    lost, extra = shortfall([(said, conn.count) for conn in listeners])
    if extra:
        res["errors"].append(accounting_error(extra))
    res.update(
        talk_expected=said * len(listeners),
        talk_delivered=sum(conn.count for conn in listeners),
        lost=lost,
        extra=extra,
    )


def _pick_probes(groups: list[list[Conn]], exclude: set[int], limit: int) -> None:
    """Mark up to ``limit`` receivers, spread evenly over every group, as probe parsers."""
    candidates = [c for conns in groups for c in conns if id(c) not in exclude]
    if not candidates:
        return
    step = max(1, len(candidates) // limit)
    for conn in candidates[::step][:limit]:
        conn.probe = True


CONVERGE_TIMEOUT = 30.0
"""Seconds the nodes of a network get to learn of every member and user before a run."""
CONVERGE_POLL = 0.02


async def _converge(
    gen: Generator, groups: list[list[Conn]], specs: list[dict[str, Any]], targets: list[str]
) -> None:
    """Wait until every node knows every member (a room's count in ``LIST`` on each node) and
    every private recipient (``ISON`` from its sender's node): only then does the start barrier
    mean that no JOIN can arrive after it, and no private line can find its recipient unknown.
    Every node writes the remote JOINs it applied before any later reply (one queue)."""
    deadline = time.monotonic() + CONVERGE_TIMEOUT
    for conns, g, target in zip(groups, specs, targets, strict=True):
        if g["channel"]:
            askers = list({c.port: c for c in conns}.values())  # one member per node
            want = f" {target} {len(conns)} "
            for asker in askers:
                while want not in await gen.ask(asker, f"LIST {target}", b" 323 "):
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"{target}: a node never saw every member")
                    await asyncio.sleep(CONVERGE_POLL)
        else:
            sender = conns[-1]
            while f":{target}\r\n" not in await gen.ask(sender, f"ISON {target}", b" 303 "):
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{target}: its sender's node never saw it")
                await asyncio.sleep(CONVERGE_POLL)


ARRIVAL_TIMEOUT = 15.0
"""Seconds the members of a network's nodes get to receive the lines still on their way."""


async def _all_arrived(groups: list[list[Conn]], senders: list[list[Sender]]) -> None:
    """On a network, wait until every member has counted every line sent to it (or for
    `ARRIVAL_TIMEOUT`): a node answers the end barrier's PING at once, while lines from other
    nodes may still be on their way through Redis, and they would be counted as lost."""
    due: list[tuple[Conn, int]] = []
    for conns, group in zip(groups, senders, strict=True):
        total = sum(s.sent for s in group)
        own = {id(s.conn): s.sent for s in group}
        due += [(c, total - own.get(id(c), 0)) for c in conns if not c.closed]
    deadline = time.monotonic() + ARRIVAL_TIMEOUT
    while time.monotonic() < deadline and any(c.count < n for c, n in due):
        await asyncio.sleep(0.005)


async def _run_traffic(gen: Generator) -> None:
    spec, res = gen.spec, gen.result
    idle_conns: list[Conn] = []
    if spec["idle"]:
        idle_conns, failed = await gen.open_many(
            spec["idle"], spec["connect_rate"], "i", retry=True
        )
        if failed:
            res["errors"].append(f"{failed} idle clients failed to register")
            res["idle_failures"] = failed
    sizes = [g["members"] for g in spec["groups"]]
    slow: Conn | None = None
    if spec["slow_reader"]:
        # A 4 KiB receive buffer set before the handshake: once it stops reading, the backlog
        # piles up in the server (where the SendQ limit applies), not in our kernel.
        slow = await gen.register(gen.nick("c"), rcvbuf=4096)  # before the crowd: no retry needed
        sizes[0] -= 1
    everyone, failed = await gen.open_many(sum(sizes), spec["connect_rate"], "c", retry=True)
    if failed:
        res["errors"].append(f"{failed} clients failed to register; not run")
        gen.close_all(everyone + idle_conns)
        return
    groups: list[list[Conn]] = []
    for size in sizes:
        groups.append(everyone[:size])
        everyone = everyone[size:]
    if slow is not None:
        groups[0].insert(1, slow)
    if len(gen.ports) > 1:  # a network of nodes: how the clients and groups landed
        ports = dict.fromkeys(gen.ports)  # each node once, in order
        res["clients_per_port"] = [sum(c.port == p for g in groups for c in g) for p in ports]
        res["groups_across_nodes"] = sum(len({c.port for c in g}) > 1 for g in groups)

    # Join the channels and wait for each member's own RPL_ENDOFNAMES.
    waits: list[asyncio.Future[None]] = []
    targets: list[str] = []
    for index, (conns, g) in enumerate(zip(groups, spec["groups"], strict=True)):
        if g["channel"]:
            target = f"#g{index}"
            for conn in conns:
                waits.append(conn.expect(b" 366 "))
                conn.send(f"JOIN {target}\r\n".encode())
        else:
            target = conns[0].nick
        targets.append(target)
    t_join = time.monotonic()
    if waits:
        _, pending = await asyncio.wait(waits, timeout=60 + sum(sizes) / 20)
        if pending:
            res["errors"].append(f"{len(pending)} members never saw their JOIN complete")
            gen.close_all([c for g in groups for c in g] + idle_conns)
            return
    res["join_s"] = round(time.monotonic() - t_join, 3)
    if len(gen.ports) > 1:
        await _converge(gen, groups, spec["groups"], targets)

    # Senders, their trackers, the slow reader and the probe receivers.
    senders: list[list[Sender]] = []
    for index, (conns, g) in enumerate(zip(groups, spec["groups"], strict=True)):
        group_senders = []
        for conn in conns[len(conns) - g["senders"] :]:
            sender = Sender(conn, targets[index], spec["window"], spec["probe_every"])
            tracker = conns[0] if conn is not conns[0] else conns[1]
            tracker.track.append((f":{conn.nick}!".encode(), sender))
            group_senders.append(sender)
        senders.append(group_senders)
        if slow is not None and index == 0:
            assert not slow.track and all(s.conn is not slow for s in group_senders)
    _pick_probes(groups, {id(slow)} if slow else set(), PROBE_RECEIVERS)

    members = [c for g in groups for c in g]
    missed = await gen.barrier(members, "start", mode=WAIT, then=COUNT, timeout=60)
    if missed:
        res["errors"].append(f"{missed} members missed the start barrier; not run")
        gen.close_all(members + idle_conns)
        return
    for conn in members:
        conn.count = 0
        conn.tcarry = conn.pcarry = conn.mcarry = b""
    if slow is not None:
        slow.keep_last = True
        groups[0][0].watch_quit = True  # the tracker sees the slow reader's QUIT reason
        assert slow.transport is not None
        slow.transport.pause_reading()

    all_senders = [s for group in senders for s in group]
    rate: float | None = spec["rate"]
    mark = gen.cpu_mark()
    t0 = mark[0]
    for sender in all_senders:
        sender.running = True
        if rate is not None:
            sender.budget = 0.0
        sender.pump()
    if rate is None:
        await asyncio.sleep(spec["duration"])
        # A slow reader must be sent enough to overflow the kernel's buffers (a few MiB) plus a
        # 1 MiB SendQ, whatever the server's speed: keep going until it was sent
        # ``slow_lines`` lines (about 95 bytes each) or its QUIT was seen, for at most 25 s.
        while (
            slow is not None
            and time.monotonic() < t0 + 25
            and sum(s.sent for s in all_senders) < spec.get("slow_lines", 0)
            and not any(f":{slow.nick}!" in q for q in gen.quits)
        ):
            await asyncio.sleep(0.1)
    else:
        per_sender = rate / len(all_senders)
        while (now := time.monotonic()) < t0 + spec["duration"]:
            for sender in all_senders:
                sender.budget = per_sender * (now - t0)
                sender.pump()
            await asyncio.sleep(0.002)
    for sender in all_senders:
        sender.running = False
    t_stop = time.monotonic()

    # Wait for the trackers to see every line, then drain every receiver with PING/PONG.
    deadline = t_stop + 15
    while time.monotonic() < deadline and any(
        s.acked < s.sent and not s.conn.closed for s in all_senders
    ):
        await asyncio.sleep(0.005)
    receivers = [c for c in members if c is not slow]
    if len(gen.ports) > 1:
        await _all_arrived(groups, senders)
    missed = await gen.barrier(receivers, "end", mode=DRAIN, then=IDLE, timeout=20)
    t_end = time.monotonic()
    gen.cpu_fill(mark)
    if missed:
        res["errors"].append(f"{missed} receivers missed the end barrier")

    # Each receiver is due what the other senders of its group sent (a private pair's target:
    # its sender's lines; the sender: none), and is counted on its own, so that a line counted
    # twice at one receiver never hides one lost at another.
    due: list[tuple[int, int]] = []
    for conns, group in zip(groups, senders, strict=True):
        said = sum(s.sent for s in group)
        own = {id(s.conn): s.sent for s in group}
        due += [(said - own.get(id(c), 0), c.count) for c in conns if c is not slow]
    if slow is not None and any(f":{slow.nick}!" in q for q in gen.quits):
        res["slow_cut_during_run"] = True  # its QUIT reached the others: not a message
    lost, extra = shortfall(due)
    expected = sum(d for d, _ in due)
    delivered = sum(c.count for c in receivers)
    if extra:
        res["errors"].append(accounting_error(extra))
    sent = sum(s.sent for s in all_senders)
    elapsed = t_end - t0
    lat_ms = [v / 1e6 for v in gen.latencies]
    res.update(
        sent=sent,
        delivered=delivered,
        expected=expected,
        lost=lost,
        extra=extra,
        send_s=round(t_stop - t0, 3),
        elapsed_s=round(elapsed, 3),
        sent_per_s=round(sent / elapsed),
        delivered_per_s=round(delivered / elapsed),
        lat_samples=len(lat_ms),
        lat_p50_ms=percentile(lat_ms, 50),
        lat_p99_ms=percentile(lat_ms, 99),
        lat_max_ms=max(lat_ms) if lat_ms else None,
        target_rate=rate,
        rss_kib=gen.server_rss(),
    )
    lost_conns = [(n, why) for n, why in gen.disconnects if slow is None or n != slow.nick]
    res["disconnects"] = len(lost_conns)
    if lost_conns:
        res["disconnect_sample"] = lost_conns[:3]

    if slow is not None:
        await _check_slow_reader(gen, slow)
    gen.close_all(members + idle_conns)


def shortfall(due: Iterable[tuple[int, int]]) -> tuple[int, int]:
    """``(lost, extra)`` over receivers, each given as ``(due, counted)``: lost sums what each
    receiver missed, extra what each was counted beyond its due. Neither offsets the other, so
    a line counted twice at one receiver (say, a batch it should not hold) cannot hide a line
    lost at another (one that did not hold the batch)."""
    lost = extra = 0
    for owed, counted in due:
        if counted < owed:
            lost += owed - counted
        else:
            extra += counted - owed
    return lost, extra


def accounting_error(extra: int) -> str:
    """The error of a run whose receivers were counted ``extra`` messages beyond what was sent
    to them: a receiver got a line twice, or the generator counted something else. Either is
    reported, never netted against ``lost``, which still counts what the others missed."""
    return (
        f"accounting error: receivers counted {extra} messages beyond what was sent to them "
        "(a duplicate, or something else counted): lost counts only the receivers short"
    )


async def _check_slow_reader(gen: Generator, slow: Conn) -> None:
    """Resume the slow reader and record whether (and how) the server cut it off."""
    assert slow.transport is not None
    slow.mode = IDLE
    if not slow.closed:
        slow.transport.resume_reading()
    deadline = time.monotonic() + 5
    while not slow.closed and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    text = slow.last.decode("utf-8", "replace")
    error = text[text.rfind("ERROR") :].strip() if "ERROR" in text else ""
    quit_line = next((q for q in gen.quits if f":{slow.nick}!" in q), "")
    gen.result.update(
        slow_cut_off=slow.closed,
        slow_error=error[:120],
        slow_quit=quit_line[:160],
        slow_sendq_exceeded="sendq" in (error + quit_line).lower(),
    )
