"""The benchmark report's judgements, on made-up runs (the benchmark itself is not a test)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from bench.report import durability, join_targets, targets, write_all


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


def test_zero_lost_is_not_met_by_a_real_loss_nor_by_an_accounting_error() -> None:
    """The lost target sums the runs' real losses; a run counted too many fails it even when
    nothing was lost, and a negative lost (an old record) never cancels another run's loss."""

    def verdict(*runs: dict[str, Any]) -> str:
        row = next(line for line in targets(list(runs)) if line.startswith("| zero lost"))
        return row.split(" | ", 1)[1]

    fine = _run("fanout C=10 S=1", "chinwag", lost=0, extra=0)
    assert verdict(fine, fine) == "0.00 | 0.00 | yes |"
    assert (
        verdict(fine, _run("fanout C=10 S=1", "chinwag", lost=0, extra=2))
        == "0.00 | 0.00 | **no** |"
    )
    old = _run("fanout C=10 S=1", "chinwag", lost=-2)
    assert verdict(old, _run("fanout C=10 S=1", "chinwag", lost=3)) == "3.00 | 0.00 | **no** |"


def test_join_targets_compare_with_inspircd_and_auto_join_with_an_explicit_join() -> None:
    """Every JOIN shown is judged against 1.5 x InspIRCd's CPU, the whole storm and (with the
    connect run of the same size) the JOIN path alone; auto-join against an explicit JOIN."""
    results = [
        _run("connect 1k @1000/s", "chinwag-every-join", "connect", server_cpu_s=0.15),
        _run("connect 1k @1000/s", "inspircd", "connect", server_cpu_s=0.05),
        _run("join storm 1k @1000/s", "chinwag-every-join", "join", server_cpu_s=0.32),
        _run("join storm 1k @1000/s", "inspircd", "join", server_cpu_s=0.20),
        _run("join storm 1k @1000/s", "chinwag", "join", server_cpu_s=0.24),
        _run("join storm 1k @1000/s", "chinwag-autojoin", "join", server_cpu_s=0.25),
        _run("join storm 5k @1000/s", "chinwag-every-join", "join", server_cpu_s=9.0),
        _run("join storm 5k @1000/s", "chinwag", "join", server_cpu_s=2.0),
        _run("join storm 5k @1000/s", "chinwag-autojoin", "join", server_cpu_s=2.5),
    ]
    rows = {line.split(" | ")[0][2:]: line for line in join_targets(results) if line[:2] == "| "}
    whole = rows["join storm 1k @1000/s: every JOIN shown, server CPU s <= 1.5 x InspIRCd's"]
    assert whole.endswith("| 0.32 | 0.30 | **no** |")
    alone = next(line for label, line in rows.items() if "JOIN path alone" in label)
    assert alone.endswith("| 0.17 | 0.23 | yes |")
    assert rows["join storm 1k @1000/s: auto-join CPU s <= an explicit JOIN's"].endswith("| yes |")
    assert rows["join storm 5k @1000/s: auto-join CPU s <= an explicit JOIN's"].endswith(
        "| **no** |"
    )
    assert rows[
        "join storm 5k @1000/s: every JOIN shown, server CPU s <= 1.5 x InspIRCd's"
    ].endswith("| - |")


def test_lobby_targets_need_both_p99s_and_a_free_generator() -> None:
    """The lobby storm meets its targets only under 50 ms and with the generator not bound."""
    name = "lobby storm 10k @1000/s + talk"
    fine = _run(name, "chinwag-autojoin", "lobby", reg_p99_ms=12.0, lat_p99_ms=20.0)
    bound = {**fine, "generator_bound": True}
    for record, verdict in ((fine, "| yes |"), (bound, "| **no** |")):
        lines = [line for line in join_targets([record]) if line.startswith(f"| {name}")]
        assert len(lines) == 2 and all(line.endswith(verdict) for line in lines)
    assert join_targets([_run("fanout C=10 S=1", "chinwag")]) == []


def test_results_are_written_without_matplotlib(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without matplotlib the tables are still written, and the run says how to get the plots."""
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib now fails
    meta = {"date_utc": "2026-12-07", "command": "bench", "reps": 1, "cpus": 2}
    meta["loadavg_start"] = [0.5, 0.5, 0.5]
    write_all(tmp_path, meta, [_run("fanout C=100 S=1", "chinwag", delivered_per_s=1.0)])
    assert "fanout C=100 S=1" in (tmp_path / "results.md").read_text()
    assert (tmp_path / "results.json").exists()
    assert not list(tmp_path.glob("*.png"))
    assert "plots skipped: matplotlib is not installed" in capsys.readouterr().out
