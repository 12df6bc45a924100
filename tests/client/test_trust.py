"""TLS trust on first use: known_hosts, fingerprints, and a real ``chinwag serve --tls``."""

from __future__ import annotations

import asyncio
import os
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest

from chinwag.client.app import ChatApp
from chinwag.client.net import Options, ServerConnection, UntrustedCertificate
from chinwag.client.screens import TrustScreen
from chinwag.client.session import Session
from chinwag.client.trust import KnownHosts, config_dir, fingerprint, host_key

from .conftest import Server, eventually, free_port, port_accepts, server_kind, wait_for
from .test_plain import Plain, launch, plains

__all__ = ["plains"]

PRINT = "sha256:" + "AB" * 32
OTHER = "sha256:" + "CD" * 32


class TestKnownHosts:
    def test_config_dir_respects_xdg_config_home(self) -> None:
        """$XDG_CONFIG_HOME/chinwag when set (and absolute), else ~/.config/chinwag."""
        assert config_dir({"XDG_CONFIG_HOME": "/x", "HOME": "/h"}) == Path("/x/chinwag")
        assert config_dir({"XDG_CONFIG_HOME": "rel", "HOME": "/h"}) == Path("/h/.config/chinwag")
        assert config_dir({"HOME": "/h"}) == Path("/h/.config/chinwag")

    def test_remember_get_forget(self, tmp_path: Path) -> None:
        """One ``host:port sha256:HEX`` line per host; comments survive; forget removes it."""
        path = tmp_path / "chinwag" / "known_hosts"
        known = KnownHosts(path)
        assert known.get("a:6697") is None
        known.remember("a:6697", PRINT)
        path.write_text("# mine\n" + path.read_text())
        known.remember("[::1]:6697", OTHER)
        known.remember("a:6697", OTHER)
        assert known.get("a:6697") == OTHER
        assert path.read_text() == f"# mine\n[::1]:6697 {OTHER}\na:6697 {OTHER}\n"
        assert known.forget("a:6697") and not known.forget("a:6697")
        assert known.get("a:6697") is None and known.get("[::1]:6697") == OTHER

    def test_fingerprint_and_host_key(self) -> None:
        """Fingerprints are sha256: and 64 upper-case hex digits; IPv6 hosts get brackets."""
        assert fingerprint(b"x") == "sha256:" + (
            "2D711642B726B04401627CA9FBAC32F5C8530FB1903CC4DB02258717921A4881"
        )
        assert host_key("::1", 6697) == "[::1]:6697"
        assert host_key("irc.example", 6697) == "irc.example:6697"


class TlsServer:
    """``chinwag serve --tls`` with its generated self-signed certificate."""

    def __init__(self, server: Server, tls_port: int, cert: Path) -> None:
        self.server = server
        self.tls_port = tls_port
        self.cert = cert

    @property
    def fingerprint(self) -> str:
        """The fingerprint of the certificate the server generated."""
        return fingerprint(ssl.PEM_cert_to_DER_cert(self.cert.read_text()))

    @property
    def key(self) -> str:
        """Its ``host:port`` in known_hosts."""
        return host_key("127.0.0.1", self.tls_port)


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[TlsServer]:
    """A chinwag server with a TLS listener on a free port."""
    if server_kind() != "chinwag":
        pytest.skip("needs chinwag serve --tls")
    workdir = tmp_path / "server"
    workdir.mkdir()
    tls_port = free_port()
    data = workdir / "data"
    server = Server("chinwag", workdir, extra_args=["--tls", "--tls-port", str(tls_port)])
    server.extra_args += ["--data", str(data)]
    server.start()
    try:
        wait_for(lambda: port_accepts(tls_port), f"the TLS listener on {tls_port}")
        yield TlsServer(server, tls_port, data / "tls-cert.pem")
    finally:
        server.stop()


class Asked:
    """A trust_new callback that records the questions and gives a fixed answer."""

    def __init__(self, answer: bool) -> None:
        self.answer = answer
        self.questions: list[tuple[str, str, str]] = []

    async def __call__(self, key: str, print_: str, reason: str) -> bool:
        """Record and answer."""
        self.questions.append((key, print_, reason))
        return self.answer


async def connect(tls: TlsServer, known: Path, ask: Asked | None, **options: object) -> Session:
    """Connect over TLS, wait for registration, quit; return the session."""
    session = Session("amy")
    connection = ServerConnection(
        session,
        Options(port=tls.tls_port, tls=True, known_hosts=known, reconnect=False, **options),  # type: ignore[arg-type]
        trust_new=ask,
    )
    task = asyncio.create_task(connection.run())
    try:
        await eventually(lambda: session.registered or task.done(), "registration over TLS")
        if task.done():
            task.result()
        return session
    finally:
        await connection.quit()
        if not task.done():
            task.cancel()


class TestConnection:
    async def test_first_use_asks_then_remembers(
        self, tls_server: TlsServer, tmp_path: Path
    ) -> None:
        """A self-signed server: the fingerprint is asked about once, then remembered."""
        known = tmp_path / "config" / "known_hosts"
        ask = Asked(True)
        assert (await connect(tls_server, known, ask)).registered
        assert [q[:2] for q in ask.questions] == [(tls_server.key, tls_server.fingerprint)]
        assert "self" in ask.questions[0][2] or "certificate" in ask.questions[0][2]
        assert known.read_text() == f"{tls_server.key} {tls_server.fingerprint}\n"
        again = Asked(False)
        assert (await connect(tls_server, known, again)).registered
        assert again.questions == [], "a remembered certificate is not asked about again"

    async def test_refusing_remembers_nothing(self, tls_server: TlsServer, tmp_path: Path) -> None:
        """A no (or nobody to ask) refuses the connection and writes nothing."""
        known = tmp_path / "known_hosts"
        with pytest.raises(UntrustedCertificate, match=tls_server.fingerprint):
            await connect(tls_server, known, Asked(False))
        with pytest.raises(UntrustedCertificate, match="--trust-new"):
            await connect(tls_server, known, None)
        assert not known.exists()

    async def test_changed_certificate_is_refused_loudly(
        self, tls_server: TlsServer, tmp_path: Path
    ) -> None:
        """A certificate other than the remembered one is refused, naming both fingerprints."""
        known = tmp_path / "known_hosts"
        known.write_text(f"{tls_server.key} {OTHER}\n")
        ask = Asked(True)
        with pytest.raises(UntrustedCertificate) as refused:
            await connect(tls_server, known, ask)
        message = str(refused.value)
        assert "HAS CHANGED" in message and OTHER in message
        assert tls_server.fingerprint in message and "--forget-host" in message
        assert ask.questions == [], "no silent override, not even by asking"
        assert known.read_text() == f"{tls_server.key} {OTHER}\n"

    async def test_insecure_skips_every_check(self, tls_server: TlsServer, tmp_path: Path) -> None:
        """--insecure connects without asking and without remembering."""
        known = tmp_path / "known_hosts"
        assert (await connect(tls_server, known, None, tls_verify=False)).registered
        assert not known.exists()


def env_with_config(config: Path) -> dict[str, str]:
    """The environment with XDG_CONFIG_HOME (and HOME) pointing into the test's directory."""
    env = dict(os.environ)
    env["XDG_CONFIG_HOME"] = str(config)
    env["HOME"] = str(config.parent)
    return env


async def run_plain_client(tls: TlsServer, env: dict[str, str], *flags: str) -> tuple[int, str]:
    """Run plain mode over TLS with no input (it quits at once); return status and stderr."""
    client: Plain = await launch(
        f"127.0.0.1:{tls.tls_port}", "--tls", "--nick", "amy", "--no-reconnect", *flags, env=env
    )
    client.close_stdin()
    return await client.wait()


async def test_plain_mode_trust_flags(tls_server: TlsServer, tmp_path: Path) -> None:
    """Plain mode refuses a new certificate without --trust-new, remembers it with it,
    refuses a changed one loudly, and --forget-host starts over."""
    config = tmp_path / "xdg"
    env = env_with_config(config)
    known = config / "chinwag" / "known_hosts"
    status, err = await run_plain_client(tls_server, env)
    assert status == 1 and tls_server.fingerprint in err and "--trust-new" in err
    assert not known.exists()
    status, err = await run_plain_client(tls_server, env, "--trust-new")
    assert status == 0, err
    assert known.read_text() == f"{tls_server.key} {tls_server.fingerprint}\n"
    status, err = await run_plain_client(tls_server, env)
    assert status == 0, err
    known.write_text(f"{tls_server.key} {OTHER}\n")
    status, err = await run_plain_client(tls_server, env, "--trust-new")
    assert status == 1 and "HAS CHANGED" in err and OTHER in err and tls_server.fingerprint in err
    status, err = await run_plain_client(tls_server, env, "--forget-host", "--trust-new")
    assert status == 0, err
    assert known.read_text() == f"{tls_server.key} {tls_server.fingerprint}\n"


async def test_app_asks_with_a_yes_no_screen(tls_server: TlsServer, tmp_path: Path) -> None:
    """The TUI shows the fingerprint in a yes/no screen; y trusts, connects and remembers."""
    known = tmp_path / "known_hosts"
    session = Session("amy")
    options = Options(port=tls_server.tls_port, tls=True, known_hosts=known, reconnect=False)
    app = ChatApp(session, options)
    async with app.run_test(size=(110, 30)) as pilot:
        await eventually(lambda: isinstance(app.screen, TrustScreen), "the trust question")
        assert isinstance(app.screen, TrustScreen)
        assert app.screen.fingerprint == tls_server.fingerprint
        await pilot.press("y")
        await eventually(lambda: session.registered, "registration after trusting")
        assert known.read_text() == f"{tls_server.key} {tls_server.fingerprint}\n"
        await app.chat.leave()
