"""``labeled-response``: tie the replies to a command to the label the client put on it.

No reply becomes an ``ACK``; one reply carries the ``label`` tag; several are wrapped in a
``labeled-response`` batch (when the client also has ``batch``), as the IRCv3 spec asks.
"""

from __future__ import annotations

import itertools

from chinwag.protocol import escape_tag_value
from chinwag.server.commands.base import Context
from chinwag.server.state import Cap

__all__ = ["add_tag", "send_labeled"]

_batch_ids = itertools.count(1)


def add_tag(line: bytes, tag: bytes) -> bytes:
    """Add one ``key=value`` tag (already escaped) to a formatted line."""
    if line.startswith(b"@"):
        return b"@" + tag + b";" + line[1:]
    return b"@" + tag + b" " + line


def send_labeled(ctx: Context, label: str, lines: list[bytes]) -> None:
    """Send the captured ``lines`` to the client, labeled."""
    client = ctx.client
    tag = b"label=" + escape_tag_value(label).encode("utf-8")
    server = ctx.network.name.encode("utf-8")
    if not lines:
        client.send(b"@" + tag + b" :" + server + b" ACK\r\n")
    elif len(lines) == 1:
        client.send(add_tag(lines[0], tag))
    elif client.caps & Cap.BATCH:
        ref = f"L{next(_batch_ids)}".encode()
        batch_tag = b"batch=" + ref
        client.send(add_tag(b":" + server + b" BATCH +" + ref + b" labeled-response\r\n", tag))
        for line in lines:
            client.send(add_tag(line, batch_tag))
        client.send(b":" + server + b" BATCH -" + ref + b"\r\n")
    else:
        for line in lines:
            client.send(line)
