"""Running chinwag for real, as a process: SIGHUP reloads, ``chinwag admin`` over the socket,
the socket refuses other users, and JSON logs that never hold a secret."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from chinwag.protocol import Message

from .harness import ANY, Clients, cheap_hash
from .test_process import ROOT, ServeProcess

CONFIG = """\
[server]
name = "ops.chinwag"
default_channels = ["#lobby"]
motd = "first motd"
data_dir = "data"

[limits]
flood_rate = 0
"""


def _admin(data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "chinwag", "admin", "--data", str(data), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def _admin_async(data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(_admin, data, *args)


async def _log_until(process: ServeProcess, text: str, timeout: float = 10.0) -> str:
    """Read the server's log until a line containing ``text``; returns that line."""
    assert process.proc.stderr is not None
    stderr = process.proc.stderr

    async def read() -> str:
        while True:
            line = (await asyncio.to_thread(stderr.readline)).decode(errors="replace")
            if not line:
                raise AssertionError(f"log ended before {text!r}: {''.join(process.log)}")
            process.log.append(line)
            if text in line:
                return line

    return await asyncio.wait_for(read(), timeout)


@pytest.fixture
async def ops(tmp_path: Path) -> AsyncIterator[ServeProcess]:
    """A server process with a data directory (``tmp_path/data``) and a MOTD to change."""
    running = ServeProcess(tmp_path, config_text=CONFIG)
    try:
        await running.started()
        yield running
    finally:
        running.kill()


def _motd(history: list[Message]) -> list[str]:
    return [m.params[-1] for m in history if m.command == "372"]


async def test_sighup_reloads_the_motd_and_refuses_a_broken_file(ops: ServeProcess) -> None:
    """SIGHUP re-reads the file: a new client sees the new MOTD; a broken file is refused with
    the reason in the log, the server keeps running on the configuration it had."""
    clients = Clients(ops.port)
    try:
        amy = await clients.connect("amy")
        assert _motd(amy.history) == ["- first motd"]
        ops.config.write_text(CONFIG.replace("first motd", "second motd"), encoding="utf-8")
        ops.proc.send_signal(signal.SIGHUP)
        line = await _log_until(ops, "configuration reloaded")
        assert "server.motd" in line
        bob = await clients.connect("bob")
        assert _motd(bob.history) == ["- second motd"]

        ops.config.write_text(CONFIG + "\n[limits\nbroken", encoding="utf-8")
        ops.proc.send_signal(signal.SIGHUP)
        await _log_until(ops, "NOT reloaded")
        carol = await clients.connect("carol")
        assert _motd(carol.history) == ["- second motd"]
        await amy.alive()
    finally:
        await clients.close()
    assert ops.proc.poll() is None


async def test_reload_reports_what_needs_a_restart(ops: ServeProcess) -> None:
    """`chinwag admin reload` applies what it can and names what waits for a restart."""
    data = ops.config.parent / "data"
    changed = CONFIG.replace('name = "ops.chinwag"', 'name = "renamed.chinwag"')
    ops.config.write_text(changed + "flood_burst = 7\n", encoding="utf-8")
    result = await _admin_async(data, "reload")
    assert result.returncode == 0, result.stderr
    assert "limits.flood_burst" in result.stdout
    assert "needs a restart to change: server.name" in result.stdout


async def test_admin_commands_act_on_the_running_server(ops: ServeProcess, tmp_path: Path) -> None:
    """status, who, say, kick, ban, kill and backup work over the admin socket."""
    data = tmp_path / "data"
    clients = Clients(ops.port)
    try:
        amy = await clients.connect("amy")
        bob = await clients.connect("bob")
        status = await _admin_async(data, "status")
        assert status.returncode == 0, status.stderr
        values = dict(line.split(": ", 1) for line in status.stdout.splitlines())
        assert values["users"] == "2" and values["channels"] == "1"
        assert {"uptime_seconds", "lines_received_per_second", "store_lag_seconds"} <= set(values)

        who = await _admin_async(data, "who")
        rows = [line.split("\t") for line in who.stdout.splitlines()[1:]]
        assert [(row[0], row[2]) for row in rows] == [("amy", "127.0.0.1"), ("bob", "127.0.0.1")]

        said = await _admin_async(data, "say", "#lobby", "maintenance at noon")
        assert said.returncode == 0, said.stderr
        await amy.expect("NOTICE", ["#lobby", "maintenance at noon"], source="ops.chinwag")

        kicked = await _admin_async(data, "kick", "#lobby", "bob", "cool off")
        assert kicked.returncode == 0, kicked.stderr
        await amy.expect("KICK", ["#lobby", "bob", "cool off"], source="ops.chinwag")

        missing = await _admin_async(data, "kick", "#nowhere", "bob")
        assert missing.returncode == 1 and "no channel #nowhere" in missing.stderr

        banned = await _admin_async(data, "ban", "add", "account:mallory", "2h", "spam")
        assert banned.returncode == 0 and "for 2 hours" in banned.stdout
        listed = await _admin_async(data, "ban", "list")
        assert listed.stdout.startswith("account:mallory\t2h00m\tadmin\tspam")
        removed = await _admin_async(data, "ban", "remove", "account:mallory")
        assert removed.returncode == 0
        assert (await _admin_async(data, "ban", "list")).stdout.strip() == "no bans"

        killed = await _admin_async(data, "kill", "bob", "bye")
        assert killed.returncode == 0, killed.stderr
        await bob.expect_error("Killed by ops.chinwag (bye)")

        copy = tmp_path / "backup.sqlite3"
        backed = await _admin_async(data, "backup", str(copy))
        assert backed.returncode == 0, backed.stderr
        with sqlite3.connect(copy) as db:
            assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert copy.stat().st_mode & 0o777 == 0o600
    finally:
        await clients.close()


async def test_forget_logs_the_account_out_first(ops: ServeProcess, tmp_path: Path) -> None:
    """`admin forget` with the server running logs the account's sessions out (901), then
    drops it: logging in again fails, and the server keeps running."""
    data = tmp_path / "data"
    clients = Clients(ops.port)
    try:
        amy = await clients.connect("amy")
        await amy.send("REGISTER * * :correct horse")
        await amy.expect("REGISTER", ["SUCCESS", "amy", ANY], timeout=10)
        forgot = await _admin_async(data, "forget", "amy")
        assert forgot.returncode == 0, forgot.stderr
        assert "dropped the account amy" in forgot.stdout
        assert "logged out 1 session(s)" in forgot.stdout
        await amy.expect("901", ["amy", ANY, ANY])
        await amy.send("PRIVMSG NickServ :IDENTIFY amy correct horse")
        await amy.expect("NOTICE", source="NickServ", timeout=10)
        listed = await _admin_async(data, "list")
        assert "amy" not in listed.stdout
    finally:
        await clients.close()


async def test_doctor_sees_the_running_server(ops: ServeProcess, tmp_path: Path) -> None:
    """`chinwag doctor` on the data directory of a running server reports it, and no problem."""
    result = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "chinwag", "doctor", "--data", str(tmp_path / "data")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout
    assert f"ok: a server is running on {tmp_path / 'data'}: pid {ops.proc.pid}" in result.stdout


async def test_online_commands_without_a_server(tmp_path: Path) -> None:
    """With no server running, status says so (exit 1) and the file commands still work."""
    data = tmp_path / "data"
    result = await _admin_async(data, "status")
    assert result.returncode == 1 and "no server is running" in result.stderr
    listed = await _admin_async(data, "list")
    assert listed.returncode == 0, listed.stderr


def _python_for(user: str) -> str | None:
    """A Python interpreter that ``user`` may run (the test venv may be under /root)."""
    for candidate in ("/usr/bin/python3", shutil.which("python3")):
        if candidate and os.access(candidate, os.X_OK):
            probe = subprocess.run(
                ["runuser", "-u", user, "--", candidate, "-c", "pass"],
                capture_output=True,
                check=False,
                timeout=30,
            )
            if probe.returncode == 0:
                return candidate
    return None


_ASK = """
import json, socket, sys
sock = socket.socket(socket.AF_UNIX)
try:
    sock.connect(sys.argv[1])
except PermissionError:
    print("permission denied"); sys.exit(0)
try:
    sock.sendall(b'{"argv": ["status"]}\\n')
except BrokenPipeError:
    pass  # refused before it asked: the refusal is already waiting to be read
print(sock.makefile().readline().strip())
"""


async def test_admin_socket_refuses_another_user() -> None:
    """The socket is 0600 (another user cannot even connect), and when made reachable by
    mistake the server still refuses a peer of another uid (SO_PEERCRED)."""
    if os.geteuid() != 0 or shutil.which("runuser") is None:
        pytest.skip("needs root and runuser to act as another user")
    python = _python_for("nobody")
    if python is None:
        pytest.skip("no Python that the user nobody may run")
    workdir = Path(tempfile.mkdtemp(prefix="chinwag-peer-"))  # /tmp: nobody can reach it
    try:
        workdir.chmod(0o711)
        running = ServeProcess(workdir, config_text=CONFIG)
        try:
            await running.started()
            data = workdir / "data"
            sock = data / "admin.sock"
            assert sock.stat().st_mode & 0o777 == 0o600
            data.chmod(0o711)

            def ask_as_nobody() -> str:
                result = subprocess.run(
                    ["runuser", "-u", "nobody", "--", python, "-c", _ASK, str(sock)],
                    capture_output=True,
                    text=True,
                    check=False,
                    timeout=30,
                )
                return result.stdout.strip() + result.stderr.strip()

            assert await asyncio.to_thread(ask_as_nobody) == "permission denied"
            sock.chmod(0o666)  # the mistake
            answer = json.loads(await asyncio.to_thread(ask_as_nobody))
            assert answer == {"ok": False, "error": "only the server's user may do that"}
            await _log_until(running, "refused a connection from uid")
            owner = await _admin_async(data, "status")
            assert owner.returncode == 0, owner.stderr
        finally:
            running.kill()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


SECRETS_CONFIG = """\
[server]
name = "secrets.chinwag"
default_channels = ["#lobby"]
data_dir = "data"

[limits]
flood_rate = 0

[logging]
format = "json"
level = "debug"

[[opers]]
name = "root"
password_hash = "{oper_hash}"
"""


async def test_json_logs_of_a_full_session_hold_no_secret(tmp_path: Path) -> None:
    """With --log-format json (from the config), every log line is a JSON object with stable
    fields, and no password of PASS, REGISTER, SASL, IDENTIFY or OPER appears in any form."""
    server_pw, account_pw, oper_pw = "srv-Pa55-word", "acct-Pa55-word", "oper-Pa55-word"
    config = SECRETS_CONFIG.format(oper_hash=cheap_hash(oper_pw))
    running = ServeProcess(tmp_path, "--password", server_pw, config_text=config)
    try:
        await running.started()
        clients = Clients(running.port)
        try:
            amy = await clients.connect("amy", password=server_pw)
            await amy.send(f"REGISTER * * :{account_pw}")
            await amy.expect("REGISTER", ["SUCCESS", "amy", ANY], timeout=10)
            await amy.send(f"PRIVMSG NickServ :IDENTIFY amy {account_pw}")
            await amy.expect("NOTICE", source="NickServ", timeout=10)
            await amy.send("OPER root wrong-guess", f"OPER root {oper_pw}")
            await amy.expect("381", timeout=10)

            raw = await clients.open()
            await raw.send(f"PASS {server_pw}", "CAP REQ :sasl", "NICK bob", "USER b 0 * :B")
            await raw.expect("CAP", timeout=10)
            await raw.send("AUTHENTICATE PLAIN")
            await raw.expect("AUTHENTICATE", ["+"])
            payload = base64.b64encode(f"amy\0amy\0{account_pw}".encode()).decode()
            await raw.send(f"AUTHENTICATE {payload}")
            await raw.expect("903", timeout=10)
            await raw.send("CAP END")
            await raw.expect("001")
        finally:
            await clients.close()
        running.proc.send_signal(signal.SIGTERM)
        assert await running.wait(timeout=5.0) == 0
    finally:
        running.kill()
    log = "".join(running.log)
    for secret in (server_pw, account_pw, oper_pw, "wrong-guess", payload, payload[:20]):
        assert secret not in log, f"{secret!r} is in the log"
    records = [json.loads(line) for line in log.splitlines() if line.strip()]
    assert all({"time", "level", "logger", "message"} <= set(r) for r in records)
    events = {r.get("event") for r in records}
    assert {"connect", "login", "quit", "login_failed"} <= events
    login = next(r for r in records if r.get("event") == "login")
    assert login["account"] == "amy" and login["ip"] == "127.0.0.1"
