"""The arithmetic and the tables of ``python -m bench.cluster`` (``bench/cluster.py`` runs).

Each run is a record (a dict, one line of ``results.json``); `per_message` turns its CPU
seconds into microseconds per message sent, and `report` writes the markdown of a whole run:
a table per scenario, quota period and placement, then what the CPU per message says whatever
the load on the machine (the cost model: see `_cost_model`).
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any

from bench.cpu_share import PERIOD_US
from bench.report import lost_cell

__all__ = [
    "APART",
    "EVEN",
    "PERIOD_MS",
    "PLACEMENTS",
    "RECEIVE_ONLY",
    "SHUFFLED",
    "per_message",
    "report",
]

EVEN, SHUFFLED, APART = "even", "shuffled", "apart"
PLACEMENTS = (EVEN, SHUFFLED)
"""How clients are spread over the nodes (``cluster._placement``), each node getting as many as
the next: ``even`` spreads the senders evenly too (what a load balancer comes to with many users
who talk alike); ``shuffled`` spreads all clients in one shuffled order, which puts 2 of the
room's 10 senders on one node of two and 8 on the other, so that the busier node bounds the
room (before 2026-12-07 the benchmark's only placement). ``apart``: the receive-only
variant's."""
PERIOD_MS = PERIOD_US / 1000
"""The period each node's quota is given for, by default: the kernel's (100 ms)."""
RECEIVE_ONLY = "receive-2"
"""The variant whose second node only receives (``bench/cluster.py``'s header)."""


def per_message(record: dict[str, Any]) -> None:
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
    busiest = {
        nodes: _median([_busiest(r) for r in rows if r["nodes"] == nodes], "us")
        for nodes in cost
        if nodes > 1
    }
    if one and any(busiest.values()):
        lines.append(
            "- Predicted from the busiest node's CPU per message (a network goes as fast as its"
            " busiest node; each node busy at its share): "
            + ", ".join(f"{n} nodes {one / us:.2f}x" for n, us in busiest.items() if us)
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


def _table(record: dict[str, Any]) -> tuple[str, float, str]:
    """The table a run goes in: its scenario, quota period and placement (the receive-only
    variant, whose senders are always apart, is run with the first placement only; a run
    recorded before placements had a name was shuffled)."""
    placement = record.get("placement", SHUFFLED)
    return record["scenario"], record.get("period_ms", PERIOD_MS), placement


def _busiest(record: dict[str, Any]) -> dict[str, Any]:
    """The CPU per message of a run's busiest node, as ``us`` (absent when not measured)."""
    nodes = [record.get(f"node{i}_us_per_msg") for i in range(record["nodes"])]
    known = [us for us in nodes if isinstance(us, int | float)]
    return {"us": max(known)} if known else {}


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
        "`periods throttled %`: of the quota's periods during the generator's run, the share in"
        " which a node used its whole quota and waited for the next (mean over the nodes).",
        "",
    ]
    for table in dict.fromkeys(map(_table, records)):
        scenario, period_ms, placement = table
        rows = [r for r in records if _table(r) == table]
        one = _median([r for r in rows if r["variant"] == "cluster-1"], "delivered_per_s")
        out += [
            f"## {scenario}, quota per {period_ms:g} ms, clients placed {placement}",
            "",
            "| variant | delivered/s | x 1 node | sent/s | lost | node us/msg | redis us/msg"
            " | nodes CPU % | periods throttled % | groups across nodes | load |",
            "|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for variant in dict.fromkeys(r["variant"] for r in rows):
            runs = [r for r in rows if r["variant"] == variant]
            delivered = _median(runs, "delivered_per_s")
            ratio = f"{delivered / one:.2f}x" if delivered and one else "-"
            lost = lost_cell(
                [float(r["lost"]) for r in runs if r.get("lost") is not None],
                [float(r["extra"]) for r in runs if r.get("extra")],
            )
            out.append(
                f"| {variant} | {_fmt(delivered)} | {ratio} | {_fmt(_median(runs, 'sent_per_s'))}"
                f" | {lost} | {_fmt(_median(runs, 'server_us_per_msg'))}"
                f" | {_fmt(_median(runs, 'redis_us_per_msg'))}"
                f" | {_fmt(_median(runs, 'server_cpu_pct'))}"
                f" | {_fmt(_median(runs, 'throttled_pct_mean'))}"
                f" | {_fmt(_median(runs, 'groups_across_nodes'))}"
                f" | {_fmt(_median(runs, 'loadavg_before'))} |"
            )
        out += ["", *_cost_model(rows)]
        errors = [e for r in rows for e in r.get("errors", [])]
        if errors:
            out += ["", "Errors: " + "; ".join(sorted(set(errors))[:5])]
        out.append("")
    return "\n".join(out)
