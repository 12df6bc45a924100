"""``chinwag serve --workers N``: nodes of one network on this machine, sharing one port.

The supervisor is a real ``chinwag serve`` process on a real Redis and PostgreSQL
(``tests/services.py``); the clients are the harness's, over real sockets. Which worker a client
landed on is read from the workers' own admin sockets (``status``: ``local_users``), since
``SO_REUSEPORT`` lets the kernel choose.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import ssl
import subprocess
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from chinwag.admin import ask_server, ask_socket
from chinwag.cli import main as chinwag_main

from .harness import Client, Clients
from .serve_process import start_serve
from .test_metrics import _get, _samples

CONFIG = """\
[server]
name = "w.test"
default_channels = ["#lobby"]
motd = ""

[limits]
flood_rate = 0
"""
MAX_TRIES = 60
"""Connections to open at most until both workers have one (each lands on either: 2^-60)."""


class Workers:
    """``chinwag serve --workers 2`` with a data directory; its log goes to a file."""

    def __init__(self, workdir: Path, redis_url: str, store_url: str) -> None:
        self.data = workdir / "data"
        self.log_path = workdir / "serve.log"
        self.proc = start_serve(
            workdir, CONFIG, self.log_path,
            "--data", str(self.data),
            "--node-name", "n.test",
            "--redis", redis_url,
            "--store", store_url,
            "--metrics", "127.0.0.1:0",
            "--tls", "--tls-port", "0",
            "--websocket", "127.0.0.1:0",
            "--workers", "2",
        )  # fmt: skip
        self.clients: Clients | None = None

    async def started(self, timeout: float = 30.0) -> Clients:
        """Wait for the supervisor's line saying that every worker listens."""
        return Clients(int(await self.wait_for(r"2 workers listening on port (\d+)", timeout)))

    async def wait_for(self, pattern: str, timeout: float = 30.0, *, count: int = 1) -> str:
        """Wait until the log has ``pattern`` ``count`` times; the first group of the last."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = re.findall(pattern, self.log())
            if len(found) >= count:
                return str(found[-1])
            if self.proc.poll() is not None:
                break
            await asyncio.sleep(0.05)  # a file has no event to await
        raise AssertionError(f"no {pattern!r} in the log:\n{self.log()}")

    def log(self) -> str:
        """What the supervisor and the workers logged so far."""
        return self.log_path.read_text(errors="replace")

    async def status(self, index: int) -> dict[str, str]:
        """``chinwag admin status`` of worker ``index``, as a dict."""
        reply = await asyncio.to_thread(ask_socket, self.data / f"admin-{index}.sock", ["status"])
        assert reply["ok"], reply
        return dict(line.split(": ", 1) for line in str(reply["output"]).splitlines())

    def worker_pids(self) -> list[int]:
        """The supervisor's children now."""
        found = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text()
        return [int(pid) for pid in found.split()]

    def stop(self) -> None:
        """SIGTERM, then SIGKILL of the supervisor and its workers if it did not stop."""
        if self.proc.poll() is None:
            pids = self.worker_pids()
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                for pid in [self.proc.pid, *pids]:
                    os.kill(pid, signal.SIGKILL)
                self.proc.wait(10)


@pytest.fixture
async def workers(redis_url: str, postgres_url: str, tmp_path: Path) -> AsyncIterator[Workers]:
    """Two workers of one network, stopped after the test."""
    started = Workers(tmp_path, redis_url, postgres_url)
    try:
        yield started
    finally:
        if started.clients is not None:
            await started.clients.close()
        started.stop()


async def _one_on_each(workers: Workers, clients: Clients) -> tuple[Client, Client]:
    """Connect until each worker has a user; returns one user of worker 1 and one of 2."""
    on: dict[int, Client] = {}
    before = 0
    for i in range(MAX_TRIES):
        client = await clients.connect(f"u{i}")
        local = int((await workers.status(1))["local_users"])
        on.setdefault(1 if local > before else 2, client)
        before = local
        if len(on) == 2:
            return on[1], on[2]
    raise AssertionError(f"{MAX_TRIES} connections all landed on one worker")


async def _knows(client: Client, nick: str, timeout: float = 10.0) -> None:
    """Wait until ``client``'s node knows ``nick`` (ISON answers with it)."""
    async with asyncio.timeout(timeout):
        while True:
            await client.send(f"ISON {nick}")
            reply = await client.expect("303")
            if reply.params[-1] == nick:
                return
            await asyncio.sleep(0.05)  # its registration is on its way through Redis


async def test_two_workers_share_one_port_and_their_users_talk(workers: Workers) -> None:
    """Clients of one port land on both workers; a private line and a room line cross."""
    clients = workers.clients = await workers.started()
    amy, bob = await _one_on_each(workers, clients)
    await _knows(amy, bob.name)  # a user of the other worker is known once its news arrived
    await _knows(bob, amy.name)
    await amy.send(f"PRIVMSG {bob.name} :hello from worker 1")
    await bob.expect("PRIVMSG", [bob.name, "hello from worker 1"], source=amy.name)
    await bob.send("PRIVMSG #lobby :and back from worker 2")
    await amy.expect("PRIVMSG", ["#lobby", "and back from worker 2"], source=bob.name)
    first, second = await workers.status(1), await workers.status(2)
    assert (first["node"], second["node"]) == ("n-1.test", "n-2.test")
    assert int(first["local_users"]) + int(second["local_users"]) == len(clients.clients)
    assert int(first["bus_events_sent"]) > 0 and int(second["bus_events_received"]) > 0


async def test_admin_and_metrics_show_the_nodes(workers: Workers) -> None:
    """``admin nodes`` and a worker's metrics list both nodes, with their users, and its bus;
    a worker refuses to kill a user of the other (that node's to do), who stays connected."""
    clients = workers.clients = await workers.started()
    amy, bob = await _one_on_each(workers, clients)
    await _knows(amy, bob.name)  # worker 1 has heard of bob
    reply = await asyncio.to_thread(ask_server, workers.data, ["nodes"])
    rows = [row.split("\t") for row in str(reply["output"]).splitlines()]
    assert rows[0] == ["node", "epoch", "lease_age", "users"]
    assert sorted(row[0].split(" ")[0] for row in rows[1:]) == ["n-1.test", "n-2.test"]
    assert sum(int(row[3]) for row in rows[1:]) == len(clients.clients)
    address = await workers.wait_for(r"\[n-1\.test\] chinwag\.server: metrics on http://([^/]+)/")
    status, body = await _get(address, "/metrics")
    assert status.endswith("200 OK")
    samples = _samples(body)
    assert samples["chinwag_cluster_nodes", ()] == 2
    users = sum(v for (name, _), v in samples.items() if name == "chinwag_cluster_node_users")
    assert users == len(clients.clients)
    assert samples["chinwag_bus_events_sent_total", ()] > 0
    assert samples["chinwag_bus_flush_seconds_count", ()] > 0
    refused = await asyncio.to_thread(
        ask_socket, workers.data / "admin-1.sock", ["kill", bob.name, "bye"]
    )
    assert not refused["ok"] and f"{bob.name} is on node n-2.test" in refused["error"]
    await bob.alive()


async def test_a_dead_worker_is_started_again_and_sigterm_stops_them_all(
    workers: Workers,
) -> None:
    """SIGKILL of a worker: the supervisor starts it again (serving); SIGHUP reaches both
    workers (each reloads); SIGTERM then stops every worker and the supervisor exits with 0."""
    clients = workers.clients = await workers.started()
    first = workers.worker_pids()
    os.kill(first[0], signal.SIGKILL)
    await workers.wait_for(r"worker (n-1\.test) was killed by SIGKILL; starting it again")
    again = await workers.wait_for(r"worker n-1\.test \(pid (\d+)\) is listening", count=2)
    now = workers.worker_pids()
    assert int(again) in now and first[0] not in now
    for i in range(4):
        await clients.connect(f"after{i}")  # whichever worker each lands on serves it
    workers.proc.send_signal(signal.SIGHUP)
    for name in ("n-1", "n-2"):
        await workers.wait_for(rf"\[({name})\.test\] chinwag\.reload: configuration reloaded")
    workers.proc.send_signal(signal.SIGTERM)
    assert await asyncio.to_thread(workers.proc.wait, 15) == 0
    assert "every worker stopped" in workers.log()
    assert not [pid for pid in now if Path(f"/proc/{pid}").exists()]


async def test_every_listener_is_shared_and_every_worker_has_the_same_certificate(
    workers: Workers,
) -> None:
    """Both workers listen on the same plain, TLS and WebSocket ports (the supervisor chose the
    ports asked as 0), with the one certificate the supervisor generated."""
    await workers.started()
    found = re.findall(
        r"\[(n-\d\.test)\] chinwag\.server: listening on (\S+), (\S+) ", workers.log()
    )
    assert sorted(name for name, _, _ in found) == ["n-1.test", "n-2.test"]
    assert found[0][1:] == found[1][1:]
    web = re.findall(r"web client at https://(\S+)/ ", workers.log())
    assert len(web) == 2 and web[0] == web[1]
    context = ssl.create_default_context(cafile=workers.data / "tls-cert.pem")
    context.check_hostname = False
    for address in (found[0][2], web[0]):
        host, port = address.rsplit(":", 1)
        for _ in range(4):  # whichever worker answers shows the same certificate
            _, writer = await asyncio.open_connection(host, int(port), ssl=context)
            writer.close()


def test_more_than_one_worker_needs_redis_and_a_store(capsys: pytest.CaptureFixture[str]) -> None:
    """``--workers 2`` alone is refused with exit status 2 and says what is missing."""
    assert chinwag_main(["serve", "--workers", "2", "--data", "none"]) == 2
    assert "needs cluster.redis and cluster.store" in capsys.readouterr().err


def test_workers_must_be_at_least_one(capsys: pytest.CaptureFixture[str]) -> None:
    """``--workers 0`` is refused with exit status 2."""
    assert chinwag_main(["serve", "--workers", "0", "--data", "none"]) == 2
    assert "cluster.workers must be between 1 and" in capsys.readouterr().err


async def test_workers_that_cannot_start_stop_the_supervisor_with_status_1(
    postgres_url: str, tmp_path: Path
) -> None:
    """No Redis at the URL: the workers exit before listening, the supervisor stops the rest
    and exits with status 1, saying which worker failed (not a restart loop)."""
    missing = f"unix://{tmp_path}/no-redis.sock"
    workers = Workers(tmp_path, missing, postgres_url)
    try:
        status = await asyncio.to_thread(workers.proc.wait, 30)
    finally:
        workers.stop()
    assert status == 1
    assert re.search(
        r"worker n-\d\.test exited with status 1 before it was listening", workers.log()
    )
    assert "cannot reach the network's Redis" in workers.log()
