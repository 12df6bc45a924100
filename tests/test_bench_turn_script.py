"""bench.turn_script: one call shape per kind of line, and both scripts measured on a real Redis."""

from __future__ import annotations

import pytest
import redis

from bench.turn_script import SHAPES, _measure, _ops, _script_of


def test_each_shape_sends_its_lines_operations() -> None:
    """A room line is one operation, with its record two, a private line three (record, the
    other node, the echo)."""
    sizes = {shape: _ops("n1.bench", shape, 5).count(b"\n") for shape in SHAPES}
    assert sizes == {"room": 5, "room+keep": 10, "pm": 15}


def test_both_scripts_are_measured_on_the_same_calls(
    redis_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """The revision's script (here the checkout's own) and this one run the same calls: a row
    per shape with both figures."""
    client = redis.Redis.from_url(redis_url)
    try:
        _measure(client, _script_of("HEAD"), lines=4, calls=2, rounds=1)
    finally:
        client.close()
    rows = capsys.readouterr().out.splitlines()[2:]
    assert [row.split()[0] for row in rows] == list(SHAPES)
    assert all(float(row.split()[1]) > 0 and float(row.split()[2]) > 0 for row in rows)
