"""``labeled-response``: tie the replies to a command to the label the client put on it.

No reply becomes an ``ACK``; one reply carries the ``label`` tag; a reply that is one batch
already (CHATHISTORY) carries it on its ``BATCH +`` line; several are wrapped in a
``labeled-response`` batch (when the client also has ``batch``), as the IRCv3 spec asks.

Some replies come after the handler returned: a history query or a password check runs off
the loop (the client's later lines wait for it: `Context.wait_for`). Such a handler calls
`defer_reply` and later `LateReply.finish`; the label then goes on the whole reply, early lines
(errors queued by the handler) and late lines together.
"""

from __future__ import annotations

import itertools

from chinwag.protocol import escape_tag_value
from chinwag.server.commands.base import Context
from chinwag.server.fanout import add_tag
from chinwag.server.state import Cap

__all__ = ["LateReply", "defer_reply", "send_labeled"]

_batch_ids = itertools.count(1)


def send_labeled(ctx: Context, label: str, lines: list[bytes]) -> None:
    """Send the captured ``lines`` to the client, labeled."""
    client = ctx.client
    tag = b"label=" + escape_tag_value(label).encode("utf-8")
    server = ctx.network.name.encode("utf-8")
    lines = _one_per_line(lines)
    if not lines:
        client.send(b"@" + tag + b" :" + server + b" ACK\r\n")
    elif len(lines) == 1 or _one_batch(lines):
        client.send(add_tag(lines[0], tag))
        for line in lines[1:]:
            client.send(line)
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


def _one_per_line(chunks: list[bytes]) -> list[bytes]:
    """``chunks`` as single lines: some replies are queued as one chunk of many lines (the
    welcome burst), and each of their lines must carry its tag."""
    if all(chunk.count(b"\n") <= 1 for chunk in chunks):
        return chunks
    return [line + b"\n" for chunk in chunks for line in chunk.split(b"\n")[:-1]]


def _one_batch(lines: list[bytes]) -> bool:
    """True when ``lines`` open a batch on the first line and close it on the last."""
    first = lines[0].split(b" ", 3) if not lines[0].startswith(b"@") else []
    if len(first) < 3 or first[1] != b"BATCH" or not first[2].startswith(b"+"):
        return False
    return lines[-1].rstrip(b"\r\n").endswith(b" BATCH -" + first[2][1:])


class LateReply:
    """The reply to a command that is sent after its handler returned.

    Lines the handler queued go out as usual (or, for a labeled command, wait to be labeled
    with the rest); ``finish`` sends the late ones. Both orders of `handler_done` and `finish`
    work, so a late part that happens to be ready at once is fine too. A reply made of several
    late parts (the echoes of a message to several targets, relayed through a network) says so
    with `expect`, and each part `arrive`s: the reply goes when the last one has.
    """

    __slots__ = ("_ctx", "_early", "_finished", "_parts", "lines")

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx
        self._early: list[bytes] | None = None if ctx.label else []
        self._finished = False
        self._parts = 0
        self.lines: list[bytes] = []
        """Late lines collected so far; `finish` sends them."""

    @property
    def finished(self) -> bool:
        """Whether `finish` was called."""
        return self._finished

    def expect(self) -> None:
        """One more part of the reply will `arrive`: the reply waits for it."""
        self._parts += 1

    def arrive(self, lines: list[bytes]) -> None:
        """A part announced by `expect` came, with ``lines``: the last one sends the reply."""
        self.lines.extend(lines)
        self._parts -= 1
        if self._parts <= 0:
            self.finish()

    def handler_done(self, early: list[bytes]) -> None:
        """The handler returned having queued ``early`` (called by `dispatch` for a label)."""
        self._early = early
        if self._finished:
            self._send()

    def finish(self, lines: list[bytes] | None = None) -> None:
        """Send the reply: the collected `lines`, then ``lines``."""
        if self._finished:
            return
        if lines:
            self.lines.extend(lines)
        self._finished = True
        if self._early is not None:
            self._send()

    def _send(self) -> None:
        ctx = self._ctx
        assert self._early is not None
        lines = self._early + self.lines
        if ctx.label:
            send_labeled(ctx, ctx.label, lines)
        else:
            for line in lines:
                ctx.client.send(line)


def defer_reply(ctx: Context) -> LateReply:
    """Promise a reply after the handler returns; call ``finish`` on the result exactly once."""
    late = ctx.late
    if not isinstance(late, LateReply):
        late = ctx.late = LateReply(ctx)
    return late
