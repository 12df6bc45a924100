"""The server's log: plain text for people (the default) or one JSON object per line for machines.

Log calls say what happened in their message and, for the events worth searching for, name it
and its parties in ``extra`` with the field names of `FIELDS`::

    log.info("quit %s (%s): %s", nick, ip, reason,
             extra=fields("quit", nick=nick, ip=ip, reason=reason))

The text format shows the message only; the JSON format writes ``time``, ``level``, ``logger``,
``message`` and every field that is set, under those same names in every release, so that
dashboards and alerts can rely on them. Secrets (passwords, SASL payloads, the server password)
are never given to a log call in the first place: there is nothing here to scrub.
"""

from __future__ import annotations

import datetime
import json
import logging
import sys
from typing import Any, TextIO

__all__ = ["FIELDS", "JsonFormatter", "configure", "fields", "set_node"]

FIELDS = (
    "event",
    "nick",
    "account",
    "ip",
    "reason",
    "channel",
    "target",
    "oper",
    "mask",
    "count",
    "peer_uid",
    "command",
    "node",
)
"""The names a JSON log line may carry besides time, level, logger and message."""

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
NODE_TEXT_FORMAT = "%(asctime)s %(levelname)s [{node}] %(name)s: %(message)s"
"""The text format of a worker process (``--workers``): whose line each one is."""

_origin = {"node": ""}
"""The node this process is, when it is one of several workers writing to one stderr."""


def set_node(name: str) -> None:
    """Say in every line from now on which worker wrote it (``--workers``); `configure` again
    to apply it to the handler."""
    _origin["node"] = name


class _NodeFilter(logging.Filter):
    """Puts this worker's node name in every record (the JSON ``node`` field)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.node = _origin["node"]
        return True


def fields(event: str, **values: object) -> dict[str, object]:
    """The ``extra`` of a log call: the event's name and its parties.

    Raises:
        ValueError: for a name not in `FIELDS` (a typo would silently start a new field).
    """
    unknown = set(values) - set(FIELDS)
    if unknown:
        raise ValueError(f"not log fields: {', '.join(sorted(unknown))}")
    return {"event": event, **values}


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line, with the stable names of `FIELDS`."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as a JSON line (without the newline)."""
        when = datetime.datetime.fromtimestamp(record.created, datetime.UTC)
        out: dict[str, Any] = {
            "time": when.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in FIELDS:
            value = record.__dict__.get(name)
            if value is not None:
                out[name] = value if isinstance(value, int | float | bool) else str(value)
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False)


def configure(log_format: str, level: str, stream: TextIO | None = None) -> None:
    """Send the ``chinwag`` logs to ``stream`` (stderr) in ``log_format`` at ``level``.

    Safe to call again (a configuration reload): the handler is replaced, not added to.

    Args:
        log_format: ``text`` or ``json``.
        level: ``debug``, ``info``, ``warning`` or ``error``.
        stream: where to write; stderr by default.
    """
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "chinwag", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.chinwag = True  # type: ignore[attr-defined]
    node = _origin["node"]
    text_format = NODE_TEXT_FORMAT.format(node=node.replace("%", "%%")) if node else TEXT_FORMAT
    formatter = JsonFormatter() if log_format == "json" else logging.Formatter(text_format)
    handler.setFormatter(formatter)
    if node:
        handler.addFilter(_NodeFilter())
    root.addHandler(handler)
    root.setLevel(getattr(logging, level.upper()))
