"""Where a chinwag server's time goes per message (or per arriving client, in the connect and
join-storm scenarios): one benchmark scenario under a sampling profiler.

Usage (from the repository root; needs the ``bench`` extra, which brings py-spy)::

    python -m bench.profile                                   # privmsg 200 pairs, history off
    python -m bench.profile --server chinwag --scenario "rooms 10x10" --duration 10
    python -m bench.profile --server chinwag-every-join --scenario "join storm 1k @1000/s"

The server runs exactly as in ``bench.run`` (pinned to core 0, the generator on core 1), and
py-spy samples it from outside for the whole run (``--nonblocking``: the server is never paused,
so it runs at its normal speed). Setup (registrations, joins) is in the samples too, which is why
the load phase is long by default: the handlers of setup show up as their own rows, small ones.

Each sample is charged to the innermost Python function running (its *self* time); time in C
code (a ``str`` method, the compiled codec, the uvloop loop itself) is charged to the Python frame
that called it, so the outermost frames (the loop's ``run``) hold the event loop's own C code.
py-spy counts a thread blocked in a system call as idle, so the samples cover user-mode time:
the kernel's share (system CPU time from ``/proc``, over the whole profiled run) is its own row,
and the samples share out the rest of the server CPU per message that the same run measured
(the server's own process: its child processes, chinwag's indexer, are not sampled, and their
CPU per message is printed apart).
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from bench.run import run_one
from bench.scenarios import build
from bench.servers import CLK_TCK

DEFAULT_RATE = 997  # samples per second (a prime, so as not to beat with any periodic timer)
DEFAULT_DURATION = 10.0
# "function (path:line)" in py-spy's raw (collapsed stack) format.
_FRAME = re.compile(r"^(?P<func>.*) \((?P<path>.*?)(?::(?P<line>\d+))?\)$")
_SITE = re.compile(r".*/(site-packages|lib/python3\.\d+)/")
# Where each part of the code belongs, for the summary (first match wins).
AREAS = (
    ("protocol: codec and messages", ("chinwag/protocol/",)),
    ("server: handlers", ("chinwag/server/commands/",)),
    ("server: fan-out", ("chinwag/server/fanout.py",)),
    ("server: connection and dispatch", ("chinwag/server/connection.py", "chinwag/server/app.py")),
    ("server: other", ("chinwag/server/",)),
    ("store and history", ("chinwag/store/",)),
    ("event loop, kernel, runtime", ("asyncio/", "uvloop/", "chinwag/__main__", "chinwag/cli")),
)


def short_path(path: str) -> str:
    """A path relative to the repository or to site-packages/the standard library."""
    root = str(Path(__file__).resolve().parent.parent) + os.sep
    if path.startswith(root):
        return path[len(root) :]
    return _SITE.sub("", path)


def area(path: str) -> str:
    """The summary row a file belongs to."""
    for name, prefixes in AREAS:
        if any(prefix in path for prefix in prefixes):
            return name
    return "other"


def self_times(raw: str) -> tuple[collections.Counter[tuple[str, str]], int]:
    """Samples per (function, file) as the innermost frame, and the total, from raw stacks."""
    counts: collections.Counter[tuple[str, str]] = collections.Counter()
    total = 0
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = stack.split(";")
        leaf = _FRAME.match(frames[-1])
        if leaf is None:
            continue
        counts[(leaf["func"], short_path(leaf["path"]))] += int(count)
        total += int(count)
    return counts, total


def report(
    raw: str, us_per_msg: float, kernel_share: float, top: int, unit: str = "message"
) -> str:
    """Markdown: microseconds per ``unit`` (a message, or a client in the connect and join
    scenarios) by area, then the ``top`` functions by self time."""
    counts, total = self_times(raw)
    if not total:
        return "no samples\n"
    kernel = us_per_msg * kernel_share
    scale = (us_per_msg - kernel) / total
    by_area: collections.Counter[str] = collections.Counter()
    for (_, path), n in counts.items():
        by_area[area(path)] += n
    lines = [
        f"{total} samples; server CPU {us_per_msg:.2f} us per {unit} (from /proc), "
        f"{100 * kernel_share:.0f}% of it in the kernel",
        "",
        f"| area | us/{unit} | share |",
        "|---|---|---|",
        f"| kernel (system calls: reads, writes, epoll) | {kernel:.2f} | "
        f"{100 * kernel_share:.0f}% |",
    ]
    for name, n in by_area.most_common():
        lines.append(f"| {name} | {n * scale:.2f} | {100 * n * scale / us_per_msg:.0f}% |")
    lines += ["", f"| function | file | self us/{unit} | share |", "|---|---|---|---|"]
    for (func, path), n in counts.most_common(top):
        share = 100 * n * scale / us_per_msg
        lines.append(f"| `{func}` | {path} | {n * scale:.2f} | {share:.1f}% |")
    return "\n".join(lines) + "\n"


def _user_system_seconds(pid: int) -> tuple[float, float]:
    with open(f"/proc/{pid}/stat", "rb") as fh:
        fields = fh.read().rpartition(b")")[2].split()
    return int(fields[11]) / CLK_TCK, int(fields[12]) / CLK_TCK


class PySpy:
    """An ``attach`` hook for `run_one`: py-spy records the server until the generator is done.

    ``--nonblocking``: the server is never paused. (py-spy's ``--native``, which would show the
    compiled codec and the C calls as frames of their own, must pause it at every sample: the
    server then ran at a tenth of its speed, a profile of something else.)
    """

    def __init__(self, out: Path, rate: int) -> None:
        self.out = out
        self.rate = rate
        self.kernel_share = 0.0

    def __call__(self, pid: int) -> Callable[[], None]:
        """Start recording ``pid``; return what stops it."""
        beside = Path(sys.executable).with_name("py-spy")  # in this virtualenv, if there
        py_spy = str(beside) if beside.exists() else "py-spy"
        command = [py_spy, "record", "--pid", str(pid), "--rate", str(self.rate), "--nonblocking"]
        proc = subprocess.Popen(
            [*command, "--format", "raw", "--output", str(self.out)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        user0, system0 = _user_system_seconds(pid)

        def detach() -> None:
            user, system = _user_system_seconds(pid)
            self.kernel_share = (system - system0) / max(user - user0 + system - system0, 1e-9)
            proc.send_signal(signal.SIGINT)  # py-spy writes its output on Ctrl-C
            proc.wait(timeout=30)

        return detach


def main(argv: list[str] | None = None) -> int:
    """Run the scenario under py-spy and print the breakdown."""
    parser = argparse.ArgumentParser(description="Profile a chinwag server under one scenario.")
    parser.add_argument("--server", default="chinwag-ephemeral")
    parser.add_argument("--scenario", default="privmsg 200 pairs")
    parser.add_argument("--duration", type=float, default=DEFAULT_DURATION, help="load phase, s")
    parser.add_argument("--rate", type=int, default=DEFAULT_RATE, help="samples per second")
    parser.add_argument("--top", type=int, default=30, help="functions listed")
    parser.add_argument("--port", type=int, default=17900)
    parser.add_argument("--raw", type=Path, help="also keep py-spy's raw stacks in this file")
    args = parser.parse_args(argv)
    scenario = next((s for s in build(False) if s.name == args.scenario), None)
    if scenario is None:
        parser.error(f"no scenario named {args.scenario!r}")
    scenario = replace(scenario, spec={**scenario.spec, "duration": args.duration})
    os.sched_setaffinity(0, {1})
    with tempfile.TemporaryDirectory(prefix="bench-profile-") as tmp:
        raw_path = Path(tmp) / "stacks.txt"
        spy = PySpy(raw_path, args.rate)
        record = run_one(args.server, scenario, 0, args.port, {}, attach=spy)
        raw = raw_path.read_text() if raw_path.exists() else ""
    if args.raw is not None:
        args.raw.write_text(raw)
    if record.get("errors"):
        print(f"run failed: {record.get('errors')}", file=sys.stderr)
        return 1
    # py-spy samples the server's own process: its samples share out that process's CPU, not
    # that of its children (chinwag's journal indexer), which is reported apart.
    if record.get("sent"):
        unit = "message"
        helper = float(record.get("helper_us_per_msg") or 0.0)
        us_per_unit = record["server_us_per_msg"] - helper
        head = f"{args.duration:g} s load: {record['sent_per_s']} msg/s, lost {record['lost']}"
    elif record.get("registered"):  # connect and join storms: the cost of one arrival
        unit = "client"
        helper = float(record.get("helper_cpu_s") or 0.0) * 1e6 / record["registered"]
        us_per_unit = record["server_cpu_s"] * 1e6 / record["registered"] - helper
        head = (
            f"{record['registered']} clients, server CPU {record['server_cpu_s']} s, "
            f"registration p99 {record['reg_p99_ms']} ms"
        )
    else:
        print(f"run failed: nothing sent, nobody registered: {record}", file=sys.stderr)
        return 1
    children = f"; its child processes {helper:.2f} us per {unit} more" if helper else ""
    print(f"# {args.server}, {args.scenario}, {head}{children}\n")
    print(report(raw, us_per_unit, spy.kernel_share, args.top, unit))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
