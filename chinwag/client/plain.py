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

Nothing received reaches the terminal raw, also when stdout is a pipe or a file (a log that is
later ``cat``-ed is a screen too): control characters show as visible markers
(`chinwag.client.safety`), and IRC formatting becomes ANSI styles we write ourselves when stdout is
a terminal, or is stripped otherwise and with ``--no-colour``. ``--raw`` prints text as received.

Stdin is read by a thread (a regular file cannot be watched by the event loop) into a queue. Lines
typed before the client is in its first room wait for it, so ``echo hi | chinwag connect --nick
amy`` says hi in ``#lobby``.

No line is lost: lines go out through a `SendWindow` (`chinwag.client.pacing`), paced to what the
server acknowledges, and end of input waits until the server has acknowledged every line, then
sends QUIT. The exit status is 0 only when every line went out; otherwise stderr says how many did
not. When input is not a terminal (a pipe, a script), a lost connection ends the client instead
of reconnecting (a reconnect would have to guess which lines in flight the server got), and a
taken nick becomes ``nick_`` then ``nick__``: an input line is never taken for a nick.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import TextIO

from chinwag.client.command_runner import execute, help_posted
from chinwag.client.formatting import to_ansi
from chinwag.client.lines import ActionLine, ChatLine, ErrorLine, Posted, SystemLine, is_history
from chinwag.client.net import ConnectError, Options, ServerConnection, Status
from chinwag.client.pacing import SendWindow
from chinwag.client.render import flat
from chinwag.client.session import Session
from chinwag.client.user_commands import Help, parse_input

__all__ = ["NICK_TRIES", "format_block", "format_posted", "output_filter", "run_plain"]

# How long to wait, after the MOTD, for the server to put us in a room before reading input.
_AUTOJOIN_GRACE = 2.0
NICK_TRIES = 2
"""Underscores added to a taken nick when nobody can be asked (``amy_``, ``amy__``)."""


def output_filter(*, raw: bool, colours: bool) -> Callable[[str], str]:
    """How an output line is made safe: ``raw`` as received, ANSI styles, or formatting stripped.

    Args:
        raw: print text exactly as received (``--raw``): control characters included.
        colours: turn IRC formatting into ANSI styles (stdout is a terminal, no ``--no-colour``);
            otherwise it is stripped. Either way every control character is made visible.
    """
    if raw:
        return str
    return to_ansi if colours else flat


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
        self.ended = False
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
            self._loop.call_soon_threadsafe(self.end)

    def end(self) -> None:
        """No more input (end of file, or Ctrl+C)."""
        self.ended = True
        self.queue.put_nowait(None)

    @property
    def waiting(self) -> int:
        """Lines read and not taken yet (the end marker not counted)."""
        return max(0, self.queue.qsize() - self.ended)


class _PlainClient:
    def __init__(
        self,
        session: Session,
        options: Options,
        out: TextIO,
        err: TextIO,
        *,
        trust_new: bool,
        interactive: bool,
        clean: Callable[[str], str],
    ) -> None:
        self.session = session
        self.out = out
        self.err = err
        self.clean = clean
        self.accept_new_certificates = trust_new
        self.interactive = interactive
        self.ready = asyncio.Event()
        self.in_room = asyncio.Event()
        self.stdin: _StdinReader | None = None
        self.window = SendWindow()
        self.not_sent = 0  # lines typed while there was no connection
        self._lost_reported = 0
        self._unsent_reported = False
        self._nick = session.nick
        self._nick_tries = 0
        self.connection = ServerConnection(
            session,
            options,
            on_lines=self.show,
            on_status=self.status,
            ask_nick=self.ask_nick,
            trust_new=self.trust_new,
            window=self.window,
        )

    def say(self, text: str) -> None:
        """One line on stderr (network text in it made safe like stdout)."""
        self.err.write(f"chinwag: {self.clean(text)}\n")
        self.err.flush()

    def show(self, posted: list[Posted]) -> None:
        if posted:
            active = self.session.active
            lines = format_block(posted, active)
            self.out.write("".join(self.clean(line) + "\n" for line in lines))
            self.out.flush()
        if self.session.channels():
            self.in_room.set()

    def status(self, status: Status, detail: str) -> None:
        if status is Status.LOST:
            self.say(f"connection lost: {detail}")
            lost = self.window.lost - self._lost_reported
            if lost:
                self._lost_reported = self.window.lost
                self.say(f"{_lines(lost)} in flight may not have been sent")
        elif status is Status.CONNECTED:
            self.ready.set()

    async def ask_nick(self, reason: str) -> str | None:
        """Another nick: asked for on a terminal; in a pipe ``nick_``, ``nick__``, then none."""
        if not self.interactive or self.stdin is None:
            if self._nick_tries < NICK_TRIES:
                self._nick_tries += 1
                nick = self._nick + "_" * self._nick_tries
                self.say(f"{reason}; trying {nick}")
                return nick
            tried = ", ".join(self._nick + "_" * i for i in range(NICK_TRIES + 1))
            self.say(f"{reason}: no nick left to try ({tried}); choose another with --nick")
            return None
        self.say(f"{reason}. Type another nick:")
        return await self.stdin.queue.get()

    async def trust_new(self, key: str, fingerprint: str, reason: str) -> bool:
        """First use of a certificate no CA vouches for: --trust-new, or a yes on a terminal."""
        # The reason may quote names from the certificate, which the server chose.
        self.say(f"the certificate of {key} could not be verified: {reason}")
        self.say(f"its SHA-256 fingerprint is {fingerprint}")
        if self.accept_new_certificates:
            self.say("trusting it (--trust-new); it is remembered from now on")
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

    def held(self) -> int:
        """Lines the session holds until it can say them again (typed while disconnected)."""
        return sum(len(lines) for lines in self.session.pending.values())

    def unsent(self) -> int:
        """Input lines that did not go out: lost in flight, held, refused, or never taken."""
        waiting = self.stdin.waiting if self.stdin is not None else 0
        window = self.window
        lost = window.lost + window.pending + window.unconfirmed + self.not_sent
        return lost + self.held() + waiting

    def report_unsent(self, why: str, unsent: int | None = None) -> int:
        """Say on stderr (once) how many lines did not go out, if any; return the exit status."""
        unsent = self.unsent() if unsent is None else unsent
        if not unsent:
            return 0
        if self._unsent_reported:
            return 1
        self._unsent_reported = True
        total = self.window.lines + self.not_sent + (self.stdin.waiting if self.stdin else 0)
        verb = "was" if unsent == 1 else "were"
        self.say(f"{unsent} of {_lines(total)} {verb} not sent{why}")
        return 1

    async def type_lines(self) -> int:
        """Send what is typed until the end of input or /quit; return the exit status."""
        assert self.stdin is not None
        await self.wait_until_ready()
        while True:
            text = await self.stdin.queue.get()
            if text is None:
                return await self.finish("End of input")
            command = parse_input(text)
            if command is None or isinstance(command, Help):
                self.window.send([])  # nothing to send: done as soon as read
                if command is not None:
                    self.show(help_posted(self.session))
                continue
            held = self.held()
            outcome = execute(self.session, command)
            self.show(outcome.posted)
            messages = self.session.take_outbox()
            if outcome.quit is not None:
                # QUIT goes last, after every line is acknowledged: `finish` sends it.
                messages = [m for m in messages if m.command != "QUIT"]
            if self.held() > held:
                # Held for after the reconnect (shown as pending); counted at the end if still so.
                self.window.send([])
            elif not await self.connection.send_paced(messages):
                self.not_sent += 1
                self.show([self.session.error("Not connected: the message was not sent")])
                if not self.interactive:
                    return self.report_unsent(" (the connection was lost)")
            if outcome.quit is not None:
                return await self.finish(outcome.quit)
            if self.stdin.queue.empty():
                self.connection.settle()

    async def finish(self, reason: str) -> int:
        """Wait until the server acknowledged every line, then QUIT; the exit status."""
        await self.connection.drain()
        # Counted before the QUIT: closing the connection forgets what was in flight.
        unsent = self.unsent()
        if not self.connection.connected:
            why = " (the connection was lost)"
        elif self.window.unconfirmed:
            them = "it" if unsent == 1 else "them"
            why = f": the server did not echo {them} (see the errors above)"
        else:
            why = ""
        await self.connection.quit(reason)
        return self.report_unsent(why, unsent)


def _lines(count: int) -> str:
    return f"{count} line" if count == 1 else f"{count} lines"


async def run_plain(
    session: Session,
    options: Options,
    *,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
    trust_new: bool = False,
    clean: Callable[[str], str] | None = None,
) -> int:
    """Run plain mode until end of input, /quit, or a connection that cannot be made.

    Args:
        trust_new: trust a TLS certificate seen for the first time without asking
            (``--trust-new``); otherwise it is asked on a terminal and refused elsewhere.
        clean: how output lines are made safe (`output_filter`); by default formatting is
            stripped and control characters made visible.

    Returns:
        The exit status: 0 after a clean quit with every line sent, 1 when the connection failed
        or lines were not sent.
    """
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    source = stdin or sys.stdin
    interactive = source.isatty()
    if not interactive:
        options = replace(options, reconnect=False)
    client = _PlainClient(
        session,
        options,
        out,
        err,
        trust_new=trust_new,
        interactive=interactive,
        clean=clean or output_filter(raw=False, colours=False),
    )
    loop = asyncio.get_running_loop()
    client.stdin = _StdinReader(source, loop)
    with contextlib.suppress(NotImplementedError, RuntimeError):
        # Ctrl+C ends the input: QUIT is sent and the exit is clean.
        loop.add_signal_handler(signal.SIGINT, client.stdin.end)
    network = asyncio.create_task(client.connection.run())
    typing = asyncio.create_task(client.type_lines())
    try:
        done, _ = await asyncio.wait({network, typing}, return_when=asyncio.FIRST_COMPLETED)
        if network in done:
            error = network.exception()
            if isinstance(error, ConnectError):
                client.say(str(error))
                return 1
            if error is not None:
                raise error
            if not client.connection.quitting:
                why = session.closing_reason or client.connection.ended_because
                client.say(f"the connection was closed ({why})")
                client.report_unsent("")
                return 1
        return await typing
    finally:
        for task in (network, typing):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectError, TimeoutError):
                await task
