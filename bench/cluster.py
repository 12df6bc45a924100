"""How a network of chinwag nodes scales on one machine: ``python -m bench.cluster``.

Two questions (issue 13), one run:

* **What the bus costs.** A one-node network (``--redis``, ``--store``) against the plain server,
  same scenario, same CPU share: node CPU per message sent (the difference is the bus: events
  out, the Lua script call, the read-back), Redis's CPU per message (``/proc/PID/stat``), and the
  Redis ceiling that implies (messages per second one Redis core could carry at that cost).
* **How throughput grows with nodes.** 1, 2 and 3 nodes, each limited to the same CPU share (a
  cgroup's CPU quota: v2 ``cpu.max`` when the v2 hierarchy has the cpu controller, else v1
  ``cpu.cfs_quota_us``); Redis, PostgreSQL and the load generator run outside that share.
  Delivered lines/s for a 100-member room (10 senders) and for 100 private pairs, and lost lines.
  The clients are spread evenly over the nodes in a fixed shuffled order (as a load balancer
  would: a room has members on every node, a pair may be split over two nodes, and
  ``groups_across_nodes`` says how many were).
* **What a line costs a node that only receives it.** ``receive-2``: 2 nodes, every sender on
  the first and every other client on the second, which then does nothing but receive: its CPU
  per message (``node1_us_per_msg``) is the receiving work that each node with members adds.

Every node is a separate ``chinwag serve`` process on a port of its own (the generator spreads
its clients over the ports: an even, known spread, where ``--workers`` would leave it to the
kernel's hash). Redis runs as the cluster promises (``appendonly yes``, ``appendfsync always``)
on a unix socket; history is off unless ``--history on`` (it goes to PostgreSQL, a shared
backend like Redis: with it on, PostgreSQL's CPU is reported too).

On a 2-core machine: the nodes' shares plus Redis, PostgreSQL and the generator must fit in two
cores, so the shares are small (``--share 0.3`` of a core each by default: 0.9 core for three
nodes). The figures that do not depend on the machine being quiet are the CPU costs per message;
throughput ratios need a quiet machine (``loadavg_before`` in each record says how quiet it was).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from bench.cpu_share import CpuShare, cpu_share_kind
from bench.report import lost_cell
from bench.run import _chinwag_revision
from bench.scenarios import Scenario, build
from bench.servers import REPO, _chinwag, proc_rss_kib, wait_for_port

__all__ = ["main"]

RESULTS = Path(__file__).resolve().parent / "results" / "cluster"
SCENARIOS = {"room": "fanout C=100 S=10", "pm": "privmsg 100 pairs"}
"""The scenarios of this benchmark, by short name, from ``bench/scenarios.py``."""
NODE_START_TIMEOUT = 30.0
PLACEMENT_SEED = 13
"""The shuffle of the clients over the nodes: the same in every run."""
WINDOW = 256
"""Lines in flight per sender: the scenarios' 64 bound a room on a network by the round trip
through Redis (10 senders x 64 lines / 19 ms = 33k lines/s, measured, with 2 and 3 nodes at
36-41% of their 60-90% of CPU), not by the nodes' CPU, which is what this benchmark is about."""
RECEIVE_ONLY = "receive-2"
"""The variant whose second node only receives (see the module header)."""


class Backends:
    """This run's Redis and PostgreSQL (``tests/services.py`` starts them, as for the tests)."""

    def __init__(self) -> None:
        # By name: mypy knows tests/ as top-level modules (no package), pytest as ``tests.``.
        services: Any = importlib.import_module("tests.services")
        self._fresh_database = services.fresh_database
        self._directory = Path(tempfile.mkdtemp(prefix="chinwag-bench-redis-"))
        self.redis: Any = services.start_redis(self._directory)
        try:
            self.postgres: Any = services.start_postgres()
        except BaseException:
            self.redis.stop()
            raise

    @property
    def redis_pid(self) -> int:
        """The redis-server process."""
        return int(self.redis.process.pid)

    @property
    def postgres_pid(self) -> int:
        """The postmaster (its backends are its children)."""
        head = (self.postgres.data_dir / "postmaster.pid").read_text().split("\n", 1)[0]
        return int(head)

    def fresh(self) -> str:
        """Empty Redis; a new PostgreSQL schema; returns the store's URL."""
        import redis

        with redis.Redis(unix_socket_path=str(self.redis.socket_path)) as client:
            client.flushall()
        return str(self._fresh_database(self.postgres))

    def stop(self) -> None:
        """Stop both (by PID) and remove their files."""
        self.redis.stop()
        self.postgres.stop()
        shutil.rmtree(self._directory, ignore_errors=True)


class Node:
    """One ``chinwag serve`` (a node, or the plain server) in a CPU share of its own."""

    def __init__(self, workdir: Path, extra: str, share: CpuShare | None) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.port = port = _free_port()
        argv = _chinwag(workdir, port, extra)
        procs = None if share is None else share.procs_file
        if procs is not None:  # in the cgroup before the interpreter even starts
            argv = ["sh", "-c", 'echo $$ > "$0" && exec "$@"', str(procs), *argv]
        self.log_path = workdir / "node.log"
        self.log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            cwd=workdir,
            env={**os.environ, "PYTHONPATH": str(REPO)},
            start_new_session=True,
        )
        wait_for_port(port, self.proc, NODE_START_TIMEOUT)

    def log_tail(self, limit: int = 1500) -> str:
        """The end of what the node logged (at ``warning`` and above)."""
        try:
            return self.log_path.read_bytes()[-limit:].decode("utf-8", "replace")
        except OSError:
            return ""

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 10 s; by PID."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.log.close()


def _cluster_section(redis_url: str, store_url: str, name: str, history: bool) -> str:
    text = f'[cluster]\nredis = "{redis_url}"\nstore = "{store_url}"\nnode_name = "{name}"\n'
    return text + ("" if history else "[history]\nenabled = false\n")


def run_one(
    variant: str,
    nodes: int,
    scenario: Scenario,
    backends: Backends,
    *,
    share: float,
    duration: float,
    history: bool,
    window: int = 0,
) -> dict[str, Any]:
    """Start ``nodes`` nodes (0: the plain server), run the generator once, stop them; a
    ``window`` (lines in flight per sender) other than 0 replaces the scenario's."""
    record: dict[str, Any] = {
        "scenario": scenario.name,
        "variant": variant,
        "nodes": nodes,
        "share": share,
        "loadavg_before": round(os.getloadavg()[0], 2),
        "started": time.strftime("%H:%M:%S", time.gmtime()),
    }
    store_url = backends.fresh()
    workdir = Path(tempfile.mkdtemp(prefix=f"bench-cluster-{variant}-"))
    running: list[Node] = []
    with ExitStack() as stack:
        try:
            for i in range(max(nodes, 1)):
                cpu = stack.enter_context(CpuShare(f"chinwag-bench-{os.getpid()}-{i}", share))
                if nodes:
                    extra = _cluster_section(backends.redis.url, store_url, f"n{i}.bench", history)
                else:
                    extra = "" if history else "[history]\nenabled = false\n"
                running.append(Node(workdir / f"n{i}", extra, cpu))
        except RuntimeError as exc:
            record["errors"] = [f"a node did not start: {exc}"]
            for node in running:
                node.stop()
            shutil.rmtree(workdir, ignore_errors=True)
            return record
        spec = dict(scenario.spec, duration=duration)
        if window:
            spec["window"] = window
        watch = {"redis": backends.redis_pid, "postgres": backends.postgres_pid}
        spec.update(
            port=running[0].port,
            server_pid=running[0].proc.pid,
            ports=_placement(scenario, [node.port for node in running], variant == RECEIVE_ONLY),
            server_pids=[node.proc.pid for node in running],
            watch=(
                {**watch, **{f"node{i}": node.proc.pid for i, node in enumerate(running)}}
                if nodes
                else {"postgres": backends.postgres_pid}
            ),
            hard_timeout=90 + duration,
        )
        spec_path = workdir / "spec.json"
        spec_path.write_text(json.dumps(spec))
        record.update(_generate(spec_path, duration))
        record["node_rss_kib"] = [_rss(node) for node in running]
        for node in running:
            if node.proc.poll() is not None:
                record.setdefault("errors", []).append(f"a node died: {node.proc.returncode}")
            node.stop()
        if record.get("errors"):  # what the nodes said (warnings and errors), before it goes
            record["node_log_tails"] = [node.log_tail() for node in running]
    shutil.rmtree(workdir, ignore_errors=True)
    _per_message(record)
    return record


def _placement(scenario: Scenario, ports: list[int], senders_apart: bool) -> list[int]:
    """The node (port) of each client, in the order the generator connects them (and forms
    the scenario's groups, each group's senders last): spread evenly and shuffled, or with
    ``senders_apart`` the senders on the first node and every other client on the second."""
    groups = scenario.spec["groups"]
    if senders_apart:
        return [
            ports[0] if k >= g["members"] - g["senders"] else ports[1]
            for g in groups
            for k in range(g["members"])
        ]
    total = sum(g["members"] for g in groups)
    spread = [ports[k % len(ports)] for k in range(total)]
    random.Random(PLACEMENT_SEED).shuffle(spread)
    return spread


def _free_port() -> int:
    """A port nothing listens on now: a fixed range could be another benchmark's (the machine
    is shared), and the generator would then talk to someone else's server."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _rss(node: Node) -> int | None:
    try:
        return proc_rss_kib(node.proc.pid)
    except OSError:
        return None


def _generate(spec_path: Path, duration: float) -> dict[str, Any]:
    """Run one generator process (not pinned: the shares are the nodes' limit)."""
    gen = subprocess.run(
        [sys.executable, "-m", "bench.loadgen", str(spec_path), "--core", "-1"],
        capture_output=True,
        cwd=REPO,
        timeout=120 + duration,
        check=False,
    )
    lines = gen.stdout.decode("utf-8", "replace").strip().splitlines()
    if not lines:
        return {"errors": [f"generator printed nothing: {gen.stderr.decode()[-400:]}"]}
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def _per_message(record: dict[str, Any]) -> None:
    """CPU microseconds per message sent, per process kind, and the Redis ceiling."""
    sent = record.get("sent") or 0
    if not sent:
        return
    for kind in ("server", "redis", "postgres", "node0", "node1", "node2"):
        seconds = record.get(f"{kind}_cpu_s")
        if isinstance(seconds, int | float):
            record[f"{kind}_us_per_msg"] = round(seconds * 1e6 / sent, 2)
    redis_us = record.get("redis_us_per_msg")
    if redis_us:
        record["redis_ceiling_msgs_per_s"] = round(1e6 / redis_us)
    if record.get("delivered") and redis_us:
        record["redis_ceiling_lines_per_s"] = round(record["delivered"] / record["redis_cpu_s"])


def _median(records: Sequence[dict[str, Any]], key: str) -> float | None:
    values = [r[key] for r in records if isinstance(r.get(key), int | float)]
    return statistics.median(values) if values else None


def _fmt(value: float | None, unit: str = "") -> str:
    if value is None:
        return "-"
    if abs(value) >= 10_000:
        return f"{value / 1000:,.0f}k{unit}"
    return f"{value:,.1f}{unit}" if abs(value) < 100 else f"{value:,.0f}{unit}"


def _cost_model(rows: list[dict[str, Any]]) -> list[str]:
    """What the CPU costs per message say, whatever the load on the machine.

    With ``C_n`` the nodes' CPU per message sent in a network of ``n`` nodes, and every node
    CPU-bound at the same share, ``n`` nodes deliver ``n * C_1 / C_n`` times what one does.
    """
    cost: dict[int, float] = {}
    redis_us: dict[int, float] = {}
    apart = [r for r in rows if r["variant"] == RECEIVE_ONLY]
    rows = [r for r in rows if r["variant"] != RECEIVE_ONLY]
    for nodes in sorted({r["nodes"] for r in rows}):
        runs = [r for r in rows if r["nodes"] == nodes]
        node_us, bus_us = _median(runs, "server_us_per_msg"), _median(runs, "redis_us_per_msg")
        if node_us:
            cost[nodes] = node_us
        if bus_us:
            redis_us[nodes] = bus_us
    lines: list[str] = []
    plain, one = cost.get(0), cost.get(1)
    if plain and one:
        lines.append(
            f"- One node costs {one - plain:.1f} us of node CPU per message more than the plain "
            f"server ({one:.1f} us against {plain:.1f} us)."
        )
    if redis_us:
        most = max(redis_us)
        lines.append(
            f"- Redis: {redis_us[most]:.2f} us of CPU per message with {most} node(s): one Redis"
            f" core carries about {1e6 / redis_us[most]:,.0f} messages/s at that cost."
        )
    if one:
        predicted = [f"{n} nodes {n * one / c:.2f}x" for n, c in cost.items() if n > 1]
        if predicted:
            lines.append(
                "- Predicted from CPU per message (each node busy at its share): "
                + ", ".join(predicted)
                + "."
            )
    two = cost.get(2)
    if one and two and rows[0]["scenario"].startswith("fanout"):
        receive = two - one  # every node receives every line of a room with members on all
        lines.append(
            f"- Per message, the sender's node spends about {one - receive:.1f} us, and every "
            f"node with members {receive:.1f} us more (C_2 - C_1)."
        )
    receiving, sending = _median(apart, "node1_us_per_msg"), _median(apart, "node0_us_per_msg")
    if receiving and sending:
        lines.append(
            f"- A node that only receives ({RECEIVE_ONLY}: every sender on the other node)"
            f" spends {receiving:.1f} us per message; the senders' node {sending:.1f} us."
        )
    return lines


def report(meta: dict[str, Any], records: list[dict[str, Any]]) -> str:
    """The markdown tables of a run: medians per scenario and variant."""
    out = [
        "# chinwag: a network of nodes on one machine",
        "",
        f"`{meta['command']}`, {meta['date_utc']} UTC, chinwag {meta.get('chinwag_rev', '?')},"
        f" {meta['cpus']} cores, CPU share per node:"
        f" {meta['share']} core ({meta['share_kind']}), history {meta['history']},"
        f" {meta['reps']} repetitions, load average at the start {meta['loadavg_start']:.2f}.",
        "",
    ]
    for scenario in dict.fromkeys(r["scenario"] for r in records):
        rows = [r for r in records if r["scenario"] == scenario]
        one = _median([r for r in rows if r["variant"] == "cluster-1"], "delivered_per_s")
        out += [
            f"## {scenario}",
            "",
            "| variant | delivered/s | x 1 node | sent/s | lost | node us/msg | redis us/msg"
            " | nodes CPU % | groups across nodes | load |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for variant in dict.fromkeys(r["variant"] for r in rows):
            runs = [r for r in rows if r["variant"] == variant]
            delivered = _median(runs, "delivered_per_s")
            ratio = f"{delivered / one:.2f}x" if delivered and one else "-"
            lost = lost_cell([float(r["lost"]) for r in runs if r.get("lost") is not None])
            out.append(
                f"| {variant} | {_fmt(delivered)} | {ratio} | {_fmt(_median(runs, 'sent_per_s'))}"
                f" | {lost} | {_fmt(_median(runs, 'server_us_per_msg'))}"
                f" | {_fmt(_median(runs, 'redis_us_per_msg'))}"
                f" | {_fmt(_median(runs, 'server_cpu_pct'))}"
                f" | {_fmt(_median(runs, 'groups_across_nodes'))}"
                f" | {_fmt(_median(runs, 'loadavg_before'))} |"
            )
        out += ["", *_cost_model(rows)]
        errors = [e for r in rows for e in r.get("errors", [])]
        if errors:
            out += ["", "Errors: " + "; ".join(sorted(set(errors))[:5])]
        out.append("")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments, run every variant of every scenario interleaved, write results."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--nodes", default="1,2,3", help="network sizes to run (default 1,2,3)")
    parser.add_argument("--share", type=float, default=0.3, help="CPU cores per node (0.3)")
    parser.add_argument("--scenarios", default="room,pm", help=f"from {', '.join(SCENARIOS)}")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--duration", type=float, default=5.0, help="load seconds per run")
    parser.add_argument("--history", choices=["on", "off"], default="off")
    parser.add_argument(
        "--window",
        type=int,
        default=WINDOW,
        help=f"lines in flight per sender, closed loop (default {WINDOW}; 0: the scenario's)",
    )
    parser.add_argument("--no-plain", action="store_true", help="skip the plain server")
    parser.add_argument(
        "--receive-only",
        action=argparse.BooleanOptionalAction,
        default=True,
        help=f"run {RECEIVE_ONLY} too (2 nodes, the second only receives; default: yes)",
    )
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    sizes = [int(n) for n in args.nodes.split(",") if n]
    variants = ([] if args.no_plain else [("plain", 0)]) + [(f"cluster-{n}", n) for n in sizes]
    if args.receive_only:
        variants.append((RECEIVE_ONLY, 2))
    by_name = {s.name: s for s in build(False)}
    scenarios = [by_name[SCENARIOS[name]] for name in args.scenarios.split(",") if name]
    kind = cpu_share_kind()
    words = argv if argv is not None else sys.argv[1:]
    meta: dict[str, Any] = {
        "command": "python -m bench.cluster " + " ".join(words),
        "date_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
        "chinwag_rev": _chinwag_revision(),
        "cpus": os.cpu_count(),
        "share": args.share,
        "share_kind": kind or "none: no cgroup CPU controller we may use; nodes unlimited",
        "history": args.history,
        "reps": args.reps,
        "loadavg_start": os.getloadavg()[0],
    }
    args.out.mkdir(parents=True, exist_ok=True)
    backends = Backends()
    records: list[dict[str, Any]] = []
    try:
        for scenario in scenarios:
            for rep in range(args.reps):
                shift = rep % len(variants)
                for variant, nodes in variants[shift:] + variants[:shift]:
                    record = run_one(
                        variant,
                        nodes,
                        scenario,
                        backends,
                        share=args.share,
                        duration=args.duration,
                        history=args.history == "on",
                        window=args.window,
                    )
                    record["rep"] = rep
                    records.append(record)
                    print(_one_line(record), flush=True)
                    _write(args.out, meta, records)
    finally:
        backends.stop()
    meta["loadavg_end"] = os.getloadavg()[0]
    _write(args.out, meta, records)
    print(f"# results in {args.out}", flush=True)
    return 0


def _one_line(record: dict[str, Any]) -> str:
    return (
        f"{record['scenario']:<20} {record['variant']:<10} rep {record.get('rep', 0)}:"
        f" delivered/s {record.get('delivered_per_s')} lost {record.get('lost')}"
        f" node us/msg {record.get('server_us_per_msg')} redis us/msg"
        f" {record.get('redis_us_per_msg')} nodes CPU% {record.get('server_cpu_pct')}"
        f" gen CPU% {record.get('gen_cpu_pct')} load {record['loadavg_before']}"
        + (f" ERRORS {record['errors']}" if record.get("errors") else "")
    )


def _write(out: Path, meta: dict[str, Any], records: list[dict[str, Any]]) -> None:
    (out / "results.json").write_text(json.dumps({"meta": meta, "runs": records}, indent=1))
    (out / "results.md").write_text(report(meta, records))


if __name__ == "__main__":
    raise SystemExit(main())
