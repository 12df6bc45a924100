"""IRC servers started as subprocesses for the interop tests.

The target is chinwag (``python -m chinwag serve``). ngircd is a stand-in for
developing the drivers (``CHINWAG_INTEROP_SERVER=ngircd``); it does not put
users in ``#lobby`` by itself, so ``autojoins`` tells the tests whether clients
must join explicitly.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from .waiting import (
    WaitTimeout,
    free_port,
    port_accepts,
    start_process,
    stop_process,
    wait_until,
)

LOBBY = "#lobby"
SERVER_KINDS = ("chinwag", "ngircd")
_START_TIMEOUT = 20.0
_PORT_ATTEMPTS = 3

CHINWAG_CONFIG = """\
[server]
name = "test.chinwag"
default_channels = ["{lobby}"]

[limits]
max_clients_per_ip = 0
flood_rate = 0
"""

NGIRCD_CONFIG = """\
[Global]
Name = test.ngircd
Info = chinwag interop stand-in
Listen = 127.0.0.1
Ports = {port}
MotdPhrase = interop

[Limits]
MaxConnectionsIP = 0
MaxJoins = 0
PingTimeout = 120
PongTimeout = 60

[Options]
DNS = no
Ident = no
PAM = no
"""


class ServerStartError(RuntimeError):
    """The server did not come up; the message carries its output."""


@dataclass
class ServerProcess:
    """One IRC server process listening on 127.0.0.1.

    Attributes:
        kind: "chinwag" or "ngircd".
        workdir: private directory for config, data and logs.
        port: TCP port, chosen free at start.
        autojoins: whether the server puts every user in ``#lobby`` itself.
    """

    kind: str
    workdir: Path
    port: int = 0
    host: str = "127.0.0.1"
    proc: subprocess.Popen[bytes] | None = None
    log_path: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log_path = self.workdir / f"{self.kind}.log"

    @property
    def autojoins(self) -> bool:
        """Whether registration alone lands a user in ``#lobby``."""
        return self.kind == "chinwag"

    def start(self) -> None:
        """Start the server and wait, bounded and polled, until it accepts connections.

        A port picked as free may be taken by a parallel worker before the server
        binds it, so a start whose process dies early is retried on a new port.

        Raises:
            ServerStartError: the server never accepted a connection.
        """
        self.workdir.mkdir(parents=True, exist_ok=True)
        errors: list[str] = []
        for _ in range(_PORT_ATTEMPTS):
            self.port = free_port()
            proc = self.proc = self._spawn()
            try:
                wait_until(
                    partial(_exited_or_listening, proc, self.port),
                    timeout=_START_TIMEOUT,
                    what=f"{self.kind} to listen on port {self.port}",
                )
            except WaitTimeout as exc:
                errors.append(str(exc))
                self.stop()
                break
            if proc.poll() is None:
                return
            errors.append(f"{self.kind} exited with {proc.returncode}")
        raise ServerStartError(
            f"{self.kind} did not start: {'; '.join(errors)}\n--- output ---\n{self.output()}"
        )

    def _spawn(self) -> subprocess.Popen[bytes]:
        return start_process(
            self._command(),
            cwd=self.workdir,
            env=self._environment(),
            output=self.log_path,
            append=True,
        )

    def _environment(self) -> dict[str, str]:
        env = dict(os.environ)
        env["HOME"] = str(self.workdir)
        # The tests import chinwag from the working tree, whether or not it is installed.
        root = str(Path(__file__).resolve().parents[2])
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
        env["PYTHONUNBUFFERED"] = "1"
        return env

    def _command(self) -> list[str]:
        if self.kind == "chinwag":
            config = self.workdir / "chinwag.toml"
            config.write_text(CHINWAG_CONFIG.format(lobby=LOBBY), encoding="utf-8")
            return [
                sys.executable,
                "-m",
                "chinwag",
                "serve",
                "--host",
                self.host,
                "--port",
                str(self.port),
                "--config",
                str(config),
                "--log-level",
                "debug",
            ]
        if self.kind == "ngircd":
            binary = shutil.which("ngircd") or "/usr/sbin/ngircd"
            config = self.workdir / "ngircd.conf"
            config.write_text(
                NGIRCD_CONFIG.format(port=self.port, workdir=self.workdir), encoding="utf-8"
            )
            return [binary, "--nodaemon", "--config", str(config)]
        raise ValueError(f"unknown interop server kind {self.kind!r}")

    def stop(self) -> None:
        """Stop the server by PID: SIGTERM, bounded wait, SIGKILL."""
        if self.proc is not None:
            stop_process(self.proc)

    def output(self) -> str:
        """Return everything the server wrote to stdout and stderr so far."""
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return "(no output)"


def _exited_or_listening(proc: subprocess.Popen[bytes], port: int) -> bool:
    """Whether the server process died or accepts connections on ``port``."""
    return proc.poll() is not None or port_accepts(port)
