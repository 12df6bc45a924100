"""bench.first_arrival starts a real chinwag serve and times its first client's welcome."""

from __future__ import annotations

import re
import socket

import pytest

from bench.first_arrival import main


def test_one_start_reports_the_first_welcome(capsys: pytest.CaptureFixture[str]) -> None:
    """One start gives one wait in milliseconds, and the median of the starts."""
    with socket.socket() as probe:  # a port free now (other runs may share the machine)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    assert main(["--reps", "1", "--port", str(port)]) == 0
    out = capsys.readouterr().out
    assert re.search(r"start 0: 001 [\d.]+ ms after connecting", out), out
    assert "median" in out
