"""bench.turns: the longest stretches of a server's loop, from the monitor's ticks."""

from __future__ import annotations

import array

from bench.turns import summary


def test_summary_counts_only_the_load_phase_and_the_long_ticks() -> None:
    """Ticks outside the window are left out; p99, the longest and the long ones are in ms."""
    ticks = array.array("d")
    for second in range(200):  # (monotonic time, CPU seconds) pairs, one tick a second
        ticks.extend((float(second), 0.0005))
    ticks[2 * 50 + 1] = 0.025  # one 25 ms stretch inside the window
    ticks[2 * 150 + 1] = 0.080  # and one 80 ms stretch outside it
    result = summary(ticks, 0.0, 99.0)
    assert result["ticks"] == 100
    assert result["max_ms"] == 25.0
    assert result["p99_ms"] == 25.0
    assert (result["over_10ms"], result["over_20ms"], result["over_50ms"]) == (1, 1, 0)


def test_summary_of_no_ticks_says_so() -> None:
    """A run whose server wrote no ticks reports none, rather than failing."""
    assert summary(array.array("d"), 0.0, 1.0) == {"ticks": 0}
