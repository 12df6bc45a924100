"""``chinwag serve --workers N``: N nodes of one network on this machine, sharing its ports.

One chinwag process uses one core. A machine with more cores runs several: each worker is a
whole server and a node of the network (``--redis``, ``--store``), and every worker listens on
the same ports with ``SO_REUSEPORT``, so the kernel spreads new connections over them (plain,
TLS and WebSocket alike). Users on different workers talk through Redis exactly as users on
different machines do.

Theory of operation
===================

The supervisor is this process: it serves nobody. Before starting any worker it does what must
happen once for all of them:

- it takes the data directory's lock (a second ``chinwag serve`` on it is refused) and loads the
  cloak secret, so that one address gets one cloak whichever worker it lands on;
- it generates the self-signed TLS certificate if one is needed (workers would race);
- it binds every listening port with ``SO_REUSEPORT`` without listening on it: the port is
  this network's for as long as the supervisor runs (a port 0 becomes a real port that every
  worker is given), and a bound socket that does not listen receives no connection.

Then it forks the workers. Worker ``i`` (from 1) is the node ``<first label>-<i>.<rest>`` of
the node name (``n1.chat.example.org`` gives ``n1-1.chat.example.org``, ``n1-2...``); its
admin socket is ``DATA_DIR/admin-<i>.sock``; its metrics, when ``[metrics] listen`` has a
port, are on that port plus ``i - 1``. Each worker says it is ready through a pipe once it
listens.

Supervision: the supervisor waits in ``select`` on its signal wake-up pipe and the workers'
ready pipes. A worker that exits while the network runs is started again under the same node
name (whose earlier incarnation the network reaps at once: its users QUIT elsewhere), after
`RESTART_DELAY` doubled at each quick failure up to `MAX_RESTART_DELAY`, and back to the
first delay once it has run for `STABLE_AFTER`. A worker that fails before the network ever
started (a wrong URL, Redis down) stops them all: the supervisor exits with status 1, since
starting it again would fail again. SIGHUP is forwarded (each worker reloads its
configuration); SIGTERM and SIGINT are forwarded as SIGTERM, the supervisor waits for every
worker to stop (`STOP_TIMEOUT`, then SIGKILL) and exits with status 0.

Connections waiting in a worker's accept queue when it dies are reset: the kernel does not move
them to another worker. Clients reconnect, as after any server restart.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import select
import signal
import socket
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from types import FrameType

from chinwag import logs
from chinwag.server.app import data_path, run_server
from chinwag.server.cloak import load_secret
from chinwag.server.config import Config, parse_listen
from chinwag.server.reload import tls_files
from chinwag.server.worker import Ports, Worker, worker_config, worker_name
from chinwag.store.lock import DataDirBusyError, DataDirLock

__all__ = ["Supervisor", "run_workers"]

log = logging.getLogger("chinwag.workers")

RESTART_DELAY = 0.5
"""Seconds before a worker that exited is started again (doubled at each quick failure)."""
MAX_RESTART_DELAY = 30.0
"""The longest wait before starting a failing worker again."""
STABLE_AFTER = 60.0
"""Seconds after which a worker counts as healthy: its next restart waits `RESTART_DELAY`."""
STOP_TIMEOUT = 10.0
"""Seconds the workers get to stop after SIGTERM before they are killed."""
STOPPING = (signal.SIGTERM, signal.SIGINT)
HANDLED = (*STOPPING, signal.SIGHUP, signal.SIGCHLD)


def _reserve(host: str, port: int) -> socket.socket:
    """Bind ``host:port`` with SO_REUSEPORT without listening: the port is ours, and every
    worker can bind it too. A bound socket that does not listen gets no connections.

    Raises:
        OSError: the address cannot be bound (in use by another program, not ours to use).
    """
    family, kind, proto, _, address = socket.getaddrinfo(
        host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(address)
    except OSError:
        sock.close()
        raise
    return sock


@dataclass
class _Slot:
    """One worker's place: the process running in it now, if any."""

    worker: Worker
    pid: int | None = None
    ready_read: int | None = None
    ready: bool = False
    started_at: float = 0.0
    delay: float = RESTART_DELAY
    restart_at: float | None = None


class Supervisor:
    """Runs and watches the workers (see the module header).

    Args:
        config: the validated configuration (``cluster.workers`` > 1).
        source: reads the configuration again (each worker does, on SIGHUP).
    """

    def __init__(self, config: Config, source: Callable[[], Config] | None) -> None:
        self.config = config
        self.source = source
        base = config.cluster.node_name.strip() or config.server.name
        self.names = [worker_name(base, i) for i in range(1, config.cluster.workers + 1)]
        self._slots: list[_Slot] = []
        self._reserved: list[socket.socket] = []
        self._signals: list[int] = []
        self._wake_read, self._wake_write = os.pipe()
        self._ports = Ports(0, 0, "")
        self._secret = b""
        self._lock: DataDirLock | None = None
        self._started = False
        self._stopping_since: float | None = None
        self._killed = False
        self._status = 0

    # -- preparing ------------------------------------------------------------------------------

    def _prepare(self) -> None:
        """Lock the data directory, load the shared secrets, reserve the ports.

        Raises:
            DataDirBusyError, OSError: the data directory or an address cannot be had.
        """
        directory = data_path(self.config)
        if directory is not None:
            self._lock = DataDirLock(directory)
        self._secret = load_secret(directory)
        # A generated certificate is made here once, not by every worker at the same time.
        tls = tls_files(self.config)
        server = self.config.server
        main = self._reserve(server.host, server.port)
        tls_port = 0
        if tls is not None:
            tls_port = self._reserve(server.host, server.tls_port)
        websocket = ""
        if self.config.websocket.listen:
            host, port = parse_listen(self.config.websocket.listen, "websocket.listen")
            shown = f"[{host}]" if ":" in host else host
            websocket = f"{shown}:{self._reserve(host, port)}"
        self._ports = Ports(main, tls_port, websocket)

    def _reserve(self, host: str, port: int) -> int:
        sock = _reserve(host, port)
        self._reserved.append(sock)
        return int(sock.getsockname()[1])

    # -- running --------------------------------------------------------------------------------

    def run(self) -> int:
        """Start the workers and watch them until SIGTERM or SIGINT; the exit status."""
        try:
            self._prepare()
        except DataDirBusyError as exc:
            log.error("cannot start: %s", exc)
            return self._cleanup(1)
        except OSError as exc:
            log.error("cannot start listening on %s: %s", self.config.server.host, exc)
            return self._cleanup(1)
        previous = {sig: signal.signal(sig, self._on_signal) for sig in HANDLED}
        os.set_blocking(self._wake_write, False)
        old_wakeup = signal.set_wakeup_fd(self._wake_write, warn_on_full_buffer=False)
        try:
            for index, name in enumerate(self.names, start=1):
                slot = _Slot(Worker(index, name, self._secret, -1))
                self._slots.append(slot)
                self._spawn(slot)
            while self._stopping_since is None or any(s.pid is not None for s in self._slots):
                self._wait()
                self._handle_signals()
                self._reap()
                self._restart_due()
                self._kill_overdue()
        finally:
            signal.set_wakeup_fd(old_wakeup)
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        log.info("every worker stopped")
        return self._cleanup(self._status)

    def _cleanup(self, status: int) -> int:
        for sock in self._reserved:
            sock.close()
        for fd in (self._wake_read, self._wake_write):
            with contextlib.suppress(OSError):
                os.close(fd)
        if self._lock is not None:
            self._lock.release()
        return status

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self._signals.append(signum)  # handled in the loop, not in the handler

    def _wait(self) -> None:
        """Sleep until a signal, a ready worker, or the next timer."""
        waiting = [s.ready_read for s in self._slots if s.ready_read is not None]
        timeout = None
        now = time.monotonic()
        due = [s.restart_at for s in self._slots if s.restart_at is not None]
        if self._stopping_since is not None and not self._killed:
            due.append(self._stopping_since + STOP_TIMEOUT)
        if due:
            timeout = max(0.0, min(due) - now)
        if self._signals:
            timeout = 0.0
        readable, _, _ = select.select([self._wake_read, *waiting], [], [], timeout)
        for fd in readable:
            if fd == self._wake_read:
                with contextlib.suppress(BlockingIOError):
                    os.read(self._wake_read, 512)
                continue
            slot = next(s for s in self._slots if s.ready_read == fd)
            if os.read(fd, 1):
                slot.ready = True
                log.info("worker %s (pid %s) is listening", slot.worker.node, slot.pid)
            os.close(fd)  # ready, or exited before it was: the reaper says which
            slot.ready_read = None
        if not self._started and all(s.ready for s in self._slots):
            self._started = True
            log.info(
                "%d workers listening on port %d: %s",
                len(self._slots),
                self._ports.port,
                ", ".join(self.names),
            )

    def _handle_signals(self) -> None:
        signals, self._signals = self._signals, []
        for signum in signals:
            if signum in STOPPING:
                self._stop(f"{signal.Signals(signum).name} received")
            elif signum == signal.SIGHUP:
                log.info("SIGHUP received: every worker reloads its configuration")
                self._send(signal.SIGHUP)

    def _stop(self, why: str) -> None:
        if self._stopping_since is None:
            log.info("%s, stopping the workers", why)
            self._stopping_since = time.monotonic()
            for slot in self._slots:
                slot.restart_at = None
            self._send(signal.SIGTERM)

    def _send(self, signum: int) -> None:
        for slot in self._slots:
            if slot.pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(slot.pid, signum)

    def _reap(self) -> None:
        """Collect every worker that exited, and decide what follows."""
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            slot = next((s for s in self._slots if s.pid == pid), None)
            if slot is not None:
                self._exited(slot, status)

    def _exited(self, slot: _Slot, status: int) -> None:
        name = slot.worker.node
        ran = time.monotonic() - slot.started_at
        slot.pid = None
        if slot.ready_read is not None:
            os.close(slot.ready_read)
            slot.ready_read = None
        how = _describe(status)
        if self._stopping_since is not None:
            log.info("worker %s %s", name, how)
            return
        if not self._started and not slot.ready:
            log.error("worker %s %s before it was listening: stopping", name, how)
            self._status = 1
            self._stop("a worker could not start")
            return
        slot.delay = RESTART_DELAY if ran >= STABLE_AFTER else slot.delay
        slot.restart_at = time.monotonic() + slot.delay
        log.error("worker %s %s; starting it again in %.1f s", name, how, slot.delay)
        slot.delay = min(slot.delay * 2, MAX_RESTART_DELAY)

    def _restart_due(self) -> None:
        now = time.monotonic()
        for slot in self._slots:
            if slot.restart_at is not None and slot.restart_at <= now:
                slot.restart_at = None
                self._spawn(slot)

    def _kill_overdue(self) -> None:
        since = self._stopping_since
        if since is not None and not self._killed and time.monotonic() - since >= STOP_TIMEOUT:
            self._killed = True
            for slot in self._slots:
                if slot.pid is not None:
                    log.error("worker %s did not stop in time: killed", slot.worker.node)
            self._send(signal.SIGKILL)

    # -- a worker process -----------------------------------------------------------------------

    def _spawn(self, slot: _Slot) -> None:
        ready_read, ready_write = os.pipe()
        worker = dataclasses.replace(slot.worker, ready_fd=ready_write)
        sys.stdout.flush()
        sys.stderr.flush()  # nothing buffered here may be written twice, by both processes
        pid = os.fork()
        if pid == 0:  # the worker: never returns into the supervisor's loop
            status = 1
            try:
                os.close(ready_read)
                self._become_worker()
                status = self._serve(worker)
            except BaseException:
                traceback.print_exc()
            finally:
                os._exit(status)
        os.close(ready_write)
        slot.pid = pid
        slot.ready = False
        slot.ready_read = ready_read
        slot.started_at = time.monotonic()

    def _become_worker(self) -> None:
        """In a new worker: drop what is the supervisor's (signal handling, its descriptors)."""
        signal.set_wakeup_fd(-1)
        for sig in HANDLED:
            signal.signal(sig, signal.SIG_DFL)
        for fd in (self._wake_read, self._wake_write):
            os.close(fd)
        for slot in self._slots:
            if slot.ready_read is not None:
                os.close(slot.ready_read)
        for sock in self._reserved:
            sock.close()

    def _serve(self, worker: Worker) -> int:
        ports = self._ports
        source = self.source
        logs.set_node(worker.node)
        logs.configure(self.config.logging.format, self.config.logging.level)
        reread = None if source is None else (lambda: worker_config(source(), worker, ports))
        return run_server(worker_config(self.config, worker, ports), reread, worker)


def _describe(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"was killed by {signal.Signals(os.WTERMSIG(status)).name}"
    return f"exited with status {os.waitstatus_to_exitcode(status)}"


def run_workers(config: Config, source: Callable[[], Config] | None = None) -> int:
    """Run ``config.cluster.workers`` workers until SIGTERM or SIGINT; the exit status."""
    return Supervisor(config, source).run()
