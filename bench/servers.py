"""How to configure, start, measure and stop each IRC server under test.

Every server is configured for loopback only, with flood throttling, per-IP limits and small send
queues lifted as far as its configuration allows (see ``bench/README.md`` for the exact list). Each
run gets a fresh process, its own temporary directory and its own port; the process is pinned to
core 0 with ``taskset`` and stopped by PID (SIGTERM, then SIGKILL).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024

#: Send queue given to every server that lets us choose it (bytes).
SENDQ_BYTES = 1_048_576


@dataclass(frozen=True)
class ServerSpec:
    """One server implementation: how to write its config and the command that starts it."""

    name: str
    #: (workdir, port) -> argv; writes whatever config files it needs into workdir.
    build: Callable[[Path, int], list[str]]
    #: Most client sockets the server can hold (None: no known limit below the fd limit).
    max_clients: int | None = None
    #: Why max_clients is what it is.
    limit_note: str = ""
    #: Extra environment variables for the server process.
    env: dict[str, str] = field(default_factory=dict)
    #: Cores the server's child processes (chinwag's indexer) may run on; None: the server's.
    helper_cores: frozenset[int] | None = None
    #: The channel the server joins every client to itself (clients then send no JOIN).
    autojoin: str | None = None

    def available(self) -> bool:
        """Return True when the server can be started on this machine."""
        if self.name.startswith("chinwag"):
            return _chinwag_available()
        return shutil.which(self.build(Path("/nonexistent"), 0)[0]) is not None


def _chinwag_available() -> bool:
    try:
        done = subprocess.run(
            [sys.executable, "-m", "chinwag", "serve", "--help"],
            capture_output=True,
            timeout=30,
            check=False,
            cwd=REPO,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def _chinwag(
    workdir: Path, port: int, extra: str = "", channels: str = "[]", *, privacy: bool = True
) -> list[str]:
    conf = workdir / "chinwag.toml"
    # Hosts shown as addresses, as the other servers show them: every server then relays lines
    # of the same length (a cloak adds about 30 bytes to each). Without ``privacy`` (a checkout
    # from before [privacy] existed) the section is left out.
    if privacy:  # last: an extra may hold keys of [limits], the section before it
        extra += "[privacy]\ncloak_hosts = false\n"
    if workdir.is_dir():
        conf.write_text(
            "[server]\n"
            'host = "127.0.0.1"\n'
            f"port = {port}\n"
            'name = "bench.chinwag"\n'
            f"default_channels = {channels}\n"
            f'data_dir = "{workdir / "data"}"\n'
            "[limits]\n"
            "max_clients = 60000\n"
            "max_clients_per_ip = 0\n"
            f"sendq_bytes = {SENDQ_BYTES}\n"
            "flood_rate = 0\n"
            "max_channels_per_user = 1000\n"
            "registration_timeout = 60\n"
            "ping_interval = 600\n"
            "ping_timeout = 600\n" + extra
        )
    return [
        sys.executable,
        "-m",
        "chinwag",
        "serve",
        "--config",
        str(conf),
        "--log-level",
        "warning",
    ]


def _chinwag_fsync(workdir: Path, port: int) -> list[str]:
    # Power-loss durability: one fsync of the journal per loop turn that stored messages.
    return _chinwag(workdir, port, '[history]\nfsync = "turn"\n')


def _chinwag_ephemeral(workdir: Path, port: int) -> list[str]:
    # Diagnosis variant: no history store, so no SQLite write and no wait for its commit.
    return _chinwag(workdir, port, "[history]\nenabled = false\n")


def _chinwag_metrics(workdir: Path, port: int) -> list[str]:
    # chinwag with its Prometheus endpoint on: the counters are always kept, this adds the
    # listener (nobody scrapes during a run: a scrape every 15 s costs nothing measurable).
    return _chinwag(workdir, port, '[metrics]\nlisten = "127.0.0.1:0"\n')


def _chinwag_autojoin(workdir: Path, port: int) -> list[str]:
    # The join storm as the default config has it: the server joins everyone to the room.
    return _chinwag(workdir, port, channels='["#storm"]')


def _chinwag_every_join(workdir: Path, port: int) -> list[str]:
    # Without large rooms (delayed join): every JOIN goes to every member, as on the others.
    return _chinwag(workdir, port, "large_channel = 0\n")


def _ngircd(workdir: Path, port: int) -> list[str]:
    conf = workdir / "ngircd.conf"
    if workdir.is_dir():
        motd = workdir / "motd"
        motd.write_text("bench\n")
        conf.write_text(
            "[Global]\n"
            "\tName = bench.ngircd\n"
            "\tInfo = bench\n"
            "\tListen = 127.0.0.1\n"
            f"\tPorts = {port}\n"
            f"\tMotdFile = {motd}\n"
            f"\tPidFile = {workdir / 'ngircd.pid'}\n"
            "\tServerUID = 0\n"
            "\tServerGID = 0\n"
            "[Limits]\n"
            "\tMaxConnections = 0\n"
            "\tMaxConnectionsIP = 0\n"
            "\tMaxJoins = 0\n"
            "\tMaxNickLength = 30\n"
            "\tMaxPenaltyTime = 0\n"
            "\tMaxListSize = 0\n"
            "\tPingTimeout = 600\n"
            "\tPongTimeout = 600\n"
            "\tIdleTimeout = 0\n"
            "[Options]\n"
            "\tDNS = no\n"
            "\tIdent = no\n"
            "\tPAM = no\n"
            "\tSyslogFacility = local7\n"
            "[SSL]\n"
        )
    return ["ngircd", "--nodaemon", "--config", str(conf)]


def _inspircd(workdir: Path, port: int) -> list[str]:
    conf = workdir / "inspircd.conf"
    if workdir.is_dir():
        (workdir / "motd").write_text("bench\n")
        big = "1000000"
        conf.write_text(
            '<server name="bench.inspircd" description="bench" network="bench">\n'
            '<admin name="bench" nick="bench" email="bench@localhost">\n'
            f'<bind address="127.0.0.1" port="{port}" type="clients">\n'
            '<power diepass="" restartpass="">\n'
            '<connect name="bench" allow="*" timeout="60" pingfreq="600"\n'
            f'  hardsendq="{SENDQ_BYTES}" softsendq="{SENDQ_BYTES}" recvq="{SENDQ_BYTES}"\n'
            f'  threshold="{big}" commandrate="{big}000" fakelag="off"\n'
            f'  localmax="{big}" globalmax="{big}" maxconnwarn="no" limit="{big}"\n'
            '  maxchans="1000" resolvehostnames="no" useident="no">\n'
            f'<files motd="{workdir / "motd"}">\n'
            '<channels users="1000" opers="1000">\n'
            f'<pid file="{workdir / "inspircd.pid"}">\n'
            '<options prefixquit="Quit: " syntaxhints="no" announcets="yes">\n'
            '<security hideserver="" userstats="Pu" maxtargets="20">\n'
            '<performance netbuffersize="65536" somaxconn="4096" softlimit="60000"\n'
            '  clonesonconnect="no" timeskipwarn="0" quietbursts="yes">\n'
            '<limits maxnick="30">\n'
            f'<log method="file" type="* -USERINPUT -USEROUTPUT" level="sparse" '
            f'target="{workdir / "ircd.log"}">\n'
        )
    return ["inspircd", "--nofork", "--runasroot", "--config", str(conf)]


def _miniircd(workdir: Path, port: int) -> list[str]:
    exe = shutil.which("miniircd") or "miniircd"
    return [exe, "--listen", "127.0.0.1", "--ports", str(port), "--setuid", "root"]


#: Servers in a default run (opt-in: ``chinwag-ephemeral``, chinwag with history off,
#: ``chinwag-python``/``chinwag-ephemeral-python``, the same without the compiled core, and
#: ``chinwag-metrics``, with its Prometheus endpoint on).
DEFAULT_SERVERS = ("chinwag", "ngircd", "inspircd", "miniircd")

#: The repository root: chinwag runs from this checkout whatever the working directory.
REPO = Path(__file__).resolve().parent.parent

SERVERS: dict[str, ServerSpec] = {
    "chinwag": ServerSpec("chinwag", _chinwag, env={"PYTHONPATH": str(REPO)}),
    "chinwag-indexer1": ServerSpec(
        "chinwag-indexer1",
        _chinwag,
        env={"PYTHONPATH": str(REPO)},
        helper_cores=frozenset({1}),
    ),
    "chinwag-fsync": ServerSpec("chinwag-fsync", _chinwag_fsync, env={"PYTHONPATH": str(REPO)}),
    "chinwag-ephemeral": ServerSpec(
        "chinwag-ephemeral", _chinwag_ephemeral, env={"PYTHONPATH": str(REPO)}
    ),
    "chinwag-metrics": ServerSpec(
        "chinwag-metrics", _chinwag_metrics, env={"PYTHONPATH": str(REPO)}
    ),
    "chinwag-autojoin": ServerSpec(
        "chinwag-autojoin", _chinwag_autojoin, env={"PYTHONPATH": str(REPO)}, autojoin="#storm"
    ),
    # The same two with the compiled protocol core switched off (its pure-Python source runs).
    "chinwag-python": ServerSpec(
        "chinwag-python", _chinwag, env={"PYTHONPATH": str(REPO), "CHINWAG_PURE_PYTHON": "1"}
    ),
    "chinwag-ephemeral-python": ServerSpec(
        "chinwag-ephemeral-python",
        _chinwag_ephemeral,
        env={"PYTHONPATH": str(REPO), "CHINWAG_PURE_PYTHON": "1"},
    ),
    "chinwag-every-join": ServerSpec(
        "chinwag-every-join", _chinwag_every_join, env={"PYTHONPATH": str(REPO)}
    ),
    "ngircd": ServerSpec("ngircd", _ngircd),
    "inspircd": ServerSpec("inspircd", _inspircd),
    "miniircd": ServerSpec(
        "miniircd",
        _miniircd,
        max_clients=1000,
        limit_note="select() cannot watch fds above FD_SETSIZE (1024)",
    ),
}

#: Another checkout of chinwag to compare with this one, interleaved in the same run (a change's
#: cost): ``CHINWAG_BENCH_REF=/path/to/other/checkout python -m bench.run --servers
#: chinwag,chinwag-ref``; ``chinwag-ref-indexer1`` and ``chinwag-ref-ephemeral`` are its twins of
#: those two variants. Its configuration is this one's when the checkout knows [privacy] (it has
#: ``chinwag/server/cloak.py``); an older checkout, which would refuse the section, runs without
#: it: then compare a reference that has cloaks too, or one from before them.
REF_TREE = os.environ.get("CHINWAG_BENCH_REF", "")
if REF_TREE:
    _REF_PRIVACY = (Path(REF_TREE) / "chinwag" / "server" / "cloak.py").exists()
    _REF_ENV = {"PYTHONPATH": REF_TREE}

    def _chinwag_ref(workdir: Path, port: int, extra: str = "") -> list[str]:
        return _chinwag(workdir, port, extra, privacy=_REF_PRIVACY)

    SERVERS["chinwag-ref"] = ServerSpec("chinwag-ref", _chinwag_ref, env=_REF_ENV)
    SERVERS["chinwag-ref-indexer1"] = ServerSpec(
        "chinwag-ref-indexer1", _chinwag_ref, env=_REF_ENV, helper_cores=frozenset({1})
    )
    SERVERS["chinwag-ref-ephemeral"] = ServerSpec(
        "chinwag-ref-ephemeral",
        lambda workdir, port: _chinwag_ref(workdir, port, "[history]\nenabled = false\n"),
        env=_REF_ENV,
    )
    # The join and lobby storms' variants, to measure a change to the JOIN path in one run.
    SERVERS["chinwag-ref-autojoin"] = ServerSpec(
        "chinwag-ref-autojoin",
        lambda workdir, port: _chinwag(workdir, port, channels='["#storm"]', privacy=_REF_PRIVACY),
        env=_REF_ENV,
        autojoin="#storm",
    )
    SERVERS["chinwag-ref-every-join"] = ServerSpec(
        "chinwag-ref-every-join",
        lambda workdir, port: _chinwag_ref(workdir, port, "large_channel = 0\n"),
        env=_REF_ENV,
    )


def proc_cpu_seconds(pid: int) -> float:
    """Return user+system CPU seconds used so far by process ``pid`` (all threads)."""
    with open(f"/proc/{pid}/stat", "rb") as fh:
        raw = fh.read()
    fields = raw[raw.rfind(b")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def proc_children(pid: int) -> list[int]:
    """Return the child processes of ``pid`` (chinwag's indexer), from every thread of it."""
    found: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/children", "rb") as fh:
                found.extend(int(child) for child in fh.read().split())
        except OSError:
            continue
    return found


def proc_tree_cpu_seconds(pid: int) -> tuple[float, float]:
    """Return CPU seconds of process ``pid`` (all threads) and of its children (all of them).

    A child that died and was started again takes its CPU time with it; chinwag's indexer only
    dies that way in tests.
    """
    children = 0.0
    for child in proc_children(pid):
        try:
            children += proc_cpu_seconds(child)
        except OSError:
            continue
    return proc_cpu_seconds(pid), children


def proc_rss_kib(pid: int) -> int:
    """Return the resident set size of process ``pid`` in KiB."""
    with open(f"/proc/{pid}/statm", "rb") as fh:
        return int(fh.read().split()[1]) * PAGE_KIB


def wait_for_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    """Block until something accepts TCP connections on 127.0.0.1:port.

    Raises:
        RuntimeError: the process exited or the port did not open within ``timeout``.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited early with code {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"port {port} did not open within {timeout:.0f}s")


class RunningServer:
    """A started server process, owned by the runner and stopped by its PID."""

    def __init__(self, spec: ServerSpec, port: int, workdir: Path, core: int = 0) -> None:
        self.spec = spec
        self.port = port
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        argv = spec.build(workdir, port)
        self.log_path = workdir / "server.log"
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            ["taskset", "-c", str(core), *argv],
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd=workdir,
            env={**os.environ, **spec.env},
            start_new_session=True,
        )
        self.pid = self.proc.pid
        try:
            wait_for_port(port, self.proc)
            # Let the server settle after the probe connection before baselines are taken.
            time.sleep(0.3)
            if spec.helper_cores is not None:
                for child in proc_children(self.pid):
                    os.sched_setaffinity(child, spec.helper_cores)
        except RuntimeError as exc:
            self.stop()
            raise RuntimeError(f"{exc}: {self.log_tail(400)}") from exc

    def alive(self) -> bool:
        """Return True while the server process is still running."""
        return self.proc.poll() is None

    def log_tail(self, limit: int = 2000) -> str:
        """Return the end of the server's combined stdout/stderr."""
        try:
            return self.log_path.read_bytes()[-limit:].decode("utf-8", "replace")
        except OSError:
            return ""

    def stop(self) -> int | None:
        """Stop the process by PID: SIGTERM, wait up to 5 s, then SIGKILL. Return its exit code."""
        if self.proc.poll() is None:
            try:
                os.kill(self.pid, signal.SIGTERM)
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.kill(self.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
            except ProcessLookupError:
                pass
        self._log.close()
        return self.proc.returncode
