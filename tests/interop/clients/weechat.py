"""Drive weechat-headless through its FIFO plugin and read its logger files.

weechat gets a private ``--dir`` holding its config, logs and FIFO. A minimal
``weechat.conf``/``logger.conf`` is written before start so that only the
needed plugins load and the logger writes every line at once (its default
flush delay is two minutes). The server and nick are set with
``--run-command``; every later action is a line written to the FIFO:
``irc.server.test */command`` runs a command on the server buffer.

Log lines look like ``2026-11-25 15:04:32<TAB>-->``<TAB>``wee (~u@h) has joined #lobby``.
"""

from __future__ import annotations

import re
from pathlib import Path

from ..waiting import DEFAULT_TIMEOUT, read_text, wait_until
from ..wiretap import Wiretap
from .base import ProcessDriver, any_line_matches, dump_files, strip_prefixes, write_fifo

_SERVER = "test"
_SERVER_BUFFER = f"irc.server.{_SERVER}"
# Nick prefixes weechat may show before a nick (channel modes).
_MODE_PREFIXES = r"[~&@%+!]*"

_WEECHAT_CONF = """\
[plugin]
autoload = "irc,logger,fifo"
"""
_LOGGER_CONF = """\
[file]
flush_delay = 0
"""


class WeechatDriver(ProcessDriver):
    """weechat-headless, one process per user."""

    name = "weechat-headless"
    programs = ("weechat-headless",)
    output_name = "weechat.out"

    def __init__(self, nick: str, port: int, workdir: Path, wire: Wiretap | None = None) -> None:
        super().__init__(nick, port, workdir, wire)
        self.data_dir = workdir / "weechat"
        self.logs_dir = self.data_dir / "logs"

    # -- lifecycle ---------------------------------------------------------

    def start(self) -> None:
        """Start weechat-headless in the foreground and connect it to the server."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        (self.data_dir / "weechat.conf").write_text(_WEECHAT_CONF, encoding="utf-8")
        (self.data_dir / "logger.conf").write_text(_LOGGER_CONF, encoding="utf-8")
        commands = [
            "/set irc.server_default.anti_flood_prio_high 0",
            "/set irc.server_default.anti_flood_prio_low 0",
            f"/server add {_SERVER} 127.0.0.1/{self.port}",
            # weechat 3.x calls it "ssl", 4.x "tls"; setting both is harmless.
            f"/set irc.server.{_SERVER}.ssl off",
            f"/set irc.server.{_SERVER}.tls off",
            # Show the member list on join (353), so that it is logged.
            '/set irc.look.display_join_message "329,332,333,353,366"',
            f"/set irc.server.{_SERVER}.nicks {self.nick}",
            f"/set irc.server.{_SERVER}.username {self.nick}",
            f'/set irc.server.{_SERVER}.realname "weechat interop"',
            f"/connect {_SERVER}",
        ]
        self._start_process(
            ["weechat-headless", "--dir", str(self.data_dir), "--run-command", ";".join(commands)],
            TERM="dumb",
        )

    def is_registered(self) -> bool:
        """Whether the server buffer shows the welcome (001)."""
        server_log = self._read(f"irc.server.{_SERVER}.weechatlog")
        return re.search(r"\bwelcome\b", server_log, re.IGNORECASE) is not None

    # -- acting as the user ------------------------------------------------

    def join(self, channel: str) -> None:
        """Type ``/join channel`` in the server buffer."""
        self._command(f"/join {channel}")

    def say(self, channel: str, text: str) -> None:
        """Type ``/msg channel text`` (works whichever buffer is current)."""
        self._command(f"/msg {channel} {text}")

    def privmsg(self, target_nick: str, text: str) -> None:
        """Type ``/msg nick text``."""
        self._command(f"/msg {target_nick} {text}")

    def change_nick(self, new_nick: str) -> None:
        """Type ``/nick new``."""
        self._command(f"/nick {new_nick}")

    def type_command(self, command: str) -> None:
        """Type ``command`` in the server buffer."""
        self._command(command)

    def quit(self, message: str) -> None:
        """Type ``/quit message``: weechat sends QUIT and exits."""
        self._command(f"/quit {message}")

    def _command(self, command: str) -> None:
        self._write_fifo(f"{_SERVER_BUFFER} *{command}\n")

    def _write_fifo(self, line: str) -> None:
        fifo = wait_until(
            self._fifo_path,
            DEFAULT_TIMEOUT,
            lambda: f"weechat FIFO in {self.data_dir}\n{self.describe()}",
        )
        write_fifo(fifo, line.encode("utf-8"), f"weechat to read its FIFO {fifo}")

    def _fifo_path(self) -> Path | None:
        return next(iter(sorted(self.data_dir.glob("weechat_fifo*"))), None)

    # -- what the user saw -------------------------------------------------

    def _read(self, filename: str) -> str:
        return read_text(self.logs_dir / filename)

    def _buffer_log(self, name: str) -> str:
        """The log of the buffer of channel or private peer ``name``."""
        return self._read(f"irc.{_SERVER}.{name.lower()}.weechatlog")

    def saw_join(self, nick: str, channel: str) -> bool:
        """Whether the channel log has ``--> nick ... has joined channel``."""
        pattern = rf"\t-->\t{re.escape(nick)} .*has joined {re.escape(channel)}$"
        return any_line_matches(pattern, self._buffer_log(channel))

    def saw_names(self, channel: str, nicks: list[str]) -> bool:
        """Whether the channel log has ``Nicks #chan: [a b c]`` holding all ``nicks``."""
        pattern = rf"\t--\tNicks {re.escape(channel)}: \[(.*)\]$"
        return any(
            set(nicks) <= strip_prefixes(match.group(1).split())
            for match in re.finditer(pattern, self._buffer_log(channel), re.MULTILINE)
        )

    def saw_channel_message(self, sender: str, channel: str, text: str) -> bool:
        """Whether the channel log has ``sender<TAB>text``."""
        pattern = rf"\t{_MODE_PREFIXES}{re.escape(sender)}\t{re.escape(text)}$"
        return any_line_matches(pattern, self._buffer_log(channel))

    def saw_private_message(self, sender: str, text: str) -> bool:
        """Whether the private buffer with ``sender`` logged ``sender<TAB>text``."""
        pattern = rf"\t{re.escape(sender)}\t{re.escape(text)}$"
        return any_line_matches(pattern, self._buffer_log(sender))

    def saw_nick_change(self, old: str, new: str) -> bool:
        """Whether some buffer logged ``old is now known as new``."""
        pattern = rf"\t--\t{re.escape(old)} is now known as {re.escape(new)}$"
        return any_line_matches(pattern, self.all_text())

    def saw_quit(self, nick: str, message: str) -> bool:
        """Whether some buffer logged ``<-- nick (...) has quit (message)``."""
        pattern = rf"\t<--\t{re.escape(nick)} .*has quit \(.*{re.escape(message)}.*\)$"
        return any_line_matches(pattern, self.all_text())

    def all_text(self) -> str:
        """Every IRC log file weechat wrote, concatenated."""
        return "\n".join(
            path.read_text(encoding="utf-8", errors="replace")
            for path in sorted(self.logs_dir.glob("irc.*.weechatlog"))
        )

    def debug_dump(self) -> str:
        """Every weechat log file (core included)."""
        paths = sorted(self.logs_dir.glob("*.weechatlog")) if self.logs_dir.exists() else []
        return dump_files(f"{self.name} {self.nick}", paths)
