"""``chinwag doctor``: check a configuration and a data directory, and say what is wrong.

Each check returns findings in plain words, with what to do about them: ``ok``, ``warning``
(works, but should be looked at) or ``problem`` (will fail, or already does). The checks only
read: the database is opened read-only (it works while a server runs), nothing is repaired.
The exit status is 1 when there is a problem, 0 otherwise.
"""

from __future__ import annotations

import argparse
import datetime
import enum
import os
import shutil
import sqlite3
import ssl
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509

from chinwag.admin import NoServerError, ask_server
from chinwag.server.cloak import KEY_FILENAME
from chinwag.server.config import Config, ConfigError, load_config
from chinwag.store import DB_FILENAME

__all__ = ["Finding", "Level", "add_arguments", "check_all", "run"]

CERT_WARN_DAYS = 14
DISK_WARN_BYTES = 500 * 1024 * 1024
DISK_PROBLEM_BYTES = 50 * 1024 * 1024
SECRET_FILES = (DB_FILENAME, KEY_FILENAME, "tls-key.pem")
"""Files of the data directory that nobody but the server's user should read."""


class Level(enum.Enum):
    """How bad a finding is."""

    OK = "ok"
    WARNING = "warning"
    PROBLEM = "problem"


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing the doctor found."""

    level: Level
    text: str

    def __str__(self) -> str:
        return f"{self.level.value}: {self.text}"


def _ok(text: str) -> Finding:
    return Finding(Level.OK, text)


def _warn(text: str) -> Finding:
    return Finding(Level.WARNING, text)


def _problem(text: str) -> Finding:
    return Finding(Level.PROBLEM, text)


def check_data_dir(data_dir: Path) -> Iterator[Finding]:
    """Existence, ownership and permissions of the data directory and its secret files."""
    if not data_dir.exists():
        yield _warn(f"the data directory {data_dir} does not exist yet (the server creates it)")
        return
    if not data_dir.is_dir():
        yield _problem(f"{data_dir} is not a directory")
        return
    info = data_dir.stat()
    if info.st_uid != os.geteuid():
        yield _warn(
            f"{data_dir} belongs to uid {info.st_uid}, not to you (uid {os.geteuid()}): run "
            "the doctor as the user the server runs as"
        )
    if not os.access(data_dir, os.W_OK | os.X_OK):
        yield _problem(f"{data_dir} is not writable: the server cannot store anything")
    if stat.S_IMODE(info.st_mode) & 0o077:
        yield _warn(
            f"{data_dir} can be opened by other users (mode {stat.S_IMODE(info.st_mode):o}): "
            f"chmod 700 {data_dir}"
        )
    else:
        yield _ok(f"{data_dir} is private to its owner")
        return  # nobody else can reach the files inside: their own modes do not matter
    for name in SECRET_FILES:
        path = data_dir / name
        if path.exists() and stat.S_IMODE(path.stat().st_mode) & 0o077:
            mode = stat.S_IMODE(path.stat().st_mode)
            yield _warn(f"{path} can be read by other users (mode {mode:o}): chmod 600 {path}")


def check_disk(data_dir: Path) -> Iterator[Finding]:
    """Free space where the data directory lives."""
    where = data_dir if data_dir.exists() else data_dir.parent
    try:
        free = shutil.disk_usage(where).free
    except OSError as exc:
        yield _warn(f"cannot tell the free disk space of {where}: {exc}")
        return
    text = f"{free / 2**20:.0f} MB free on the disk of {where}"
    if free < DISK_PROBLEM_BYTES:
        yield _problem(f"only {text}: the server will soon fail to store messages")
    elif free < DISK_WARN_BYTES:
        yield _warn(f"only {text}")
    else:
        yield _ok(text)


def check_database(data_dir: Path) -> Iterator[Finding]:
    """SQLite's integrity check on the database (read-only; fine while a server runs)."""
    path = data_dir / DB_FILENAME
    if not path.exists():
        yield _ok(f"no database yet at {path} (the server creates it)")
        return
    try:
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=5.0)
        try:
            rows = [row[0] for row in db.execute("PRAGMA integrity_check(20)")]
        finally:
            db.close()
    except sqlite3.Error as exc:
        yield _problem(f"cannot read the database {path}: {exc}")
        return
    if rows == ["ok"]:
        yield _ok(f"the database {path} passes SQLite's integrity check")
    else:
        yield _problem(
            f"the database {path} is damaged ({'; '.join(rows[:3])}): stop the server and "
            "restore the latest backup (chinwag admin backup makes them)"
        )


def check_certificate(config: Config, now: datetime.datetime | None = None) -> Iterator[Finding]:
    """The TLS certificate: readable, matching its key, and how long until it expires."""
    settings = config.server
    if settings.tls_cert:
        cert, key = Path(settings.tls_cert), Path(settings.tls_key)
    elif settings.tls:
        cert = Path(settings.data_dir) / "tls-cert.pem"
        key = Path(settings.data_dir) / "tls-key.pem"
        if not cert.exists():
            yield _ok("TLS will use a self-signed certificate, made at the first start")
            return
    else:
        return
    try:
        certificate = x509.load_pem_x509_certificate(cert.read_bytes())
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(cert, key)
    except (OSError, ValueError, ssl.SSLError) as exc:
        yield _problem(f"the TLS certificate {cert} or key {key} cannot be used: {exc}")
        return
    moment = now or datetime.datetime.now(datetime.UTC)
    left = certificate.not_valid_after_utc - moment
    until = certificate.not_valid_after_utc.strftime("%Y-%m-%d")
    if left.total_seconds() <= 0:
        yield _problem(f"the TLS certificate {cert} expired on {until}: renew it, then reload")
    elif left.days < CERT_WARN_DAYS:
        yield _warn(f"the TLS certificate {cert} expires in {left.days} days ({until})")
    else:
        yield _ok(f"the TLS certificate {cert} is valid until {until} ({left.days} days)")


def check_server(data_dir: Path) -> Iterator[Finding]:
    """Whether a server runs on the data directory, and how it is, from its admin socket."""
    try:
        reply = ask_server(data_dir, ["status"])
    except NoServerError:
        yield _ok(f"no server is running on {data_dir} right now")
        return
    except PermissionError:
        yield _warn(f"a server runs on {data_dir}, but its admin socket is not yours to use")
        return
    except (OSError, ValueError) as exc:
        yield _warn(f"the admin socket of {data_dir} does not answer properly: {exc}")
        return
    values = dict(
        line.split(": ", 1) for line in str(reply.get("output", "")).splitlines() if ": " in line
    )
    yield _ok(
        f"a server is running on {data_dir}: pid {values.get('pid', '?')}, up "
        f"{values.get('uptime_seconds', '?')} s, {values.get('users', '?')} users"
    )


def check_motd(config: Config) -> Iterator[Finding]:
    """A configured MOTD file must be readable."""
    path = config.server.motd_file
    if path and not os.access(path, os.R_OK):
        yield _problem(f"the MOTD file {path} cannot be read: users would get no MOTD")


def check_all(config_path: str | None, data: str | None) -> list[Finding]:
    """Every check, for the configuration at ``config_path`` and the data directory."""
    findings: list[Finding] = []
    try:
        config = load_config(config_path)
    except ConfigError as exc:
        return [_problem(f"the configuration cannot be loaded: {exc}")]
    findings.append(_ok(f"the configuration {config_path or '(defaults)'} loads"))
    if data:
        config.server.data_dir = data
    findings.extend(check_motd(config))
    data_dir = config.server.data_dir.strip()
    if data_dir.lower() not in ("", "none") or config.server.tls_cert:
        findings.extend(check_certificate(config))
    if data_dir.lower() in ("", "none"):
        findings.append(_warn("data_dir is none: accounts and history are lost at each restart"))
        return findings
    directory = Path(data_dir)
    findings.extend(check_data_dir(directory))
    findings.extend(check_disk(directory))
    findings.extend(check_database(directory))
    findings.extend(check_server(directory))
    return findings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``doctor`` options."""
    parser.add_argument("--config", metavar="FILE", help="the server's TOML configuration")
    parser.add_argument("--data", metavar="DIR", help="the data directory (default: the config's)")


def run(args: argparse.Namespace) -> int:
    """Print every finding; exit status 1 when one is a problem."""
    findings = check_all(args.config, args.data)
    for finding in findings:
        print(finding)
    problems = sum(1 for f in findings if f.level is Level.PROBLEM)
    warnings = sum(1 for f in findings if f.level is Level.WARNING)
    print(f"{problems} problem(s), {warnings} warning(s)")
    return 1 if problems else 0
