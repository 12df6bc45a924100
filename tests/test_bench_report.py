"""The benchmark report's judgements, on made-up runs (the benchmark itself is not a test)."""

from __future__ import annotations

from typing import Any

from bench.report import durability, targets


def _run(scenario: str, server: str, family: str = "fanout", **figures: Any) -> dict[str, Any]:
    return {"scenario": scenario, "server": server, "family": family, "rep": 0, **figures}


def test_durability_compares_durable_with_ephemeral_per_scenario() -> None:
    """Closed loops are judged on throughput (under 10% less), the open loop on p99 (+2 ms)."""
    results = [
        _run("fanout C=100 S=1", "chinwag", delivered_per_s=950.0, lat_p99_ms=9.0),
        _run("fanout C=100 S=1", "chinwag-ephemeral", delivered_per_s=1000.0, lat_p99_ms=8.0),
        _run("privmsg 100 pairs", "chinwag", "pm", delivered_per_s=500.0, lat_p99_ms=9.0),
        _run("privmsg 100 pairs", "chinwag-ephemeral", "pm", delivered_per_s=1000.0),
        _run("open loop", "chinwag", "rate", delivered_per_s=1000.0, lat_p99_ms=12.5),
        _run("open loop", "chinwag-ephemeral", "rate", delivered_per_s=1000.0, lat_p99_ms=10.0),
    ]
    rows = {line.split(" | ")[0][2:]: line for line in durability(results) if line[:2] == "| "}
    assert rows["fanout C=100 S=1"].endswith("| 5% | +1.0 | yes |")
    assert rows["privmsg 100 pairs"].endswith("| 50% | - | **no** |")
    assert rows["open loop"].endswith("| 0% | +2.5 | **no** |")


def test_durability_says_nothing_without_the_ephemeral_variant() -> None:
    """A run without chinwag-ephemeral has no durability section at all."""
    assert durability([_run("fanout C=100 S=1", "chinwag", delivered_per_s=1.0)]) == []


def test_targets_compare_with_ngircd_from_the_same_run() -> None:
    """Fan-out needs 1.5 x ngircd's delivered/s; a missing server leaves the verdict open."""
    results = [
        _run("fanout C=100 S=10", "chinwag", delivered_per_s=3000.0),
        _run("fanout C=100 S=10", "ngircd", delivered_per_s=1900.0),
        _run("fanout C=500 S=10", "chinwag", delivered_per_s=3000.0),
        _run("fanout C=500 S=10", "ngircd", delivered_per_s=2100.0),
    ]
    lines = targets(results)
    assert any(
        line.startswith("| fanout C=100 S=10:") and line.endswith("| yes |") for line in lines
    )
    assert any(
        line.startswith("| fanout C=500 S=10:") and line.endswith("| **no** |") for line in lines
    )
    assert any(line.startswith("| fanout C=100 S=1:") and line.endswith("| - |") for line in lines)
