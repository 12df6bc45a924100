"""Real Redis and PostgreSQL servers for the tests, started by the tests themselves.

Each test process (each xdist worker) starts at most one of each, on unix sockets in a
temporary directory of its own, the first time a test asks, and stops it by PID when the session
ends: nothing is shared between workers, nothing listens on TCP, nothing is left behind.

- Redis: ``redis-server --port 0 --unixsocket ...`` with ``appendonly yes`` and ``appendfsync
  always``, the durability the cluster promises (see the README's "Running a network").
- PostgreSQL: a fresh cluster (``initdb``) whose socket directory is its data directory's parent.
  PostgreSQL refuses to run as root, so as root it runs as the ``postgres`` user (``runuser``).
  Debian keeps its binaries under ``/usr/lib/postgresql/<version>/bin``, off PATH (and
  ``/usr/local/bin/pg_ctl`` may be a wrapper of some other installation), so they are looked up
  there first. ``fsync=off``: these servers are never killed, only the nodes in front of them, so
  flushing to the disk would only cost time. Every test gets a schema of its own
  (:func:`fresh_database`).

The fixtures are loaded for every test directory by ``tests/conftest.py``: ``redis_server`` and
``postgres_server`` (one per test process), ``redis_url`` and ``postgres_url`` (a clean Redis and
an empty PostgreSQL namespace for one test), and ``own_redis`` and ``own_postgres`` (servers of
one test's own, which it may stop and start again).

A missing binary skips the test with a loud reason; under ``CI=true`` it fails it instead, since
``.ci/install-system-deps.sh`` (run by ``scripts/test``) installs both.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

__all__ = [
    "PostgresServer",
    "RedisServer",
    "fresh_database",
    "in_ci",
    "own_postgres",
    "own_redis",
    "postgres_server",
    "postgres_url",
    "redis_server",
    "redis_url",
]

START_TIMEOUT = 30.0
"""Seconds a server may take to accept connections (initdb and a cold start on a busy CI box)."""
POLL_INTERVAL = 0.05
PG_SUPERUSER = "chinwag"
NOT_RUN = "REDIS/POSTGRESQL TESTS NOT RUN"


def in_ci() -> bool:
    """Whether we run in CI, where a missing part is a failure, not a skip."""
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def missing(part: str, advice: str) -> None:
    """Fail (CI) or skip (locally) the test loudly: ``part`` cannot run here."""
    message = f"{NOT_RUN}: {part} ({advice})"
    if in_ci():
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def _wait_for_socket(path: Path, process: subprocess.Popen[bytes] | None, what: str) -> None:
    """Wait until a unix socket at ``path`` accepts a connection."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{what} exited with status {process.returncode}")
        try:
            with socket.socket(socket.AF_UNIX) as probe:
                probe.connect(str(path))
            return
        except OSError:
            time.sleep(POLL_INTERVAL)
    raise RuntimeError(f"{what} did not listen on {path} within {START_TIMEOUT} s")


# -- Redis ------------------------------------------------------------------------------------


@dataclass
class RedisServer:
    """One redis-server on a unix socket; ``url`` is what ``--redis`` takes."""

    directory: Path
    process: subprocess.Popen[bytes]

    @property
    def socket_path(self) -> Path:
        """The unix socket it listens on."""
        return self.directory / "redis.sock"

    @property
    def url(self) -> str:
        """``unix:///.../redis.sock``."""
        return f"unix://{self.socket_path}"

    def stop(self) -> None:
        """Stop the server by its PID (SIGTERM, then SIGKILL after a grace period)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def kill(self) -> None:
        """SIGKILL: what it acknowledged is in its append-only file (``appendfsync always``)."""
        self.process.kill()
        self.process.wait(10)

    def restart(self) -> None:
        """Start it again on the same directory: it loads its append-only file."""
        self.process = start_redis(self.directory).process


def start_redis(directory: Path) -> RedisServer:
    """Start redis-server in ``directory`` (its socket, AOF and log live there)."""
    binary = shutil.which("redis-server")
    if binary is None:
        missing("redis-server is not installed", "run .ci/install-system-deps.sh")
    assert binary is not None
    sock = directory / "redis.sock"
    process = subprocess.Popen(
        [
            binary,
            "--port", "0",
            "--unixsocket", str(sock),
            "--unixsocketperm", "700",
            "--dir", str(directory),
            "--appendonly", "yes",
            "--appendfsync", "always",
            "--save", "",
            "--logfile", str(directory / "redis.log"),
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    server = RedisServer(directory, process)
    try:
        _wait_for_socket(sock, process, "redis-server")
    except BaseException:
        server.stop()
        raise
    return server


# -- PostgreSQL -------------------------------------------------------------------------------


def postgres_bin_dir() -> Path | None:
    """The directory of the newest PostgreSQL server binaries, or None when there are none."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/postgres"),
        key=lambda path: (
            int(Path(path).parent.parent.name) if Path(path).parent.parent.name.isdigit() else 0
        ),
    )
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("postgres")
    return None if on_path is None else Path(on_path).parent


def _as_server_user(argv: list[str]) -> list[str]:
    """``argv`` run as the ``postgres`` user when we are root (PostgreSQL refuses root)."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *argv]
    return argv


@dataclass
class PostgresServer:
    """One PostgreSQL cluster in a temporary directory, reachable on a unix socket only."""

    directory: Path
    bin_dir: Path

    @property
    def data_dir(self) -> Path:
        """The cluster's data directory."""
        return self.directory / "data"

    @property
    def socket_dir(self) -> Path:
        """Where its socket ``.s.PGSQL.5432`` is."""
        return self.directory

    def url(self, database: str = "postgres") -> str:
        """A libpq URL for ``database``, in the socket form ``postgresql://user@/db?host=``."""
        return f"postgresql://{PG_SUPERUSER}@/{database}?host={self.socket_dir}"

    def resume(self) -> None:
        """Start the cluster (again, after `halt`) and wait until it accepts connections.

        Raises:
            subprocess.CalledProcessError: when it does not start.
        """
        options = (
            f"-k {self.directory} -c listen_addresses='' -c fsync=off -c full_page_writes=off"
            " -c max_connections=200"
        )
        subprocess.run(
            _as_server_user(
                [
                    str(self.bin_dir / "pg_ctl"),
                    "start",
                    "-D", str(self.data_dir),
                    "-l", str(self.directory / "postgres.log"),
                    "-o", options,
                    "-w",
                ]
            ),
            capture_output=True,
            check=True,
            timeout=START_TIMEOUT,
        )  # fmt: skip
        _wait_for_socket(self.directory / ".s.PGSQL.5432", None, "postgres")

    def halt(self) -> None:
        """Stop the cluster at once (``-m immediate``), keeping its data for `resume`."""
        subprocess.run(
            _as_server_user(
                [str(self.bin_dir / "pg_ctl"), "stop", "-D", str(self.data_dir), "-m", "immediate"]
            ),
            capture_output=True,
            check=True,
        )

    def stop(self) -> None:
        """Stop the cluster (fast shutdown) and remove its directory."""
        subprocess.run(
            _as_server_user(
                [str(self.bin_dir / "pg_ctl"), "stop", "-D", str(self.data_dir), "-m", "immediate"]
            ),
            capture_output=True,
            check=False,
        )
        shutil.rmtree(self.directory, ignore_errors=True)


def start_postgres() -> PostgresServer:
    """initdb a new cluster in a fresh temporary directory and start it."""
    bin_dir = postgres_bin_dir()
    if bin_dir is None:
        missing("PostgreSQL's server is not installed", "run .ci/install-system-deps.sh")
    assert bin_dir is not None
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        missing("runuser is needed to run PostgreSQL as root", "install util-linux")
    # Not under pytest's tmp_path: that is private to root (0700), and the server runs as
    # ``postgres``. A short path also keeps the socket's name within the 107 bytes allowed.
    directory = Path(tempfile.mkdtemp(prefix="chinwag-pg-"))
    if os.geteuid() == 0:
        shutil.chown(directory, "postgres", "postgres")
    server = PostgresServer(directory, bin_dir)
    try:
        subprocess.run(
            _as_server_user(
                [
                    str(bin_dir / "initdb"),
                    "-D", str(server.data_dir),
                    "-U", PG_SUPERUSER,
                    "--auth=trust",
                    "--encoding=UTF8",
                    "--locale=C",
                    "--no-sync",
                ]
            ),
            capture_output=True,
            check=True,
        )  # fmt: skip
        server.resume()
    except subprocess.CalledProcessError as exc:
        server.stop()
        log = directory / "postgres.log"
        detail = log.read_text(errors="replace") if log.exists() else ""
        raise RuntimeError(
            f"PostgreSQL did not start: {exc.stderr.decode(errors='replace')}{detail}"
        ) from exc
    except BaseException:
        server.stop()
        raise
    return server


def fresh_database(server: PostgresServer) -> str:
    """Make an empty namespace on ``server`` for one test; returns a URL whose connections use it.

    A schema of its own (libpq's ``options=-csearch_path=...``) rather than a database of its own:
    creating a database costs ~0.4 s, a schema ~0.04 s with chinwag's tables in it.
    """
    import psycopg

    name = "t_" + uuid.uuid4().hex[:16]
    with psycopg.connect(server.url(), autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{name}"')
    return f"{server.url()}&options=-csearch_path%3D{name}"


@contextmanager
def _temporary_redis() -> Iterator[RedisServer]:
    """A Redis in a new short temporary directory (a unix socket's path is limited to 107
    bytes), stopped and its directory removed when the block ends."""
    directory = Path(tempfile.mkdtemp(prefix="chinwag-redis-"))
    try:
        server = start_redis(directory)
        try:
            yield server
        finally:
            server.stop()
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@contextmanager
def _running_postgres() -> Iterator[PostgresServer]:
    """A PostgreSQL cluster, stopped when the block ends; skips (or fails on CI) without psycopg."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        missing("psycopg is not installed", "pip install 'chinwag[cluster]'")
    server = start_postgres()
    try:
        yield server
    finally:
        server.stop()


# -- fixtures ---------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """This test process's Redis (started on first use, stopped at the end of the session)."""
    with _temporary_redis() as server:
        yield server


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """This test process's PostgreSQL cluster (started on first use, stopped at the end)."""
    with _running_postgres() as server:
        yield server


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    """A Redis of one test's own, which it may kill and start again (in a short temporary
    directory: a unix socket's path is limited to 107 bytes)."""
    with _temporary_redis() as server:
        yield server


@pytest.fixture
def own_postgres() -> Iterator[PostgresServer]:
    """A PostgreSQL cluster of one test's own, which it may halt and resume (a few seconds to
    make: use ``postgres_url`` unless the test stops the server)."""
    with _running_postgres() as server:
        yield server


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> str:
    """The URL of an empty PostgreSQL namespace for this test alone."""
    return fresh_database(postgres_server)


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """The URL of this process's Redis, emptied for this test (``FLUSHALL``)."""
    import redis

    with redis.Redis(unix_socket_path=str(redis_server.socket_path)) as client:
        client.flushall()
    return redis_server.url
