"""The cluster benchmark's arithmetic, on made-up runs (the benchmark itself is not a test)."""

from __future__ import annotations

import collections
from pathlib import Path
from typing import Any

from bench.cluster import SCENARIOS, _placement, _scenarios
from bench.cluster_report import APART, EVEN, RECEIVE_ONLY, SHUFFLED, per_message, report
from bench.cpu_share import CpuShare
from bench.scenarios import build


def _run(
    variant: str, nodes: int, scenario: str = "fanout C=100 S=10", **fig: Any
) -> dict[str, Any]:
    record = {"scenario": scenario, "variant": variant, "nodes": nodes, "rep": 0, **fig}
    per_message(record)
    return record


META = {
    "command": "python -m bench.cluster",
    "date_utc": "2026-12-06 20:00",
    "cpus": 2,
    "share": 0.3,
    "share_kind": "cgroup v1 cpu.cfs_quota_us",
    "history": "off",
    "reps": 1,
    "loadavg_start": 0.5,
}


def test_cpu_per_message_and_the_redis_ceiling() -> None:
    """CPU seconds over messages sent give us per message; Redis's gives its ceiling."""
    record = _run(
        "cluster-1", 1, sent=100_000, delivered=9_900_000, server_cpu_s=1.6, redis_cpu_s=0.25
    )
    assert record["server_us_per_msg"] == 16.0
    assert record["redis_us_per_msg"] == 2.5
    assert record["redis_ceiling_msgs_per_s"] == 400_000


def test_the_report_predicts_scaling_from_cpu_per_message() -> None:
    """n nodes deliver n * C_1 / C_n times one node; the bus's cost is C_1 minus the plain
    server's; a room's per-node receiving cost is C_2 - C_1; the measured ratio is shown too."""
    runs = [
        _run("plain", 0, sent=100, server_cpu_s=0.0005, delivered_per_s=300.0, lost=0),
        _run(
            "cluster-1",
            1,
            sent=100,
            server_cpu_s=0.0016,
            redis_cpu_s=0.0002,
            delivered_per_s=100.0,
            lost=0,
        ),
        _run(
            "cluster-2",
            2,
            sent=100,
            server_cpu_s=0.0024,
            redis_cpu_s=0.0003,
            delivered_per_s=130.0,
            lost=0,
        ),
    ]
    text = report(META, runs)
    assert "| cluster-2 | 130 | 1.30x |" in text
    assert "One node costs 11.0 us of node CPU per message more than the plain server" in text
    assert "Predicted from CPU per message (each node busy at its share): 2 nodes 1.33x." in text
    assert "the sender's node spends about 8.0 us, and every node with members 8.0 us more" in text
    assert "one Redis core carries about 333,333 messages/s" in text


def test_clients_are_spread_evenly_or_with_the_senders_apart() -> None:
    """Clients go to the nodes evenly, in the same shuffled order every run: ``even`` spreads
    the senders (the last of each group) evenly too, ``shuffled`` lets them fall where the one
    shuffle puts them; for the receive-only variant every sender goes to the first node and
    every other client to the second."""
    by_name = {s.name: s for s in build(False)}
    room, pairs = by_name["fanout C=100 S=10"], by_name["privmsg 100 pairs"]
    for how in (EVEN, SHUFFLED):
        spread = _placement(room, [1, 2, 3], how)
        assert spread == _placement(room, [1, 2, 3], how)
        assert sorted(collections.Counter(spread).values()) == [33, 33, 34]
        assert spread[:34] != [1, 2, 3] * 11 + [1]  # shuffled, not in turn
    senders = collections.Counter(_placement(room, [1, 2], EVEN)[90:])
    assert senders == {1: 5, 2: 5}
    assert collections.Counter(_placement(room, [1, 2], SHUFFLED)[90:]) == {1: 2, 2: 8}
    pair_senders = collections.Counter(_placement(pairs, [1, 2], EVEN)[1::2])
    assert pair_senders == {1: 50, 2: 50}
    apart = _placement(room, [1, 2], APART)
    assert apart == [2] * 90 + [1] * 10
    assert _placement(pairs, [1, 2], APART) == [2, 1] * 100


def test_the_report_has_a_table_per_quota_period_and_placement() -> None:
    """Runs with another quota period or placement get a table of their own, each compared
    with its own one-node run."""
    even = {"placement": EVEN}
    runs = [
        _run("cluster-1", 1, sent=100, server_cpu_s=0.0016, delivered_per_s=100.0, **even),
        _run("cluster-2", 2, sent=100, server_cpu_s=0.0024, delivered_per_s=130.0, **even),
        _run(
            "cluster-1",
            1,
            sent=100,
            server_cpu_s=0.0016,
            delivered_per_s=110.0,
            lost=0,
            period_ms=10.0,
            placement=SHUFFLED,
            throttled_pct_mean=92.5,
        ),
        _run(
            "cluster-2",
            2,
            sent=100,
            server_cpu_s=0.0024,
            delivered_per_s=187.0,
            lost=0,
            period_ms=10.0,
            placement=SHUFFLED,
            throttled_pct_mean=40.0,
        ),
    ]
    text = report(META, runs)
    assert "## fanout C=100 S=10, quota per 100 ms, clients placed even" in text
    assert "## fanout C=100 S=10, quota per 10 ms, clients placed shuffled" in text
    assert "| cluster-2 | 130 | 1.30x |" in text
    assert "| cluster-2 | 187 | 1.70x |" in text
    assert "| 92.5 |" in text and "| 40.0 |" in text
    earlier = report(META, [_run("cluster-1", 1, sent=100, server_cpu_s=0.0016)])
    assert "clients placed shuffled" in earlier  # recorded before placements had a name


def test_the_report_gives_the_cost_of_a_node_that_only_receives() -> None:
    """The receive-only run's second node gives the receiving cost; it is not a C_2 run."""
    runs = [
        _run("cluster-1", 1, sent=100, server_cpu_s=0.0016, delivered_per_s=100.0, lost=0),
        _run("cluster-2", 2, sent=100, server_cpu_s=0.0024, delivered_per_s=130.0, lost=0),
        _run(
            RECEIVE_ONLY,
            2,
            sent=100,
            server_cpu_s=0.0030,
            node0_cpu_s=0.0018,
            node1_cpu_s=0.0003,
            delivered_per_s=120.0,
            lost=0,
        ),
    ]
    text = report(META, runs)
    assert "2 nodes 1.33x" in text  # from cluster-2 alone
    assert "only receives (receive-2: every sender on the other node) spends 3.0 us" in text
    assert "the senders' node 18.0 us" in text


def test_the_quota_s_throttling_is_read_from_cpu_stat(tmp_path: Path) -> None:
    """A share's periods, throttled periods and time waited come from ``cpu.stat``, in cgroup
    v1's nanoseconds or v2's microseconds."""
    share = CpuShare.__new__(CpuShare)  # its cgroup: a directory of the same files
    share.path = tmp_path
    (tmp_path / "cpu.stat").write_text(
        "nr_periods 40\nnr_throttled 10\nthrottled_time 2500000000\nnr_bursts 0\n"
    )
    assert share.throttled() == (40, 10, 2.5)
    (tmp_path / "cpu.stat").write_text(
        "usage_usec 9\nnr_periods 40\nnr_throttled 30\nthrottled_usec 1500000\n"
    )
    assert share.throttled() == (40, 30, 1.5)


def test_the_report_predicts_scaling_from_the_busiest_node() -> None:
    """A network goes as fast as its busiest node: C_1 over the busiest node's CPU per
    message gives the scaling an uneven load allows."""
    runs = [
        _run("cluster-1", 1, sent=100, server_cpu_s=0.0016, node0_cpu_s=0.0016),
        _run(
            "cluster-2",
            2,
            sent=100,
            server_cpu_s=0.0020,
            node0_cpu_s=0.0012,
            node1_cpu_s=0.0008,
        ),
    ]
    text = report(META, runs)
    assert "2 nodes 1.60x" in text  # 2 x 16 / 20: an even load
    assert "(a network goes as fast as its busiest node; each node busy at its share)" in text
    assert "busy at its share): 2 nodes 1.33x." in text  # 16 / 12


def test_room12_puts_as_many_senders_on_each_node_of_two_or_three() -> None:
    """``room12`` is the 100-member room with 12 senders: placed evenly, 6 and 6 on two nodes,
    4 on each of three (10 senders on three nodes are 4, 3 and 3)."""
    room12 = _scenarios()[SCENARIOS["room12"]]
    assert room12.spec["groups"] == [{"channel": True, "members": 100, "senders": 12}]
    for ports, each in (([1, 2], 6), ([1, 2, 3], 4)):
        senders = collections.Counter(_placement(room12, ports, EVEN)[88:])
        assert set(senders.values()) == {each}
    room = _scenarios()[SCENARIOS["room"]]
    assert sorted(collections.Counter(_placement(room, [1, 2, 3], EVEN)[90:]).values()) == [3, 3, 4]
