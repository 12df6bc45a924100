"""What every client driver offers: act like a user, and report what the user saw.

Theory of operation: a driver starts one real client process with a private
directory (its own HOME and config), types commands into it the way that client
takes input (a FIFO, tmux keys), and reads what the client *shows* from the log
files the client itself writes. Assertions are made on that rendering, because
that is what proves the client understood the server: a line the server sent but
the client could not parse does not appear.

The ``saw_*`` methods are cheap predicates for ``wait_until``; each driver turns
an event into the regular expression matching its own log format.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import subprocess
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path

from ..waiting import DEFAULT_TIMEOUT, start_process, stop_process, wait_until
from ..wiretap import Wiretap


class ClientMissingError(RuntimeError):
    """The client's program is not installed."""


class ClientDriver(ABC):
    """One real IRC client connected to the server under test.

    Args:
        nick: the nick the client registers with (lowercase ASCII, so that
            log file names do not depend on the client's case folding).
        port: server port on 127.0.0.1 (or that of a wiretap in front of it).
        workdir: private directory; the client's HOME, config and logs live here.
        wire: the wiretap relaying this client's connection, if any; its
            transcript is added to failure messages.
    """

    #: Human name of the client, for messages.
    name: str = "client"
    #: Programs that must be on PATH for the driver to work.
    programs: tuple[str, ...] = ()

    def __init__(self, nick: str, port: int, workdir: Path, wire: Wiretap | None = None) -> None:
        self.nick = nick
        self.port = port
        self.workdir = workdir
        self.wire = wire
        self.workdir.mkdir(parents=True, exist_ok=True)

    @classmethod
    def missing_programs(cls) -> list[str]:
        """Return the programs this driver needs that are not on PATH."""
        return [program for program in cls.programs if shutil.which(program) is None]

    # -- lifecycle ---------------------------------------------------------

    @abstractmethod
    def start(self) -> None:
        """Start the client process, configured to connect to the server."""

    @abstractmethod
    def is_registered(self) -> bool:
        """Tell whether the client has shown the server's welcome."""

    @abstractmethod
    def is_running(self) -> bool:
        """Tell whether the client process still runs."""

    @abstractmethod
    def stop(self) -> None:
        """Stop every process this driver started (by PID, bounded)."""

    def wait_registered(self, timeout: float = DEFAULT_TIMEOUT) -> None:
        """Wait, polled and bounded, until the client shows it is registered."""
        wait_until(
            self.is_registered,
            timeout,
            lambda: f"{self.name} ({self.nick}) to register\n{self.describe()}",
        )

    def wait_exited(self, timeout: float = DEFAULT_TIMEOUT) -> None:
        """Wait, polled and bounded, until the client process has exited by itself."""
        wait_until(
            lambda: not self.is_running(),
            timeout,
            lambda: f"{self.name} ({self.nick}) to exit\n{self.describe()}",
        )

    # -- acting as the user ------------------------------------------------

    @abstractmethod
    def join(self, channel: str) -> None:
        """Join ``channel`` the way a user of this client would."""

    @abstractmethod
    def say(self, channel: str, text: str) -> None:
        """Send ``text`` to ``channel``."""

    @abstractmethod
    def privmsg(self, target_nick: str, text: str) -> None:
        """Send ``text`` privately to ``target_nick``."""

    @abstractmethod
    def change_nick(self, new_nick: str) -> None:
        """Ask the server for a new nick (``self.nick`` follows once it is seen)."""

    @abstractmethod
    def type_command(self, command: str) -> None:
        """Type a slash command as is, e.g. ``/whois wee`` (raw for ii)."""

    @abstractmethod
    def quit(self, message: str) -> None:
        """Quit IRC with ``message``; the client process is expected to exit."""

    # -- what the user saw -------------------------------------------------

    @abstractmethod
    def saw_join(self, nick: str, channel: str) -> bool:
        """Whether the client showed ``nick`` joining ``channel``."""

    @abstractmethod
    def saw_names(self, channel: str, nicks: list[str]) -> bool:
        """Whether the client showed a member list of ``channel`` holding all ``nicks``."""

    @abstractmethod
    def saw_channel_message(self, sender: str, channel: str, text: str) -> bool:
        """Whether the client showed ``text`` from ``sender`` in ``channel``."""

    @abstractmethod
    def saw_private_message(self, sender: str, text: str) -> bool:
        """Whether the client showed ``text`` as a private message from ``sender``."""

    @abstractmethod
    def saw_nick_change(self, old: str, new: str) -> bool:
        """Whether the client showed ``old`` becoming ``new``."""

    @abstractmethod
    def saw_quit(self, nick: str, message: str) -> bool:
        """Whether the client showed ``nick`` quitting with ``message``."""

    @abstractmethod
    def all_text(self) -> str:
        """Everything the client logged, for "was never shown" assertions."""

    @abstractmethod
    def debug_dump(self) -> str:
        """Logs and output worth reading when a wait fails."""

    def describe(self) -> str:
        """What the client logged, plus its wire transcript when it has a wiretap."""
        wire = f"\n{self.wire.transcript()}" if self.wire is not None else ""
        return f"{self.debug_dump()}{wire}"

    def shows_anywhere(self, text: str) -> bool:
        """Whether ``text`` appears anywhere in what the client logged."""
        return text in self.all_text()


class ProcessDriver(ClientDriver):
    """A client that is one child process of the test (ii, weechat-headless).

    Its stdout and stderr go to ``output_path``; it runs in its own session, so
    :meth:`stop` also ends any helper it spawned.
    """

    #: File in ``workdir`` that receives the process's stdout and stderr.
    output_name: str = "client.out"

    def __init__(self, nick: str, port: int, workdir: Path, wire: Wiretap | None = None) -> None:
        super().__init__(nick, port, workdir, wire)
        self.output_path = workdir / self.output_name
        self.proc: subprocess.Popen[bytes] | None = None

    def _start_process(self, argv: list[str], **env: str) -> None:
        """Start ``argv`` in ``workdir``, with HOME there, a UTF-8 locale and ``env`` added."""
        self.proc = start_process(
            argv,
            cwd=self.workdir,
            env=dict(os.environ, HOME=str(self.workdir), LANG="C.UTF-8", **env),
            output=self.output_path,
        )

    def is_running(self) -> bool:
        """Whether the client process still runs."""
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        """Stop the client process by PID (SIGTERM, then SIGKILL)."""
        if self.proc is not None:
            stop_process(self.proc)


def write_fifo(
    fifo: Path, data: bytes, what: str | Callable[[], str], retry: tuple[int, ...] = (errno.ENXIO,)
) -> None:
    """Write ``data`` to the FIFO a client reads its commands from, in one ``write``.

    The FIFO is opened with O_NONBLOCK, so a client that went away never hangs the
    test; an open failing with an errno in ``retry`` (ENXIO: no reader yet) is
    retried, polled and bounded, and ``what`` describes the wait on timeout.
    """

    def open_fifo() -> int | None:
        try:
            return os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        except OSError as exc:
            if exc.errno in retry:
                return None
            raise

    fd = wait_until(open_fifo, DEFAULT_TIMEOUT, what)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def any_line_matches(pattern: str, text: str) -> bool:
    """Whether some line of ``text`` matches the regular expression ``pattern``."""
    return re.search(pattern, text, re.MULTILINE) is not None


def strip_prefixes(names: list[str]) -> set[str]:
    """Drop channel-mode prefixes (``@``, ``+``...) and any ``!user@host`` from member names."""
    return {name.lstrip("~&@%+!").split("!", 1)[0] for name in names if name}


def dump_files(title: str, paths: list[Path], limit: int = 6000) -> str:
    """Render the tail of each file for a failure message."""
    parts = [f"===== {title} ====="]
    for path in paths:
        try:
            content = path.read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            content = f"(unreadable: {exc})"
        if len(content) > limit:
            content = "...\n" + content[-limit:]
        parts.append(f"--- {path} ---\n{content}")
    return "\n".join(parts)
