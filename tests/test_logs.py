"""The log formats: JSON lines with stable fields, text by default."""

from __future__ import annotations

import io
import json
import logging

import pytest

from chinwag.logs import FIELDS, configure, fields


def test_json_lines_carry_the_fields() -> None:
    """Each record is one JSON object with time, level, logger, message and the named fields."""
    out = io.StringIO()
    configure("json", "info", out)
    try:
        log = logging.getLogger("chinwag.test")
        log.info("quit %s", "amy", extra=fields("quit", nick="amy", ip="10.0.0.1", count=3))
        log.debug("not shown at info")
    finally:
        configure("text", "warning", io.StringIO())
    lines = out.getvalue().splitlines()
    assert len(lines) == 1
    record = json.loads(lines[0])
    assert record["message"] == "quit amy" and record["level"] == "info"
    assert record["event"] == "quit" and record["nick"] == "amy" and record["count"] == 3
    assert record["time"].endswith("Z") and record["logger"] == "chinwag.test"


def test_unknown_field_names_are_refused() -> None:
    """A field that is not in FIELDS is a typo caught at once, not a new log field."""
    assert "nick" in FIELDS
    with pytest.raises(ValueError, match="passwd"):
        fields("login", passwd="x")


def test_reconfigure_replaces_the_handler() -> None:
    """Configuring twice (a reload) leaves one chinwag handler, in the new format."""
    first, second = io.StringIO(), io.StringIO()
    configure("json", "info", first)
    configure("text", "info", second)
    try:
        logging.getLogger("chinwag.test").info("hello")
    finally:
        configure("text", "warning", io.StringIO())
    assert first.getvalue() == ""
    assert second.getvalue().rstrip().endswith("INFO chinwag.test: hello")
