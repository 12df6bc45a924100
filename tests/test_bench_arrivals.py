"""The in-process measure of an arrival's CPU runs real registrations and JOINs and reports."""

from __future__ import annotations

import re

import pytest

from bench.arrivals import main


def test_a_short_run_reports_the_cpu_per_arrival(capsys: pytest.CaptureFixture[str]) -> None:
    """A few arrivals that register and JOIN give one positive figure per arrival."""
    assert main(["--arrivals", "20", "--rounds", "1", "--join", "--every-join"]) == 0
    out = capsys.readouterr().out
    found = re.search(r"this checkout: registration and JOIN, ([\d.]+) us per arrival", out)
    assert found is not None, out
    assert float(found.group(1)) > 0
