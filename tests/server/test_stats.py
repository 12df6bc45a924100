"""The server's own counters: disconnection labels, the lag histogram, the rates."""

from __future__ import annotations

import asyncio

from chinwag.server.stats import LAG_BUCKETS, LoopMonitor, Stats, disconnect_reason


def test_disconnect_reasons_have_few_stable_labels() -> None:
    """Every reason the server gives maps to one label; a QUIT's own text does not leak in."""
    assert disconnect_reason("Quit: see you") == "quit"
    assert disconnect_reason("Client Quit") == "quit"
    assert disconnect_reason("SendQ exceeded") == "sendq"
    assert disconnect_reason("Excess Flood") == "flood"
    assert disconnect_reason("Ping timeout: 181 seconds") == "ping_timeout"
    assert disconnect_reason("Killed by boss (spam)") == "killed"
    assert disconnect_reason("K-Lined: abuse") == "banned"
    assert disconnect_reason("something new") == "other"


def test_lag_lands_in_its_bucket() -> None:
    """A lag is counted in the first bucket whose bound holds it; past the last, in +Inf."""
    stats = Stats()
    stats.observe_lag(0.0)
    stats.observe_lag(0.003)
    stats.observe_lag(99.0)
    assert stats.lag_buckets[0] == 1
    assert stats.lag_buckets[LAG_BUCKETS.index(0.005)] == 1
    assert stats.lag_buckets[-1] == 1
    assert stats.lag_count == 3 and stats.lag_sum == 99.003


async def test_monitor_probes_the_store_and_keeps_rates() -> None:
    """Each tick measures the loop's lag, sends a probe through the store, and samples totals."""
    stats = Stats()
    probed = asyncio.Event()

    def probe(then: object) -> None:
        assert callable(then)
        asyncio.get_running_loop().call_soon(then)
        asyncio.get_running_loop().call_soon(probed.set)

    monitor = LoopMonitor(stats, probe)
    assert monitor.rates()["bytes_sent"] == 0.0
    monitor._tick()
    stats.bytes_sent += 1000
    monitor._tick()
    await asyncio.wait_for(probed.wait(), 1.0)
    monitor.stop()
    assert stats.lag_count == 2 and stats.store_lag >= 0.0
    assert monitor.rates()["bytes_sent"] > 0
