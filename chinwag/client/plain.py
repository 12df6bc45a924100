"""Plain mode: one event per line on stdout, one message or /command per line on stdin.

This is the frontend for pipes, scripts, bots and minimal terminals (``--plain``, or automatic when
stdin or stdout is not a terminal). Output lines look like::

    [12:01] <alice> hi
    [12:01] * alice waves
    * bob has joined #lobby
    -> carol: psst            (a private message I sent)
    <- carol: psst            (a private message I got)
    ! carol: No such nick/channel

A line from a room other than the current one carries the room name after the time. Connection
status (lost, reconnecting) goes to stderr, so stdout stays the conversation.

History (what was said before a conversation opened, from the server's chathistory) is printed
once, when the conversation opens, as a block between two markers; every line in it carries its
time, private lines too. After a reconnect only what was missed comes (lines already printed are
recognised by their msgid and not printed again)::

    -- history of #lobby --
    [11:58] <alice> morning
    [11:59] <- carol: psst
    -- end of history --

Stdin is read by a thread (a regular file cannot be watched by the event loop) into a queue. Lines
typed before the client is in its first room wait for it, so ``echo hi | chinwag connect`` says
hi in ``#lobby``. End of input sends QUIT and exits 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import threading
import time
from dataclasses import replace
from typing import TextIO

from chinwag.client.command_runner import execute, help_posted
from chinwag.client.lines import ActionLine, ChatLine, ErrorLine, Posted, SystemLine, is_history
from chinwag.client.net import ConnectError, Options, ServerConnection, Status
from chinwag.client.session import Session
from chinwag.client.user_commands import Help, parse_input

__all__ = ["format_block", "format_posted", "run_plain"]

# How long to wait, after the MOTD, for the server to put us in a room before reading input.
_AUTOJOIN_GRACE = 2.0


def _clock(stamp: float) -> str:
    return time.strftime("%H:%M", time.localtime(stamp))


def format_posted(posted: Posted, active: str) -> str:
    """One output line for a posted line, as plain mode prints it."""
    line = posted.line
    where = "" if posted.key == active or posted.private else f"{posted.name} "
    if posted.private and is_history(line):
        return f"[{_clock(line.time)}] " + format_posted(replace(posted, line=_live(line)), active)
    match line:
        case ChatLine(stamp, nick, text, own, _, notice):
            if notice:
                return f"[{_clock(stamp)}] {where}-{nick}- {text}"
            if posted.private:
                return f"-> {posted.name}: {text}" if own else f"<- {posted.name}: {text}"
            return f"[{_clock(stamp)}] {where}<{nick}> {text}"
        case ActionLine(stamp, nick, text, own):
            if posted.private:
                arrow = "->" if own else "<-"
                return f"{arrow} {posted.name}: * {nick} {text}"
            return f"[{_clock(stamp)}] {where}* {nick} {text}"
        case SystemLine(_, text):
            return f"* {text}"
        case ErrorLine(_, text):
            return f"! {text}"
    raise AssertionError(f"unknown line {line!r}")


def _live(line: ChatLine | ActionLine | SystemLine | ErrorLine) -> ChatLine | ActionLine:
    assert isinstance(line, ChatLine | ActionLine)
    return replace(line, history=False)


def format_block(posted: list[Posted], active: str) -> list[str]:
    """Output lines for what one read posted: runs of history lines between two markers."""
    out: list[str] = []
    history_of: str | None = None
    for item in posted:
        key = item.key if is_history(item.line) else None
        if key != history_of:
            if history_of is not None:
                out.append("-- end of history --")
            if key is not None:
                out.append(f"-- history of {item.name} --")
            history_of = key
        out.append(format_posted(item, active))
    if history_of is not None:
        out.append("-- end of history --")
    return out


class _StdinReader:
    """Read stdin lines in a thread and hand them to the event loop; None marks the end."""

    def __init__(self, stream: TextIO, loop: asyncio.AbstractEventLoop) -> None:
        self.queue: asyncio.Queue[str | None] = asyncio.Queue()
        self._stream = stream
        self._loop = loop
        self._thread = threading.Thread(target=self._run, name="chinwag-stdin", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            for raw in self._stream:
                self._loop.call_soon_threadsafe(self.queue.put_nowait, raw.rstrip("\r\n"))
        except (OSError, ValueError):
            pass
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(self.queue.put_nowait, None)


class _PlainClient:
    def __init__(
        self, session: Session, options: Options, out: TextIO, err: TextIO, trust_new: bool
    ) -> None:
        self.session = session
        self.out = out
        self.err = err
        self.accept_new_certificates = trust_new
        self.interactive = False
        self.ready = asyncio.Event()
        self.in_room = asyncio.Event()
        self.stdin: _StdinReader | None = None
        self.connection = ServerConnection(
            session,
            options,
            on_lines=self.show,
            on_status=self.status,
            ask_nick=self.ask_nick,
            trust_new=self.trust_new,
        )

    def show(self, posted: list[Posted]) -> None:
        if posted:
            active = self.session.active
            self.out.write("".join(line + "\n" for line in format_block(posted, active)))
            self.out.flush()
        if self.session.channels():
            self.in_room.set()

    def status(self, status: Status, detail: str) -> None:
        if status is Status.LOST:
            self.err.write(f"chinwag: connection lost: {detail}\n")
            self.err.flush()
        elif status is Status.CONNECTED:
            self.ready.set()

    async def ask_nick(self, reason: str) -> str | None:
        self.err.write(f"chinwag: {reason}. Type another nick:\n")
        self.err.flush()
        if self.stdin is None:
            return None
        return await self.stdin.queue.get()

    async def trust_new(self, key: str, fingerprint: str, reason: str) -> bool:
        """First use of a certificate no CA vouches for: --trust-new, or a yes on a terminal."""
        self.err.write(
            f"chinwag: the certificate of {key} could not be verified: {reason}\n"
            f"chinwag: its SHA-256 fingerprint is {fingerprint}\n"
        )
        if self.accept_new_certificates:
            self.err.write("chinwag: trusting it (--trust-new); it is remembered from now on\n")
            self.err.flush()
            return True
        if not self.interactive or self.stdin is None:
            self.err.flush()
            return False
        self.err.write("Trust it and remember it? [y/N] ")
        self.err.flush()
        answer = await self.stdin.queue.get()
        return (answer or "").strip().lower() in ("y", "yes")

    async def wait_until_ready(self) -> None:
        """Registered, and in a room if the server or --join puts us in one."""
        await self.ready.wait()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.in_room.wait(), _AUTOJOIN_GRACE)

    async def type_lines(self) -> int:
        assert self.stdin is not None
        await self.wait_until_ready()
        while True:
            text = await self.stdin.queue.get()
            if text is None:
                await self.connection.quit("End of input")
                return 0
            command = parse_input(text)
            if command is None:
                continue
            if isinstance(command, Help):
                self.show(help_posted(self.session))
                continue
            outcome = execute(self.session, command)
            self.show(outcome.posted)
            if outcome.quit is not None:
                await self.connection.quit(outcome.quit)
                return 0
            self.connection.flush()


async def run_plain(
    session: Session,
    options: Options,
    *,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
    trust_new: bool = False,
) -> int:
    """Run plain mode until end of input, /quit, or a connection that cannot be made.

    Args:
        trust_new: trust a TLS certificate seen for the first time without asking
            (``--trust-new``); otherwise it is asked on a terminal and refused elsewhere.

    Returns:
        The exit status: 0 after a clean quit, 1 when the connection failed.
    """
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    client = _PlainClient(session, options, out, err, trust_new)
    loop = asyncio.get_running_loop()
    source = stdin or sys.stdin
    client.interactive = source.isatty()
    client.stdin = _StdinReader(source, loop)
    with contextlib.suppress(NotImplementedError, RuntimeError):
        # Ctrl+C ends the input: QUIT is sent and the exit is clean.
        loop.add_signal_handler(signal.SIGINT, client.stdin.queue.put_nowait, None)
    network = asyncio.create_task(client.connection.run())
    typing = asyncio.create_task(client.type_lines())
    try:
        done, _ = await asyncio.wait({network, typing}, return_when=asyncio.FIRST_COMPLETED)
        if network in done:
            error = network.exception()
            if isinstance(error, ConnectError):
                err.write(f"chinwag: {error}\n")
                err.flush()
                return 1
            if error is not None:
                raise error
            if not client.connection.quitting:
                err.write("chinwag: the connection was closed\n")
                err.flush()
                return 1
        return await typing
    finally:
        for task in (network, typing):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectError, TimeoutError):
                await task
