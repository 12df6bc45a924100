"""What one arrival costs chinwag's Python: registration (NICK, USER, the welcome burst) and,
with ``--join``, its JOIN, measured inside one process with no socket.

Usage (from the repository root)::

    python -m bench.arrivals                          # registration alone, 1000 arrivals x 5
    python -m bench.arrivals --join --every-join      # + JOIN #storm, every JOIN shown
    python -m bench.arrivals --join --ref /tmp/ref    # the same for another checkout, interleaved

The server is the one ``bench.run`` starts (its configuration, ``bench/servers.py``), built in
this process; each arrival is a real `Connection` given a transport that only counts bytes, fed
``NICK``/``USER`` (and ``JOIN``), and the outbox writes at the end of each arrival's turn, as
the loop would. The others' JOINs wait for the lazy flush, which comes when the server's own
timer would at 1000 arrivals a second (one arrival a millisecond: every 50 arrivals with a
``LAZY_FLUSH`` of 50 ms, every 200 in a crowded window of ``LAZY_FLUSH_CROWD``). What it
measures is CPU time (``time.process_time``) per arrival, the least of the rounds: the
interpreter's share, without the kernel and uvloop that a run over sockets adds (``python -m
bench.run --scenarios "connect 1k,join storm 1k"`` measures those too). Being CPU time of a warm
loop it hardly moves when the machine is busy, so two checkouts can be compared on a shared
machine (``--ref``: each round alternates between them).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ARRIVAL_SECONDS = 0.001
"""The time between two arrivals: 1000 a second, as in the join storms of ``bench.run``."""


class CountingTransport:
    """Where a connection's output goes: counted, never sent."""

    def __init__(self) -> None:
        self.written = 0
        self.closing = False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        """The peer's address; nothing else (no socket to tune)."""
        return ("127.0.0.1", 40000) if name == "peername" else default

    def write(self, data: bytes) -> None:
        """Count ``data``."""
        self.written += len(data)

    def is_closing(self) -> bool:
        """Whether `close` was called."""
        return self.closing

    def close(self) -> None:
        """Mark the transport closed."""
        self.closing = True

    abort = close

    def get_write_buffer_size(self) -> int:
        """Nothing is ever buffered."""
        return 0

    def pause_reading(self) -> None:
        """Nothing to pause."""

    def resume_reading(self) -> None:
        """Nothing to resume."""


async def measure(config_file: str, arrivals: int, rounds: int, join: bool) -> list[float]:
    """Microseconds of CPU per arrival, one figure per round (each round's users then quit)."""
    from chinwag.server.app import Server, tune_gc
    from chinwag.server.config import load_config
    from chinwag.server.connection import Connection

    config = load_config(config_file)
    config.server.port = 0
    server = Server(config)
    await server.start(before_listening=tune_gc)
    loop = asyncio.get_running_loop()
    per_round = []
    number = 0
    for _ in range(rounds):
        conns = []
        # When the lazy window opened: (arrival, loop time); its timer says how long it lasts.
        window: tuple[int, float] | None = None
        started = time.process_time()
        for index in range(arrivals):
            conn = Connection(server, server.network, config.limits, stats=server.stats)
            conn.connection_made(CountingTransport())  # type: ignore[arg-type]
            number += 1
            conn.data_received(f"NICK u{number}\r\nUSER u{number} 0 * :u{number}\r\n".encode())
            if join:
                conn.data_received(b"JOIN #storm\r\n")
            server.outbox.end_turn()
            handle = server._lazy_handle
            if handle is not None:
                window = window or (index, loop.time())
                opened, opened_at = window
                if (index + 1 - opened) * ARRIVAL_SECONDS >= handle.when() - opened_at:
                    _flush_lazy(server)
                    window = None
            conns.append(conn)
        per_round.append((time.process_time() - started) / arrivals * 1e6)
        storm = server.network.find_channel("#storm")
        joined = len(storm.members) if storm is not None else 0
        if any(c.client is None or not c.client.registered for c in conns) or (
            (join or "#storm" in config.server.default_channels) and joined != arrivals
        ):
            raise RuntimeError(f"not every arrival registered (and joined: {joined})")
        for conn in conns:
            conn.connection_lost(None)
        server.outbox.end_turn()
        await asyncio.sleep(0)
    await server.stop()
    return per_round


def _flush_lazy(server: Any) -> None:
    """What the lazy flush's timer does when it fires (the loop is not left meanwhile)."""
    handle = server._lazy_handle
    if handle is not None:
        handle.cancel()
        server._flush_lazy()
        server.outbox.end_turn()


def _config(workdir: Path, every_join: bool, autojoin: bool) -> Path:
    from bench import servers

    extra = "large_channel = 0\n" if every_join else ""
    servers._chinwag(workdir, 0, extra, channels='["#storm"]' if autojoin else "[]")
    return workdir / "chinwag.toml"


def _child(tree: str, config: Path, args: argparse.Namespace) -> list[float]:
    """One round in a process running ``tree``'s chinwag."""
    # Run as a script: its directory, not the repository, is first on the path, so the
    # chinwag imported is ``tree``'s.
    command = [sys.executable, str(Path(__file__).resolve()), "--child", str(config)]
    command += ["--arrivals", str(args.arrivals), "--rounds", "1"]
    if args.join:
        command.append("--join")
    env = {**os.environ, "PYTHONPATH": tree}
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    return list(json.loads(done.stdout.strip().splitlines()[-1]))


def main(argv: list[str] | None = None) -> int:
    """Measure, print one line per checkout: the least and the median us per arrival."""
    parser = argparse.ArgumentParser(description="chinwag's Python CPU per arrival.")
    parser.add_argument("--arrivals", type=int, default=1000, help="arrivals per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--join", action="store_true", help="each arrival JOINs #storm")
    parser.add_argument("--every-join", action="store_true", help="large_channel = 0")
    parser.add_argument("--autojoin", action="store_true", help="the server joins #storm")
    parser.add_argument("--ref", help="another checkout, measured round by round with this one")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:  # one checkout's rounds, for the parent: JSON on the last line
        print(json.dumps(asyncio.run(measure(args.child, args.arrivals, args.rounds, args.join))))
        return 0
    here = str(Path(__file__).resolve().parent.parent)
    trees = {"this checkout": here, **({"--ref": args.ref} if args.ref else {})}
    figures: dict[str, list[float]] = {name: [] for name in trees}
    with tempfile.TemporaryDirectory(prefix="bench-arrivals-") as tmp:
        config = _config(Path(tmp), args.every_join, args.autojoin)
        for _ in range(args.rounds):
            for name, tree in trees.items():
                figures[name] += _child(tree, config, args)
    what = "registration" + (" and JOIN" if args.join or args.autojoin else "")
    for name, values in figures.items():
        print(
            f"{name}: {what}, {min(values):.1f} us per arrival at least, "
            f"median {statistics.median(values):.1f} ({len(values)} rounds of {args.arrivals})"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
