"""Fixtures for the interop tests: a server subprocess, real clients, an observer.

Every process a fixture starts is stopped by PID in its teardown, and every
fixture works in the test's own ``tmp_path``, so tests are safe under
``pytest -n 2``. When a test fails, teardown prints the server's output and
each client's logs (shown under "Captured stderr teardown").

Environment:
    CHINWAG_INTEROP_SERVER: "chinwag" (default, and what CI runs) or "ngircd"
        (a stand-in for developing the drivers).
    CHINWAG_INTEROP_INSTALL=1: install missing clients with
        .ci/install-system-deps.sh before the tests (always done when CI=true).
    CI=true: a missing client FAILS the tests instead of skipping them.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
from collections.abc import Callable, Generator, Iterator
from functools import partial
from pathlib import Path

import pytest

from .clients import ClientDriver, IiDriver, IrssiDriver, WeechatDriver
from .observer import Observer
from .scenario import Lobby, expect, is_join
from .servers import LOBBY, SERVER_KINDS, ServerProcess
from .wiretap import Wiretap

REPO_ROOT = Path(__file__).resolve().parents[2]
INSTALL_SCRIPT = REPO_ROOT / ".ci" / "install-system-deps.sh"
ALL_DRIVERS: tuple[type[ClientDriver], ...] = (WeechatDriver, IrssiDriver, IiDriver)

_failed_key = pytest.StashKey[bool]()
_NOT_RUN = "INTEROP NOT RUN"


def in_ci() -> bool:
    """Whether we run in CI, where nothing may be skipped."""
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Remember on the item whether setup or call failed, for teardown dumps."""
    report = yield
    if report.failed:
        item.stash[_failed_key] = True
    return report


def _test_failed(request: pytest.FixtureRequest) -> bool:
    failed: bool = request.node.stash.get(_failed_key, False)
    return failed


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say loudly that real-client interop did not run, when it did not.

    Reads the skip reports rather than local state, so that it also works in
    the controller process under xdist.
    """
    reasons = [_skip_reason(report) for report in terminalreporter.stats.get("skipped", [])]
    skipped = [reason for reason in reasons if _NOT_RUN in reason]
    if skipped:
        terminalreporter.section("INTEROP TESTS DID NOT RUN", sep="!", red=True, bold=True)
        terminalreporter.write_line(
            f"{len(skipped)} real-client interop tests were skipped: {skipped[0]}",
            red=True,
            bold=True,
        )


def _skip_reason(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple):  # (path, lineno, "Skipped: reason")
        return str(longrepr[-1]).removeprefix("Skipped: ")
    return str(longrepr)


# -- installing the clients -------------------------------------------------


def _install_missing_clients(tmp_root: Path) -> None:
    """Run the install script once across xdist workers (serialised by a lock file)."""
    lock_path = tmp_root / "chinwag-interop-install.lock"
    with lock_path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not any(driver.missing_programs() for driver in ALL_DRIVERS):
                return
            subprocess.run(
                ["bash", str(INSTALL_SCRIPT)],
                check=False,
                stdin=subprocess.DEVNULL,
                timeout=900,
            )
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


@pytest.fixture(scope="session")
def installed_clients(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Make sure every real client is installed; fail in CI, skip loudly elsewhere."""
    if any(driver.missing_programs() for driver in ALL_DRIVERS) and (
        in_ci() or os.environ.get("CHINWAG_INTEROP_INSTALL") == "1"
    ):
        _install_missing_clients(tmp_path_factory.getbasetemp().parent)
    missing = sorted({p for driver in ALL_DRIVERS for p in driver.missing_programs()})
    if not missing:
        return
    reason = (
        f"{_NOT_RUN}: real IRC clients missing: {', '.join(missing)}. "
        f"Install them with `sudo bash {INSTALL_SCRIPT.relative_to(REPO_ROOT)}`."
    )
    if in_ci():
        pytest.fail(reason)
    print(f"\n!!!!! {reason}", file=sys.stderr)
    pytest.skip(reason)


# -- the server ---------------------------------------------------------------


@pytest.fixture
def server_kind() -> str:
    """Which server the tests target: chinwag unless CHINWAG_INTEROP_SERVER says otherwise."""
    kind = os.environ.get("CHINWAG_INTEROP_SERVER", "chinwag")
    if kind not in SERVER_KINDS:
        pytest.fail(f"CHINWAG_INTEROP_SERVER={kind!r}: expected one of {SERVER_KINDS}")
    if kind != "chinwag" and in_ci():
        pytest.fail("CI must run the interop tests against chinwag")
    return kind


@pytest.fixture
def irc_server(
    server_kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[ServerProcess]:
    """A server subprocess on a free port of 127.0.0.1, stopped by PID afterwards."""
    server = ServerProcess(kind=server_kind, workdir=tmp_path / "server")
    try:
        server.start()
        yield server
    finally:
        server.stop()
        if _test_failed(request):
            print(f"\n===== {server.kind} output =====\n{server.output()}", file=sys.stderr)


# -- the clients --------------------------------------------------------------


@pytest.fixture
def observer_factory(irc_server: ServerProcess) -> Iterator[Callable[[str], Observer]]:
    """Make registered raw-socket observers in #lobby; all are closed afterwards."""
    made: list[Observer] = []

    def make(nick: str) -> Observer:
        observer = Observer(irc_server.port, nick)
        made.append(observer)
        observer.register()
        if not irc_server.autojoins:
            observer.send(f"JOIN {LOBBY}")
        observer.wait_for(
            lambda line: line.command == "JOIN" and line.nick == nick,
            what=f"its own JOIN {LOBBY}",
        )
        return observer

    yield make
    for observer in made:
        observer.close()


@pytest.fixture
def client_factory(
    installed_clients: None,
    irc_server: ServerProcess,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> Iterator[Callable[[type[ClientDriver], str], ClientDriver]]:
    """Start real clients against ``irc_server``; every one is stopped afterwards."""
    started: list[ClientDriver] = []
    wires: list[Wiretap] = []

    def make(driver_class: type[ClientDriver], nick: str) -> ClientDriver:
        wire = Wiretap(irc_server.port, f"{driver_class.name} {nick}")
        wires.append(wire)
        workdir = tmp_path / f"{driver_class.name}-{nick}"
        driver = driver_class(nick, wire.port, workdir, wire)
        started.append(driver)
        driver.start()
        return driver

    try:
        yield make
    finally:
        for driver in started:
            driver.stop()
        for wire in wires:
            wire.close()
        if _test_failed(request):
            for driver in started:
                print(f"\n{driver.describe()}", file=sys.stderr)


# -- the common scenario ------------------------------------------------------


@pytest.fixture
def lobby(
    installed_clients: None,
    irc_server: ServerProcess,
    observer_factory: Callable[[str], Observer],
    client_factory: Callable[[type[ClientDriver], str], ClientDriver],
) -> Lobby:
    """Start watcher, then weechat, irssi and ii one after the other, all in #lobby.

    weechat and ii also type ``/join #lobby`` (which must be harmless when the
    server already put them there); irssi relies on the server's auto-join
    (against a server that does not auto-join, it joins explicitly too).
    """
    watcher = observer_factory("watcher")
    room = Lobby(server=irc_server, watcher=watcher)
    for driver_class, nick, explicit_join in (
        (WeechatDriver, "wee", True),
        (IrssiDriver, "irs", False),
        (IiDriver, "iis", True),
    ):
        client = client_factory(driver_class, nick)
        client.wait_registered()
        if explicit_join or not irc_server.autojoins:
            client.join(LOBBY)
        watcher.wait_for(
            partial(is_join, nick=nick, channel=LOBBY),
            what=f"JOIN {LOBBY} from {nick}",
        )
        room.clients.append(client)
    for client in room.clients:
        expect(client, partial(client.saw_join, client.nick, LOBBY), f"itself joining {LOBBY}")
    return room
