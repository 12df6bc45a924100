"""``chinwag doctor`` finds what is wrong with a configuration and a data directory."""

from __future__ import annotations

import datetime
import sqlite3
import subprocess
import sys
from pathlib import Path

from chinwag.doctor import Level, check_all, check_certificate, check_database
from chinwag.server.config import load_config
from chinwag.server.tls import ensure_self_signed

ROOT = Path(__file__).resolve().parent.parent


def _levels(findings: list[object]) -> list[str]:
    return [str(f) for f in findings]


def test_healthy_directory_is_ok(tmp_path: Path) -> None:
    """A private data directory with a sound database gives no problem and no warning."""
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    with sqlite3.connect(data / "chinwag.sqlite3") as db:
        db.execute("CREATE TABLE t (x)")
    findings = check_all(None, str(data))
    assert all(f.level is Level.OK for f in findings), _levels(list(findings))
    assert any("integrity check" in f.text for f in findings)


def test_open_permissions_and_bad_config_are_reported(tmp_path: Path) -> None:
    """A world-readable directory and secret file are warnings with the chmod to run; a config
    that does not load is a problem, and nothing else is checked."""
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    data.chmod(0o755)
    (data / "cloak.key").write_text("00\n")
    (data / "cloak.key").chmod(0o644)
    texts = [f.text for f in check_all(None, str(data)) if f.level is Level.WARNING]
    assert any(f"chmod 700 {data}" in t for t in texts)
    assert any(f"chmod 600 {data / 'cloak.key'}" in t for t in texts)
    broken = tmp_path / "broken.toml"
    broken.write_text("[limits]\nflood_burst = 'x'\n")
    findings = check_all(str(broken), str(data))
    assert [f.level for f in findings] == [Level.PROBLEM]
    assert "flood_burst" in findings[0].text


def test_damaged_database_is_a_problem(tmp_path: Path) -> None:
    """A file that is not a database is reported with what to do about it."""
    (tmp_path / "chinwag.sqlite3").write_bytes(b"this is not sqlite" * 100)
    [finding] = list(check_database(tmp_path))
    assert finding.level is Level.PROBLEM


def test_certificate_expiry(tmp_path: Path) -> None:
    """A valid certificate is ok with its date; near expiry warns; past expiry is a problem."""
    cert, key = ensure_self_signed(tmp_path, "example.org")
    config = load_config(
        None, environ={}, overrides={"server": {"tls_cert": str(cert), "tls_key": str(key)}}
    )
    now = datetime.datetime.now(datetime.UTC)
    assert [f.level for f in check_certificate(config, now)] == [Level.OK]
    soon = now + datetime.timedelta(days=3650 - 5)
    assert [f.level for f in check_certificate(config, soon)] == [Level.WARNING]
    later = now + datetime.timedelta(days=3700)
    [expired] = check_certificate(config, later)
    assert expired.level is Level.PROBLEM and "expired" in expired.text


def test_doctor_command_exit_status(tmp_path: Path) -> None:
    """`chinwag doctor` prints its findings and exits 1 when there is a problem."""
    (tmp_path / "chinwag.sqlite3").write_bytes(b"junk" * 1000)
    tmp_path.chmod(0o700)
    result = subprocess.run(
        [sys.executable, "-m", "chinwag", "doctor", "--data", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert "problem: " in result.stdout and "1 problem(s)" in result.stdout


def test_serve_version() -> None:
    """`chinwag serve --version` prints the version."""
    result = subprocess.run(
        [sys.executable, "-m", "chinwag", "serve", "--version"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0 and result.stdout.startswith("chinwag ")
