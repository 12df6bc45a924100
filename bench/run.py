"""Benchmark runner: every scenario against every server, interleaved, fresh server per run.

Usage (from the repository root)::

    python -m bench.run --quick                  # ~3 minute smoke run, 1 repetition
    python -m bench.run                          # full matrix, 3 repetitions
    python -m bench.run --servers chinwag,ngircd --scenarios fanout,privmsg --reps 5

The server under test is pinned to core 0 and the generator (a separate process,
``python -m bench.loadgen``) to core 1. Every process started here is stopped by its PID.
Results go to ``bench/results/`` (raw JSON, markdown table, PNG plots).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import report
from bench.scenarios import Scenario, build
from bench.servers import DEFAULT_SERVERS, SERVERS, RunningServer

RESULTS = Path(__file__).resolve().parent / "results"
RATE_FRACTION = 0.5
RATE_REFERENCE = ("fanout C=100 S=10", "ngircd")


def _raise_fd_limit(want: int = 65536) -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    for limit in (max(want, hard), hard):
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))
            return limit
        except (ValueError, OSError):
            continue
    return soft


def _version(name: str) -> str:
    commands = {
        "ngircd": ["ngircd", "--version"],
        "inspircd": ["inspircd", "--version"],
        "miniircd": ["miniircd", "--version"],
        # "chinwag 0.1.0 (core=compiled)": which protocol core this variant runs, too.
        "chinwag": [sys.executable, "-m", "chinwag", "serve", "--version"],
    }
    try:
        out = subprocess.run(
            commands[name.split("-", maxsplit=1)[0]],
            env={**os.environ, **SERVERS[name].env},
            cwd="/",  # as the servers run: chinwag from PYTHONPATH, not from the current directory
            capture_output=True,
            timeout=20,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    text = (out.stdout or out.stderr).decode("utf-8", "replace").strip()
    return text.splitlines()[0][:80] if text else "?"


def _chinwag_revision() -> str:
    """The last commit touching chinwag/ in this checkout, ``+dirty`` with uncommitted edits.

    The working tree is shared with people changing chinwag while a run goes on, so every
    chinwag record says which code it measured.
    """
    repo = Path(__file__).resolve().parent.parent
    try:
        rev = subprocess.run(
            ["git", "-C", str(repo), "log", "-1", "--format=%h", "--", "chinwag"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(repo), "status", "--porcelain", "--", "chinwag"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        ).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    return (rev or "?") + ("+dirty" if dirty else "")


def _rate_target(results: list[dict[str, Any]]) -> float | None:
    """Half of ngircd's median closed-loop sent/s at fan-out C=100 S=10 in this run."""
    scenario, server = RATE_REFERENCE
    values = [
        r["sent_per_s"]
        for r in results
        if r["scenario"] == scenario and r["server"] == server and r.get("sent_per_s")
    ]
    return RATE_FRACTION * statistics.median(values) if values else None


def run_one(
    server: str,
    scenario: Scenario,
    rep: int,
    port: int,
    extra: dict[str, Any],
    *,
    attach: Callable[[int], Callable[[], None]] | None = None,
) -> dict[str, Any]:
    """Start ``server``, run one generator process for ``scenario``, stop the server.

    ``attach`` (a profiler, say) is called with the server's PID once it listens; what it
    returns is called when the generator is done, before the server is stopped.
    """
    record: dict[str, Any] = {
        "scenario": scenario.name,
        "family": scenario.family,
        "server": server,
        "rep": rep,
        "members": scenario.members,
        "senders": scenario.senders,
        "loadavg_before": round(os.getloadavg()[0], 2),
        "started": time.strftime("%H:%M:%S", time.gmtime()),
    }
    if server.startswith("chinwag"):
        record["chinwag_rev"] = _chinwag_revision()
    spec = SERVERS[server]
    if spec.autojoin is not None and not scenario.spec.get("join"):
        record["skipped"] = "joins every client to one room: only for the join storm"
        return record
    if spec.max_clients is not None and scenario.clients > spec.max_clients:
        record["skipped"] = f"needs {scenario.clients} clients; {spec.limit_note}"
        return record
    workdir = Path(tempfile.mkdtemp(prefix=f"bench-{server}-"))
    try:
        srv = RunningServer(spec, port, workdir)
    except RuntimeError as exc:
        record["errors"] = [f"server did not start: {exc}"]
        shutil.rmtree(workdir, ignore_errors=True)
        return record
    gen_spec = dict(scenario.spec, port=port, server_pid=srv.pid, **extra)
    if gen_spec.get("join"):  # a server that joins everyone itself gets no JOIN from them
        gen_spec["send_join"] = spec.autojoin != gen_spec["join"]
    hard = 90 + gen_spec.get("duration", 0) + scenario.clients / 100
    gen_spec["hard_timeout"] = hard
    spec_path = workdir / "spec.json"
    spec_path.write_text(json.dumps(gen_spec))
    detach = attach(srv.pid) if attach is not None else None
    gen = subprocess.Popen(
        [sys.executable, "-m", "bench.loadgen", str(spec_path), "--core", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=Path(__file__).resolve().parent.parent,
        start_new_session=True,
    )
    try:
        out, err = gen.communicate(timeout=hard + 30)
        text = out.decode("utf-8", "replace").strip().splitlines()
        record.update(json.loads(text[-1]) if text else {"errors": ["generator printed nothing"]})
        if gen.returncode:
            record.setdefault("errors", []).append(
                f"generator exit {gen.returncode}: {err.decode('utf-8', 'replace')[-400:]}"
            )
    except subprocess.TimeoutExpired:
        os.kill(gen.pid, 9)
        gen.wait()
        record["errors"] = ["generator killed after its hard timeout"]
    except json.JSONDecodeError as exc:
        record["errors"] = [f"bad generator output: {exc}"]
    if detach is not None:
        detach()
    if not srv.alive():
        record.setdefault("errors", []).append(
            f"server died (exit {srv.proc.returncode}): {srv.log_tail(300)}"
        )
    srv.stop()
    if record.get("errors"):
        record["server_log_tail"] = srv.log_tail(600)
    shutil.rmtree(workdir, ignore_errors=True)
    gen_cpu = record.get("gen_cpu_pct")
    record["generator_bound"] = bool(gen_cpu is not None and gen_cpu >= 80)
    add_cpu_per_message(record)
    return record


def add_cpu_per_message(record: dict[str, Any]) -> None:
    """Server CPU microseconds per message sent and per line delivered, over the load phase
    (every process of the server: chinwag's indexer too, and apart as ``helper_us_per_msg``).

    Unlike throughput, these do not depend on whether the generator or the server was the
    bottleneck, nor much on what else the machine runs: the figure to compare on a shared box.
    """
    cpu_s = record.get("server_cpu_s")
    if not isinstance(cpu_s, int | float):
        return
    for count, key in (("sent", "server_us_per_msg"), ("delivered", "server_us_per_line")):
        if record.get(count):
            record[key] = round(cpu_s * 1e6 / record[count], 3)
    # The share of the server's child processes (chinwag's indexer), included above.
    helpers = record.get("helper_cpu_s")
    if isinstance(helpers, int | float) and record.get("sent"):
        record["helper_us_per_msg"] = round(helpers * 1e6 / record["sent"], 3)


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, run the matrix, write results."""
    parser = argparse.ArgumentParser(description="Run the chinwag benchmark matrix.")
    parser.add_argument("--quick", action="store_true", help="short smoke run (1 rep)")
    parser.add_argument(
        "--servers",
        default=",".join(DEFAULT_SERVERS),
        help=f"comma-separated, from {', '.join(SERVERS)}",
    )
    parser.add_argument(
        "--scenarios", default="", help="comma-separated substrings of scenario names/families"
    )
    parser.add_argument("--reps", type=int, default=None, help="repetitions (default 3; quick 1)")
    parser.add_argument("--port-base", type=int, default=17000)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    reps = args.reps if args.reps is not None else (1 if args.quick else 3)

    fd_limit = _raise_fd_limit()
    os.sched_setaffinity(0, {1})  # keep the runner itself off the server's core
    servers = []
    for name in args.servers.split(","):
        if name not in SERVERS:
            parser.error(f"unknown server {name!r}; known: {', '.join(SERVERS)}")
        if SERVERS[name].available():
            servers.append(name)
        else:
            print(f"# {name}: not available, skipped", flush=True)
    wanted = [w.strip() for w in args.scenarios.split(",") if w.strip()]
    scenarios = [
        s
        for s in build(args.quick)
        if not wanted or any(w in s.name or w == s.family for w in wanted)
    ]
    meta: dict[str, Any] = {
        "date_utc": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
        "command": "python -m bench.run " + " ".join(argv if argv is not None else sys.argv[1:]),
        "quick": args.quick,
        "reps": reps,
        "servers": servers,
        "versions": {name: _version(name) for name in servers},
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "fd_limit": fd_limit,
        "loadavg_start": os.getloadavg(),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    results: list[dict[str, Any]] = []
    port = args.port_base
    started = time.monotonic()
    for scenario in scenarios:
        for rep in range(reps):
            order = servers[rep % len(servers) :] + servers[: rep % len(servers)]
            for server in order:
                extra: dict[str, Any] = {}
                if scenario.family == "rate":
                    target = _rate_target(results)
                    if target is None:
                        results.append(
                            {
                                "scenario": scenario.name,
                                "family": "rate",
                                "server": server,
                                "rep": rep,
                                "skipped": "no ngircd fan-out C=100 S=10 result",
                            }
                        )
                        continue
                    extra["rate"] = round(target)
                record = run_one(server, scenario, rep, port, extra)
                port += 1
                results.append(record)
                print(report.one_line(record), flush=True)
                report.write_json(args.out, meta, results)
    meta["wall_s"] = round(time.monotonic() - started, 1)
    meta["loadavg_end"] = os.getloadavg()
    report.write_all(args.out, meta, results)
    print(f"# results in {args.out} ({meta['wall_s']} s)", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
