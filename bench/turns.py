"""How long a chinwag server's event loop stays busy at a stretch, under one scenario.

Usage (from the repository root)::

    python -m bench.turns                                  # the lobby storm, default config
    python -m bench.turns --server chinwag --scenario "fanout C=500 S=10" --reps 3

Every event a server handles (an arrival, a line to answer) waits for whatever the loop is doing
when it comes in, so the longest stretches the loop is busy bound what a client waits on a
machine with a core to spare. They are measured inside the server (`bench.turn_monitor`, put
in front of it as ``sitecustomize``): each millisecond, the main thread's CPU time since the last
tick. Being CPU time, the figures hold on a shared machine, where wall-clock latencies measure
the neighbours: ``bench.run``'s latencies are the figures to quote from a quiet machine, these
the check that the server keeps its turns short on any machine.

Printed per run: the ticks over the load phase (from the server listening to the generator
being done) and their CPU: p99, p99.9 and the longest, how many took over 10, 20 and 50 ms,
and the run's own registration and latency p99 for comparison.
"""

from __future__ import annotations

import argparse
import array
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench import turn_monitor
from bench.run import run_one
from bench.scenarios import build
from bench.servers import SERVERS

DEFAULT_SCENARIO = "lobby storm 10k @1000/s + talk"
LONG_TURNS_MS = (10, 20, 50)


class Window:
    """An ``attach`` hook for `run_one`: notes when the load phase starts and ends."""

    def __init__(self) -> None:
        self.start = 0.0
        self.end = 0.0

    def __call__(self, pid: int) -> Callable[[], None]:
        self.start = time.monotonic()  # one clock for every process of the machine

        def detach() -> None:
            self.end = time.monotonic()

        return detach


def summary(ticks: array.array[float], start: float, end: float) -> dict[str, Any]:
    """The CPU per tick over ``start``..``end`` (monotonic seconds), in milliseconds."""
    busy = sorted(ticks[i + 1] for i in range(0, len(ticks), 2) if start <= ticks[i] <= end)
    if not busy:
        return {"ticks": 0}
    count = len(busy)
    out: dict[str, Any] = {
        "ticks": count,
        "p99_ms": round(busy[int(count * 0.99)] * 1e3, 2),
        "p999_ms": round(busy[int(count * 0.999)] * 1e3, 2),
        "max_ms": round(busy[-1] * 1e3, 2),
    }
    for limit in LONG_TURNS_MS:
        out[f"over_{limit}ms"] = sum(1 for cpu in busy if cpu > limit / 1e3)
    return out


def run(server: str, scenario_name: str, rep: int, port: int) -> dict[str, Any]:
    """One run of ``scenario_name`` on ``server`` with the monitor inside it."""
    scenario = next((s for s in build(False) if s.name == scenario_name), None)
    if scenario is None:
        raise SystemExit(f"no scenario named {scenario_name!r}")
    spec = SERVERS[server]
    if not server.startswith("chinwag"):
        raise SystemExit(f"{server}: only a chinwag server can run the monitor")
    tmp = Path(tempfile.mkdtemp(prefix="bench-turns-"))
    try:
        shutil.copy(Path(turn_monitor.__file__), tmp / "sitecustomize.py")
        out = tmp / "ticks.bin"
        path = os.pathsep.join([str(tmp), spec.env.get("PYTHONPATH", "")])
        env = {**spec.env, "PYTHONPATH": path, turn_monitor.OUT_ENV: str(out)}
        SERVERS[server] = replace(spec, env=env)
        window = Window()
        try:
            record = run_one(server, scenario, rep, port, {}, attach=window)
        finally:
            SERVERS[server] = spec
        ticks: array.array[float] = array.array("d")
        if out.exists():
            ticks.frombytes(out.read_bytes())
        # A scenario with a phase of its own (the drop of a mass disconnect) names it.
        start = record.get("window_start", window.start)
        end = record.get("window_end", window.end)
        return {"record": record, "turns": summary(ticks, start, end)}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    """Run the scenario with the monitor and print the longest stretches of each run."""
    parser = argparse.ArgumentParser(description="How long a chinwag server's loop stays busy.")
    parser.add_argument("--server", default="chinwag-autojoin")
    parser.add_argument("--scenario", default=DEFAULT_SCENARIO)
    parser.add_argument("--reps", type=int, default=1)
    parser.add_argument("--port", type=int, default=17950)
    args = parser.parse_args(argv)
    os.sched_setaffinity(0, {1})  # the generator's core, as in bench.run
    print(f"# {args.server}, {args.scenario}: CPU per 1 ms tick of the server's loop")
    print("| rep | ticks | p99 ms | p99.9 ms | max ms | >10 ms | >20 ms | >50 ms | reg p99 ms "
          "| talk/lat p99 ms | load avg |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for rep in range(args.reps):
        result = run(args.server, args.scenario, rep, args.port + rep * 10)
        record, turns = result["record"], result["turns"]
        if record.get("errors") or not turns["ticks"]:
            print(f"run {rep} failed: {record.get('errors') or 'no ticks'}", file=sys.stderr)
            return 1
        reg, lat = record.get("reg_p99_ms"), record.get("lat_p99_ms")
        print(
            f"| {rep} | {turns['ticks']} | {turns['p99_ms']} | {turns['p999_ms']} "
            f"| {turns['max_ms']} | {turns['over_10ms']} | {turns['over_20ms']} "
            f"| {turns['over_50ms']} | {'-' if reg is None else f'{reg:.1f}'} "
            f"| {'-' if lat is None else f'{lat:.1f}'} | {record['loadavg_before']} |"
        )
        if record.get("drop_s") is not None:  # the mass disconnect: its own figures
            print(
                f"rep {rep}: {record['registered']} dropped, all out in {record['drop_s']} s, "
                f"server CPU {record['server_cpu_s']} s ({record['drop_us_per_client']} us each)"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
