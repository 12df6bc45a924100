"""The in-process durable-path benchmark measures what it says: every message it sends to the
durable server is stored."""

from __future__ import annotations

import pytest

from bench import durable_path


async def test_every_message_of_the_durable_run_is_stored(monkeypatch: pytest.MonkeyPatch) -> None:
    """One small measurement of each: the durable server stored every message sent to it."""
    monkeypatch.setattr(durable_path, "PAIRS", 3)
    monkeypatch.setattr(durable_path, "TURNS", 2)
    got = await durable_path.compare(1)
    assert got["stored"] == 3 * 2 * durable_path.LINES
    assert got["off_best"] > 0 and got["durable_best"] > 0
