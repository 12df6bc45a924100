"""Drive irssi inside a private tmux server and read its log files.

irssi runs in ``tmux -L <unique socket> new-session -d`` with its own
``--home`` (config, logs); commands are typed with ``send-keys``. What irssi
shows is read from two kinds of logs it writes itself: autolog (one file per
channel or query, as a user would keep them) and one catch-all log at level ALL
that also holds the status window, used to see registration and for failure
dumps. ``capture-pane`` output is added to the dump.

Autolog lines look like ``15:04 -!- wee [~wee@127.0.0.1] has joined #lobby``
and ``15:04 < wee> hello``.
"""

from __future__ import annotations

import os
import re
import subprocess
import uuid
from pathlib import Path

from ..waiting import kill_pid, pid_alive, read_text
from ..wiretap import Wiretap
from .base import ClientDriver, any_line_matches, dump_files, strip_prefixes

_CHATNET = "test"
_TMUX_TIMEOUT = 10.0

_CONFIG = """\
servers = (
  {{
    address = "127.0.0.1";
    chatnet = "{chatnet}";
    port = "{port}";
    use_tls = "no";
    tls_verify = "no";
    autoconnect = "yes";
  }}
);
chatnets = {{ {chatnet} = {{ type = "IRC"; }}; }};
settings = {{
  core = {{
    real_name = "irssi interop";
    user_name = "{nick}";
    nick = "{nick}";
    settings_autosave = "no";
  }};
  "irc/core" = {{ cmd_queue_speed = "0msec"; cmds_max_at_once = "100"; }};
  "fe-text" = {{ paste_detect_time = "0"; }};
  "fe-common/core" = {{
    autolog = "yes";
    autolog_path = "{logs}/$tag/$0.log";
    autolog_level = "all";
  }};
}};
logs = {{ "{logs}/all.log" = {{ auto_open = "yes"; level = "ALL"; }}; }};
"""


class IrssiDriver(ClientDriver):
    """irssi under its own tmux server, one per user."""

    name = "irssi"
    programs = ("irssi", "tmux")

    def __init__(self, nick: str, port: int, workdir: Path, wire: Wiretap | None = None) -> None:
        super().__init__(nick, port, workdir, wire)
        self.home = workdir / "irssi-home"
        self.logs_dir = workdir / "irssi-logs"
        # Unique across xdist workers and tests: pid + random suffix.
        self.socket_name = f"chinwag-interop-{os.getpid()}-{uuid.uuid4().hex[:10]}"
        self.pane_pid: int | None = None
        self.server_pid: int | None = None
        self.socket_path: Path | None = None

    # -- tmux plumbing -----------------------------------------------------

    def _tmux(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        env = dict(os.environ, HOME=str(self.home), TERM="xterm-256color", LANG="C.UTF-8")
        env.pop("TMUX", None)
        return subprocess.run(
            ["tmux", "-L", self.socket_name, "-f", "/dev/null", *args],
            check=check,
            capture_output=True,
            text=True,
            env=env,
            timeout=_TMUX_TIMEOUT,
            stdin=subprocess.DEVNULL,
        )

    def _type(self, line: str) -> None:
        # -l sends the text literally (no key-name lookup); Enter is a separate key.
        self._tmux("send-keys", "-t", "irssi", "-l", line)
        self._tmux("send-keys", "-t", "irssi", "Enter")

    # -- lifecycle ---------------------------------------------------------

    def start(self) -> None:
        """Start a tmux server with irssi in its only pane."""
        self.home.mkdir(parents=True, exist_ok=True)
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        (self.home / "config").write_text(
            _CONFIG.format(chatnet=_CHATNET, port=self.port, nick=self.nick, logs=self.logs_dir),
            encoding="utf-8",
        )
        self._tmux(
            "new-session",
            "-d",
            "-s",
            "irssi",
            "-x",
            "200",
            "-y",
            "50",
            "irssi",
            f"--home={self.home}",
        )
        info = self._tmux(
            "display-message", "-p", "-t", "irssi", "#{pane_pid} #{pid} #{socket_path}"
        )
        pane_pid, server_pid, socket_path = info.stdout.strip().split(" ", 2)
        self.pane_pid, self.server_pid = int(pane_pid), int(server_pid)
        self.socket_path = Path(socket_path)

    def is_registered(self) -> bool:
        """Whether the catch-all log shows the welcome (001)."""
        return re.search(r"\bwelcome\b", read_text(self.logs_dir / "all.log"), re.I) is not None

    def is_running(self) -> bool:
        """Whether the irssi process (the pane's process) still runs."""
        return self.pane_pid is not None and pid_alive(self.pane_pid)

    def stop(self) -> None:
        """Stop irssi, then the tmux server, each by PID (bounded)."""
        if self.pane_pid is not None:
            kill_pid(self.pane_pid)
        self._tmux("kill-server", check=False)
        if self.server_pid is not None:
            kill_pid(self.server_pid)
        # A tmux server that died by signal leaves its socket file behind.
        if self.socket_path is not None:
            self.socket_path.unlink(missing_ok=True)

    # -- acting as the user ------------------------------------------------

    def join(self, channel: str) -> None:
        """Type ``/join channel``."""
        self._type(f"/join {channel}")

    def say(self, channel: str, text: str) -> None:
        """Type ``/msg channel text`` (independent of the active window)."""
        self._type(f"/msg {channel} {text}")

    def privmsg(self, target_nick: str, text: str) -> None:
        """Type ``/msg nick text``."""
        self._type(f"/msg {target_nick} {text}")

    def change_nick(self, new_nick: str) -> None:
        """Type ``/nick new``."""
        self._type(f"/nick {new_nick}")

    def type_command(self, command: str) -> None:
        """Type ``command`` and Enter."""
        self._type(command)

    def quit(self, message: str) -> None:
        """Type ``/quit message``: irssi sends QUIT and exits, closing the pane."""
        self._type(f"/quit {message}")

    # -- what the user saw -------------------------------------------------

    def _autologs(self) -> list[Path]:
        network_dir = self.logs_dir / _CHATNET
        return sorted(network_dir.glob("*.log")) if network_dir.exists() else []

    def _target_log(self, target: str) -> str:
        # irssi may or may not fold the target's case in the file name.
        wanted = f"{target}.log".lower()
        return "\n".join(
            read_text(path) for path in self._autologs() if path.name.lower() == wanted
        )

    def saw_join(self, nick: str, channel: str) -> bool:
        """Whether the channel log has ``-!- nick [...] has joined channel``."""
        pattern = rf"-!- {re.escape(nick)} .*has joined {re.escape(channel)}\s*$"
        return any_line_matches(pattern, self._target_log(channel))

    def saw_names(self, channel: str, nicks: list[str]) -> bool:
        """Whether the channel log's ``[Users #chan]`` block lists all ``nicks``."""
        shown: set[str] = set()
        in_block = False
        for line in self._target_log(channel).splitlines():
            if line.endswith(f"[Users {channel}]"):
                in_block, shown = True, set()
            elif in_block and "Total of" in line:
                if set(nicks) <= shown:
                    return True
                in_block = False
            elif in_block:
                shown |= strip_prefixes(re.findall(r"\[.?(\S+?)\s*\]", line))
        return in_block and set(nicks) <= shown

    def saw_channel_message(self, sender: str, channel: str, text: str) -> bool:
        """Whether the channel log has ``<@sender> text`` (any mode char or none)."""
        pattern = rf"<[ ~&@%+]?{re.escape(sender)}> {re.escape(text)}$"
        return any_line_matches(pattern, self._target_log(channel))

    def saw_private_message(self, sender: str, text: str) -> bool:
        """Whether the query log for ``sender`` has ``<sender> text``."""
        pattern = rf"< ?{re.escape(sender)}> {re.escape(text)}$"
        return any_line_matches(pattern, self._target_log(sender))

    def saw_nick_change(self, old: str, new: str) -> bool:
        """Whether some log has ``-!- old is now known as new``."""
        pattern = rf"-!- {re.escape(old)} is now known as {re.escape(new)}$"
        return any_line_matches(pattern, self.all_text())

    def saw_quit(self, nick: str, message: str) -> bool:
        """Whether some log has ``-!- nick [...] has quit [message]``."""
        pattern = rf"-!- {re.escape(nick)} .*has quit \[.*{re.escape(message)}.*\]$"
        return any_line_matches(pattern, self.all_text())

    def all_text(self) -> str:
        """The catch-all log and every autolog, concatenated."""
        paths = [self.logs_dir / "all.log", *self._autologs()]
        return "\n".join(read_text(path) for path in paths)

    def debug_dump(self) -> str:
        """Every irssi log, and the visible screen if tmux still runs."""
        logs = [self.logs_dir / "all.log", *self._autologs()]
        text = dump_files(f"{self.name} {self.nick}", logs)
        try:
            pane = self._tmux("capture-pane", "-p", "-t", "irssi", check=False).stdout
        except (OSError, subprocess.TimeoutExpired) as exc:
            pane = f"(capture-pane failed: {exc})"
        return f"{text}\n--- tmux capture-pane ---\n{pane}"
