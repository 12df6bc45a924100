"""Drive ii, the minimal FIFO-and-files client from suckless.

ii keeps a directory tree under its ``-i`` prefix: ``<server>/in`` (a FIFO for
commands), ``<server>/out`` (server messages, and NICK and QUIT lines, which
belong to no channel), and one ``in``/``out`` pair per channel or query
(``<server>/#lobby/out``, ``<server>/wee/out``). It also echoes every raw line
it receives on stdout, which is kept for failure dumps.

Out lines look like ``1795619096 -!- wee(~wee@127.0.0.1) has joined #lobby``
and ``1795619097 <wee> hello``.
"""

from __future__ import annotations

import errno
import re
from pathlib import Path

from ..waiting import read_text
from ..wiretap import Wiretap
from .base import ProcessDriver, any_line_matches, dump_files, strip_prefixes, write_fifo

_HOST = "127.0.0.1"


class IiDriver(ProcessDriver):
    """ii, one process per user."""

    name = "ii"
    programs = ("ii",)
    output_name = "ii.out"

    def __init__(self, nick: str, port: int, workdir: Path, wire: Wiretap | None = None) -> None:
        super().__init__(nick, port, workdir, wire)
        self.prefix = workdir / "irc"
        self.server_dir = self.prefix / _HOST

    # -- lifecycle ---------------------------------------------------------

    def start(self) -> None:
        """Start ii connecting to the server."""
        self._start_process(
            [
                "ii",
                "-s",
                _HOST,
                "-p",
                str(self.port),
                "-n",
                self.nick,
                "-i",
                str(self.prefix),
                "-f",
                "ii interop",
            ]
        )

    def is_registered(self) -> bool:
        """Whether ii has received the 001 welcome (seen in its raw echo)."""
        return any_line_matches(r"^\d+ :\S+ 001 ", read_text(self.output_path))

    # -- acting as the user ------------------------------------------------

    def join(self, channel: str) -> None:
        """Write ``/j channel`` to the server FIFO."""
        self._write(self.server_dir / "in", f"/j {channel}")

    def say(self, channel: str, text: str) -> None:
        """Write ``text`` to the channel's FIFO (ii creates it once it sees the channel)."""
        self._write(self.server_dir / channel.lower() / "in", text)

    def privmsg(self, target_nick: str, text: str) -> None:
        """Write ``/j nick text`` to the server FIFO: opens a query and sends ``text``."""
        self._write(self.server_dir / "in", f"/j {target_nick} {text}")

    def change_nick(self, new_nick: str) -> None:
        """Write ``/n new`` to the server FIFO."""
        self._write(self.server_dir / "in", f"/n {new_nick}")

    def type_command(self, command: str) -> None:
        """Write ``command`` to the server FIFO; ii sends slash commands it does not know raw."""
        self._write(self.server_dir / "in", command)

    def quit(self, message: str) -> None:
        """Write ``/q message`` to the server FIFO: ii sends QUIT and exits."""
        self._write(self.server_dir / "in", f"/q {message}")

    def _write(self, fifo: Path, line: str) -> None:
        # ii makes a channel's FIFO only once it sees the channel: ENOENT is
        # worth a bounded retry too.
        write_fifo(
            fifo,
            f"{line}\n".encode(),
            lambda: f"ii FIFO {fifo} to open\n{self.describe()}",
            retry=(errno.ENOENT, errno.ENXIO),
        )

    # -- what the user saw -------------------------------------------------

    def _outs(self) -> list[Path]:
        return sorted(self.prefix.rglob("out")) if self.prefix.exists() else []

    def _target_out(self, target: str) -> str:
        return read_text(self.server_dir / target.lower() / "out")

    def saw_join(self, nick: str, channel: str) -> bool:
        """Whether the channel's out has ``-!- nick(user@host) has joined channel``."""
        pattern = rf"^\d+ -!- {re.escape(nick)}\(.*\) has joined {re.escape(channel)}$"
        return any_line_matches(pattern, self._target_out(channel))

    def saw_names(self, channel: str, nicks: list[str]) -> bool:
        """Whether the server out has a NAMES line ``= #chan a b c`` holding all ``nicks``."""
        pattern = rf"^\d+ [=*@] {re.escape(channel)} (.*)$"
        return any(
            set(nicks) <= strip_prefixes(match.group(1).split())
            for match in re.finditer(pattern, read_text(self.server_dir / "out"), re.MULTILINE)
        )

    def saw_channel_message(self, sender: str, channel: str, text: str) -> bool:
        """Whether the channel's out has ``<sender> text``."""
        pattern = rf"^\d+ <{re.escape(sender)}> {re.escape(text)}$"
        return any_line_matches(pattern, self._target_out(channel))

    def saw_private_message(self, sender: str, text: str) -> bool:
        """Whether the query out for ``sender`` has ``<sender> text``."""
        pattern = rf"^\d+ <{re.escape(sender)}> {re.escape(text)}$"
        return any_line_matches(pattern, self._target_out(sender))

    def saw_nick_change(self, old: str, new: str) -> bool:
        """Whether some out has ``-!- old changed nick to new``."""
        pattern = rf"-!- {re.escape(old)} changed nick to {re.escape(new)}$"
        return any_line_matches(pattern, self.all_text())

    def saw_quit(self, nick: str, message: str) -> bool:
        """Whether some out has ``-!- nick(user@host) has quit "message"``."""
        pattern = rf'-!- {re.escape(nick)}\(.*\) has quit ".*{re.escape(message)}.*"$'
        return any_line_matches(pattern, self.all_text())

    def all_text(self) -> str:
        """Every out file ii wrote, concatenated (not the raw echo)."""
        return "\n".join(read_text(path) for path in self._outs())

    def debug_dump(self) -> str:
        """Every out file and ii's raw echo of what it received."""
        return dump_files(f"{self.name} {self.nick}", [*self._outs(), self.output_path])
